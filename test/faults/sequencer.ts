// A client for the 'nothing lost' checks: numbered lines ("<id> <seq>\n") to a line-echo server, WINDOW
// in flight, each answer checked in order. On the server's FIN it can reconnect and send again what had no
// answer: a server that ends a connection at a message boundary answered everything it processed, so the
// rest was not processed and is safe to resend (each line is then answered exactly once).
import { connect, type Socket } from 'node:net';

const WINDOW = 8;

/** One client: numbered lines, WINDOW in flight, answers checked in order; optionally reconnects on FIN. */
export class Sequencer {
  readonly id: number;
  private readonly port: number;
  private socket!: Socket;
  private nextSeq = 0;
  private inFlight: number[] = [];
  private pending = '';
  private sending = true;
  readonly answers = new Map<number, number>();
  sentBeforeSignal = -1;
  reconnects = 0;
  failures: string[] = [];
  ended = false;
  private readonly reconnect: boolean;
  private idle: (() => void) | null = null;

  constructor(id: number, port: number, reconnect: boolean) {
    this.id = id;
    this.port = port;
    this.reconnect = reconnect;
  }

  get sent(): number {
    return this.nextSeq;
  }

  async start(): Promise<void> {
    await this.open();
  }

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = connect({ port: this.port, host: '127.0.0.1', noDelay: true });
      this.socket = s;
      this.pending = '';
      s.once('connect', () => {
        // Whatever had no answer on the previous connection was not processed: send it again.
        for (const seq of this.inFlight) s.write(`${this.id} ${seq}\n`);
        this.pump();
        resolve();
      });
      s.once('error', (error: NodeJS.ErrnoException) => {
        this.failures.push(`connect: ${error.code ?? error.message}`);
        reject(error);
      });
      s.on('data', (d) => this.onData(d.toString()));
      s.on('end', () => this.onEnd());
    });
  }

  private pump(): void {
    while (this.sending && this.inFlight.length < WINDOW) {
      const seq = this.nextSeq++;
      this.inFlight.push(seq);
      this.socket.write(`${this.id} ${seq}\n`);
    }
  }

  private onData(text: string): void {
    this.pending += text;
    let nl = this.pending.indexOf('\n');
    while (nl !== -1) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      const [id, seqText] = line.split(' ');
      const seq = Number(seqText);
      if (Number(id) !== this.id || seq !== this.inFlight[0]) {
        this.failures.push(`client ${this.id}: got '${line}', expected seq ${this.inFlight[0]}`);
      } else this.inFlight.shift();
      this.answers.set(seq, (this.answers.get(seq) ?? 0) + 1);
      nl = this.pending.indexOf('\n');
    }
    this.pump();
    if (this.inFlight.length === 0) this.idle?.();
  }

  private onEnd(): void {
    this.socket.end();
    if (this.reconnect && (this.sending || this.inFlight.length > 0)) {
      this.reconnects++;
      this.open().catch(() => {});
      return;
    }
    this.ended = true;
    this.idle?.();
  }

  markSignal(): void {
    this.sentBeforeSignal = this.nextSeq;
  }

  /** Stop sending new lines; resolve once every line sent has been answered (or the server ended). */
  finish(): Promise<void> {
    this.sending = false;
    return new Promise((resolve) => {
      const check = () => {
        if (this.inFlight.length === 0 || this.ended) resolve();
        else this.idle = check;
      };
      check();
    });
  }

  close(): void {
    this.socket.destroy();
  }

  /** Every line below `upTo` answered exactly once. */
  answeredOnce(upTo: number): boolean {
    for (let seq = 0; seq < upTo; seq++) if (this.answers.get(seq) !== 1) return false;
    return true;
  }
}

/**
 * `loops` loops that each open a fresh Sequencer, send, finish and close, one after another, until
 * stop(): connection attempts during a reload. A line unanswered or a connection refused is a failure.
 */
export function freshConnections(port: number, loops: number) {
  let stopping = false;
  let opened = 0;
  const failures: string[] = [];
  const running = Array.from({ length: loops }, async (_, k) => {
    while (!stopping) {
      const c = new Sequencer(1000 + k, port, false);
      try {
        await c.start();
        await c.finish();
        if (!c.answeredOnce(c.sent)) failures.push(`fresh connection ${k}: a line unanswered`);
        opened++;
      } catch (error) {
        failures.push((error as Error).message);
      } finally {
        c.close();
      }
    }
  });
  return {
    failures,
    opened: () => opened,
    stop: async () => {
      stopping = true;
      await Promise.all(running);
    },
  };
}
