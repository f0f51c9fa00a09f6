// TLS settings as serve() takes them and as they travel to workers. Files are read when the server
// starts and again on reload (SIGHUP), so a renewed certificate replaces the old one for new
// connections; the PEM text itself is what crosses IPC to worker processes, threads and children.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

export interface TlsOptions {
  /** PEM certificate chain, or certFile. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Client certificates: only peers with a certificate signed by this CA are served. */
  ca?: string | Buffer;
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  /** ALPN protocols offered, in order of preference (e.g. ['http/1.1']). */
  alpn?: string[];
  /** A client that has not finished its handshake this long after connecting is closed, in ms (10 s). */
  handshakeTimeout?: number;
  /** Session resumption with tickets (default true). */
  sessionTickets?: boolean;
}

/** Plain data (structured-clone safe): the PEM text, where it came from, and the settings. */
export interface ResolvedTls {
  cert: string;
  key: string;
  ca: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
  caFile: string | undefined;
  alpn: string[];
  handshakeTimeout: number;
  sessionTickets: boolean;
  /** 48 bytes, hex: every worker encrypts tickets with the same keys, so a ticket resumes anywhere. */
  ticketKeys: string;
}

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

function pem(what: string, text: string | Buffer | undefined, file: string | undefined): string | undefined {
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new Error(
        `cannot read the TLS ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
  }
  return text === undefined ? undefined : String(text);
}

/** Read the files and check that the certificate and key make a context; throws a one-line Error. */
export function resolveTls(options: TlsOptions): ResolvedTls {
  const cert = pem('certificate', options.cert, options.certFile);
  const key = pem('key', options.key, options.keyFile);
  if (cert === undefined || key === undefined)
    throw new Error('TLS needs both a certificate and a key (--tls-cert FILE --tls-key FILE)');
  const timeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 3_600_000)
    throw new Error(`the TLS handshake timeout must be 1 ms to 1 h, got ${timeout}`);
  for (const p of options.alpn ?? [])
    if (p.length === 0 || p.length > 255) throw new Error(`ALPN protocol names are 1 to 255 bytes: '${p}'`);
  const resolved: ResolvedTls = {
    cert,
    key,
    ca: pem('CA', options.ca, options.caFile),
    certFile: options.certFile,
    keyFile: options.keyFile,
    caFile: options.caFile,
    alpn: options.alpn ?? [],
    handshakeTimeout: timeout,
    sessionTickets: options.sessionTickets ?? true,
    ticketKeys: randomBytes(48).toString('hex'),
  };
  checkTls(resolved);
  return resolved;
}

/** Throws a one-line Error when the PEM text does not make a context (bad PEM, key not the cert's). */
export function checkTls(tls: ResolvedTls): void {
  try {
    createSecureContext({ cert: tls.cert, key: tls.key, ca: tls.ca });
  } catch (error) {
    throw new Error(`TLS certificate/key rejected: ${(error as Error).message}`);
  }
}

/**
 * Read the files again into `tls` (in place: everything holding it sees the new PEM). The old PEM stays
 * if the new files do not load or do not match. Returns whether anything was read from files.
 */
export function rereadTls(tls: ResolvedTls): boolean {
  if (tls.certFile === undefined && tls.keyFile === undefined && tls.caFile === undefined) return false;
  const next = {
    ...tls,
    cert: pem('certificate', tls.cert, tls.certFile)!,
    key: pem('key', tls.key, tls.keyFile)!,
    ca: pem('CA', tls.ca, tls.caFile),
  };
  checkTls(next);
  tls.cert = next.cert;
  tls.key = next.key;
  tls.ca = next.ca;
  return true;
}
