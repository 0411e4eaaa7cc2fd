/**
 * The card as a responder's cockpit, in a real browser (headless Chromium) on a grouped incident
 * from the real Alertmanager: three instances of one shop fire, Alertmanager sends them as one
 * group, and the console shows one card. alice presses "Restart instance", chooses host2 in the
 * thread's select, bob approves from his own browser, and the restart runs for host2 only.
 *
 * Along the way the page is saved at each state of the card, for the README: pending (the request
 * waits for approval), approved (bob approved; the step is running), succeeded, and resolved (the
 * alerts resolved in Alertmanager). Each picture is taken after the test checked, on the page
 * itself, what the picture shows; the images are written to docs/ once every check passed.
 *
 * The step runs a small script from the repository with repository-relative paths, like the demo,
 * so that the published pictures name no folder of the machine that took them (checked too).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithAlertmanager, startAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import { REPO_ROOT } from '../support/bot-process.js';
import { WEBHOOK_TOKEN, startTestBot, type TestBot } from '../support/bot-harness.js';
import { chromiumMissing, IN_CI, openBrowser, requireChromium, waitForText, type BrowserSession } from '../support/browser.js';

/** Where the step keeps its log and gate, relative to the repository root (the bot's folder). */
const WORK_DIR = path.join('test-output', 'cockpit');
const OUTPUT_DIR = path.join(REPO_ROOT, 'test-output');
const DOCS_DIR = path.join(REPO_ROOT, 'docs');
const STATES = ['pending', 'approved', 'succeeded', 'resolved'] as const;

const RUNBOOK = `
name: grouped-shop
match: { service: grouped-shop, alertname: ShopDown }
params:
  instance: { fromLabel: instance, pattern: 'host[0-9]:[0-9]{2,5}' }
  work: { default: '${WORK_DIR}', pattern: '[A-Za-z0-9/._-]+' }
steps:
  - id: restart
    title: Restart instance
    action: exec
    run: [node, test/browser/fixtures/restart-instance.mjs, '{{instance}}', '{{work}}']
    changes: true
    timeoutSeconds: 90
    approval: { approvers: 1, selfApprove: false }
`;

const INSTANCES = ['host1:3001', 'host2:3001', 'host3:3001'];
const alert = (instance: string) => ({ labels: { alertname: 'ShopDown', service: 'grouped-shop', severity: 'critical', instance }, annotations: { summary: 'The shop is down on one or more instances' } });

/** Folders of this machine that must not appear on a published page: the checkout, temp and home. */
function machineFolders(): string[] {
  const folders = [REPO_ROOT, os.tmpdir(), os.homedir()].flatMap((dir) => [dir, fs.realpathSync(dir)]);
  return [...new Set(folders.map((dir) => dir.replace(/\/+$/, '')))].filter((dir) => dir.length > 1);
}

const missing = chromiumMissing();

describeWithAlertmanager('the console as a cockpit: a grouped incident in a browser', () => {
  describe.skipIf(missing !== undefined && !IN_CI)('alert chosen in a select, and the card at each state', { timeout: 120_000 }, () => {
    let t: TestBot;
    let am: RunningAlertmanager;
    const browsers: BrowserSession[] = [];
    const shots: Partial<Record<(typeof STATES)[number], string>> = {};
    const work = path.join(REPO_ROOT, WORK_DIR);
    const restarts = () => (fs.existsSync(path.join(work, 'restarts.log')) ? fs.readFileSync(path.join(work, 'restarts.log'), 'utf8').split('\n').filter(Boolean) : []);

    beforeAll(async () => {
      requireChromium();
      // The bot runs in this process, so the runbook's relative paths are the repository's.
      expect(fs.realpathSync(process.cwd()), 'run the tests from the repository root, as npm does').toBe(fs.realpathSync(REPO_ROOT));
      fs.rmSync(work, { recursive: true, force: true });
      fs.mkdirSync(work, { recursive: true });
      t = await startTestBot({ runbooks: { 'grouped-shop.yaml': RUNBOOK }, env: { CONSOLE: 'on' } });
      am = await startAlertmanager({ webhookUrl: `${t.url}/webhooks/alertmanager`, bearerToken: WEBHOOK_TOKEN, groupBy: ['alertname', 'service'] });
    }, 60_000);

    afterAll(async () => {
      // Let a step still waiting go, so that nothing is left running.
      fs.mkdirSync(work, { recursive: true });
      fs.writeFileSync(path.join(work, 'go'), '');
      for (const b of browsers) await b.close();
      await am?.stop();
      await t?.stop();
      fs.rmSync(work, { recursive: true, force: true });
    });

    const open = async (user: string) => {
      const session = await openBrowser({ viewport: { width: 1280, height: 800 } });
      browsers.push(session);
      // A changing step's button asks "Run …?" first; the person confirms.
      session.page.on('dialog', (dialog) => void dialog.accept());
      await session.page.goto(`${t.url}/`);
      await session.page.getByRole('textbox', { name: 'your name' }).fill(user);
      await session.page.getByRole('button', { name: 'Switch' }).click();
      await session.page.goto(`${t.url}/console/incidents/1`);
      return session;
    };

    /** Saves the page as test-output/console-<state>.png, once it names no folder of this machine. */
    const shoot = async (session: BrowserSession, state: (typeof STATES)[number]) => {
      const page = `${await session.page.locator('body').innerText()}\n${await session.page.content()}`;
      for (const folder of machineFolders()) expect(page, `the page shows ${folder}`).not.toContain(folder);
      const file = path.join(OUTPUT_DIR, `console-${state}.png`);
      await session.page.screenshot({ path: file, fullPage: true });
      expect(fs.statSync(file).size).toBeLessThan(400 * 1024);
      shots[state] = file;
    };

    let alice: BrowserSession;
    let bob: BrowserSession;

    it('shows one card for the three instances Alertmanager grouped, with the restart offered', async () => {
      await am.fireAlerts(INSTANCES.map(alert));
      for (let i = 0; i < 300 && !(await t.bot.engine.incident(1)); i++) await new Promise((r) => setTimeout(r, 100));
      alice = await open('alice');
      const card = await waitForText(alice.page.locator('#card'), /host1:3001[\s\S]*host2:3001|host2:3001[\s\S]*host1:3001/, 30_000);
      for (const instance of INSTANCES) expect(card).toContain(instance);
      expect(await alice.page.locator('#card').getByRole('button').allInnerTexts()).toContain('Restart instance');
      expect((await t.bot.engine.recentIncidents(10)).length).toBe(1);
    });

    it('asks which alert in a select; alice chooses host2 and the request names it (pending)', async () => {
      const { page } = alice;
      const thread = page.locator('#thread');
      await page.locator('#card').getByRole('button', { name: 'Restart instance' }).click();
      await waitForText(thread, /alice wants to run Restart instance: it runs for one alert of this group; choose which \(3 firing\)/);
      const select = thread.getByRole('combobox', { name: 'Choose the alert' });
      expect(await select.locator('option:not([disabled])').allInnerTexts()).toEqual(INSTANCES.map((i) => `instance=${i}`));
      // The page refreshes itself from its event stream: let it settle before choosing.
      await new Promise((r) => setTimeout(r, 2000));
      await select.selectOption({ label: 'instance=host2:3001' });
      await thread.getByRole('button', { name: 'Choose' }).click();
      const text = await waitForText(thread, /alice asks to run Restart instance — needs 1 approval[\s\S]*for instance=host2:3001/);
      expect(text).not.toMatch(/Started Restart instance/);
      expect(await thread.getByRole('button').allInnerTexts()).toEqual(['Choose', 'Approve', 'Deny']);
      await waitForText(page.locator('#card'), /Restart instance — requested[\s\S]*for instance=host2:3001/);
      expect(restarts()).toEqual([]);
      await shoot(alice, 'pending');
    });

    it('runs the restart for host2 once bob approves from his own browser (approved, then succeeded)', async () => {
      bob = await open('bob');
      const thread = bob.page.locator('#thread');
      await thread.getByRole('button', { name: 'Approve' }).click();
      const approved = await waitForText(thread, /👍 \d\d:\d\d:\d\d approved by bob[\s\S]*Started Restart instance/, 20_000);
      // One message for the run: the request naming the alert, then bob's approval line.
      expect(approved).toMatch(/asks to run Restart instance[\s\S]*for instance=host2:3001[\s\S]*approved by bob \(1\/1\): running it now/);
      // The step waits for its gate: the card shows it running, no Approve is left, nothing restarted yet.
      await waitForText(bob.page.locator('#card'), /Restart instance — running[\s\S]*for instance=host2:3001/);
      expect(await thread.getByRole('button', { name: 'Approve' }).count()).toBe(0);
      expect(restarts()).toEqual([]);
      await shoot(bob, 'approved');

      fs.writeFileSync(path.join(work, 'go'), '');
      const done = await waitForText(thread, /Restart instance succeeded/, 30_000);
      expect(done).toMatch(/host2:3001 restarted, \/health → 200/);
      await waitForText(bob.page.locator('#card'), /Restart instance — succeeded[\s\S]*for instance=host2:3001[\s\S]*approved by bob/);
      expect(restarts()).toEqual(['restart host2:3001']);
      const audit = (await t.bot.engine.auditTrail(1)) ?? [];
      const requested = audit.find((e) => e.kind === 'step.requested');
      expect((requested?.data as { params?: Record<string, string> }).params).toMatchObject({ instance: 'host2:3001', '@alert-label': 'instance=host2:3001' });
      expect(requested?.actor).toBe('console:alice');
      expect(audit.find((e) => e.kind === 'step.approved')?.actor).toBe('console:bob');
      await shoot(bob, 'succeeded');
    });

    it('says resolved, with its duration, once Alertmanager resolves the alerts, and offers no restart then (resolved)', async () => {
      await am.resolveAlerts(INSTANCES.map(alert));
      const card = await waitForText(bob.page.locator('#card'), /Resolved after \d+[smhd]/, 30_000);
      const incident = await t.bot.engine.incident(1);
      expect(incident?.status).toBe('resolved');
      expect(card).toMatch(/✅/);
      expect(card).toMatch(/Restart instance — succeeded/);
      // Its runbook is not called unavailable because no alert fires any more.
      expect(card).not.toMatch(/Not offered/);
      expect(await bob.page.locator('#card').getByRole('button', { name: 'Restart instance' }).count()).toBe(0);
      await waitForText(bob.page.locator('#thread'), /Incident #1 resolved after/);
      expect(restarts()).toEqual(['restart host2:3001']);
      expect(alice.errors).toEqual([]);
      expect(bob.errors).toEqual([]);
      await shoot(bob, 'resolved');
      // Every check passed: these are the pictures the README shows.
      for (const state of STATES) fs.copyFileSync(shots[state] ?? '', path.join(DOCS_DIR, `console-${state}.png`));
    });
  });
});
