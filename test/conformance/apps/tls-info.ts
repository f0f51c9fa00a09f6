import { defineApp } from '../../../src/index.ts';

/** Line protocol: open() says whether the handshake was done; "tls" answers what conn.tls knows. */
export default defineApp({
  protocol: 'line',
  open(conn) {
    conn.send(`open secure=${conn.tls?.secure ?? 'plain'}`);
  },
  message(conn, line) {
    if (line.toString() !== 'tls') return;
    const t = conn.tls;
    conn.send(
      JSON.stringify(
        t === null
          ? null
          : {
              protocol: t.protocol,
              servername: t.servername,
              alpn: t.alpnProtocol,
              authorized: t.authorized,
              peer: t.peerCertificate?.subject?.CN ?? null,
              resumed: t.resumed,
            },
      ),
    );
  },
});
