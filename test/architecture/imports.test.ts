// The import graph of src/: no circle of value imports, and no import from a lower layer to a higher one.
// Type-only imports (`import type`, `export type`) vanish at run time, so they may close a circle (a
// contract read back by its implementer) but still count for layering: a lower layer names no type of a
// higher one either. Dynamic `import()` counts as a value import.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const SRC = resolve(import.meta.dirname, '../../src');

/**
 * Low to high: a file may import its own layer and the ones before it. A layer is a folder of src/ or a
 * file at its top; every one of them must be listed here.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['sys', 'log.ts', 'module-path.ts'], // system calls through FFI, logging, where the package lives
  ['protocols'], // codecs: bytes in, messages out
  ['net', 'app.ts', 'bus'], // the connection, the server core and contract, the handler API and its bus
  ['backends'], // event loops over sockets: syscall (select/poll/epoll), io_uring, node:net, blocking
  ['apps'], // the apps that come with c10k
  ['admin'], // --status and --metrics over a ServerHandle
  ['models'], // I/O models assembled from backends: processes, threads, supervision
  ['serve.ts'], // serve(): options resolved, a model started
  ['load', 'inspect', 'report'], // the load generator, the inspector, the bench
  ['cli'], // the command line
  ['index.ts'], // the public API
];

interface Edge {
  from: string;
  to: string;
  /** Erased at run time. */
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

// `import ... from '...'`, `export ... from '...'` (the clause may span lines) and `import('...')`.
const STATIC = /^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every relative import of src/, by file path relative to src/. */
function importEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    // Comments out first, so an example in a comment is no import.
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, '');
    const add = (spec: string, typeOnly: boolean) => {
      if (!spec.startsWith('.')) return; // node: builtins and packages
      edges.push({ from: rel(file), to: rel(resolve(dirname(file), spec)), typeOnly });
    };
    for (const m of text.matchAll(STATIC)) add(m[2], m[1] !== undefined);
    for (const m of text.matchAll(DYNAMIC)) add(m[1], false);
  }
  return edges;
}

const rel = (path: string) => relative(SRC, path);

function layerOf(file: string): number {
  const top = file.split('/')[0];
  const rank = LAYERS.findIndex((layer) => layer.includes(top));
  assert.notEqual(rank, -1, `src/${top} is in no layer: add it to LAYERS in ${rel(import.meta.filename)}`);
  return rank;
}

/** Circles of value imports: Tarjan's strongly connected components of more than one file (or a file
 * importing itself), each as one path around it, and every file of the component when it has more. */
function valueCircles(edges: Edge[]): string[] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (e.typeOnly) continue;
    next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length === 1 && !next.get(v)?.includes(v)) return;
    const circle = circleThrough(v, new Set(component), next);
    const rest = component.filter((f) => !circle.includes(f)).sort();
    circles.push(circle.join(' -> ') + (rest.length > 0 ? ` (the same tangle: ${rest.join(', ')})` : ''));
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return circles;
}

/** A shortest path from start back to itself inside one component. */
function circleThrough(start: string, within: Set<string>, next: Map<string, string[]>): string[] {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of next.get(v) ?? []) {
      if (!within.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = cameFrom.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!cameFrom.has(w)) {
        cameFrom.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

const edges = importEdges();

test('the import parser sees the imports of src/ (a sanity check of this test itself)', () => {
  const has = (from: string, to: string, typeOnly: boolean) =>
    edges.some((e) => e.from === from && e.to === to && e.typeOnly === typeOnly);
  assert.ok(edges.length > 300, `only ${edges.length} imports found`);
  assert.ok(has('index.ts', 'serve.ts', false), 'index.ts: export { serve } from ./serve.ts');
  assert.ok(has('serve.ts', 'models/index.ts', false), 'serve.ts imports the models');
  assert.ok(
    edges.some((e) => e.from === 'index.ts' && e.typeOnly),
    'index.ts has `export type { ... } from` lines',
  );
});

test('no circle of value imports (type-only imports may point back)', () => {
  const circles = valueCircles(edges);
  assert.deepEqual(circles, [], `value-import circles in src/:\n  ${circles.join('\n  ')}`);
});

test(`no import from a lower layer to a higher one (low to high: ${LAYERS.map((l) => l.join('/')).join(' < ')})`, () => {
  const upward = edges
    .filter((e) => layerOf(e.to) > layerOf(e.from))
    .map((e) => `${e.from} -> ${e.to}${e.typeOnly ? ' (type-only)' : ''}`);
  assert.deepEqual(upward, [], `imports from a lower layer to a higher one:\n  ${upward.join('\n  ')}`);
});
