// What an app sees of a connected socket, on every model and backend, and why a connection closed. The
// implementation (ConnectionBase and a subclass per backend) is in connection.ts.
import type { TlsInfo } from './tls/session.ts';

export type { TlsInfo };

export type CloseReason =
  | 'peer-closed' // the peer closed (FIN) and we finished writing
  | 'peer-reset' // the peer reset the connection (RST, EPIPE)
  | 'ended' // the app called end() and the peer closed in turn
  | 'destroyed' // the app called destroy()
  | 'idle-timeout'
  | 'partial-timeout' // an incomplete message sat too long (slowloris)
  | 'protocol-error' // the codec rejected the input
  | 'handler-error' // the app threw or its promise rejected
  | 'slow-consumer' // the write buffer passed maxWriteBuffer
  | 'shutdown' // the server stopped and the connection did not finish in time
  | 'max-connections' // refused at accept: too many connections
  | 'fd-limit' // refused at accept: a descriptor limit (select's FD_SETSIZE, the open-files reserve)
  | 'per-ip-limit' // refused: too many connections from this client address (maxConnectionsPerIp)
  | 'tls-error' // TLS: a failed handshake, plain text on the TLS port, a refused client certificate
  | 'handshake-timeout' // TLS: no finished handshake within the handshake timeout
  | 'error'; // any other transport error

export const CLOSE_REASONS: readonly CloseReason[] = [
  'peer-closed',
  'peer-reset',
  'ended',
  'destroyed',
  'idle-timeout',
  'partial-timeout',
  'protocol-error',
  'handler-error',
  'slow-consumer',
  'shutdown',
  'max-connections',
  'fd-limit',
  'per-ip-limit',
  'tls-error',
  'handshake-timeout',
  'error',
];

export interface Connection<Out = Buffer | string> {
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  /** Date.now() when accepted. */
  readonly openedAt: number;
  /** Bytes accepted by send()/write() and not yet handed to the kernel. */
  readonly writableLength: number;
  readonly closed: boolean;
  /** On a TLS server: the protocol, cipher, SNI name, ALPN protocol and the peer's certificate; else null. */
  readonly tls: TlsInfo | null;
  /** A slot for the app's per-connection state. */
  data: unknown;
  /** Encode and queue one message. false: the write buffer is over the high watermark (wait for drain). */
  send(message: Out): boolean;
  /** Queue raw bytes, bypassing the codec. Same return value as send(). */
  write(bytes: Uint8Array | string): boolean;
  /** Stop / restart delivering messages (reading from the socket). */
  pause(): void;
  resume(): void;
  /** Flush what is queued, then half-close (FIN). Reading goes on until the peer closes. */
  end(): void;
  /** Close now, dropping anything queued. */
  destroy(reason?: CloseReason): void;
}
