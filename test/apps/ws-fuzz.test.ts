// Fuzzed frames against a running ws-echo server: each of 300 connections upgrades, then sends a mutated
// stream of frames (bit flips, truncation, duplication, splices, huge lengths, random bytes). Whatever a
// connection sends, the server either keeps it (and still answers a ping sent after, unless the stream
// left a frame unfinished) or closes it after a close frame carrying a code: 1002, 1007 or 1009 for a
// refusal, logged with its reason, or the code of a close frame the stream itself held. The other
// connections, and a fresh one afterwards, are served throughout.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mutate, Rng } from '../../bench/fuzz-lib.ts';
import { memoryLogger, serve } from '../../src/index.ts';
import {
  maskedFrame,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from '../../src/protocols/websocket.ts';
import { RawWsClient } from '../helpers/ws-client.ts';

function frames(rng: Rng): Buffer {
  const key = rng.bytes(4);
  const out: Buffer[] = [];
  for (let i = 1 + rng.int(4); i > 0; i--) {
    const kind = rng.int(4);
    if (kind === 0) out.push(maskedFrame(OP_PING, rng.bytes(rng.int(20)), true, key));
    else if (kind === 1) {
      out.push(maskedFrame(OP_TEXT, 'frag', false, key), maskedFrame(0, 'ment é', true, key));
    } else
      out.push(
        maskedFrame(
          kind === 2 ? OP_TEXT : OP_BINARY,
          kind === 2 ? 'hello ✓' : rng.bytes(rng.int(300)),
          true,
          key,
        ),
      );
  }
  return Buffer.concat(out);
}

test('ws-echo under 300 fuzzed frame streams: refusals close only their connection, with a code and a logged reason', async () => {
  const logger = memoryLogger();
  const server = await serve({ app: 'ws-echo', port: 0, logger });
  const rng = new Rng(19);
  let refused = 0;
  let kept = 0;
  let closedByStream = 0;
  try {
    const streams = Array.from({ length: 300 }, () => mutate(rng, frames(rng), frames(rng)));
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < streams.length) {
          const stream = streams[next++];
          const c = await RawWsClient.open(server.port);
          c.tcp.write(stream);
          c.tcp.write(maskedFrame(OP_PING, 'end'));
          let outcome: 'kept' | 'closed' | 'stuck' = 'stuck';
          let code = -1;
          for (;;) {
            const f = await c.next(1500).catch(() => null);
            if (f === null) {
              if (c.tcp.closed) outcome = 'closed';
              break;
            }
            if (f.opcode === OP_PONG && f.payload.toString() === 'end') {
              outcome = 'kept';
              break;
            }
            if (f.opcode === OP_CLOSE) {
              code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
              await c.tcp.waitClosed(5000);
              outcome = 'closed';
              break;
            }
          }
          if (outcome === 'closed') {
            assert.notEqual(code, -1, `closed without a close frame: ${stream.toString('hex')}`);
            if ([1002, 1007, 1009].includes(code)) refused++;
            else closedByStream++;
          } else if (outcome === 'kept') kept++;
          c.close();
        }
      }),
    );
    const stats = await server.stats();
    // a close frame in the stream ends that connection normally; every other close is a refusal
    assert.ok(refused > 50, `only ${refused} refusals: the fuzzer is not reaching the checks`);
    assert.ok(kept > 10, `only ${kept} streams survived`);
    assert.equal(stats.closed['protocol-error'], refused);
    const logged = logger.entries.filter((e) => e.message.includes('closed: protocol-error'));
    assert.equal(logged.length, refused);
    assert.ok(logged.every((e) => /^websocket (1002|1007|1009): /.test(String(e.fields?.error))));
    const fresh = await RawWsClient.open(server.port);
    fresh.send(OP_TEXT, 'after the fuzz');
    assert.equal((await fresh.next()).payload.toString(), 'after the fuzz');
    fresh.close();
    console.log(
      `refused ${refused}, kept ${kept}, closed by their own close frame ${closedByStream}, left mid-frame ${300 - refused - kept - closedByStream}`,
    );
  } finally {
    await server.close();
  }
});
