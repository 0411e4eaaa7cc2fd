/**
 * `npm run bench [-- --quick] [-- --out file] [-- --profile]`: measures the built bot on this
 * machine and writes bench/RESULTS.md. Misses are reported, never a failure: the exit code is
 * non-zero only when the bench itself could not run.
 *
 *   --quick    short durations and small counts (checks the bench works; numbers mean little)
 *   --out      where to write the results (default bench/RESULTS.md)
 *   --profile  the SQLite ingest bot writes a CPU profile (node --cpu-prof) into bench/profiles/
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../test/support/bot-process.js';
import { MAIN_JS, removeDirs } from './bot.js';
import { cpuTimes, describeMachine, stolenShare } from './machine.js';
import { renderResults, verdicts, type BenchResults } from './report.js';
import { benchButtons } from './scenarios/buttons.js';
import { benchIngest } from './scenarios/ingest.js';
import { benchMemory } from './scenarios/memory.js';
import { benchRunners } from './scenarios/runners.js';
import { benchStorm } from './scenarios/storm.js';
import { benchStormOneChannel } from './scenarios/storm-one-channel.js';
import { startSlack } from './setup.js';

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, out: { type: 'string' }, profile: { type: 'boolean', default: false } },
});
const quick = args.quick ?? false;
const out = path.resolve(args.out ?? path.join(REPO_ROOT, 'bench', 'RESULTS.md'));
const profileDir = path.join(REPO_ROOT, 'bench', 'profiles');

/** Round trip to slack.com the storm and the second press run are given (a well-connected region). */
const SLACK_LATENCY_MS = 50;

const CONFIG = quick
  ? {
      ingest: { connections: 32, warmupMs: 500, durationMs: 2000, fixedRate: 2000 },
      storm: { groups: 20, alertsPerGroup: 10, channels: 10, spreadMs: 2000, followUpMs: 1000, drainTimeoutMs: 60_000, slackLatencyMs: SLACK_LATENCY_MS },
      stormOneChannel: { groups: 12, alertsPerGroup: 5, spreadMs: 500, drainTimeoutMs: 40_000, slackLatencyMs: SLACK_LATENCY_MS },
      buttons: [
        { incidents: 10, pressesPerSecond: 10, slackLatencyMs: 0 },
        { incidents: 5, pressesPerSecond: 5, slackLatencyMs: SLACK_LATENCY_MS },
      ],
      runners: { pressesPerKind: 4, pressesPerSecond: 4 },
      memory: { incidents: 500, startups: 1 },
    }
  : {
      ingest: { connections: 32, warmupMs: 3000, durationMs: 15_000, fixedRate: 2000 },
      storm: { groups: 500, alertsPerGroup: 20, channels: 25, spreadMs: 40_000, followUpMs: 10_000, drainTimeoutMs: 240_000, slackLatencyMs: SLACK_LATENCY_MS },
      // The storm of the issue: 2,000 alerts in 200 groups, which Alertmanager sends within seconds.
      stormOneChannel: { groups: 200, alertsPerGroup: 10, spreadMs: 5_000, drainTimeoutMs: 400_000, slackLatencyMs: SLACK_LATENCY_MS },
      buttons: [
        { incidents: 200, pressesPerSecond: 20, slackLatencyMs: 0 },
        { incidents: 40, pressesPerSecond: 2, slackLatencyMs: SLACK_LATENCY_MS },
      ],
      runners: { pressesPerKind: 24, pressesPerSecond: 4 },
      memory: { incidents: 10_000, startups: 3 },
    };

const step = (what: string) => process.stderr.write(`[bench] ${new Date().toISOString().slice(11, 19)} ${what}\n`);

async function main(): Promise<void> {
  if (!fs.existsSync(MAIN_JS)) throw new Error(`${path.relative(REPO_ROOT, MAIN_JS)} is missing: run \`npm run build\` first (npm run bench does)`);
  const began = performance.now();
  const machine = describeMachine();
  const cpuAtStart = cpuTimes();

  step('webhook ingest: bare server, SQLite, PostgreSQL');
  const slack = await startSlack();
  let ingest;
  try {
    ingest = await benchIngest(slack, { ...CONFIG.ingest, ...(args.profile ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {}) });
  } finally {
    await slack.close();
  }
  const cpuAfterIngest = cpuTimes();
  step('alert storm');
  const storm = await benchStorm(CONFIG.storm);
  step('alert storm into one channel');
  const stormOneChannel = await benchStormOneChannel(CONFIG.stormOneChannel);
  step('button to result');
  const buttons = [];
  for (const cfg of CONFIG.buttons) buttons.push(await benchButtons(cfg));
  step('button to result through a runner');
  const runners = await benchRunners(CONFIG.runners);
  step('memory and start-up');
  const memory = await benchMemory(CONFIG.memory);

  const results: BenchResults = {
    machine,
    quick,
    connections: CONFIG.ingest.connections,
    ingestSeconds: CONFIG.ingest.durationMs / 1000,
    fixedRate: CONFIG.ingest.fixedRate,
    ingest,
    storm,
    stormOneChannel,
    buttons,
    runners,
    memory,
    totalSeconds: (performance.now() - began) / 1000,
    steal: { ingest: stolenShare(cpuAtStart, cpuAfterIngest), run: stolenShare(cpuAtStart, cpuTimes()) },
  };
  fs.writeFileSync(out, renderResults(results));
  for (const v of verdicts(results)) process.stdout.write(`${v.pass ? 'PASS' : 'MISS'}  ${v.target}: ${v.measured}\n`);
  process.stdout.write(`results written to ${path.relative(process.cwd(), out) || out}\n`);
}

main()
  .finally(removeDirs)
  .then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
