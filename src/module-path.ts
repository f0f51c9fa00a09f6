// Modules started by path (worker processes and threads, the fd-scan worker, the built-in apps, the CLI
// the bench spawns) are named by strings that tsc does not rewrite: the repository runs its .ts sources
// directly, the package runs the .js build in dist/. A sibling takes the extension of the module that
// names it, so the same line works in both.
import { fileURLToPath } from 'node:url';

/** The URL of `relative` (written as its .ts source, like an import) resolved against `base`
 * (`import.meta.url`), ending in .js when `base` does. */
export function siblingModule(relative: string, base: string): URL {
  const ext = new URL(base).pathname.endsWith('.ts') ? '.ts' : '.js';
  return new URL(relative.replace(/\.ts$/, ext), base);
}

/** The same as a file path (for fork() and spawn(); decoded, unlike URL.pathname). */
export function siblingModulePath(relative: string, base: string): string {
  return fileURLToPath(siblingModule(relative, base));
}
