import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/core/domain.js';
import { startTestBot, type TestBot } from '../support/bot-harness.js';
import { chromiumMissing, IN_CI, openBrowser, requireChromium, waitForText, type BrowserSession } from '../support/browser.js';

/**
 * The web console in a real browser (headless Chromium): what a newcomer does on first contact.
 * The list → "Fire a sample alert" → the card → alice presses a changing step (and confirms) →
 * she says she is bob in the "you are" box, but her browser is still the requester's → bob, in a
 * browser of his own, approves → the step runs, and the page shows it by itself (the event
 * stream) → the audit trail. The final page is saved as test-output/console.png (the README's
 * docs/console.png is the real demo's, from demo-console.test.ts).
 */
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUTPUT_DIR = path.join(REPO_ROOT, 'test-output');
const SCREENSHOT = path.join(OUTPUT_DIR, 'console.png');

const RUNBOOK = `
name: demo-shop
match: { service: demo-shop, alertname: ShopDown }
params:
  instance: { fromLabel: instance, pattern: '[0-9.]+:[0-9]+' }
  marker: { default: '{{DIR}}/restarted.txt', pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: health
    title: Health check
    action: exec
    run: [node, -e, 'console.log("GET http://" + process.argv[1] + "/health → 500")', '{{instance}}']
  - id: restart
    title: Restart the shop
    action: exec
    run: [node, -e, 'require("fs").writeFileSync(process.argv[1], "restarted"); console.log("shop restarted, /health → 200")', '{{marker}}']
    changes: true
`;

const missing = chromiumMissing();

describe.skipIf(missing !== undefined && !IN_CI)('web console in a browser: alert → card → request → approve → result', () => {
  let t: TestBot;
  let browser: BrowserSession;
  let passed = 0;
  const confirmations: string[] = [];

  beforeAll(async () => {
    requireChromium();
    t = await startTestBot({ runbooks: { 'demo-shop.yaml': RUNBOOK }, env: { CONSOLE: 'on' } });
    browser = await openBrowser({ viewport: { width: 1280, height: 800 } });
    // A changing step's button asks "Run …?" first; the person confirms.
    browser.page.on('dialog', (dialog) => {
      confirmations.push(dialog.message());
      void dialog.accept();
    });
    fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  });

  afterAll(async () => {
    // Whatever failed, leave a picture of where it stopped.
    if (browser && passed < 7) await browser.page.screenshot({ path: path.join(OUTPUT_DIR, 'console-failure.png') }).catch(() => undefined);
    await browser?.close();
    await t?.stop();
  });

  const main = () => browser.page.locator('#main');
  const card = () => browser.page.locator('#card');
  const thread = () => browser.page.locator('#thread');
  const userBox = () => browser.page.getByRole('textbox', { name: 'your name' });

  it('opens on the incident list, as alice, with a button to fire a sample alert', async () => {
    const { page } = browser;
    const res = await page.goto(`${t.url}/`);
    expect(res?.status()).toBe(200);
    expect(await page.title()).toMatch(/Incidents/);
    const text = await main().innerText();
    expect(text).toMatch(/Incidents/);
    expect(text).toMatch(/No incidents yet/);
    expect(await userBox().inputValue()).toBe('alice');
    await expect(page.getByRole('button', { name: /fire a sample alert/i }).isVisible()).resolves.toBe(true);
    passed++;
  });

  it('fires the sample alert and shows the card with its step buttons and the thread', async () => {
    const { page } = browser;
    await page.getByRole('button', { name: /fire a sample alert/i }).click();
    await page.waitForURL(/\/console\/incidents\/1$/);
    const cardText = await waitForText(card(), /#1 ShopDown on demo-shop/);
    expect(cardText).toMatch(/The demo shop is down/);
    expect(cardText).toMatch(/critical/);
    expect(cardText).toMatch(/127\.0\.0\.1:3080/);
    expect(await card().getByRole('button').allInnerTexts()).toEqual(['Acknowledge', 'Health check', 'Restart the shop']);
    await waitForText(thread(), /Incident #1 opened: ShopDown on demo-shop/);
    passed++;
  });

  it('asks for approval when alice presses the changing step, after she confirms', async () => {
    const { page } = browser;
    await card().getByRole('button', { name: 'Restart the shop' }).click();
    const text = await waitForText(thread(), /alice asks to run Restart the shop — needs 1 approval/);
    expect(confirmations).toEqual([expect.stringMatching(/Run "Restart the shop"\?.*approval/)]);
    expect(text).not.toMatch(/Started Restart the shop/);
    expect(await thread().getByRole('button').allInnerTexts()).toEqual(['Approve', 'Deny']);
    await waitForText(card(), /Restart the shop — requested/);
    expect(fs.existsSync(path.join(t.dir, 'restarted.txt'))).toBe(false);
    expect(page.url()).toMatch(/\/console\/incidents\/1$/);
    passed++;
  });

  it('becomes bob through the "you are" box', async () => {
    const { page } = browser;
    await userBox().fill('bob');
    await page.getByRole('button', { name: 'Switch' }).click();
    await page.waitForURL(/\/console\/incidents\/1$/);
    expect(await userBox().inputValue()).toBe('bob');
    // The name is a cookie: it survives a reload.
    await page.reload();
    expect(await userBox().inputValue()).toBe('bob');
    passed++;
  });

  it("refuses the approval of a new name in the requester's browser: one browser is one person", async () => {
    await thread().getByRole('button', { name: 'Approve' }).click();
    await waitForText(main(), /You requested "Restart the shop", so you cannot approve it/);
    expect(await thread().innerText()).not.toMatch(/bob approved/);
    expect(fs.existsSync(path.join(t.dir, 'restarted.txt'))).toBe(false);
    passed++;
  });

  it('runs the step when bob approves from his own browser; the page shows the result without a reload', async () => {
    const mine = browser;
    browser = await openBrowser({ viewport: { width: 1280, height: 800 } });
    await mine.close();
    const { page } = browser;
    await page.goto(`${t.url}/console/incidents/1`);
    await userBox().fill('bob');
    await page.getByRole('button', { name: 'Switch' }).click();
    await page.waitForURL(/\/console\/incidents\/1$/);
    await thread().getByRole('button', { name: 'Approve' }).click();
    const text = await waitForText(thread(), /Restart the shop succeeded/, 20_000);
    expect(text).toMatch(/approved by bob \(1\/1\): running it now/);
    expect(text).toMatch(/Started Restart the shop/);
    expect(text).toMatch(/shop restarted, \/health → 200/);
    expect(text.indexOf('Started Restart the shop')).toBeLessThan(text.indexOf('Restart the shop succeeded'));
    await waitForText(card(), /Restart the shop — succeeded/);
    expect(fs.readFileSync(path.join(t.dir, 'restarted.txt'), 'utf8')).toBe('restarted');
    // Private answers go to a name, so bob's page shows the refusal alice's browser got as bob:
    // dismiss it, as he would, before the picture.
    const dismiss = page.getByRole('button', { name: 'Dismiss' });
    if ((await dismiss.count()) > 0) await dismiss.first().click();
    // The whole page, card and thread, for the picture.
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(browser.errors).toEqual([]);
    passed++;
  });

  it('links the audit trail, which names alice as requester and bob as approver', async () => {
    const { page } = browser;
    await page.getByRole('link', { name: /Audit trail/ }).click();
    await page.waitForURL(/\/incidents\/1\/audit$/);
    const { events } = JSON.parse(await page.locator('body').innerText()) as { events: AuditEvent[] };
    expect(events.map((e) => e.kind)).toEqual(['alert.received', 'incident.ack', 'step.requested', 'approval.refused', 'step.approved', 'step.started', 'step.finished']);
    // The refused approval from the requester's browser is on the record too, under the name it gave.
    expect(events.find((e) => e.kind === 'approval.refused')?.actor).toBe('console:bob');
    expect(events.find((e) => e.kind === 'step.requested')?.actor).toBe('console:alice');
    expect(events.find((e) => e.kind === 'step.approved')?.actor).toBe('console:bob');
    passed++;
  });
});
