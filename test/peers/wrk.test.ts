// wrk against `c10k serve --app http`, under reactor and multi-reactor: a short run that moves requests
// with no socket error and no non-2xx answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { c10kServe, missing, run } from './helpers.ts';

const noWrk = missing('wrk', 'wrk');

for (const model of [['reactor'], ['multi-reactor', '--workers', '2']]) {
  test(`wrk smoke run against http (${model[0]}, -c 50 -t 1 -d 2s)`, { skip: noWrk }, async (t) => {
    const server = await c10kServe(['--app', 'http', '--model', ...model]);
    try {
      const { stdout } = await run('wrk', [
        '-c',
        '50',
        '-t',
        '1',
        '-d',
        '2s',
        `http://127.0.0.1:${server.port}/`,
      ]);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
      t.diagnostic(`${model[0]}: ${rps?.[1]} requests/s`);
      assert.ok(rps && Number(rps[1]) > 0, stdout);
      assert.doesNotMatch(stdout, /Socket errors|Non-2xx/, stdout);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
}
