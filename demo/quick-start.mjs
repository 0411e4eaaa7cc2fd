#!/usr/bin/env node
// `npm start`: runs the bot, and with no chat credentials also the demo workspace, so a newcomer
// sees the whole loop in the local console a minute after cloning.
//
//   node demo/quick-start.mjs [--data-dir DIR] [-- COMMAND...]
//
// With neither SLACK_BOT_TOKEN nor DISCORD_BOT_TOKEN set, it starts the demo shop
// (demo/service/ctl.mjs: a small HTTP service with a real SQLite database, on DEMO_PORT, default
// 3080), adds the shop's generated runbook to RUNBOOKS_DIR, then runs the bot in the foreground.
// Ctrl-C stops the bot, then the shop (only if this script started it). With credentials it runs
// the bot alone, exactly as `node dist/src/main.js` does; production deployments run that directly.
//
// COMMAND defaults to `node dist/src/main.js`, built first with `npm run build`'s compiler when a
// source is newer than the last build (a warm start then skips the 10-20 s of tsc). The demo's data
// (shop.db, backups, logs) lives in DIR, default data/demo.
//
// Settings come from the environment, then from ENV_FILE or ./.env when present (real environment
// variables win), so a copied .env.example works.
//
// Stopping: package.json runs this script with `exec`, so npm's signal reaches it directly (no shell
// in between to die and orphan it). SIGINT and SIGTERM are passed to the bot once; the bot stops
// gracefully, then the shop is stopped. If npm itself dies without a signal, this script notices it
// was orphaned and stops the same way.
import { spawn, spawnSync } from 'node:child_process';
import console from 'node:console';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { setInterval } from 'node:timers';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const ctl = path.join(root, 'demo', 'service', 'ctl.mjs');
const builtMain = path.join(root, 'dist', 'src', 'main.js');
const buildStamp = path.join(root, 'dist', '.build-stamp');

/** @param {string[]} argv */
function parseArgs(argv) {
  let dataDir = path.join(root, 'data', 'demo');
  /** @type {string[] | undefined} */
  let command;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--data-dir' && argv[i + 1]) dataDir = path.resolve(String(argv[++i]));
    else if (arg === '--' && argv.length > i + 1) {
      command = argv.slice(i + 1);
      break;
    } else {
      console.error(`quick-start: unexpected argument ${JSON.stringify(arg)}\nusage: node demo/quick-start.mjs [--data-dir DIR] [-- COMMAND...]`);
      process.exit(2);
    }
  }
  return { dataDir, command };
}

/** ENV_FILE when set (it must exist), else ./.env when present; variables already set are kept. */
function loadEnvFile() {
  const explicit = (process.env.ENV_FILE ?? '').trim();
  const file = explicit || '.env';
  if (!explicit && !fs.existsSync(file)) return;
  try {
    process.loadEnvFile(file);
  } catch (error) {
    console.error(`quick-start: cannot read ENV_FILE ${JSON.stringify(file)}: ${/** @type {Error} */ (error).message}`);
    process.exit(2);
  }
}

/** The newest modification time under `dir` (files only), 0 when missing. @param {string} dir @returns {number} */
function newestUnder(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** Builds dist/ unless the last successful build is newer than every source and build setting. */
function buildIfStale() {
  const stamp = fs.existsSync(buildStamp) && fs.existsSync(builtMain) ? fs.statSync(buildStamp).mtimeMs : 0;
  const inputs = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'].map((f) => path.join(root, f)).filter((f) => fs.existsSync(f));
  const newest = Math.max(newestUnder(path.join(root, 'src')), ...inputs.map((f) => fs.statSync(f).mtimeMs));
  if (stamp > newest) return;
  console.log('quick-start: building (sources changed since the last build)');
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
  if (result.status !== 0) {
    console.error(`quick-start: the build failed${result.signal ? ` (${result.signal})` : ''}; fix the errors above and run npm start again`);
    process.exit(result.status ?? 1);
  }
  fs.writeFileSync(buildStamp, `${new Date().toISOString()}\n`);
}

/** Whether the shop recorded in this data folder is running (so it was not ours to stop). @param {string} dataDir */
function shopRunning(dataDir) {
  try {
    const pid = Number(fs.readFileSync(path.join(dataDir, 'service.pid'), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return true;
  } catch {
    return false; // no pid file, or no such process
  }
}

/** @param {string} command @param {string} dataDir */
function runCtl(command, dataDir) {
  const runbooksDir = path.join(dataDir, 'runbooks');
  const result = spawnSync(process.execPath, [ctl, command, '--data-dir', dataDir, '--runbooks-dir', runbooksDir], { stdio: 'inherit', env: process.env });
  return result.status === 0;
}

loadEnvFile();
const parsed = parseArgs(process.argv.slice(2));
const dataDir = parsed.dataDir;
let stopRequested = /** @type {NodeJS.Signals | undefined} */ (undefined);
// A signal during the build or the shop's start-up: remember it, and stop before starting the bot.
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) process.on(signal, () => (stopRequested ??= signal));
if (!parsed.command) buildIfStale();
const command = parsed.command ?? [process.execPath, builtMain];
const chat = ['SLACK_BOT_TOKEN', 'DISCORD_BOT_TOKEN'].some((name) => (process.env[name] ?? '').trim() !== '');
const env = { ...process.env };
let startedShop = false;

if (!chat && fs.existsSync(ctl) && !stopRequested) {
  fs.mkdirSync(dataDir, { recursive: true });
  const wasRunning = shopRunning(dataDir);
  if (!runCtl('start', dataDir)) {
    console.error('quick-start: the demo shop did not start (see above); starting the bot without it');
  } else {
    startedShop = !wasRunning;
    const shipped = (env.RUNBOOKS_DIR ?? '').trim() || 'manifests/runbooks';
    env.RUNBOOKS_DIR = `${shipped},${path.join(dataDir, 'runbooks')}`;
    const rel = path.relative(process.cwd(), dataDir);
    const ctlHint = rel === path.join('data', 'demo') ? '' : ` --data-dir ${rel}`;
    console.log('quick-start: demo workspace ready. Open the console, press "Fire a sample alert" (or run `npm run demo:alert`),');
    console.log(`             and break the shop first with \`node demo/service/ctl.mjs break${ctlHint}\` to see a fix verified.`);
  }
}

if (stopRequested) {
  if (startedShop) runCtl('stop', dataDir);
  process.exit(0);
}

const [program, ...args] = command;
const bot = spawn(String(program), args, { stdio: 'inherit', env });
let forwarded = false;
/** Passes the first stop request on; the bot's own graceful stop is bounded by SHUTDOWN_TIMEOUT_MS. @param {NodeJS.Signals} signal */
function stop(signal) {
  if (forwarded || bot.exitCode !== null) return;
  forwarded = true;
  bot.kill(signal);
}
// The terminal's Ctrl-C reaches the whole foreground group (the bot too); npm's SIGTERM or SIGINT
// reaches only this script. Either way the bot gets one signal: a second would not speed it up.
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.removeAllListeners(signal);
  process.on(signal, () => stop(signal));
}
// npm killed with SIGKILL leaves this script orphaned (its parent becomes pid 1 or a subreaper).
const parent = process.ppid;
const orphanCheck = setInterval(() => {
  if (process.ppid !== parent) stop('SIGTERM');
}, 1000);
orphanCheck.unref();
bot.once('error', (error) => {
  console.error(`quick-start: cannot start ${JSON.stringify(program)}: ${error.message}`);
  if (startedShop) runCtl('stop', dataDir);
  process.exit(1);
});
bot.once('exit', (code, signal) => {
  if (startedShop) runCtl('stop', dataDir);
  process.exit(code ?? (signal ? 1 : 0));
});
