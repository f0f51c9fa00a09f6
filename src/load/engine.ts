// engine.ts — picks and builds an engine for one process's slice of the connections.
//
// Why it is shaped this way: the epoll engine imports src/sys (koffi) only when it is chosen, so the
// node engine works where koffi or Linux is missing, and `defaultEngine()` can probe once and fall back.
import type { Driver } from './driver.ts';
import { NodeEngine } from './node-engine.ts';
import { Pattern } from './pattern.ts';
import type { EngineName, LoadOptions, Slice } from './stats.ts';

export type Engine = Driver<unknown> & { readonly name: EngineName };

/** 'sys' on Linux when the FFI bindings load, 'node' otherwise. */
export async function defaultEngine(): Promise<EngineName> {
  if (process.platform !== 'linux') return 'node';
  try {
    const sys = await import('../sys/index.ts');
    return sys.syscallBackendAvailable() ? 'sys' : 'node';
  } catch {
    return 'node';
  }
}

export async function createEngine(options: LoadOptions, slice: Slice): Promise<Engine> {
  const pattern = new Pattern(options.protocol, options.size);
  if (options.engine === 'sys') {
    const { SysEngine } = await import('./sys-engine.ts');
    return new SysEngine(options, slice, pattern) as unknown as Engine;
  }
  return new NodeEngine(options, slice, pattern) as unknown as Engine;
}
