// The live page in a real browser: playwright-core drives Debian's chromium (test/helpers/browser.ts; the
// test is skipped with the reason when it is absent) against `inspect --web` watching a running echo server
// with --status. Some echo traffic later, the displayed numbers must have changed and the SVG charts
// must have non-empty series. Set C10K_SCREENSHOT=path.png to keep a screenshot of the page.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startStatusEndpoint } from '../../src/admin/status.ts';
import { memoryLogger, serve } from '../../src/index.ts';
import { startWebInspector } from '../../src/inspect/web.ts';
import { browserUnavailable, launchBrowser } from '../helpers/browser.ts';
import { TestClient } from '../helpers/client.ts';

test('the live page shows numbers that change and charts that fill', { timeout: 90_000 }, async (t) => {
  const why = browserUnavailable();
  if (why) {
    t.skip(why);
    return;
  }
  const server = await serve({
    app: 'line-echo',
    model: 'reactor',
    backend: 'node',
    port: 0,
    logger: memoryLogger(),
  });
  const status = await startStatusEndpoint(server, '127.0.0.1:0');
  const web = await startWebInspector({
    address: '127.0.0.1:0',
    port: server.port,
    statusUrl: `${status.url}/status`,
    intervalMs: 300,
  });
  const clients: TestClient[] = [];
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    await page.goto(`${web.url}/`);
    const text = (id: string) => page.locator(`[data-testid="${id}"]`).textContent();
    // page-side conditions are strings: this file is type-checked without the DOM library
    const until = (js: string) => page.waitForFunction(js, null, { timeout: 20_000 });
    const byId = (id: string) => `document.getElementById(${JSON.stringify(id)})?.textContent`;
    await until(`${byId('conns')} === '0'`);
    assert.equal(await text('accept-queue'), '0');

    for (let i = 0; i < 6; i++) clients.push(await TestClient.open(server.port));
    let rounds = 0;
    const drive = setInterval(() => {
      rounds++;
      for (const c of clients) c.write('ping\n');
    }, 50);
    try {
      await until(`${byId('conns')} === '6' && Number(${byId('srv-msgs')}?.replaceAll(',', '')) > 0`);
      const before = await text('server-messages');
      await until(`${byId('srv-msgs')} !== ${JSON.stringify(before)}`);
      // enough frames for lines (two points at least) in every chart
      await until(
        `['c-conns', 'c-aq', 'c-rate', 'c-mem'].every((id) =>
          Number(document.querySelector('#' + id + ' path')?.getAttribute('data-points')) >= 2)`,
      );
    } finally {
      clearInterval(drive);
    }
    assert.ok(rounds > 0);
    assert.equal(await text('connections'), '6');
    assert.equal(await text('server-active'), '6');
    for (const id of ['chart-connections', 'chart-accept-queue', 'chart-rate', 'chart-memory']) {
      const d = await page.locator(`[data-testid="${id}"] path`).first().getAttribute('d');
      assert.match(d ?? '', /^M[\d.]+ [\d.]+ L/, `${id} has a drawn series`);
    }
    assert.equal(await page.locator('#live').textContent(), '● live');
    const owners = await page.locator('#owners').textContent();
    assert.match(owners ?? '', new RegExp(`^${process.pid}/\\d+`));
    if (process.env.C10K_SCREENSHOT)
      await page.screenshot({ path: process.env.C10K_SCREENSHOT, fullPage: true });
  } finally {
    await browser.close();
    for (const c of clients) c.close();
    await web.close();
    await status.close();
    await server.close();
  }
});
