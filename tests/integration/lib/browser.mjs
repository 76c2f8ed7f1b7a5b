// Debian's chromium (/usr/bin/chromium) driven by playwright-core, headless,
// with the flags this machine's closed network needs (no background
// connections to Google's services) and a fresh profile per launch.
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.MAG_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_FLAGS = Object.freeze([
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]);

// Returns a persistent context (the profile lives in a new temp folder).
export async function launchChromium() {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM} (apt-get install chromium)`);
  const profile = await mkdtemp(join(tmpdir(), 'mag-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS],
    viewport: { width: 1280, height: 800 },
  });
  return { context, profile };
}
