/**
 * The README's picture comes from the real demo: the demo shop (demo/service) running with its
 * SQLite database and broken, its generated runbook, and the walkthrough done in headless Chromium
 * — alice acknowledges, runs the health check (it fails), asks for the fix; bob approves from his
 * own browser; the fix restarts the shop and verifies /health. The final page is saved as
 * test-output/demo-console.png and, when every check passed, as docs/console.png.
 *
 * The shop's data folder is inside the repository (test-output/demo) and ctl.mjs runs from the
 * root, as under `npm start`, so the runbook's commands name repository-relative paths: a published
 * picture must not show the folders of the machine that took it, and the test checks that it does not.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, REPO_ROOT } from '../support/bot-process.js';
import { startTestBot, type TestBot } from '../support/bot-harness.js';
import { chromiumMissing, IN_CI, openBrowser, requireChromium, waitForText, type BrowserSession } from '../support/browser.js';

const OUTPUT = path.join(REPO_ROOT, 'test-output', 'demo-console.png');
const DOCS_SCREENSHOT = path.join(REPO_ROOT, 'docs', 'console.png');
const DATA_DIR = path.join('test-output', 'demo');

/** Folders of this machine that must not appear on the published page: the checkout, temp and home. */
function machineFolders(): string[] {
  const folders = [REPO_ROOT, os.tmpdir(), os.homedir()].flatMap((dir) => [dir, fs.realpathSync(dir)]);
  return [...new Set(folders.map((dir) => dir.replace(/\/+$/, '')))].filter((dir) => dir.length > 1);
}

const missing = chromiumMissing();

describe.skipIf(missing !== undefined && !IN_CI)('the demo in a browser: the walkthrough on the real shop', { timeout: 120_000 }, () => {
  let t: TestBot;
  let shopPort: number;
  const browsers: BrowserSession[] = [];
  const ctl = (command: string) =>
    spawnSync(process.execPath, ['demo/service/ctl.mjs', command, '--data-dir', DATA_DIR], {
      cwd: REPO_ROOT,
      env: { ...process.env, DEMO_PORT: String(shopPort) },
      encoding: 'utf8',
    });

  beforeAll(async () => {
    requireChromium();
    // The bot runs in this process, so the runbook's relative commands run from its folder.
    expect(fs.realpathSync(process.cwd()), 'run the tests from the repository root, as npm does').toBe(fs.realpathSync(REPO_ROOT));
    shopPort = await freePort();
    ctl('stop'); // a shop left running by an interrupted run
    fs.rmSync(path.join(REPO_ROOT, DATA_DIR), { recursive: true, force: true });
    const started = ctl('start');
    expect(started.status, started.stdout + started.stderr).toBe(0);
    const broken = ctl('break');
    expect(broken.status, broken.stdout + broken.stderr).toBe(0);
    const runbook = fs.readFileSync(path.join(REPO_ROOT, DATA_DIR, 'runbooks', 'demo-shop.yaml'), 'utf8');
    t = await startTestBot({ runbooks: { 'demo-shop.yaml': runbook }, env: { CONSOLE: 'on', DEMO_PORT: String(shopPort) } });
  }, 60_000);

  afterAll(async () => {
    for (const b of browsers) await b.close();
    await t?.stop();
    ctl('stop');
    fs.rmSync(path.join(REPO_ROOT, DATA_DIR), { recursive: true, force: true });
  });

  const open = async (user: string) => {
    const session = await openBrowser({ viewport: { width: 1280, height: 800 } });
    browsers.push(session);
    session.page.on('dialog', (dialog) => void dialog.accept());
    await session.page.goto(`${t.url}/`);
    await session.page.getByRole('textbox', { name: 'your name' }).fill(user);
    await session.page.getByRole('button', { name: 'Switch' }).click();
    return session;
  };

  it('runs the walkthrough on the real shop and saves the picture', async () => {
    const alice = await open('alice');
    const card = alice.page.locator('#card');
    const thread = alice.page.locator('#thread');
    await alice.page.getByRole('button', { name: /fire a sample alert/i }).click();
    await alice.page.waitForURL(/\/console\/incidents\/1$/);
    await waitForText(card, new RegExp(`ShopDown on demo-shop[\\s\\S]*127\\.0\\.0\\.1:${shopPort}`));

    await card.getByRole('button', { name: 'Acknowledge' }).click();
    await waitForText(thread, /alice acknowledged/i);
    await card.getByRole('button', { name: 'Health check (GET /health)' }).click();
    await waitForText(thread, /Health check \(GET \/health\) failed/, 30_000);
    await card.getByRole('button', { name: 'Fix the shop (clear the fault, restart)' }).click();
    await waitForText(thread, /alice asks to run Fix the shop/);

    const bob = await open('bob');
    await bob.page.goto(`${t.url}/console/incidents/1`);
    await bob.page.locator('#thread').getByRole('button', { name: 'Approve' }).click();
    const text = await waitForText(bob.page.locator('#thread'), /Fix the shop \(clear the fault, restart\) succeeded/, 60_000);
    expect(text).toMatch(/\d\d:\d\d:\d\d approved by bob/);
    const health = await fetch(`http://127.0.0.1:${shopPort}/health`);
    expect(health.status).toBe(200);
    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);

    // The fix ran through the repository-relative command, and the page names no folder of this machine.
    expect(text).toContain(`node demo/service/ctl.mjs fix --data-dir ${DATA_DIR}`);
    const page = `${await bob.page.locator('body').innerText()}\n${await bob.page.content()}`;
    for (const folder of machineFolders()) expect(page, `the page shows ${folder}`).not.toContain(folder);

    fs.mkdirSync(path.dirname(OUTPUT), { recursive: true });
    await bob.page.screenshot({ path: OUTPUT, fullPage: true });
    expect(fs.statSync(OUTPUT).size).toBeLessThan(400 * 1024);
    // Every check passed: this is the picture the README shows.
    fs.copyFileSync(OUTPUT, DOCS_SCREENSHOT);
  });
});
