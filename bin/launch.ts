#!/usr/bin/env node
// The installed `c10k` command (package.json "bin"): checks the Node version before anything else is
// loaded, in syntax every Node parses, so that an older Node gets one line and exit 2 instead of a stack
// trace from a module that needs a newer one; then runs the CLI (bin/c10k.ts). Keep it import-free.
// The floor: 22.12 is the oldest maintained LTS release, and the first 22 with net's listen({ reusePort })
// (multi-reactor --balance reuseport on the node backend). package.json "engines" says the same.
const NODE_FLOOR = [22, 12, 0];

const have = process.versions.node.split('.').map(Number);
const older =
  have[0] !== NODE_FLOOR[0]
    ? have[0] < NODE_FLOOR[0]
    : have[1] !== NODE_FLOOR[1]
      ? have[1] < NODE_FLOOR[1]
      : have[2] < NODE_FLOOR[2];
if (older) {
  process.stderr.write(`c10k: needs Node.js ${NODE_FLOOR.join('.')} or newer (this is ${process.version})\n`);
  process.exitCode = 2;
} else {
  import('./c10k.ts');
}

export {}; // a module (ESM), not a script
