/**
 * A real browser for the web console's tests: Debian's headless Chromium driven by playwright-core
 * (which downloads no browser of its own). Each session gets a fresh profile folder, removed on close.
 *
 *   const missing = chromiumMissing();
 *   describe.skipIf(missing !== undefined && !IN_CI)('…', () => {
 *     beforeAll(async () => { requireChromium(); session = await openBrowser(); });
 *     afterAll(() => session?.close());
 *   });
 *
 * Locally a machine without Chromium skips those tests; under CI=true a missing Chromium fails
 * them (`.ci/run` installs the Debian package `chromium`). CHROMIUM_PATH overrides the binary.
 */
import { accessSync, constants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH?.trim() || '/usr/bin/chromium';

/** Headless, and quiet: no first-run UI, no background calls to Google, no QUIC, no GPU. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Whether this run is CI, where a browser test must run rather than skip. */
export const IN_CI = /^(1|true|yes)$/i.test(process.env.CI?.trim() ?? '');

/** Why Chromium cannot be started, or undefined when the binary is there. */
export function chromiumMissing(): string | undefined {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return undefined;
  } catch {
    return `no Chromium at ${CHROMIUM_PATH} (Debian/Ubuntu: apt-get install chromium; or set CHROMIUM_PATH)`;
  }
}

/** Throws when Chromium is missing: for CI, where skipping would hide that nothing was tested. */
export function requireChromium(): void {
  const missing = chromiumMissing();
  if (missing !== undefined) throw new Error(`${missing}; under CI the browser tests fail instead of skipping (.ci/run installs it)`);
}

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  /** Uncaught exceptions of the page's scripts, and console errors: a test can assert there are none. */
  errors: string[];
  close(): Promise<void>;
}

/** Starts headless Chromium with a fresh profile and one page (1280×800 unless told otherwise). */
export async function openBrowser(options: { viewport?: { width: number; height: number } } = {}): Promise<BrowserSession> {
  const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'chatops-chromium-'));
  let context: BrowserContext;
  try {
    // A persistent context is how playwright takes a --user-data-dir of our choosing.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: options.viewport ?? { width: 1280, height: 800 },
      locale: 'en-US',
      timezoneId: 'UTC',
      colorScheme: 'light',
      timeout: 30_000,
    });
  } catch (error) {
    await fs.rm(profile, { recursive: true, force: true });
    throw error;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console error: ${message.text()}`);
  });
  return {
    context,
    page,
    errors,
    async close() {
      await context.close().catch(() => undefined);
      await fs.rm(profile, { recursive: true, force: true });
    },
  };
}

/** Waits until the element's text matches (the console updates itself from its event stream); returns the text. */
export async function waitForText(locator: Locator, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    last = await locator.innerText({ timeout: Math.max(1, deadline - Date.now()) }).catch(() => last);
    if (pattern.test(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${String(pattern)}; the text was:\n${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
