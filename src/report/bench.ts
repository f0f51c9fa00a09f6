// `c10k bench`: every model x every connection count, one step at a time (the machine is the
// instrument: steps never overlap), then results.json, report.html and the summary table.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { type BenchMeta, reportHtml } from './html.ts';
import type { BenchModel } from './models.ts';
import { MULTIPLEXERS, type MultiplexerResult, runMultiplexerStep } from './multiplexers.ts';
import { runStep, type StepResult } from './runner.ts';
import { multiplexerTable, summaryTable } from './table.ts';

export interface BenchOptions {
  models: BenchModel[];
  ladder: number[];
  durationMs: number;
  connectTimeoutMs: number;
  size: number;
  outDir: string;
  /** Idle-connection counts for the multiplexer comparison ([] skips it). */
  multiplexerLadder: number[];
  /** Called before and after each step (progress for people). */
  onStep?(event: {
    index: number;
    total: number;
    model: string;
    connections: number;
    result?: { status: string; msgsPerSec: number };
  }): void;
}

export interface BenchOutput {
  results: StepResult[];
  multiplexers: MultiplexerResult[];
  table: string;
  jsonPath: string;
  htmlPath: string;
}

export async function runBench(o: BenchOptions): Promise<BenchOutput> {
  const started = Date.now();
  const results: StepResult[] = [];
  const total = o.models.length * o.ladder.length + MULTIPLEXERS.length * o.multiplexerLadder.length;
  let index = 0;
  for (const model of o.models) {
    for (const connections of o.ladder) {
      index++;
      o.onStep?.({ index, total, model: model.id, connections });
      const result = await runStep(model, {
        connections,
        durationMs: o.durationMs,
        connectTimeoutMs: o.connectTimeoutMs,
        size: o.size,
      });
      results.push(result);
      o.onStep?.({ index, total, model: model.id, connections, result });
    }
  }
  const multiplexers: MultiplexerResult[] = [];
  for (const idle of o.multiplexerLadder) {
    for (const name of MULTIPLEXERS) {
      index++;
      const model = `${name}, 1 busy + idle`;
      o.onStep?.({ index, total, model, connections: idle });
      const r = await runMultiplexerStep(name, idle, Math.max(1000, o.durationMs / 2));
      multiplexers.push(r);
      o.onStep?.({ index, total, model, connections: idle, result: r });
    }
  }
  const meta: BenchMeta = {
    date: new Date().toISOString(),
    node: process.versions.node,
    cpus: availableParallelism(),
    memoryBytes: totalmem(),
    kernel: release(),
    durationMs: o.durationMs,
    size: o.size,
    ladder: o.ladder,
    wallMs: Date.now() - started,
  };
  const dir = resolve(o.outDir);
  mkdirSync(dir, { recursive: true });
  const jsonPath = join(dir, 'results.json');
  const htmlPath = join(dir, 'report.html');
  writeFileSync(jsonPath, JSON.stringify({ meta, models: o.models, results, multiplexers }, null, 2) + '\n');
  writeFileSync(htmlPath, reportHtml(o.models, results, multiplexers, meta));
  const table =
    summaryTable(results) + (multiplexers.length > 0 ? `\n\n${multiplexerTable(multiplexers)}` : '');
  return { results, multiplexers, table, jsonPath, htmlPath };
}
