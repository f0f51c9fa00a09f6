import { iterative } from './iterative.ts';
import { multiReactor } from './multi-reactor.ts';
import { prefork } from './prefork.ts';
import { multiProactor, proactor } from './proactor.ts';
import { processPerConnection } from './process-per-connection.ts';
import { reactor } from './reactor.ts';
import { threadPool } from './thread-pool.ts';
import type { ModelDefinition } from './types.ts';

export const MODELS: Record<string, ModelDefinition> = {
  iterative,
  prefork,
  'process-per-connection': processPerConnection,
  reactor,
  'thread-pool': threadPool,
  'multi-reactor': multiReactor,
  proactor,
  'multi-proactor': multiProactor,
};
