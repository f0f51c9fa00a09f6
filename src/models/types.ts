// What every model is: a name, a summary and a start function per backend. The contract a model is started
// with and hands back lives below the backends (src/net/server-contract.ts) and is re-exported here.
import type { Backend, ResolvedServeOptions, ServerHandle } from '../net/server-contract.ts';

export type {
  Backend,
  ListenSpec,
  ResolvedServeOptions,
  ServerHandle,
  WorkerStats,
} from '../net/server-contract.ts';
export {
  BACKENDS,
  ModelUnavailableError,
  ServeError,
  ServeOptionError,
  workerLabel,
} from '../net/server-contract.ts';

export interface ModelDefinition {
  readonly name: string;
  readonly summary: string;
  /** Start functions per backend; a backend that cannot express the model honestly has a reason instead. */
  readonly backends: Partial<
    Record<Backend, ((options: ResolvedServeOptions) => Promise<ServerHandle>) | string>
  >;
}
