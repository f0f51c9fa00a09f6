// node:net's lean read path for accepted sockets. By default node:net reads each chunk into a fresh
// 64 KiB allocation, trims it and pushes it through the Readable stream to 'data' listeners: a large share
// of the CPU per echoed message (docs/performance.md). node:net has a second path, the `onread:
// { buffer, callback }` option: reads land in one buffer the caller owns and go straight to the callback,
// no allocation and no stream. It is public for sockets node:net connects but not for those a net.Server
// accepts, so this switches an accepted socket, still paused (pauseOnConnect), onto it the way
// net.Socket's constructor does: its two private fields for onread, and the handle's useUserBuffer().
// pause(), resume(), EOF and errors keep working: node:net's own code handles sockets in this mode.
// Where a Node lacks those internals, adopt() says no and the socket stays on 'data' events (as it does
// with C10K_NODE_READ_PATH=stream in the environment, so that path is tested too).
import { Socket } from 'node:net';
import { ReadBuffer } from '../../net/read-buffer.ts';

/** node:net reads at most 64 KiB at a time. */
const READ_BUFFER_BYTES = 64 * 1024;

interface UserBufferHandle {
  reading?: boolean;
  useUserBuffer?: (buffer: Uint8Array) => void;
}

/** net.Socket's private onread fields, found by their description on a throwaway socket. */
const fields = (() => {
  const probe = new Socket();
  const symbols = new Map(Object.getOwnPropertySymbols(probe).map((s) => [s.description, s]));
  probe.destroy();
  const buffer = symbols.get('kBuffer');
  const callback = symbols.get('kBufferCb');
  return buffer && callback ? { buffer, callback } : null;
})();

/** Every read of this event loop (thread) lands here: one buffer, handled before the next read. */
export const nodeReads = new ReadBuffer(READ_BUFFER_BYTES);

/** Whether this Node lets adopt() work at all (false: every socket reads through 'data' events). */
export const userBufferAvailable = fields !== null && process.env.C10K_NODE_READ_PATH !== 'stream';

/**
 * Put a paused, accepted socket on the user-buffer read path: each read calls onRead(view of the shared
 * buffer, valid until onRead returns). Returns false, changing nothing, when that cannot be done (the
 * socket is already reading, or this Node lacks the internals); the caller then listens for 'data'.
 */
export function adopt(socket: Socket, onRead: (chunk: Buffer) => void): boolean {
  if (!userBufferAvailable) return false;
  const handle = (socket as unknown as { _handle?: UserBufferHandle })._handle;
  if (!handle || handle.reading || typeof handle.useUserBuffer !== 'function') return false;
  const own = socket as unknown as Record<symbol, unknown>;
  own[fields!.buffer] = nodeReads.bytes;
  own[fields!.callback] = (n: number) => {
    onRead(nodeReads.view(n));
  };
  handle.useUserBuffer(nodeReads.bytes);
  return true;
}
