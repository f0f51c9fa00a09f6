import { reactor } from './reactor.ts';
import type { ModelDefinition } from './types.ts';

export const MODELS: Record<string, ModelDefinition> = {
  reactor,
};
