// Real peers (redis-server, redis-tools, wrk, haproxy, chromium) under CI and locally: on a developer's
// machine a test whose peer is absent skips with the reason; under CI (`CI` set, as .ci/run does) a missing
// peer fails the run, so that CI cannot pass with the real-peer tests skipped.
import { test } from 'node:test';

/** CI is set to anything but '', '0' or 'false'. */
export function underCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false';
}

const required = (why: string) => `${why}: CI must have every real peer (.ci/run installs them)`;

/**
 * For a test's `skip` option, at module level: the reason, or false. Under CI a missing peer also adds a
 * failing test that names it (the tests that need it skip, the run fails).
 */
export function skipWithoutPeer(why: string | false | null): string | false {
  if (!why) return false;
  if (underCI())
    test(`peer required under CI: ${why}`, () => {
      throw new Error(required(why));
    });
  return why;
}

/** Inside a test: the reason to skip (call t.skip), or false; under CI a missing peer throws instead. */
export function peerMissing(why: string | false | null): string | false {
  if (!why) return false;
  if (underCI()) throw new Error(required(why));
  return why;
}
