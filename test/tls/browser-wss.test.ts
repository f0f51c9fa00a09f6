// Chromium against the chat page over https/wss (issue #20's real-peer test): `c10k serve --app ws-chat`
// with a certificate serves the page over https; two headless Chromium pages join a room over wss and talk
// with each other and with a raw TLS line member (node:tls, checking the certificate against the test CA).
// Chromium trusts the server by its key alone (--ignore-certificate-errors-spki-list pins that key's
// SPKI hash; any other certificate would still be refused), so the handshake and the names are real.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { LineClient } from '../apps/line-client.ts';
import { browserUnavailable, launchBrowser } from '../helpers/browser.ts';
import { exited, startServe } from '../helpers/cli.ts';
import { skipWithoutPeer } from '../helpers/peer.ts';
import { makeCerts, opensslMissing, type TestCerts } from '../helpers/tls.ts';

const skip = skipWithoutPeer(opensslMissing());
let certs: TestCerts;
before(() => {
  if (!skip) certs = makeCerts('ec');
});
after(() => certs?.remove());

/** base64 SHA-256 of the certificate's SubjectPublicKeyInfo, as Chromium's SPKI allow-list takes it. */
function spkiHash(certPem: string): string {
  const der = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

describe('ws-chat over https/wss in Chromium', { skip, concurrency: false }, () => {
  for (const backend of ['syscall', 'node'] as const) {
    test(`${backend} backend: two pages and a raw TLS line member talk in one room`, async (t) => {
      const why = browserUnavailable();
      if (why) {
        t.skip(why);
        return;
      }
      const { child, port, stderr } = await startServe([
        '--app',
        'ws-chat',
        '--backend',
        backend,
        '--port',
        '0',
        '--tls-cert',
        certs.certFile,
        '--tls-key',
        certs.keyFile,
      ]);
      const browser = await launchBrowser([`--ignore-certificate-errors-spki-list=${spkiHash(certs.cert)}`]);
      try {
        const context = await browser.newContext();
        const base = `https://localhost:${port}/`;
        const alice = await context.newPage();
        const bob = await context.newPage();
        const page = await alice.goto(`${base}?room=lobby&nick=alice`);
        assert.equal(page?.status(), 200);
        const security = await page?.securityDetails();
        assert.match(security?.protocol ?? '', /^TLS 1\.[23]$/);
        assert.equal(security?.subjectName, 'localhost');
        await bob.goto(`${base}?room=lobby&nick=bob`);
        // page-side conditions are strings: this file is type-checked without the DOM library
        const sees = (p: typeof alice, text: string) =>
          p.waitForFunction(
            `[...document.querySelectorAll('#log div')].some((d) => d.textContent === ${JSON.stringify(text)})`,
            null,
            { timeout: 20_000 },
          );
        await sees(alice, '* you joined #lobby');
        await sees(bob, '* you joined #lobby');
        // the page's socket went over wss (the page picks wss:// on an https: page)
        assert.equal(await alice.evaluate('ws.url'), `wss://localhost:${port}/`);
        const say = async (p: typeof alice, text: string) => {
          await p.fill('#input', text);
          await p.press('#input', 'Enter');
        };
        await say(alice, 'hi bob, over wss');
        await sees(bob, '<alice> hi bob, over wss');
        await say(bob, 'hi alice ✓');
        await sees(alice, '<bob> hi alice ✓');

        // a raw TLS line member (speaks first: on the web port the welcome follows its first line)
        // (node:tls rejects a certificate the CA did not sign for localhost: the handshake is checked)
        const carol = await LineClient.openTls(port, { ca: certs.ca });
        carol.send('/nick carol');
        await carol.next(/^\* welcome/);
        await carol.next(/^\* you are now/);
        carol.send('/join lobby');
        await carol.next(/^\* you joined/);
        await sees(alice, '* carol joined #lobby');
        carol.send('carol over raw tls, é');
        await sees(alice, '<carol> carol over raw tls, é');
        await sees(bob, '<carol> carol over raw tls, é');
        await say(alice, 'and back to tls');
        assert.equal(await carol.next(/^<alice>/), '<alice> and back to tls');
        await say(bob, 'bob too');
        assert.equal(await carol.next(/^<bob>/), '<bob> bob too');
        carol.send('/quit');
        await sees(alice, '* carol left #lobby');
        carol.close();
        await context.close();
      } finally {
        await browser.close();
        child.kill('SIGTERM');
        assert.equal(await exited(child), 0, stderr());
      }
      assert.doesNotMatch(stderr(), /tls-error|protocol-error/);
    });
  }
});
