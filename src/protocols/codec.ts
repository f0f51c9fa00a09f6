// The framing contract. A codec turns a byte stream into messages and messages into bytes.
// Built-in codecs (raw, line, length, ...) are ordinary objects of this shape: users write their own
// the same way and pass them to defineApp({ protocol }).

/** Thrown by a decoder on bad input: the connection closes with reason 'protocol-error' and this message. */
export class ProtocolError extends Error {
  /** Optional bytes to send to the peer before closing (an error reply, e.g. RESP "-ERR ..." or HTTP 400). */
  readonly reply: Uint8Array | undefined;
  constructor(message: string, reply?: Uint8Array) {
    super(message);
    this.name = 'ProtocolError';
    this.reply = reply;
  }
}

/** Per-connection decoding state. */
export interface Decoder<M> {
  /**
   * Feed the next bytes of the stream; call `emit` once per complete message, in order.
   * `chunk` is borrowed: the caller may reuse its memory once push() returns, so a decoder copies whatever
   * partial frame it keeps. Messages it emits may be views of `chunk` (borrowed too: valid during emit).
   * Throws ProtocolError on malformed or oversized input; after that the decoder is not used again.
   */
  push(chunk: Buffer, emit: (message: M) => void): void;
  /** Bytes held for an incomplete message (bounded by the codec's limits). */
  readonly buffered: number;
  /**
   * Optional: what to send before the server closes a quiet connection because it is stopping (a
   * WebSocket's close frame with 1001, "going away"), or undefined for nothing.
   */
  goodbye?(): Uint8Array | undefined;
}

/**
 * The connection a decoder serves, for protocols that answer by themselves (a WebSocket's handshake, pongs
 * and close frames): raw writes that bypass encode(), and closing.
 */
export interface CodecPeer {
  write(bytes: Uint8Array | string): boolean;
  end(): void;
  destroy(reason?: 'idle-timeout' | 'protocol-error'): void;
  readonly closed: boolean;
  data: unknown;
}

export interface Codec<In = unknown, Out = In> {
  readonly name: string;
  /**
   * A fresh decoder for one connection. `limits` are the server's (--max-message-bytes/-parts): where
   * one is non-zero it replaces the codec's own bound of the same kind. `peer` is the connection itself
   * (most codecs ignore it; websocket answers the handshake, pings and closes through it).
   */
  decoder(limits?: CodecLimits, peer?: CodecPeer): Decoder<In>;
  /**
   * Bytes for one outgoing message. May return the message itself when it already is bytes. `peer` is the
   * connection it goes to (websocket: whether that client agreed to compression).
   */
  encode(message: Out, peer?: CodecPeer): Buffer | string;
  /**
   * An owned copy of a decoded message, for messages that must outlive the read buffer (async handlers).
   * Needed only when messages hold views of the chunk and are not Buffers themselves; Buffers are copied.
   */
  retain?(message: In): In;
}

/** Limits a server hands every decoder; each codec documents which it reads. 0 or absent: its own. */
export interface CodecLimits {
  /** Most bytes held for one unfinished message (frame, line, command, body). */
  readonly maxMessageBytes?: number;
  /** Most parts of one message (arguments, header fields). */
  readonly maxMessageParts?: number;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 1 << 20;
