/**
 * `npm start` as a newcomer runs it, from a fresh copy of the repository: the README's quick start
 * and walkthrough commands work as written (ports moved only through PORT and DEMO_PORT), and
 * whatever signal stops `npm start` — SIGTERM from a supervisor, SIGINT to npm alone — nothing of
 * its process tree is left running and both ports close. The second start reuses the build.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, freePort } from '../support/bot-process.js';
import { ConsoleClient, formsOf, sectionOf, textOf, waitFor, type ConsoleForm } from '../support/console-client.js';
import { alive } from '../support/processes.js';

/** The repository's files as a fresh clone has them (tracked and new, not ignored), node_modules shared. */
function freshCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'npm-start-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    const from = path.join(REPO_ROOT, file);
    // Deleted in the work tree and not yet committed, or a link such as a shared node_modules.
    if (!fs.existsSync(from) || !fs.lstatSync(from).isFile()) continue;
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(from, path.join(dir, file));
  }
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

/** Every live process whose parent chain leads to `root` (read from /proc). */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parents) {
      if (parent !== pid) continue;
      found.push(child);
      walk(child);
    }
  };
  walk(root);
  return found;
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

/** The inline commands of the README's "Quick start" section that start with `prefix`. */
function readmeCommands(prefix: string): string[] {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('\n## ', readme.indexOf('## Quick start') + 5));
  return [...section.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] ?? '').filter((c) => c.startsWith(prefix));
}

describe('npm start from a fresh copy: the README walkthrough, then stopping by signal', { timeout: 240_000 }, () => {
  let copy: string;
  let port: number;
  let shopPort: number;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    copy = freshCopy();
    port = await freePort();
    shopPort = await freePort();
    // Only the documented variables move the ports; nothing else is set for the newcomer.
    env = { ...process.env, PORT: String(port), DEMO_PORT: String(shopPort) };
    delete env.DATABASE_URL;
    delete env.CI;
  });
  afterAll(() => {
    if (!copy) return;
    spawnSync(process.execPath, ['demo/service/ctl.mjs', 'stop'], { cwd: copy, env });
    fs.rmSync(copy, { recursive: true, force: true });
  });

  /** `npm start` in the copy, in a process group of its own so the test can signal npm alone. */
  async function npmStart(): Promise<{ npm: ChildProcess; output: () => string }> {
    let output = '';
    const npm = spawn('npm', ['start'], { cwd: copy, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    npm.stdout?.setEncoding('utf8').on('data', (c: string) => (output += c));
    npm.stderr?.setEncoding('utf8').on('data', (c: string) => (output += c));
    await waitFor(() => Promise.resolve(/^Console: http:\/\/127\.0\.0\.1:\d+$/m.test(output) || (npm.exitCode !== null && 'exited')), 180_000, 'the Console line');
    if (npm.exitCode !== null) throw new Error(`npm start exited:\n${output}`);
    return { npm, output: () => output };
  }

  /** Sends `signal` to the npm process only, then checks that its whole tree and the shop are gone. */
  async function stopWith(npm: ChildProcess, signal: NodeJS.Signals): Promise<void> {
    const tree = descendants(npm.pid!);
    const shopPid = Number(fs.readFileSync(path.join(copy, 'data', 'demo', 'service.pid'), 'utf8'));
    expect(tree.length).toBeGreaterThanOrEqual(2); // quick-start and the bot
    expect(alive(shopPid)).toBe(true);
    process.kill(npm.pid!, signal);
    await waitFor(() => Promise.resolve(npm.exitCode !== null || npm.signalCode !== null), 30_000, `npm to exit after ${signal}`);
    await waitFor(
      async () => [...tree, shopPid].every((pid) => !alive(pid)) && !(await portOpen(port)) && !(await portOpen(shopPort)),
      20_000,
      `every process of the tree (${[...tree, shopPid].filter(alive).join(', ') || 'none'} alive) to end and the ports to close`,
    );
  }

  it('runs the walkthrough as the README writes it, then SIGTERM to npm stops everything', async () => {
    const { npm, output } = await npmStart();
    expect(output()).toContain('quick-start: building');
    const url = `http://127.0.0.1:${port}`;
    const shopHealth = async () => (await fetch(`http://127.0.0.1:${shopPort}/health`, { signal: AbortSignal.timeout(2000) })).status;
    const run = (command: string) => {
      const [program, ...args] = command.split(' ');
      const result = spawnSync(String(program), args, { cwd: copy, env, encoding: 'utf8' });
      expect(result.status, `${command}\n${result.stdout}${result.stderr}`).toBe(0);
      return result.stdout;
    };

    // 1. Break the shop.
    const [breakCommand] = readmeCommands('node demo/service/ctl.mjs break');
    expect(breakCommand).toBeDefined();
    expect(await shopHealth()).toBe(200);
    run(breakCommand!);
    expect(await shopHealth()).toBe(500);

    // 2. The sample alert, sent as the README says.
    const [alertCommand] = readmeCommands('npm run demo:alert');
    expect(alertCommand).toBe('npm run demo:alert');
    const sent = run(alertCommand!);
    const incidentPath = /console\/incidents\/(\d+)/.exec(sent)?.[0];
    expect(incidentPath, sent).toBeDefined();
    const id = incidentPath!.split('/').pop();
    const alice = new ConsoleClient(url);
    const bob = new ConsoleClient(url);
    await bob.submit(formsOf((await bob.get('/')).text).find((f) => f.action === '/console/user' && f.fields.user === 'bob')!);
    const form = (html: string, buttonId: string): ConsoleForm | undefined => formsOf(html).find((f) => f.action === '/console/press' && f.fields.buttonId === buttonId);
    const page = () => alice.get(`/${incidentPath}`).then((r) => r.text);
    const card = await waitFor(async () => {
      const html = await page();
      return form(html, `run-step:${id}:demo-shop:fix`) && html;
    }, 20_000, 'the ShopDown card with its steps');
    expect(textOf(sectionOf(card, 'card'))).toContain('ShopDown');

    // 3. Acknowledge.
    await alice.submit(form(card, `ack:${id}`)!);
    await waitFor(async () => /alice acknowledged/i.test(textOf(sectionOf(await page(), 'thread'))), 20_000, 'the acknowledgement in the thread');

    // 4. The health check fails, read-only.
    await alice.submit(form(await page(), `run-step:${id}:demo-shop:health`)!);
    await waitFor(async () => /Health check \(GET \/health\) failed/.test(textOf(sectionOf(await page(), 'thread'))), 30_000, 'the failed health check');

    // 5. alice asks for the fix, bob approves, the fix runs and the shop is healthy.
    await alice.submit(form(await page(), `run-step:${id}:demo-shop:fix`)!);
    const request = await waitFor(async () => {
      const html = (await bob.get(`/${incidentPath}`)).text;
      return formsOf(html).find((f) => f.action === '/console/press' && (f.fields.buttonId ?? '').startsWith('approve:'));
    }, 20_000, 'the approval request');
    await bob.submit(request);
    await waitFor(async () => /Fix the shop \(clear the fault, restart\) succeeded/.test(textOf(sectionOf(await page(), 'thread'))), 60_000, 'the fix to succeed');
    expect(await shopHealth()).toBe(200);

    // 6. Resolve, as the README says: the incident ends.
    const [resolveCommand] = readmeCommands('npm run demo:alert -- --resolve');
    expect(resolveCommand).toBeDefined();
    run(resolveCommand!);
    await waitFor(async () => /resolved/i.test(textOf(sectionOf(await page(), 'card'))), 20_000, 'the card to say resolved');

    await stopWith(npm, 'SIGTERM');
    expect(output()).toMatch(/demo-shop: stopped/);
  });

  it('reuses the build on the next start, and SIGINT to npm alone stops everything', async () => {
    const { npm, output } = await npmStart();
    expect(output()).not.toContain('quick-start: building');
    await stopWith(npm, 'SIGINT');
    expect(output()).toMatch(/demo-shop: stopped/);
  });
});
