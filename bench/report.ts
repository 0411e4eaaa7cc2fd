/** Renders the results as `bench/RESULTS.md`: the machine, every measurement, and the target verdicts. */
import type { Machine } from './machine.js';
import type { LoadResult } from './load.js';
import type { ButtonsResult } from './scenarios/buttons.js';
import type { IngestColumn } from './scenarios/ingest.js';
import type { MemoryResult } from './scenarios/memory.js';
import type { RunnersResult } from './scenarios/runners.js';
import type { StormResult } from './scenarios/storm.js';
import type { StormOneChannelResult } from './scenarios/storm-one-channel.js';

export interface BenchResults {
  machine: Machine;
  /** Share of the machine's CPU time taken by the hypervisor (steal) during the ingest scenario and the whole run. */
  steal: { ingest: number; run: number };
  quick: boolean;
  connections: number;
  ingestSeconds: number;
  fixedRate: number;
  ingest: IngestColumn[];
  storm: StormResult;
  stormOneChannel: StormOneChannelResult;
  buttons: ButtonsResult[];
  runners: RunnersResult;
  memory: MemoryResult;
  totalSeconds: number;
}

export interface Verdict {
  target: string;
  measured: string;
  pass: boolean;
}

const n0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const n1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const pct = (share: number) => (Number.isFinite(share) ? `${(share * 100).toFixed(1)} %` : 'n/a');
const n2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const ms = (x: number) => (Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) : 'n/a');

function failures(r: LoadResult): string {
  const parts = Object.entries(r.failures).map(([k, v]) => `${v}× ${k}`);
  return parts.length > 0 ? parts.join(', ') : '0';
}

export function verdicts(r: BenchResults): Verdict[] {
  const sqlite = r.ingest.find((c) => c.name === 'bot on SQLite');
  const bare = r.ingest.find((c) => c.name === 'bare Node (ceiling)');
  const durable = r.ingest.find((c) => c.name === 'minimal durable server');
  const ratio = sqlite?.max && bare?.max ? sqlite.max.perSecond / bare.max.perSecond : Number.NaN;
  const durableRatio = durable?.max && bare?.max ? durable.max.perSecond / bare.max.perSecond : Number.NaN;
  const maxRate = sqlite?.max?.perSecond ?? Number.NaN;
  const fixedP99 = sqlite?.fixed?.latency.p99 ?? Number.NaN;
  const fixedOk = sqlite?.fixed ? sqlite.fixed.errors === 0 : false;
  const m = r.memory;
  const o = r.stormOneChannel;
  const cardedRatio = o.cardedS / o.leastCardedS;
  return [
    { target: 'ingest on SQLite ≥ 2,000 notifications/s (maximum rate)', measured: `${n0(maxRate)}/s`, pass: maxRate >= 2000 },
    { target: `ingest on SQLite p99 < 25 ms at ${n0(r.fixedRate)}/s offered`, measured: `p99 ${ms(fixedP99)} ms, ${sqlite?.fixed ? failures(sqlite.fixed) : 'n/a'} errors`, pass: fixedP99 < 25 && fixedOk },
    { target: 'ingest on SQLite ≥ half of the bare-server ceiling', measured: `${n1(ratio * 100)} % of the ceiling (the minimal durable server: ${n1(durableRatio * 100)} %)`, pass: ratio >= 0.5 },
    { target: 'storm: zero 429s from Slack', measured: `${r.storm.rateLimited429} × 429`, pass: r.storm.rateLimited429 === 0 },
    { target: 'storm: zero lost alerts', measured: `${r.storm.alertsStored} of ${r.storm.alerts} alerts stored, ${r.storm.webhookFailures} webhook failures`, pass: r.storm.lostAlerts === 0 && r.storm.webhookFailures === 0 },
    { target: 'storm into one channel: first alert → every incident visible ≤ 15 s', measured: `${n1(o.visibleS)} s`, pass: o.visibleS <= 15 },
    {
      target: "storm into one channel: first alert → every incident carded ≤ 1.1 × the least time Slack's pace allows",
      measured: `${n1(o.cardedS)} s, ${n2(cardedRatio)} × ${n0(o.leastCardedS)} s; ${o.rateLimited429} × 429`,
      pass: cardedRatio <= 1.1 && o.rateLimited429 === 0,
    },
    ...r.buttons.map((b) => ({
      target: `interaction ack p99 < 100 ms (Slack API ${b.slackLatencyMs} ms away)`,
      measured: `p99 ${ms(b.ack.p99)} ms, ${b.ackFailures} failures`,
      pass: b.ack.p99 < 100 && b.ackFailures === 0,
    })),
    { target: `RSS < 200 MB with ${n0(m.incidents)} open incidents`, measured: `${n1(m.loadedRssMB)} MB`, pass: m.loadedRssMB < 200 },
    { target: 'start-up < 1 s (empty database, median)', measured: `${n0(m.startupEmptyMedianMs)} ms`, pass: m.startupEmptyMedianMs < 1000 },
    { target: `start-up < 1 s (${n0(m.incidents)} incidents, median)`, measured: `${n0(m.startupPopulatedMedianMs)} ms`, pass: m.startupPopulatedMedianMs < 1000 },
  ];
}

function ingestRows(r: BenchResults): string[] {
  const bare = r.ingest.find((c) => c.name === 'bare Node (ceiling)')?.max?.perSecond ?? Number.NaN;
  return r.ingest.map((c) => {
    if (!c.max || !c.fixed || !c.half) return `| ${c.name} | ${c.unavailable ?? 'not measured'} | | | | | | | | | | |`;
    const { max, fixed, half } = c;
    return `| ${c.name} | ${n0(max.perSecond)} | ${ms(max.latency.p50)} | ${ms(max.latency.p99)} | ${n0(fixed.perSecond)} | ${ms(fixed.latency.p50)} | ${ms(fixed.latency.p99)} | ${n0(half.perSecond)} | ${ms(half.latency.p50)} | ${ms(half.latency.p99)} | ${failures(max)} / ${failures(fixed)} / ${failures(half)} | ${n1((max.perSecond / bare) * 100)} % |`;
  });
}

function inboxRows(r: BenchResults): string[] {
  return r.ingest.flatMap((c) => {
    if (!c.inbox) return [];
    return (['max', 'fixed', 'half'] as const).map((phase) => {
      const p = c.inbox![phase];
      const load = c[phase];
      return `| ${c.name}, ${phase} | ${n0(load?.accepted ?? Number.NaN)} | ${n1(((load?.accepted ?? Number.NaN) / (load?.ok ?? Number.NaN)) * 100)} % | ${n1(p.drainSeconds)} | ${n0(p.recorded / p.seconds)} |`;
    });
  });
}

export function renderResults(r: BenchResults): string {
  const s = r.storm;
  const o = r.stormOneChannel;
  const cardedRatio = o.cardedS / o.leastCardedS;
  const m = r.memory;
  const v = verdicts(r);
  return `# Benchmark results

Written by \`npm run bench${r.quick ? ' -- --quick' : ''}\` on ${r.machine.date} in ${n0(r.totalSeconds)} s.${
    r.quick ? ' **Quick run**: short durations and small counts, for checking that the bench works, not for numbers.' : ''
  }

## Machine

| | |
| --- | --- |
| CPU | ${r.machine.cpuModel} × ${r.machine.cpus} |
| RAM | ${n1(r.machine.ramGiB)} GiB |
| Node.js | ${r.machine.node} |
| OS | ${r.machine.os} |
| CPU time taken by the hypervisor (steal): ingest / whole run | ${pct(r.steal.ingest)} / ${pct(r.steal.run)} |

The bot runs as production runs it (\`node dist/src/main.js\`, built first, \`LOG_LEVEL=info\` to a
file), in its own process; the load comes from the bench process over loopback.

## Webhook ingest

Alertmanager v4 notifications to \`POST /webhooks/alertmanager\` (bearer token): half new groups
(1–3 alerts), a quarter changes to a known group (an alert joins, the group resolves or fires
again), a quarter exact repeats. Slack is configured (a fake with Slack's rate limits), so every
stored notification also queues its chat messages. **Maximum**: ${r.connections} connections back to back
for ${n0(r.ingestSeconds)} s after a warm-up (latency there is about connections ÷ rate).
**Fixed**: ${n0(r.fixedRate)}/s offered for ${n0(r.ingestSeconds)} s, latency from each request's scheduled time
(a server more than a second behind gets no more until it catches up: those count as skipped).
**Half**: the same at half the server's own maximum, its latency when not saturated.
Latencies in ms, to the 2xx. The **minimal durable server** (\`bench/durable-server.ts\`) does only
what acknowledging durably takes: the token, the body parsed and checked with the bot's schema, one
row appended to an inbox table like the bot's, a commit shared per event-loop turn and a WAL sync
before the answer. It shows what is left of the ceiling once durability alone is paid for here.

| server | max /s | p50 | p99 | fixed: achieved /s | p50 | p99 | half: achieved /s | p50 | p99 | errors (max / fixed / half) | max vs ceiling |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${ingestRows(r).join('\n')}

## Webhook ingest: the inbox

A busy bot answers 202 once a notification is stored in its inbox and records it right after (see
the README's Performance section). Below: how many of each phase's measured answers were 202, how
long recording went on after the load stopped, and the rate at which notifications were recorded
over the phase (warm-up included) and that drain. The next phase starts once the inbox is empty.

| server, phase | answered 202 | share | recording after the load (s) | recorded /s (phase + drain) |
| --- | --- | --- | --- | --- |
${inboxRows(r).join('\n')}

## Alert storm

${n0(s.alerts)} alerts in ${n0(s.groups)} groups, sent as Alertmanager would: half of each group first,
the whole group later, and that again from the HA peer (${n0(s.notificationsSent)} notifications,
the last answered ${n1(s.sentWithinS)} s after the first). Every Slack API call takes ${s.slackLatencyMs} ms (the
round trip from a well-connected region). Incidents are routed by a \`team\` label to
**${s.channels} Slack channels** (one per team: a storm of this size spans many teams; one channel at
Slack's ~1 message/s would need ${n0(s.groups * 2)} s or more for the cards and opening messages
alone). The fake Slack enforces ~1 chat.postMessage/s per channel with bursts of 3, and 50
chat.update a minute for the workspace (tier 3) with bursts of 50, answering 429 + Retry-After. The
bot paces updates apart from posts, at 45 a minute after a burst of 20: an update over that pace
waits, out of its thread's way, and shows the card as it is when it goes (so it can be minutes
late in a storm; the cards still waiting when the outbox was empty are counted below).

| measure | value |
| --- | --- |
| cards posted | ${n0(s.cardsPosted)} |
| card updates (chat.update) | ${n0(s.cardUpdates)} |
| chat.update calls in the busiest minute | ${n0(s.busiestMinuteOfUpdates)} |
| card updates still waiting for the update pace when the outbox was empty | ${n0(s.updatesStillPutOff)} |
| thread replies | ${n0(s.threadReplies)} |
| 429 answers received | ${n0(s.rateLimited429)} |
| webhook failures | ${n0(s.webhookFailures)} |
| answered 202 (recorded after the answer) | ${n0(s.webhookAccepted)} |
| first send → last card (s) | ${n1(s.lastCardS)} |
| first send → inbox and outbox empty (s) | ${n1(s.drainedS)} |
| incidents in the store | ${n0(s.incidentsStored)} |
| alerts in the store | ${n0(s.alertsStored)} of ${n0(s.alerts)} |

## Alert storm into one channel

${n0(o.alerts)} alerts in ${n0(o.groups)} groups, each sent twice (Alertmanager and its HA peer), the
groups' first notifications within ${n1(o.spreadS)} s, all into **one Slack channel** (as most teams
route alerts), on the same fake Slack (${o.postsPerSecond} chat.postMessage/s per channel, bursts of ${o.burst}; every call
${o.slackLatencyMs} ms away). A channel whose new cards would take more than a few seconds at that pace
lists its new incidents in one storm digest, edited in place, while the cards follow most severe
first. The least time for ${n0(o.groups)} cards is the burst at once and then one a second
(${n0(o.leastCardedS)} s); the bot paces at 0.97 of Slack's rate, for clock drift, so it can
come within about 1.03 × of it, plus the digest's own posts.

| measure | value |
| --- | --- |
| first send → every incident visible, carded or listed in the digest (s) | ${n1(o.visibleS)} |
| first send → every incident carded (s) | ${n1(o.cardedS)} |
| least time Slack's pace allows for the cards (s) | ${n0(o.leastCardedS)} |
| carded ÷ least | ${n2(cardedRatio)} |
| digest messages | ${n0(o.digestMessages)} |
| digest edits | ${n0(o.digestEdits)} |
| thread replies | ${n0(o.threadReplies)} |
| 429 answers received | ${n0(o.rateLimited429)} |
| alerts lost | ${n0(o.lostAlerts)} |

## Button to result

Signed Slack presses (\`block_actions\`, \`POST /slack/events\`) of a read-only step (an \`exec\` of
\`echo\`, no approval), each on its own incident in its own channel (so the per-channel pace does
not hide the bot's latency), at a steady rate: once with the fake Slack on loopback, once with
every Slack API call delayed as from a well-connected region (first column). Latencies in ms;
"Started" is the press to the step's "Started" thread message arriving at Slack.

| Slack API round trip | presses | per s | ack p50 | ack p99 | ack max | Started p50 | Started p99 | Started max | ack failures | Started missing | private answers |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${r.buttons
  .map((b) => `| ${b.slackLatencyMs} ms | ${b.presses} | ${b.pressesPerSecond} | ${ms(b.ack.p50)} | ${ms(b.ack.p99)} | ${ms(b.ack.max)} | ${ms(b.started.p50)} | ${ms(b.started.p99)} | ${ms(b.started.max)} | ${b.ackFailures} | ${b.startedMissing} | ${b.privateAnswers} |`)
  .join('\n')}

## Button to result through a runner

The same read-only step pressed on ${n0(r.runners.rows.reduce((sum, row) => sum + row.presses, 0))} incidents (each in its own channel, Slack on
loopback), the two kinds of press taking turns at ${n0(r.runners.pressesPerSecond)} a second: run by the bot itself, and with
\`runOn:\` a runner (\`node dist/src/runner.js\`, its own process on loopback), which takes the job
from its held poll, checks it against its own manifests, records it on disk, runs it and reports
back. Latencies in ms from the press: "Started" and the result message arriving at Slack.

| step runs | presses | Started p50 | Started p99 | Started max | result p50 | result p99 | result max | results missing | not succeeded |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${r.runners.rows
  .map((x) => `| ${x.where} | ${x.presses} | ${ms(x.started.p50)} | ${ms(x.started.p99)} | ${ms(x.started.max)} | ${ms(x.result.p50)} | ${ms(x.result.p99)} | ${ms(x.result.max)} | ${x.missing} | ${x.failed} |`)
  .join('\n')}

## Memory and start-up

RSS (\`VmRSS\` from \`/proc/<pid>/status\`, MB = 10⁶ bytes) after a full garbage collection forced
through the inspector. ${n0(m.incidents)} incidents opened through the webhook (one alert each, all
on the default channel, so their chat messages are still queued) in ${n1(m.ingestSeconds)} s.
Start-up: spawn to the first \`/readyz\` 200.

| measure | value |
| --- | --- |
| RSS, empty database | ${n1(m.idleRssMB)} MB |
| RSS, ${n0(m.incidents)} open incidents | ${n1(m.loadedRssMB)} MB |
| peak RSS during the ingest | ${n1(m.peakRssMB)} MB |
| start-up, empty database (median of ${m.startupEmptyMs.length}) | ${n0(m.startupEmptyMedianMs)} ms |
| start-up, ${n0(m.incidents)} incidents (median of ${m.startupPopulatedMs.length}) | ${n0(m.startupPopulatedMedianMs)} ms |

## Targets

| target | measured | verdict |
| --- | --- | --- |
${v.map((x) => `| ${x.target} | ${x.measured} | ${x.pass ? 'PASS' : 'MISS'} |`).join('\n')}
`;
}
