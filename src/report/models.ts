// The contenders of `c10k bench`: every I/O model (and every multiplexer of the reactor, the node
// backend beside the syscall one, and the proactor on io_uring), each as the `c10k serve` arguments that start it. Bounded models get
// small pools so that their ceiling shows at 100 connections already.
export interface BenchModel {
  id: string;
  /** What a reader of the report should know about it. */
  note: string;
  serveArgs: string[];
}

export const BENCH_MODELS: BenchModel[] = [
  { id: 'iterative', note: 'one client at a time', serveArgs: ['--model', 'iterative'] },
  {
    id: 'process-per-connection',
    note: 'a process per client, at most 32 at once',
    serveArgs: ['--model', 'process-per-connection', '--max-children', '32'],
  },
  {
    id: 'prefork',
    note: '4 processes blocking in accept()',
    serveArgs: ['--model', 'prefork', '--workers', '4'],
  },
  {
    id: 'thread-pool',
    note: '4 threads, blocking I/O',
    serveArgs: ['--model', 'thread-pool', '--workers', '4'],
  },
  {
    id: 'reactor-select',
    note: 'one loop, select(): descriptors < 1024',
    serveArgs: ['--model', 'reactor', '--multiplexer', 'select'],
  },
  {
    id: 'reactor-poll',
    note: 'one loop, poll()',
    serveArgs: ['--model', 'reactor', '--multiplexer', 'poll'],
  },
  {
    id: 'reactor-epoll',
    note: 'one loop, epoll',
    serveArgs: ['--model', 'reactor', '--multiplexer', 'epoll'],
  },
  {
    id: 'reactor-node',
    note: 'one loop, node:net (libuv)',
    serveArgs: ['--model', 'reactor', '--backend', 'node'],
  },
  {
    id: 'multi-reactor',
    note: 'one epoll loop per core, SO_REUSEPORT',
    serveArgs: ['--model', 'multi-reactor', '--workers', '2'],
  },
  {
    id: 'proactor',
    note: 'one io_uring loop: completions, not readiness',
    serveArgs: ['--model', 'proactor'],
  },
  {
    id: 'multi-proactor',
    note: 'one io_uring loop per core, SO_REUSEPORT',
    serveArgs: ['--model', 'multi-proactor', '--workers', '2'],
  },
];

export function pickModels(list: string): BenchModel[] {
  if (list === 'all') return BENCH_MODELS;
  const wanted = list.split(',').map((s) => s.trim());
  const out: BenchModel[] = [];
  for (const id of wanted) {
    const matches = BENCH_MODELS.filter((m) => m.id === id || m.id.startsWith(`${id}-`));
    if (matches.length === 0) {
      throw new Error(`unknown bench model '${id}' (models: ${BENCH_MODELS.map((m) => m.id).join(', ')})`);
    }
    for (const m of matches) if (!out.includes(m)) out.push(m);
  }
  return out;
}
