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
// COMMAND defaults to `node dist/src/main.js` (what `npm run build` produces). The demo's data
// (shop.db, backups, logs) lives in DIR, default data/demo.
import { spawn, spawnSync } from 'node:child_process';
import console from 'node:console';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const ctl = path.join(root, 'demo', 'service', 'ctl.mjs');

/** @param {string[]} argv */
function parseArgs(argv) {
  let dataDir = path.join(root, 'data', 'demo');
  let command = [process.execPath, path.join(root, 'dist', 'src', 'main.js')];
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

const { dataDir, command } = parseArgs(process.argv.slice(2));
const chat = ['SLACK_BOT_TOKEN', 'DISCORD_BOT_TOKEN'].some((name) => (process.env[name] ?? '').trim() !== '');
const env = { ...process.env };
let startedShop = false;

if (!chat && fs.existsSync(ctl)) {
  fs.mkdirSync(dataDir, { recursive: true });
  const wasRunning = shopRunning(dataDir);
  if (!runCtl('start', dataDir)) {
    console.error('quick-start: the demo shop did not start (see above); starting the bot without it');
  } else {
    startedShop = !wasRunning;
    const shipped = (env.RUNBOOKS_DIR ?? '').trim() || 'manifests/runbooks';
    env.RUNBOOKS_DIR = `${shipped},${path.join(dataDir, 'runbooks')}`;
    console.log('quick-start: demo workspace ready. Open the console, press "Fire a sample alert" (or run `npm run demo:alert`),');
    console.log('             and break the shop first with `node demo/service/ctl.mjs break --data-dir ' + path.relative(process.cwd(), dataDir) + '` to see a fix verified.');
  }
}

const [program, ...args] = command;
const bot = spawn(String(program), args, { stdio: 'inherit', env });
// The terminal sends Ctrl-C to the whole foreground group; a `kill` of this script alone is passed on.
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => {
    if (bot.exitCode === null) bot.kill(signal);
  });
}
bot.once('exit', (code, signal) => {
  if (startedShop) runCtl('stop', dataDir);
  process.exit(code ?? (signal ? 1 : 0));
});
