// HTTPS on one core: `c10k serve --app http` with TLS (syscall and node backends) against a plain
// node:https server with the same body (bench/plain-node-https.ts) and nginx (1 worker, same certificate,
// same body), one server at a time on CPU 0 with the load on CPU 1.
// 1. wrk -t1 -c CONNECTIONS -d DURATION https://... : requests/s (each wrk connection's handshake counts in).
// 2. Handshakes: PARALLEL `openssl s_time` clients, each a new connection per handshake, full handshakes
//    (-new) and resumed ones (-reuse), with session tickets on and off (off: -reuse finds nothing to
//    resume, so every handshake is a full one). Reported per wall second and per second of the server's
//    CPU (utime+stime), which the client's core does not cap.
//   node bench/tls.ts [--duration 5] [--connections 1000] [--key ec|rsa] [--parallel 8] [--rounds 1]
//                     [--skip wrk|handshakes] [--only c10k-syscall,c10k-node,node-https,nginx]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { wholeNumber } from './lib/args.ts';
import { HZ, treeTicks, waitPort } from './lib/yardstick.ts';

const { values: v } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '1000' },
    key: { type: 'string', default: 'ec' },
    parallel: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '1' },
    'handshake-seconds': { type: 'string', default: '3' },
    skip: { type: 'string', default: '' },
    only: { type: 'string' },
    port: { type: 'string', default: '18600' },
  },
});
const duration = wholeNumber('duration', v.duration);
const connections = wholeNumber('connections', v.connections);
const parallel = wholeNumber('parallel', v.parallel);
const rounds = wholeNumber('rounds', v.rounds);
const hsSeconds = wholeNumber('handshake-seconds', v['handshake-seconds']);
if (v.key !== 'ec' && v.key !== 'rsa') {
  process.stderr.write(`--key is ec (P-256) or rsa (2048), got '${v.key}'\n`);
  process.exit(2);
}
for (const tool of ['openssl', 'wrk', 'taskset']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    process.stderr.write(`${tool} is not installed\n`);
    process.exit(2);
  }
}
const haveNginx = spawnSync('sh', ['-c', 'command -v nginx || test -x /usr/sbin/nginx']).status === 0;
const NGINX = spawnSync('sh', ['-c', 'command -v nginx']).stdout.toString().trim() || '/usr/sbin/nginx';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'c10k-bench-tls-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
const newkey =
  v.key === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
execFileSync(
  'openssl',
  ['req', '-x509', ...newkey, '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'],
  { stdio: 'ignore' },
);
const port = Number(v.port);

interface Server {
  name: string;
  command(tickets: boolean): string[];
}

function nginxConf(tickets: boolean): string {
  const conf = join(dir, `nginx-${tickets}.conf`);
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:${port} ssl backlog=4096;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    ssl_session_tickets ${tickets ? 'on' : 'off'};
    location / { default_type "text/plain; charset=utf-8"; return 200 "hello from c10k\\n"; }
  }
}
`,
  );
  return conf;
}

const c10k = (backend: string) => (tickets: boolean) => [
  process.execPath,
  join(root, 'bin/c10k.ts'),
  'serve',
  '--app',
  'http',
  '--backend',
  backend,
  '--port',
  String(port),
  '--tls-cert',
  cert,
  '--tls-key',
  key,
  '--log-level',
  'error',
  ...(tickets ? [] : ['--no-tls-session-tickets']),
];
const SERVERS: Server[] = [
  { name: 'c10k-syscall', command: c10k('syscall') },
  { name: 'c10k-node', command: c10k('node') },
  {
    name: 'node-https',
    command: (tickets) => [
      process.execPath,
      join(root, 'bench/plain-node-https.ts'),
      String(port),
      cert,
      key,
      ...(tickets ? [] : ['--no-tickets']),
    ],
  },
  ...(haveNginx
    ? [
        {
          name: 'nginx',
          command: (tickets: boolean) => [
            NGINX,
            '-e',
            `${dir}/nginx-error.log`,
            '-p',
            dir,
            '-c',
            nginxConf(tickets),
          ],
        },
      ]
    : []),
];
const only = v.only?.split(',');
const servers = SERVERS.filter((s) => only === undefined || only.includes(s.name));
if (!haveNginx) process.stderr.write('nginx not installed: no nginx figures (apt-get install nginx-light)\n');

async function withServer<T>(server: Server, tickets: boolean, run: (pid: number) => Promise<T>): Promise<T> {
  const [bin, ...args] = server.command(tickets);
  const child = spawn('taskset', ['-c', '0', bin!, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await waitPort(port);
    await new Promise((r) => setTimeout(r, 300));
    return await run(child.pid!);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

function wrk(): { rps: number; errors: string } {
  const out = execFileSync(
    'taskset',
    ['-c', '1', 'wrk', '-t1', '-c', String(connections), '-d', `${duration}s`, `https://127.0.0.1:${port}/`],
    { encoding: 'utf8', timeout: (duration + 60) * 1000 },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const errors = [/Socket errors:.*/.exec(out)?.[0], /Non-2xx.*/.exec(out)?.[0]].filter(Boolean).join('; ');
  return { rps, errors };
}

/** PARALLEL s_time clients for hsSeconds: handshakes in total. */
async function handshakes(mode: '-new' | '-reuse'): Promise<number> {
  const runs = Array.from(
    { length: parallel },
    () =>
      new Promise<number>((resolve) => {
        const child = spawn(
          'taskset',
          ['-c', '1', 'openssl', 's_time', '-connect', `127.0.0.1:${port}`, mode, '-time', String(hsSeconds)],
          { stdio: ['ignore', 'pipe', 'ignore'] },
        );
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('exit', () => {
          // -reuse prints the first (full) connection's line and then the reused ones'; take the last.
          const all = [...out.matchAll(/(\d+) connections in [\d.]+ real seconds/g)];
          resolve(Number(all.at(-1)?.[1] ?? 0));
        });
      }),
  );
  return (await Promise.all(runs)).reduce((a, b) => a + b, 0);
}

const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const results: Record<
  string,
  { rps: number[]; errors: string[]; hs: Record<string, { wall: number; cpu: number }> }
> = {};
for (const s of servers) results[s.name] = { rps: [], errors: [], hs: {} };

process.stderr.write(
  `cert: ${v.key === 'rsa' ? 'RSA 2048' : 'ECDSA P-256'}; servers on CPU 0, load on CPU 1; ${rounds} round(s)\n`,
);
if (!v.skip.includes('wrk')) {
  for (let r = 0; r < rounds; r++) {
    for (const s of servers) {
      const { rps, errors } = await withServer(s, true, async () => wrk());
      results[s.name]!.rps.push(rps);
      if (errors) results[s.name]!.errors.push(errors);
      process.stderr.write(`  wrk ${s.name}: ${fmt(rps)} requests/s ${errors}\n`);
    }
  }
}
if (!v.skip.includes('handshakes')) {
  for (const tickets of [true, false]) {
    for (const s of servers) {
      await withServer(s, tickets, async (pid) => {
        for (const mode of ['-new', '-reuse'] as const) {
          if (mode === '-new' && !tickets) continue; // the same full handshakes as with tickets on
          const before = treeTicks(pid);
          const n = await handshakes(mode);
          const cpu = (treeTicks(pid) - before) / HZ;
          const label =
            mode === '-new' ? 'full' : tickets ? 'resumed (tickets on)' : 'reuse asked, tickets off';
          results[s.name]!.hs[label] = { wall: n / hsSeconds, cpu: n / cpu };
          process.stderr.write(
            `  ${s.name} ${label}: ${fmt(n / hsSeconds)}/s, ${fmt(n / cpu)} per server CPU-second\n`,
          );
        }
      });
    }
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? Number.NaN;
console.log(`\nHTTPS on one core (${v.key === 'rsa' ? 'RSA 2048' : 'ECDSA P-256'} certificate, TLS 1.3)`);
if (!v.skip.includes('wrk')) {
  const base = median(results['node-https']?.rps ?? []);
  const nginx = median(results.nginx?.rps ?? []);
  console.log(`wrk -t1 -c ${connections} -d ${duration}s (median of ${rounds}):`);
  for (const s of servers) {
    const rps = median(results[s.name]!.rps);
    const vs = [
      Number.isFinite(base) ? `${(rps / base).toFixed(2)}x node:https` : '',
      Number.isFinite(nginx) ? `${(rps / nginx).toFixed(2)}x nginx` : '',
    ].filter(Boolean);
    console.log(
      `  ${s.name.padEnd(13)} ${fmt(rps).padStart(8)} requests/s  ${vs.join(', ')} ${results[s.name]!.errors.join(' ')}`,
    );
  }
}
if (!v.skip.includes('handshakes')) {
  console.log(
    `handshakes, a new connection each (${parallel} openssl s_time clients on CPU 1, ${hsSeconds}s each):`,
  );
  console.log('  per wall second | per second of server CPU');
  for (const s of servers) {
    for (const [label, h] of Object.entries(results[s.name]!.hs))
      console.log(
        `  ${s.name.padEnd(13)} ${label.padEnd(26)} ${fmt(h.wall).padStart(7)} | ${fmt(h.cpu).padStart(7)}`,
      );
  }
}
rmSync(dir, { recursive: true, force: true });
