// TLS on one connection: the layer between a transport (any backend: it moves ciphertext) and the
// codec (which sees plaintext). Node's TLS engine (OpenSSL, in tls.TLSSocket) runs over a Duplex that
// this layer feeds with the bytes the transport read and whose writes go to the transport's send path,
// so the transport keeps its own socket I/O (the syscall reactor, node:net, a blocking worker) and
// neither the models nor the codecs know about TLS.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { type PeerCertificate, TLSSocket } from 'node:tls';
import type { TlsContext } from './context.ts';

/** What the layer asks of its connection. */
export interface TlsHost {
  /** Ciphertext for the transport. */
  tlsCipherOut(bytes: Buffer): void;
  /** Our close_notify is out: half-close the transport. */
  tlsCipherEnd(): void;
  /** Decrypted bytes (borrowed until this returns). */
  tlsPlainIn(chunk: Buffer): void;
  /** The peer ended its side (close_notify or EOF). */
  tlsPlainEnd(): void;
  /** The handshake is done. */
  tlsSecured(): void;
  /** Close, with a reason to log; `reply` (plaintext) goes out first when set. */
  tlsFailed(reason: 'tls-error' | 'handshake-timeout', error: Error, reply: Buffer | null): void;
}

/** What an app can learn about a TLS connection (Connection.tls). */
export interface TlsInfo {
  /** The handshake is done (open() runs after it). */
  readonly secure: boolean;
  /** 'TLSv1.3', ... */
  readonly protocol: string | null;
  readonly cipher: string | null;
  /** The server name the client asked for (SNI), if any. */
  readonly servername: string | null;
  /** The protocol agreed by ALPN, if any. */
  readonly alpnProtocol: string | null;
  /** The peer presented a certificate that the CA (--tls-ca) signed. */
  readonly authorized: boolean;
  /** The peer's certificate (with --tls-ca), else null. */
  readonly peerCertificate: PeerCertificate | null;
  /** The session was resumed (a ticket), not a full handshake. */
  readonly resumed: boolean;
}

/**
 * The ciphertext side of the engine: the few calls Node's wrapper for a JS stream (JSStreamSocket) makes
 * of its stream, on a plain EventEmitter rather than a stream.Duplex, whose buffering, state and ticks
 * would be paid per connection and per record for nothing: input is handed over as it arrives (the engine
 * copies it at once), output goes straight to the transport, which does its own queueing and back-pressure.
 */
class Wire extends EventEmitter {
  readonly readable = true;
  readonly writable = true;
  readonly readableObjectMode = false;
  readonly allowHalfOpen = true;
  private readonly host: TlsHost;
  private ended = false;
  private destroyed = false;

  constructor(host: TlsHost) {
    super();
    this.host = host;
  }

  /** Ciphertext in, to the engine, before this returns. */
  feed(chunk: Buffer): void {
    this.emit('data', chunk);
  }

  feedEnd(): void {
    this.emit('end');
  }

  // ---- what JSStreamSocket calls --------------------------------------------------------------
  pause(): this {
    return this; // the connection pauses its transport; the engine never asks to stop here
  }
  resume(): this {
    return this;
  }
  cork(): void {}
  uncork(): void {}
  write(chunk: Buffer, callback?: (error?: Error | null) => void): boolean {
    if (!this.destroyed && !this.ended) this.host.tlsCipherOut(chunk);
    callback?.(null);
    return true;
  }
  end(callback?: () => void): this {
    if (!this.ended && !this.destroyed) {
      this.ended = true;
      this.host.tlsCipherEnd();
    }
    callback?.();
    return this;
  }
  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.emit('close');
    return this;
  }
}

/** The first byte of a TLS record that carries a handshake message (a ClientHello opens with one). */
const HANDSHAKE_RECORD = 0x16;

export class TlsSession implements TlsInfo {
  private readonly host: TlsHost;
  private readonly wire: Wire;
  private readonly socket: TLSSocket;
  private readonly plainTextReply: Buffer | null;
  /** Client certificates are required (a CA was given). */
  private readonly mtls: boolean;
  private timer: NodeJS.Timeout | null;
  private seen = false;
  /** The peer's certificate checked out against the CA. */
  private verified = false;
  private done = false;
  secure = false;

  constructor(context: TlsContext, host: TlsHost, plainTextReply: Buffer | null) {
    this.host = host;
    const settings = context.settings;
    this.wire = new Wire(host);
    const mtls = settings.ca !== undefined;
    this.mtls = mtls;
    this.socket = new TLSSocket(this.wire as unknown as Duplex, {
      isServer: true,
      secureContext: context.secureContext,
      requestCert: mtls,
      rejectUnauthorized: mtls,
      ALPNProtocols: settings.alpn.length > 0 ? settings.alpn : undefined,
    });
    this.plainTextReply = plainTextReply;
    const socket = this.socket;
    socket.on('secure', () => this.onSecure());
    socket.on('data', (chunk: Buffer) => {
      if (!this.done) host.tlsPlainIn(chunk);
    });
    socket.on('end', () => {
      if (!this.done) host.tlsPlainEnd();
    });
    socket.on('error', (error: Error) => this.fail('tls-error', error));
    this.timer = setTimeout(
      () =>
        this.fail('handshake-timeout', new Error(`no TLS handshake within ${settings.handshakeTimeout} ms`)),
      settings.handshakeTimeout,
    );
    this.timer.unref();
  }

  /** Ciphertext the transport read (borrowed: it may be overwritten once this returns). */
  input(chunk: Buffer): void {
    if (this.done) return;
    if (!this.seen) {
      this.seen = true;
      if (chunk[0] !== HANDSHAKE_RECORD) {
        const start = JSON.stringify(chunk.subarray(0, 16).toString('latin1'));
        this.fail(
          'tls-error',
          new Error(`plain text on the TLS port (expected a TLS ClientHello, got ${start})`),
          this.plainTextReply,
        );
        return;
      }
    }
    this.wire.feed(chunk);
  }

  /** The transport saw EOF. */
  inputEnd(): void {
    if (!this.done) this.wire.feedEnd();
  }

  /** Plaintext to encrypt; the bytes held, not yet encrypted. */
  write(bytes: Buffer | string): number {
    const socket = this.socket;
    if (this.done) return 0;
    // The engine encrypts at once when nothing waits before these bytes; else the socket keeps a reference.
    if (typeof bytes !== 'string' && (!this.secure || socket.writableLength > 0)) bytes = Buffer.from(bytes);
    socket.write(bytes);
    return socket.writableLength;
  }

  get pending(): number {
    return this.done ? 0 : this.socket.writableLength;
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  /** close_notify after what is queued, then the transport's half-close. */
  end(): void {
    if (!this.done) this.socket.end();
  }

  /** The connection is closed: release the engine. */
  dispose(): void {
    if (this.done) return;
    this.done = true;
    this.clearTimer();
    this.socket.destroy();
  }

  private onSecure(): void {
    if (this.done) return;
    this.clearTimer();
    if (this.mtls) {
      // tls.Server checks the peer's certificate after the handshake, not OpenSSL (whose verify callback
      // in Node accepts everything): a TLSSocket made by hand does the check itself, as tls.Server does.
      const socket = this.socket as TLSSocket & { ssl?: { verifyError(): Error | null } };
      const error = socket.ssl?.verifyError() ?? null;
      const presented = this.peerCertificate !== null;
      this.verified = error === null && presented;
      if (!this.verified) {
        const why = !presented ? 'none presented' : (error?.message ?? 'not verified');
        this.fail('tls-error', new Error(`client certificate refused: ${why}`));
        return;
      }
    }
    this.secure = true;
    this.host.tlsSecured();
  }

  private fail(reason: 'tls-error' | 'handshake-timeout', error: Error, reply: Buffer | null = null): void {
    if (this.done) return;
    // A reply (HTTP's 400) goes out before the close, which then waits for the peer: the handshake timer
    // stays, so a client that never closes is still cut off in time.
    if (reply === null) this.clearTimer();
    this.host.tlsFailed(reason, error, reply);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  // ---- TlsInfo ----------------------------------------------------------------------------------
  get protocol(): string | null {
    return this.socket.getProtocol();
  }
  get cipher(): string | null {
    return this.secure ? this.socket.getCipher().name : null;
  }
  get servername(): string | null {
    const name = (this.socket as unknown as { servername?: string | false }).servername;
    return typeof name === 'string' && name !== '' ? name : null;
  }
  get alpnProtocol(): string | null {
    const p = this.socket.alpnProtocol;
    return typeof p === 'string' ? p : null;
  }
  get authorized(): boolean {
    return this.verified;
  }
  get peerCertificate(): PeerCertificate | null {
    const cert = this.socket.getPeerCertificate();
    return cert && Object.keys(cert).length > 0 ? cert : null;
  }
  get resumed(): boolean {
    return this.socket.isSessionReused();
  }
}
