// "Does not spin", checked against a baseline from the same moment: a process's CPU over a window is
// compared with what a deliberate busy loop, run beside it over the same window, gets from this box right
// now. A quiet box gives the busy loop a whole core; a loaded one (other tests, CPU burners) much less, and
// a spinning server would get about as little: a fixed "10% of a core" would then let it through, or
// fail a quiet server that was merely descheduled.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const HZ = Number(execFileSync('getconf', ['CLK_TCK']).toString()); // /proc/PID/stat's time unit

/** CPU seconds (user + system) a process has used. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / HZ;
}

export interface CpuShares {
  /** CPU of `pid` over the window, in cores. */
  share: number;
  /** CPU of a busy loop over the same window, in cores: what a spinning process gets here now. */
  spinner: number;
  /** Two clock ticks of /proc accounting over the window, in cores: less than that cannot be told apart. */
  resolution: number;
}

/** The CPU `pid` used over `ms` next to that of a busy loop run over the same window. */
export async function cpuBesideSpinner(pid: number, ms = 1000): Promise<CpuShares> {
  const spinner = spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' });
  try {
    await new Promise<void>((resolve, reject) => {
      spinner.once('spawn', resolve);
      spinner.once('error', reject);
    });
    await new Promise((r) => setTimeout(r, 100)); // past its start-up
    const t0 = performance.now();
    const server0 = cpuSeconds(pid);
    const spinner0 = cpuSeconds(spinner.pid!);
    await new Promise((r) => setTimeout(r, ms));
    const seconds = (performance.now() - t0) / 1000;
    return {
      share: (cpuSeconds(pid) - server0) / seconds,
      spinner: (cpuSeconds(spinner.pid!) - spinner0) / seconds,
      resolution: 2 / HZ / seconds,
    };
  } finally {
    spinner.kill('SIGKILL');
  }
}

/** Whether `pid` used at most `fraction` of what a busy loop got beside it, and a line saying so. */
export function idleAgainstSpinner(
  { share, spinner, resolution }: CpuShares,
  fraction = 0.25,
): [boolean, string] {
  return [
    share <= Math.max(fraction * spinner, resolution),
    `${(share * 100).toFixed(1)}% of a core while a busy loop beside it got ${(spinner * 100).toFixed(1)}% ` +
      `(at most ${fraction * 100}% of that for a process that does not spin)`,
  ];
}
