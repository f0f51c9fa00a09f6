// TLS handshakes per second of one core: server CPU per handshake, a new connection each, for
// `serve({ app: 'http', tls })` on both backends and a plain node:https server, all in this process
// (pinned to CPU 0 by the caller or here with taskset) and measured in turns, round after round, so the
// shared machine's swings hit each alike. The clients are node:tls in a child process on CPU 1 (8 at a
// time), each connection closed right after its handshake. Full handshakes with session tickets off;
// resumed ones with tickets on (each client offers the ticket of its previous connection).
//   node bench/tls-handshakes.ts [--handshakes 600] [--rounds 3] [--key ec|rsa]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { memoryLogger, type ServerHandle, serve } from '../src/index.ts';
import { wholeNumber } from './lib/args.ts';
import { median } from './lib/yardstick.ts';

const { values: v } = parseArgs({
  options: {
    handshakes: { type: 'string', default: '600' },
    rounds: { type: 'string', default: '3' },
    key: { type: 'string', default: 'ec' },
    client: { type: 'string' }, // internal: run as the client (port,count,parallel,resume)
  },
});

if (v.client !== undefined) {
  // The client side: `parallel` loops of sequential connections, each closed once its handshake is done.
  const { connect } = await import('node:tls');
  const [port, count, parallel, resume] = v.client.split(',').map(Number) as [number, number, number, number];
  let left = count;
  let resumed = 0;
  const loop = async () => {
    let session: Buffer | undefined;
    while (left-- > 0) {
      await new Promise<void>((resolve) => {
        const s = connect({
          port,
          host: '127.0.0.1',
          rejectUnauthorized: false,
          servername: 'localhost',
          session,
        });
        let wait: NodeJS.Timeout | undefined;
        s.once('secureConnect', () => {
          if (s.isSessionReused()) resumed++;
          // TLS 1.3 sends its tickets after the handshake: wait for one (a little) when resuming.
          if (!resume) s.end();
          else wait = setTimeout(() => s.end(), 200);
        });
        s.on('session', (t: Buffer) => {
          if (resume) {
            session = t;
            clearTimeout(wait);
            s.end();
          }
        });
        s.on('error', () => {});
        s.on('close', () => resolve());
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, loop));
  process.stdout.write(`${resumed}\n`);
  process.exit(0);
}

const count = wholeNumber('handshakes', v.handshakes);
const rounds = wholeNumber('rounds', v.rounds);
if (v.key !== 'ec' && v.key !== 'rsa') {
  process.stderr.write(`--key is ec (P-256) or rsa (2048), got '${v.key}'\n`);
  process.exit(2);
}
try {
  execFileSync('taskset', ['-pc', '0', String(process.pid)], { stdio: 'ignore' });
} catch {
  process.stderr.write('taskset unavailable: server not pinned\n');
}
const dir = mkdtempSync(join(tmpdir(), 'c10k-bench-hs-'));
const newkey =
  v.key === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    ...newkey,
    '-nodes',
    '-keyout',
    join(dir, 'k.pem'),
    '-out',
    join(dir, 'c.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
  ],
  { stdio: 'ignore' },
);
const cert = readFileSync(join(dir, 'c.pem'));
const key = readFileSync(join(dir, 'k.pem'));

/** Server CPU (this process) per handshake in µs, and how many the client saw resumed. */
async function measure(port: number, resume: boolean): Promise<{ us: number; resumed: number }> {
  const before = process.cpuUsage();
  const out = await new Promise<string>((resolve) => {
    const child = spawn(
      'taskset',
      [
        '-c',
        '1',
        process.execPath,
        new URL(import.meta.url).pathname,
        '--client',
        `${port},${count},8,${resume ? 1 : 0}`,
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
  const used = process.cpuUsage(before);
  return { us: (used.user + used.system) / count, resumed: Number(out.trim()) };
}

interface Target {
  name: string;
  port: number;
  close(): Promise<void>;
}

async function targets(tickets: boolean): Promise<Target[]> {
  const c10k = async (backend: 'syscall' | 'node'): Promise<Target> => {
    const h: ServerHandle = await serve({
      app: 'http',
      backend,
      port: 0,
      logger: memoryLogger(),
      tls: { cert, key, sessionTickets: tickets },
    });
    return { name: `c10k (${backend})`, port: h.port, close: () => h.close() };
  };
  const { constants } = await import('node:crypto');
  const https = createServer(
    { cert, key, secureOptions: tickets ? 0 : constants.SSL_OP_NO_TICKET },
    (_q, r) => r.end('hello from c10k\n'),
  );
  await new Promise<void>((r) => https.listen(0, '127.0.0.1', () => r()));
  return [
    await c10k('syscall'),
    await c10k('node'),
    {
      name: 'node:https',
      port: (https.address() as { port: number }).port,
      close: () => new Promise((r) => https.close(() => r())),
    },
  ];
}

console.log(
  `TLS handshakes, server CPU each (${v.key === 'rsa' ? 'RSA 2048' : 'ECDSA P-256'}, TLS 1.3, ${count} a turn, median of ${rounds})`,
);
for (const tickets of [false, true]) {
  const list = await targets(tickets);
  const us = new Map<string, number[]>();
  let resumedNote = '';
  for (const t of list) await measure(t.port, tickets); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const t of list) {
      const m = await measure(t.port, tickets);
      us.set(t.name, [...(us.get(t.name) ?? []), m.us]);
      if (tickets && m.resumed < count * 0.9)
        resumedNote += ` ${t.name}: only ${m.resumed} of ${count} resumed;`;
    }
  }
  const base = median(us.get('node:https')!);
  console.log(
    tickets
      ? 'session tickets on, each connection resuming the previous one:'
      : 'session tickets off (full handshakes):',
  );
  for (const t of list) {
    const m = median(us.get(t.name)!);
    console.log(
      `  ${t.name.padEnd(14)} ${m.toFixed(0).padStart(5)} us of server CPU  ${Math.round(1e6 / m)
        .toLocaleString('en-US')
        .padStart(6)} handshakes/s of one core  ${(base / m).toFixed(2)}x node:https`,
    );
  }
  if (resumedNote) console.log(`  note:${resumedNote}`);
  for (const t of list) await t.close();
}
rmSync(dir, { recursive: true, force: true });
process.exit(0);
