// Shared by the model tests: a pid-reporting app, and a client that learns which process serves it.
import { readdirSync, readFileSync } from 'node:fs';
import { TestClient } from '../helpers/client.ts';

export const PID_APP = new URL('./apps/pid.ts', import.meta.url).pathname;

/** Connect to a PID_APP server; resolves with the client and the serving process's pid. */
export async function openPid(port: number): Promise<{ client: TestClient; pid: number }> {
  const client = await TestClient.open(port, '127.0.0.1', 10_000);
  await client.waitFor(2, 10_000);
  for (let i = 0; i < 100 && !client.data().includes(10); i++) await new Promise((r) => setTimeout(r, 10));
  const pid = Number(client.data().toString().split('\n')[0]);
  return { client, pid };
}

/** Pids of our children that are zombies (state Z in /proc/PID/stat). */
export function zombieChildren(ppid = process.pid): number[] {
  const zombies: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // state ppid ...
    if (fields[0] === 'Z' && Number(fields[1]) === ppid) zombies.push(Number(entry));
  }
  return zombies;
}

/** Children of ppid (any state). */
export function childrenOf(ppid = process.pid): number[] {
  const kids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) kids.push(Number(entry));
    } catch {}
  }
  return kids;
}
