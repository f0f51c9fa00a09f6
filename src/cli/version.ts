// The package's version, read from its package.json: the nearest one named c10k above this file, so it
// is found from the sources and from a build alike.
import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  for (let dir = new URL('.', import.meta.url); ; ) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8'));
      if (pkg.name === 'c10k' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here: look further up
    }
    const up = new URL('..', dir);
    if (up.href === dir.href) return 'unknown';
    dir = up;
  }
}
