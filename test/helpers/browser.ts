// Headless Chromium for tests, through playwright-core (which downloads no browser: it drives Debian's
// /usr/bin/chromium, installed by .ci/run). Tests skip with the reason when there is none.
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { peerMissing } from './peer.ts';

export const CHROMIUM = process.env.C10K_CHROMIUM ?? '/usr/bin/chromium';

/** Why a browser test cannot run here, or null when it can; under CI a missing Chromium throws. */
export function browserUnavailable(): string | null {
  return existsSync(CHROMIUM)
    ? null
    : peerMissing(`no Chromium at ${CHROMIUM} (apt-get install chromium, or set C10K_CHROMIUM)`) || null;
}

/** Launch headless Chromium with the flags this closed-network machine needs (playwright gives it a fresh
 * profile of its own), plus `extraArgs`. */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}
