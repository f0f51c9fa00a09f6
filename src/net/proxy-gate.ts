// proxy-gate.ts — the PROXY protocol gate in front of a connection's decoder (--proxy-protocol).
// A trusted peer (a load balancer) starts with a header naming the real client, which becomes the
// connection's remote address and the address its per-address limit counts; a header from anyone else
// is refused, and a direct client's bytes pass as they are. The gate lives only until the header is read.
import { ProtocolError } from '../protocols/codec.ts';
import { looksLikeProxyHeader, ProxyPreface } from '../protocols/proxy.ts';
import type { ConnectionBase } from './connection.ts';
import type { ServerCore } from './server-core.ts';

export class ProxyGate {
  /** The gate let the connection through, or closed it: the connection drops the gate. */
  done = false;
  private preface: ProxyPreface | null = null;

  /**
   * A chunk of the connection's first bytes: returns the bytes that follow the header, or null when
   * there are none yet (the header is incomplete, or the connection was closed).
   */
  pass<In, Out>(conn: ConnectionBase<In, Out>, core: ServerCore<In, Out>, chunk: Buffer): Buffer | null {
    if (!core.trustedProxy!(conn.remoteAddress)) {
      this.done = true;
      if (!looksLikeProxyHeader(chunk)) return chunk; // a direct client
      conn.destroy(
        'protocol-error',
        new ProtocolError(`PROXY header from untrusted peer ${conn.remoteAddress}`),
      );
      return null;
    }
    this.preface ??= new ProxyPreface();
    let result: ReturnType<ProxyPreface['push']>;
    try {
      result = this.preface.push(chunk);
    } catch (error) {
      this.done = true;
      conn.destroy('protocol-error', error);
      return null;
    }
    const partial = conn.partialDeadline;
    if (result.state === 'need-more') {
      // A header that never completes is a partial message: the partial-message timeout closes it.
      if (partial !== null && !partial.linked) core.partialList!.touch(partial, core.now);
      return null;
    }
    this.done = true;
    if (partial?.linked) core.partialList!.remove(partial);
    const source = result.header.command === 'PROXY' ? result.header.source : undefined;
    if (source) {
      // The per-address count follows the real client: a proxy's many clients are counted apart.
      if (!core.readdress(conn, source.address)) {
        conn.destroy('per-ip-limit');
        return null;
      }
      conn.remotePort = source.port;
    }
    return result.rest.length > 0 ? result.rest : null;
  }
}
