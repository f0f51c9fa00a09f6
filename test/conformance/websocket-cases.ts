// WebSocket cases of the conformance suite: the same for every model x backend (suite.ts runs them).
// Real peers: Node's built-in WebSocket client (undici) against ws-echo; a raw client for what a browser
// never sends (frames split byte by byte, an unmasked frame).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryLogger, serve } from '../../src/index.ts';
import {
  maskedFrame,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from '../../src/protocols/websocket.ts';
import { eventually, prng, randomBytes } from '../helpers/client.ts';
import { RawWsClient } from '../helpers/ws-client.ts';
import type { ConformanceTarget } from './suite.ts';

/** One Node WebSocket session: send each message, wait for its echo, compare. */
async function nodeSession(port: number, messages: (string | Buffer)[]): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`);
  ws.binaryType = 'arraybuffer';
  const inbox: (string | Buffer)[] = [];
  let wake: (() => void) | null = null;
  let failure: Error | null = null;
  ws.onmessage = (e) => {
    inbox.push(typeof e.data === 'string' ? e.data : Buffer.from(e.data as ArrayBuffer));
    wake?.();
  };
  ws.onerror = () => {
    failure = new Error('websocket error');
    wake?.();
  };
  ws.onclose = () => {
    failure ??= new Error('closed early');
    wake?.();
  };
  const wait = (what: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out')), 30_000);
      const check = () => {
        if (what()) {
          clearTimeout(timer);
          resolve();
        } else if (failure) {
          clearTimeout(timer);
          reject(failure);
        } else wake = check;
      };
      check();
    });
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    setTimeout(() => reject(new Error('open timed out')), 30_000);
  });
  for (const [i, m] of messages.entries()) {
    ws.send(m);
    await wait(() => inbox.length > i);
    const back = inbox[i];
    if (typeof m === 'string') assert.equal(back, m);
    else assert.ok(Buffer.isBuffer(back) && back.equals(m), 'binary echo differs');
  }
  const closed = new Promise<CloseEvent>((resolve) => {
    ws.onclose = (e) => resolve(e);
  });
  ws.close(1000, 'done');
  assert.equal((await closed).code, 1000);
}

export function websocketCases(target: ConformanceTarget): void {
  const start = async () => {
    const logger = memoryLogger();
    const server = await serve({ app: 'ws-echo', ...target.options, port: 0, logger });
    return { server, logger };
  };

  test('websocket: Node WebSocket clients echo text and binary of every length class, close 1000', async () => {
    const { server } = await start();
    try {
      const random = prng(19);
      const clients = Math.min(target.echoClients ?? 20, 20);
      const sessions = Array.from({ length: clients }, (_, i) => [
        'é'.repeat(i),
        'x'.repeat(125 + (i % 3)),
        randomBytes(random, 1 + Math.floor(random() * 70_000)),
        Buffer.alloc(0),
      ]);
      const at = Math.min(clients, target.concurrency);
      let next = 0;
      await Promise.all(
        Array.from({ length: at }, async () => {
          while (next < sessions.length) await nodeSession(server.port, sessions[next++]);
        }),
      );
    } finally {
      await server.close();
    }
  });

  test('websocket: frames split byte by byte, a ping between fragments, then an unmasked frame: 1002 for that connection only', async () => {
    const { server, logger } = await start();
    try {
      const a = await RawWsClient.open(server.port);
      const stream = Buffer.concat([
        maskedFrame(OP_TEXT, 'hel', false),
        maskedFrame(OP_PING, 'p?'),
        maskedFrame(0, 'lo'),
        maskedFrame(OP_BINARY, Buffer.alloc(300, 7)),
      ]);
      for (const byte of stream) a.tcp.write(Buffer.of(byte));
      assert.deepEqual(await a.next(), { fin: true, opcode: OP_PONG, payload: Buffer.from('p?') });
      assert.deepEqual(await a.next(), { fin: true, opcode: OP_TEXT, payload: Buffer.from('hello') });
      assert.deepEqual(await a.next(), { fin: true, opcode: OP_BINARY, payload: Buffer.alloc(300, 7) });
      a.close();
      const bad = await RawWsClient.open(server.port);
      bad.tcp.write(Buffer.from([0x81, 0x02, 0x68, 0x69])); // text "hi", not masked
      const f = await bad.next();
      assert.equal(f.opcode, OP_CLOSE);
      assert.equal(f.payload.readUInt16BE(0), 1002);
      await bad.tcp.waitClosed(20_000);
      await eventually(
        () => logger.entries.some((e) => e.message.includes('closed: protocol-error')),
        10_000,
        'a logged protocol-error',
      );
      const good = await RawWsClient.open(server.port);
      good.send(OP_TEXT, 'still here');
      assert.equal((await good.next()).payload.toString(), 'still here');
      good.send(OP_CLOSE, Buffer.from([0x03, 0xe8]));
      const reply = await good.next();
      assert.equal(reply.opcode, OP_CLOSE);
      assert.equal(reply.payload.readUInt16BE(0), 1000);
      await good.tcp.waitEnded(20_000);
      good.close();
    } finally {
      await server.close();
    }
  });

  test('websocket: a server that stops tells an open WebSocket so with close 1001', async () => {
    const { server } = await start();
    let closed = false;
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error('websocket error'));
      });
      ws.send('x');
      await new Promise<void>((resolve) => {
        ws.onmessage = () => resolve();
      });
      const code = new Promise<number>((resolve) => {
        ws.onclose = (e) => resolve(e.code);
      });
      await server.close();
      closed = true;
      assert.equal(await code, 1001);
    } finally {
      if (!closed) await server.close();
    }
  });
}
