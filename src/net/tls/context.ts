// One serving process's TLS state: the SecureContext every new connection's handshake uses. reload()
// builds a new one from the (re-read) PEM text; connections already open keep the one they started
// with, so a reload drops nothing.
import { constants } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { ResolvedTls } from './config.ts';

/** Every context of this process (thread), for a reload; a stopped server's context is collected. */
const live = new Set<WeakRef<TlsContext>>();

export class TlsContext {
  readonly settings: ResolvedTls;
  secureContext: SecureContext;
  /** Reloads done (for tests and the status). */
  generation = 0;

  constructor(settings: ResolvedTls) {
    this.settings = settings;
    this.secureContext = this.build();
    live.add(new WeakRef(this));
  }

  private build(): SecureContext {
    const s = this.settings;
    return createSecureContext({
      cert: s.cert,
      key: s.key,
      ca: s.ca,
      ticketKeys: Buffer.from(s.ticketKeys, 'hex'),
      secureOptions: s.sessionTickets ? 0 : constants.SSL_OP_NO_TICKET,
    });
  }

  /** New connections use the settings' current PEM text from now on. */
  reload(): void {
    this.secureContext = this.build();
    this.generation++;
  }
}

/** Rebuild every context of this process from its (re-read) settings; how many. */
export function reloadTlsContexts(): number {
  let n = 0;
  for (const ref of live) {
    const context = ref.deref();
    if (context === undefined) live.delete(ref);
    else {
      context.reload();
      n++;
    }
  }
  return n;
}
