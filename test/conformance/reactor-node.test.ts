import { conformance } from './suite.ts';

conformance({
  name: 'reactor (node)',
  options: { model: 'reactor', backend: 'node' },
  concurrency: Infinity,
});
