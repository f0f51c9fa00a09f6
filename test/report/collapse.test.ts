// "A model that collapses is recorded as such; the run always finishes" (README, bench): a bench over a
// server that crashes mid-run, one that stops answering and ignores SIGTERM, one that cannot start, and a
// healthy one after them. Every step ends with a row saying what happened, the healthy model still runs,
// and results.json and report.html are written.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runBench } from '../../src/report/bench.ts';
import type { BenchModel } from '../../src/report/models.ts';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;

test('c10k bench records a model that crashes, hangs or never starts, and goes on to the next', {
  timeout: 180_000,
}, async () => {
  const models: BenchModel[] = [
    { id: 'crashes', note: 'exits after 20 messages', serveArgs: ['--app', fixture('crash-after-20.ts')] },
    { id: 'hangs', note: 'spins after 20 messages', serveArgs: ['--app', fixture('hang-after-20.ts')] },
    { id: 'no-start', note: 'a bad option', serveArgs: ['--model', 'no-such-model'] },
    { id: 'healthy', note: 'the echo reactor', serveArgs: ['--model', 'reactor'] },
  ];
  const out = mkdtempSync(join(tmpdir(), 'c10k-collapse-'));
  try {
    const bench = await runBench({
      models,
      ladder: [10],
      durationMs: 1500,
      connectTimeoutMs: 2000,
      size: 64,
      outDir: out,
      multiplexerLadder: [],
    });
    const by = new Map(bench.results.map((r) => [r.model, r]));
    assert.deepEqual([...by.keys()], ['crashes', 'hangs', 'no-start', 'healthy']);

    const crashed = by.get('crashes')!;
    assert.match(crashed.status, /^server exited during the run: .*giving up after 20 messages/);
    assert.ok(crashed.messages <= 20, `${crashed.messages} messages from a server that answered 20`);

    // A hung server is not a crash: its row shows the load it could not carry, and the step ends (the
    // server, deaf to SIGTERM, is killed).
    const hung = by.get('hangs')!;
    assert.ok(hung.messages <= 20, `${hung.messages} messages from a server that answered 20`);
    assert.equal(hung.established, 10);
    assert.ok(hung.msgsPerSec < 20, `${hung.msgsPerSec} msgs/s`);

    assert.match(by.get('no-start')!.status, /^server did not start: .*no-such-model/);
    assert.equal(by.get('no-start')!.messages, 0);

    const healthy = by.get('healthy')!;
    assert.equal(healthy.status, 'ok');
    assert.equal(healthy.established, 10);
    assert.ok(healthy.messages > 20, `${healthy.messages} messages`);

    const json = JSON.parse(readFileSync(bench.jsonPath, 'utf8'));
    assert.deepEqual(
      json.results.map((r: { model: string; status: string }) => [r.model, r.status === 'ok']),
      [
        ['crashes', false],
        ['hangs', hung.status === 'ok'],
        ['no-start', false],
        ['healthy', true],
      ],
    );
    assert.ok(existsSync(bench.htmlPath));
    assert.match(bench.table, /crashes .*server exited during the run/);
    assert.match(bench.table, /no-start .*server did not start/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
