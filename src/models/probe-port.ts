// SO_REUSEPORT lets any socket of the same user join a listening group, so a second multi-reactor started
// on the port of a running one would silently take a share of its connections. A listen without
// SO_REUSEPORT fails while any socket listens there: tried (and closed) before the group binds, it makes
// the second server fail with "port N is already in use" as every other model does. Only a server started
// in the instant between the probe and the group's bind could still join; Linux has nothing that closes
// that window (nginx's reuseport has the same one). node:net does the probe: libuv reports its own errno,
// where an FFI bind's errno can be overwritten before it is read.
import { createServer } from 'node:net';
import { listen } from '../backends/node/listen.ts';
import type { ResolvedServeOptions } from './types.ts';

/** Fails with the listen error when the port is taken; returns it (port 0: the free port it got). */
export async function probePortFree(options: ResolvedServeOptions): Promise<number> {
  const server = createServer();
  try {
    return await listen(server, { ...options, backlog: 1 }, { reusePort: false });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}
