/**
 * `npm start` with no chat credentials: demo/quick-start.mjs brings up the demo shop and the bot
 * with the shop's runbook, and a newcomer can break the shop, see the alert in the console,
 * approve the fix and watch it verified. Ctrl-C stops the bot and then the shop it started.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, freePort } from '../support/bot-process.js';
import { ConsoleClient, formsOf, sectionOf, textOf, waitFor, type ConsoleForm } from '../support/console-client.js';

describe('quick start: npm start with no chat credentials runs the demo workspace', () => {
  let dir: string;
  let dataDir: string;
  let launcher: ChildProcess;
  let output = '';
  let url: string;
  let shopPort: number;
  const alice = () => new ConsoleClient(url);
  const ctl = (command: string) =>
    spawnSync(process.execPath, [path.join(REPO_ROOT, 'demo/service/ctl.mjs'), command, '--data-dir', dataDir, '--runbooks-dir', path.join(dataDir, 'runbooks')], {
      env: { ...process.env, DEMO_PORT: String(shopPort) },
      encoding: 'utf8',
    });
  const shopHealth = async () => (await fetch(`http://127.0.0.1:${shopPort}/health`, { signal: AbortSignal.timeout(2000) })).status;
  const pressForm = (html: string, buttonId: string): ConsoleForm | undefined => formsOf(html).find((f) => f.action === '/console/press' && f.fields.buttonId === buttonId);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quick-start-'));
    dataDir = path.join(dir, 'demo');
    const port = await freePort();
    shopPort = await freePort();
    url = `http://127.0.0.1:${port}`;
    const env: Record<string, string> = {
      PATH: [path.dirname(process.execPath), process.env.PATH ?? ''].join(path.delimiter),
      HOME: process.env.HOME ?? os.tmpdir(),
      PORT: String(port),
      DEMO_PORT: String(shopPort),
      DATABASE_URL: `sqlite:${path.join(dir, 'bot.db')}`,
      LOG_LEVEL: 'info',
    };
    // The built bot is what `npm start` runs; the same entry point through tsx needs no build here.
    launcher = spawn(process.execPath, ['demo/quick-start.mjs', '--data-dir', dataDir, '--', process.execPath, '--import', 'tsx', 'src/main.ts'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    launcher.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    launcher.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    await waitFor(async () => (await fetch(`${url}/readyz`)).ok, 30_000, `the bot to be ready; output so far:\n${output}`);
  }, 60_000);

  afterAll(async () => {
    if (launcher.exitCode === null) {
      launcher.kill('SIGTERM');
      await new Promise((resolve) => launcher.once('exit', resolve));
    }
    ctl('stop');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts the demo shop and loads its runbook next to the shipped ones', async () => {
    expect(await shopHealth()).toBe(200);
    expect(output).toMatch(/demo-shop: started/);
    expect(output).toMatch(/demo workspace ready/);
    expect(fs.readFileSync(path.join(dataDir, 'runbooks', 'demo-shop.yaml'), 'utf8')).toContain(path.join(dataDir, 'shop.db'));
    expect(output).toMatch(/"runbooks":\[[^\]]*"gitcortex[^\]]*"demo-shop"\]/);
    expect(output).toMatch(/console at http:\/\/127\.0\.0\.1:\d+ \(interactive\)/);
  });

  it('breaks the shop, fires the sample alert, and bob approves the fix alice asked for; the fix is verified', async () => {
    expect(ctl('break').status).toBe(0);
    expect(await shopHealth()).toBe(500);

    const a = alice();
    const bob = new ConsoleClient(url);
    const home = await bob.get('/');
    await bob.submit(formsOf(home.text).find((f) => f.action === '/console/user' && f.fields.user === 'bob')!);

    const fired = await a.submit(formsOf((await a.get('/')).text).find((f) => f.action === '/console/sample-alert')!);
    const incidentPath = fired.headers.get('location') ?? '';
    expect(incidentPath).toMatch(/^\/console\/incidents\/\d+$/);
    const id = incidentPath.split('/').pop();
    const card = await waitFor(async () => {
      const html = (await a.get(incidentPath)).text;
      return pressForm(html, `run-step:${id}:demo-shop:fix`) && html;
    }, 15_000, 'the card with the demo runbook');
    expect(textOf(sectionOf(card, 'card'))).toContain(`127.0.0.1:${shopPort}`);

    // A read-only check runs at once and shows the shop broken.
    await a.submit(pressForm(card, `run-step:${id}:demo-shop:health`)!);
    await waitFor(async () => /Health check \(GET \/health\) failed/.test(textOf(sectionOf((await a.get(incidentPath)).text, 'thread'))), 20_000, 'the failed health check');

    await a.submit(pressForm((await a.get(incidentPath)).text, `run-step:${id}:demo-shop:fix`)!);
    const request = await waitFor(async () => {
      const html = (await bob.get(incidentPath)).text;
      return formsOf(html).find((f) => f.action === '/console/press' && (f.fields.buttonId ?? '').startsWith('approve:')) && html;
    }, 15_000, 'the approval request');
    await bob.submit(formsOf(request).find((f) => f.action === '/console/press' && (f.fields.buttonId ?? '').startsWith('approve:'))!);
    const thread = await waitFor(async () => {
      const text = textOf(sectionOf((await a.get(incidentPath)).text, 'thread'));
      return /Fix the shop \(clear the fault, restart\) succeeded/.test(text) && text;
    }, 40_000, 'the fix to succeed');
    expect(thread).toMatch(/approved by bob/);
    expect(await shopHealth()).toBe(200);
  }, 90_000);

  it('stops the bot and then the shop it started on SIGTERM', async () => {
    launcher.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => launcher.once('exit', resolve));
    expect(code).toBe(0);
    expect(output).toMatch(/demo-shop: stopped/);
    await expect(shopHealth()).rejects.toThrow();
  }, 30_000);
});
