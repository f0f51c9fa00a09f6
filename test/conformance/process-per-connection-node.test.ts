import { conformance } from './suite.ts';

// Every client costs a node process (~60-120 ms of CPU to start): the echo case runs 200 clients, not 1,000.
conformance({
  name: 'process-per-connection (node, maxChildren 32)',
  options: { model: 'process-per-connection', backend: 'node', maxChildren: 32 },
  concurrency: 32,
  echoClients: 200,
});
