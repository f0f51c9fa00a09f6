// bench/ws-deflate-memory.ts — what permessage-deflate costs c10k's ws-echo in server memory per
// connection, in one run: the server (one process) is started three times, plain, with --ws-deflate and a
// client that keeps its context (as browsers do), and with --ws-deflate and clients that offer
// client_no_context_takeover. Each time N `ws` clients (in this process) connect, each sends one
// compressible message of --size bytes, gets its echo, and stays open; the server's resident memory
// growth (from before the first connection to after the last echo, settled) divided by N is the figure.
//   node bench/ws-deflate-memory.ts [--connections 2000] [--size 8192] [--settle-seconds 2]
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { treeRss, waitPort } from './lib/yardstick.ts';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '2000' },
    size: { type: 'string', default: '8192' },
    'settle-seconds': { type: 'string', default: '2' },
  },
});
const total = Number(values.connections);
const size = Number(values.size);
const settle = Number(values['settle-seconds']);
if (!Number.isInteger(total) || total < 1 || !Number.isInteger(size) || size < 1 || !(settle >= 0)) {
  console.error('usage: node bench/ws-deflate-memory.ts [--connections N] [--size B] [--settle-seconds S]');
  process.exit(2);
}
const bin = new URL('../bin/c10k.ts', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A bench stops by itself: a handshake or echo that does not come within this fails the run. */
const WAIT_MS = 10_000;

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${WAIT_MS / 1000} s`)), WAIT_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Text that compresses about as chat or JSON does (repeated words, varying numbers). */
function message(i: number): string {
  let s = '';
  for (let k = 0; s.length < size; k++) s += `{"user":"u${i}","seq":${k},"text":"hello from ${i * 7 + k}"} `;
  return s.slice(0, size);
}

async function measure(name: string, serveArgs: string[], clientNoTakeover: boolean): Promise<number> {
  const port = 20000 + Math.floor(Math.random() * 10000);
  const server = spawn(
    process.execPath,
    [bin, 'serve', '--app', 'ws-echo', '--port', String(port), '--log-level', 'warn', ...serveArgs],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const clients: WebSocket[] = [];
  try {
    await waitPort(port);
    await sleep(1000);
    const baseline = treeRss(server.pid!);
    let extensions = '';
    for (let i = 0; i < total; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, total - i) }, async (_, j) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {
            perMessageDeflate: { threshold: 0, clientNoContextTakeover: clientNoTakeover },
          });
          clients.push(ws);
          await within(
            new Promise((resolve, reject) => {
              ws.once('open', resolve);
              ws.once('error', reject);
              ws.once('close', (code) => reject(new Error(`closed before it opened (${code})`)));
            }),
            'the handshake',
          );
          extensions = ws.extensions;
          const text = message(i + j);
          const echoed = await within(
            new Promise<string>((resolve, reject) => {
              ws.once('message', (data: Buffer) => resolve(data.toString()));
              ws.once('error', reject);
              ws.once('close', (code) => reject(new Error(`closed before the echo (${code})`)));
              ws.send(text);
            }),
            'the echo',
          );
          if (echoed !== text) throw new Error('echo mismatch');
        }),
      );
    }
    await sleep(settle * 1000);
    const after = treeRss(server.pid!);
    const per = (after - baseline) / total;
    console.log(
      `${name.padEnd(48)} ${Math.round(per).toLocaleString('en-US').padStart(7)} bytes per connection  (extension agreed: ${extensions || 'none'})`,
    );
    return per;
  } finally {
    for (const ws of clients) ws.terminate();
    server.kill('SIGKILL');
    await sleep(300);
  }
}

console.log(
  `${total.toLocaleString('en-US')} connections, each sent one ${size}-byte text message and got its echo`,
);
const plain = await measure('c10k ws-echo, plain', [], false);
const keep = await measure('c10k ws-echo --ws-deflate, client keeps context', ['--ws-deflate'], false);
const none = await measure('c10k ws-echo --ws-deflate, client_no_context_takeover', ['--ws-deflate'], true);
console.log(
  `permessage-deflate costs ${Math.round(keep - plain).toLocaleString('en-US')} bytes per connection whose client keeps its context, ${Math.round(none - plain).toLocaleString('en-US')} with client_no_context_takeover`,
);
