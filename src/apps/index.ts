// Built-in apps by name, and loading an app from a module path: the same function runs in the main
// process and in every worker, so a worker-based model loads the app exactly as `serve` does.
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type App, isApp } from '../app.ts';
import { siblingModule } from '../module-path.ts';
import { ServeError, ServeOptionError } from '../net/server-contract.ts';

export const BUILTIN_APPS: Record<string, string> = {
  echo: siblingModule('./echo.ts', import.meta.url).href,
  'line-echo': siblingModule('./line-echo.ts', import.meta.url).href,
  kv: siblingModule('./kv.ts', import.meta.url).href,
  http: siblingModule('./http.ts', import.meta.url).href,
  chat: siblingModule('./chat.ts', import.meta.url).href,
  'ws-echo': siblingModule('./ws-echo.ts', import.meta.url).href,
  'ws-chat': siblingModule('./ws-chat.ts', import.meta.url).href,
};

/** The module URL for a built-in app name or a path (relative to the working directory). */
export function appModuleUrl(spec: string): string {
  if (Object.hasOwn(BUILTIN_APPS, spec)) return BUILTIN_APPS[spec];
  if (spec.startsWith('file:')) return spec;
  return pathToFileURL(isAbsolute(spec) ? spec : resolve(spec)).href;
}

export async function loadApp(spec: string): Promise<App> {
  const url = appModuleUrl(spec);
  let module: Record<string, unknown>;
  try {
    module = await import(url);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND' && e.message.includes(url.replace('file://', ''))) {
      throw new ServeOptionError(
        `app '${spec}' not found (built in: ${Object.keys(BUILTIN_APPS).join(', ')}, or a module path)`,
      );
    }
    if (e.code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[cm]?ts$/.test(url)) {
      // Node 22.12-22.17 strips TypeScript types only when asked (22.18 and 23.6 on do it by default).
      throw new ServeError(
        `app module '${spec}' is TypeScript, which Node ${process.version} runs only with NODE_OPTIONS=--experimental-strip-types (default from Node 22.18); or compile it to .mjs`,
      );
    }
    throw new ServeError(`app module '${spec}' failed to load: ${e.message}`);
  }
  const app = module.default;
  if (!isApp(app)) throw new ServeError(`app module '${spec}' has no default export made with defineApp()`);
  return app;
}
