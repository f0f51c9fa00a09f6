// The node reactor on node:net's stream read path ('data' events), the one it falls back to where a Node
// lacks the internals of the shared-read-buffer path (src/backends/node/user-buffer.ts).
process.env.C10K_NODE_READ_PATH = 'stream';
const { conformance } = await import('./suite.ts');
const { userBufferAvailable } = await import('../../src/backends/node/user-buffer.ts');

if (userBufferAvailable) throw new Error('C10K_NODE_READ_PATH=stream did not select the stream read path');
conformance({
  name: "reactor (node, reads through 'data' events)",
  options: { model: 'reactor', backend: 'node' },
  concurrency: Infinity,
});
