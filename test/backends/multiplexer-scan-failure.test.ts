// A parked select/poll wait whose scan fails still applies the edits queued while it was parked: left in
// the queue they would land later, after newer edits made unparked (a removal after a fresh add).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { READABLE } from '../../src/backends/syscall/multiplexer.ts';
import { PollMultiplexer } from '../../src/backends/syscall/poll-multiplexer.ts';
import { SelectMultiplexer } from '../../src/backends/syscall/select-multiplexer.ts';
import * as sys from '../../src/sys/index.ts';
import { tcpPair } from '../sys/helpers.ts';

const skip = sys.syscallBackendAvailable() ? false : 'the syscall backend needs Linux';

/** A multiplexer whose next parked scan fails (after a moment, so edits can be queued meanwhile). */
function failingOnce<T extends new () => PollMultiplexer | SelectMultiplexer>(Base: T) {
  return class extends (Base as new () => PollMultiplexer) {
    failNext = false;
    protected override scanAsync(timeoutMs: number): Promise<number> {
      if (!this.failNext) return super.scanAsync(timeoutMs);
      this.failNext = false;
      return sleep(50).then(() => {
        throw new Error('scan failed');
      });
    }
  };
}

for (const [name, Base] of [
  ['poll', PollMultiplexer],
  ['select', SelectMultiplexer],
] as const) {
  test(`${name}: edits queued during a scan that fails are applied, in order, when it fails`, {
    skip,
  }, async () => {
    const Mux = failingOnce(Base);
    const mux = new Mux();
    const p = tcpPair();
    try {
      sys.write(p.client, Buffer.from('x'), 1); // the server side is readable throughout
      mux.add(p.server, READABLE);
      mux.failNext = true;
      const parked = mux.waitAsync(-1);
      mux.remove(p.server, false); // queued
      await assert.rejects(parked, /scan failed/);
      const n = mux.wait(0);
      for (let i = 0; i < n; i++)
        assert.notEqual(mux.readyFd(i), p.server, 'the removal made while parked holds');
      // A fresh add now, then a successful parked wait: no stale removal lands after it.
      mux.add(p.server, READABLE);
      const m = await mux.waitAsync(1000);
      const seen: number[] = [];
      for (let i = 0; i < m; i++) seen.push(mux.readyFd(i));
      assert.ok(seen.includes(p.server), 'the fresh add is watched');
      const k = mux.wait(0);
      const again: number[] = [];
      for (let i = 0; i < k; i++) again.push(mux.readyFd(i));
      assert.ok(again.includes(p.server), 'and still watched after the wait');
    } finally {
      mux.close();
      p.closeAll();
    }
  });
}
