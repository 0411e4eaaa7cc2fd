#!/usr/bin/env node
// Controls the demo-shop service (server.mjs): a detached background process with a pid file.
//
//   node demo/service/ctl.mjs start     set up (see below), then start the shop in the background
//   node demo/service/ctl.mjs stop      stop it (SIGTERM, then SIGKILL after 5 s)
//   node demo/service/ctl.mjs restart   stop, then start on the same port
//   node demo/service/ctl.mjs break     make /health answer 500 (creates the flag file broken in the data folder)
//   node demo/service/ctl.mjs fix       remove the flag file, then restart
//   node demo/service/ctl.mjs status    running? healthy? how many orders?
//   node demo/service/ctl.mjs setup     create the data folder and write the runbook (start does this too)
//
// Options: --data-dir DIR (default data/demo, or DEMO_DATA_DIR: the folder `npm start` uses, so the
// commands reach the shop it started), --runbooks-dir DIR (where setup writes demo-shop.yaml;
// default DIR/runbooks, or DEMO_RUNBOOKS_DIR). The port is DEMO_PORT
// (default 3080) on the first start; restart and fix keep the port the shop was started with.
//
// Everything lives in the data folder: shop.db, backups/, service.pid, service.port, service.log
// and the flag file broken.
import { spawn } from 'node:child_process';
import console from 'node:console';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const { fetch, AbortSignal } = globalThis;
const serviceDir = path.dirname(fileURLToPath(import.meta.url));
const demoDir = path.dirname(serviceDir);
const repoRoot = path.dirname(demoDir);

const USAGE = 'usage: node demo/service/ctl.mjs start|stop|restart|break|fix|status|setup [--data-dir DIR] [--runbooks-dir DIR]';

/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {{ command: string | undefined, dataDir: string, runbooksDir: string | undefined }} */
  const options = {
    command: undefined,
    dataDir: process.env.DEMO_DATA_DIR || path.join(repoRoot, 'data', 'demo'),
    runbooksDir: process.env.DEMO_RUNBOOKS_DIR || undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--data-dir' || arg === '--runbooks-dir') {
      const value = argv[++i];
      if (!value) fail(`${arg} needs a folder\n${USAGE}`);
      if (arg === '--data-dir') options.dataDir = value;
      else options.runbooksDir = value;
    } else if (options.command === undefined && arg !== undefined && !arg.startsWith('-')) {
      options.command = arg;
    } else {
      fail(`unexpected argument ${JSON.stringify(arg)}\n${USAGE}`);
    }
  }
  const dataDir = path.resolve(options.dataDir);
  return { command: options.command, dataDir, runbooksDir: path.resolve(options.runbooksDir ?? path.join(dataDir, 'runbooks')) };
}

/** @param {string} message @returns {never} */
function fail(message) {
  console.error(`demo-shop: ${message}`);
  process.exit(1);
}

const options = parseArgs(process.argv.slice(2));
const files = {
  db: path.join(options.dataDir, 'shop.db'),
  backups: path.join(options.dataDir, 'backups'),
  pid: path.join(options.dataDir, 'service.pid'),
  port: path.join(options.dataDir, 'service.port'),
  log: path.join(options.dataDir, 'service.log'),
  broken: path.join(options.dataDir, 'broken'),
  template: path.join(demoDir, 'runbooks', 'demo-shop.yaml.in'),
  runbook: path.join(options.runbooksDir, 'demo-shop.yaml'),
};

/** @param {string} file */
function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The pid of the running shop, or undefined (a stale pid file is removed). */
function runningPid() {
  const pid = Number(readText(files.pid));
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: it exists but belongs to someone else, so it is not our shop.
    if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'EPERM') fs.rmSync(files.pid, { force: true });
    return undefined;
  }
}

/** The port to use: the one the shop ran on (restart keeps it), else DEMO_PORT, else 3080. @param {boolean} keepPrevious */
function portToUse(keepPrevious) {
  const previous = Number(readText(files.port));
  if (keepPrevious && Number.isInteger(previous) && previous > 0) return previous;
  const port = Number(process.env.DEMO_PORT || '3080');
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`DEMO_PORT must be a port number, not ${JSON.stringify(process.env.DEMO_PORT)}`);
  return port;
}

/** @param {number} port @returns {Promise<{ status: number, body: string } | undefined>} */
async function health(port) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: (await res.text()).trim() };
  } catch {
    return undefined;
  }
}

/**
 * How the runbook's commands name `file`: relative to the repository root when this script runs
 * there and the file is inside it (npm runs `npm start` and the bot from the root, so the bot's
 * commands run there too), absolute otherwise. Short paths read better on a card, and a card that
 * is shown or shared does not give away where the repository was cloned.
 * @param {string} file
 */
function commandPath(file) {
  if (fs.realpathSync(process.cwd()) !== fs.realpathSync(repoRoot)) return file;
  const rel = path.relative(repoRoot, file);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}

/**
 * The data folder, and the runbook rendered from demo-shop.yaml.in: the data actions (checkpoint,
 * backup) take only absolute paths, and the template cannot know where this repository is, so its
 * DATA_DIR placeholder becomes the absolute data folder; the restart commands' arguments (the CTL
 * and CTL_DATA_DIR placeholders) are named as commandPath does. Only paths this script computes
 * are written into it.
 */
function setup() {
  fs.mkdirSync(files.backups, { recursive: true });
  const template = fs.readFileSync(files.template, 'utf8');
  /** @type {Array<[string, string]>} */
  const folders = [['data folder', options.dataDir], ['demo folder', demoDir]];
  for (const [what, dir] of folders) {
    if (!/^\/[A-Za-z0-9/._ +@-]*$/.test(dir)) fail(`the ${what} ${JSON.stringify(dir)} has characters the runbook's path patterns refuse; move the repository or use --data-dir`);
  }
  const ctlPath = commandPath(path.join(serviceDir, 'ctl.mjs'));
  const header = [
    '# GENERATED by demo/service/ctl.mjs from demo-shop.yaml.in: edit the template, not this file.',
    // A bot started elsewhere would not find the relative paths: say so where someone would look.
    ...(path.isAbsolute(ctlPath) ? [] : ['# The restart commands name paths relative to the repository root: run the bot from there.']),
  ];
  const rendered = template
    .replace(/^# TEMPLATE[^\n]*\n(#[^\n]*\n)*/m, `${header.join('\n')}\n`)
    .replaceAll('@CTL_DATA_DIR@', commandPath(options.dataDir))
    .replaceAll('@DATA_DIR@', options.dataDir)
    .replaceAll('@CTL@', ctlPath);
  fs.mkdirSync(options.runbooksDir, { recursive: true });
  if (readText(files.runbook) !== rendered.trim()) {
    fs.writeFileSync(files.runbook, rendered);
    console.log(`demo-shop: wrote the runbook ${path.relative(process.cwd(), files.runbook) || files.runbook}`);
  }
}

async function start({ keepPort = false } = {}) {
  setup();
  const pid = runningPid();
  const port = portToUse(keepPort || pid !== undefined);
  if (pid !== undefined) {
    console.log(`demo-shop: already running (pid ${pid}) on http://127.0.0.1:${port}`);
    return;
  }
  const log = fs.openSync(files.log, 'a');
  const child = spawn(process.execPath, [path.join(serviceDir, 'server.mjs')], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, DEMO_PORT: String(port), DEMO_DATA_DIR: options.dataDir },
  });
  fs.closeSync(log);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  child.unref();
  fs.writeFileSync(files.pid, `${child.pid}\n`);
  fs.writeFileSync(files.port, `${port}\n`);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (exited) {
      fs.rmSync(files.pid, { force: true });
      const tail = (readText(files.log) ?? '').split('\n').slice(-5).join('\n');
      fail(`the shop exited during start; the end of ${files.log}:\n${tail}`);
    }
    const answer = await health(port);
    if (answer) {
      console.log(`demo-shop: started (pid ${child.pid}) on http://127.0.0.1:${port}: /health answers ${answer.status} ${answer.body}`);
      return;
    }
    await delay(100);
  }
  fail(`started (pid ${child.pid}) but http://127.0.0.1:${port}/health did not answer within 10 s; see ${files.log}`);
}

async function stop() {
  const pid = runningPid();
  if (pid === undefined) {
    console.log('demo-shop: not running');
    return;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (runningPid() !== undefined) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      await delay(200);
      break;
    }
    await delay(50);
  }
  fs.rmSync(files.pid, { force: true });
  console.log(`demo-shop: stopped (pid ${pid})`);
}

/** Sets the flag, then checks that the running shop reads it: a success message for a shop that stays healthy would mislead. */
async function breakShop() {
  fs.mkdirSync(options.dataDir, { recursive: true });
  fs.writeFileSync(files.broken, `broken at ${new Date().toISOString()}\n`);
  const pid = runningPid();
  if (pid === undefined) {
    fail(`no shop is running from ${options.dataDir} (flag file written; the shop will start broken). Start it with \`npm start\`, or pass the --data-dir it runs from.`);
  }
  const port = portToUse(true);
  const answer = await health(port);
  if (answer?.status !== 500) fail(`flag file written, but the shop on http://127.0.0.1:${port} still answers ${answer ? answer.status : 'nothing'} on /health`);
  console.log(`demo-shop: broken: http://127.0.0.1:${port}/health now answers 500 (flag file ${files.broken}).`);
  console.log('  Next: fire the alert with `npm run demo:alert` (or the console\'s "Fire a sample alert"),');
  console.log('  then press "Health check" on the card, and "Fix the shop" (a second person approves).');
}

async function status() {
  const pid = runningPid();
  if (pid === undefined) {
    console.log(`demo-shop: not running${fs.existsSync(files.broken) ? ' (and broken: run fix)' : ''}`);
    process.exitCode = 3;
    return;
  }
  const port = portToUse(true);
  const answer = await health(port);
  console.log(`demo-shop: running (pid ${pid}) on http://127.0.0.1:${port}: /health ${answer ? `${answer.status} ${answer.body}` : 'does not answer'}`);
  if (!answer || answer.status !== 200) process.exitCode = 1;
}

switch (options.command) {
  case 'setup':
    setup();
    break;
  case 'start':
    await start();
    break;
  case 'stop':
    await stop();
    break;
  case 'restart':
    await stop();
    await start({ keepPort: true });
    break;
  case 'break':
    await breakShop();
    break;
  case 'fix':
    fs.rmSync(files.broken, { force: true });
    console.log('demo-shop: removed the flag file; restarting');
    await stop();
    await start({ keepPort: true });
    break;
  case 'status':
    await status();
    break;
  default:
    fail(options.command === undefined ? USAGE : `unknown command ${JSON.stringify(options.command)}\n${USAGE}`);
}
