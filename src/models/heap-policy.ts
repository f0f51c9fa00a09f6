// The process's memory policy for the event-loop models (reactor, proactor, and the workers of
// multi-reactor and multi-proactor), in one place and applied once per process. Every connection object
// outlives the scavenge after its accept, and V8 grows its young generation (doubling, up to 2 x 16 MiB)
// whenever that much has survived; a server that then sits idle never scavenges again, so never shrinks
// it back, and a burst of accepts leaves that memory held per connection (figures: docs/performance.md).
// So, before serving: the growth factor is set to 1 (V8 reads it when it grows), and one full GC that
// reduces memory (the kind V8 runs as a last resort) shrinks what loading the modules had grown it to.
// The GC comes from a fresh context while --expose-gc is briefly on: the process's own global gets none.
// These are process-wide V8 flags, so: on by default in c10k's own processes (`c10k serve`, worker
// processes), off by default for a server started in-process by serve() (the process is the caller's);
// the serve option smallYoungGeneration (CLI --v8-heap-defaults to turn it off) decides.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let applied = false;

/** Keep V8's young generation small in this process, once (later calls do nothing); `on` false: not. */
export function applyHeapPolicy(on: boolean): void {
  if (!on || applied) return;
  applied = true;
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString('--expose-gc');
  let gc: ((options?: object) => void) | undefined;
  try {
    gc = runInNewContext('gc') as typeof gc;
  } catch {} // not exposed after all: the young generation just stays as large as it is
  setFlagsFromString('--no-expose-gc');
  gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

/** Whether this process applied it (for the startup log and tests). */
export function heapPolicyApplied(): boolean {
  return applied;
}
