import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-api.js';
import { ALERT_CHANNEL, startTestBot, type TestBot } from '../support/bot-harness.js';
import { pollUntil } from '../support/bot-process.js';
import { ConsoleClient, sectionOf, textOf, waitFor } from '../support/console-client.js';
import { serviceNotification } from '../support/fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { probePostgres, requireService } from '../support/services.js';

/**
 * A storm in a Slack channel shows in the console too: above the incident list, the same counts
 * line as the Slack digest and every incident the digest lists, in the same order, each linking
 * to its console page and saying whether its card is in Slack yet. Cards are held
 * (STORM_CARDS_PER_MINUTE=1) so that the storm stays open while the pages are compared. On both
 * stores: the console reads the storms through the engine's query.
 */
const INCIDENTS = 10;

const notificationFor = (i: number) => serviceNotification(i, 'c0a50636a2b');

const isDigest = (json: string) => json.includes('Alert storm');
const idsIn = (text: string, pattern: RegExp): number[] => [...text.matchAll(pattern)].map((m) => Number(m[1]));

function stormConsoleSuite(database: () => Promise<{ url: string; drop?: () => Promise<void> }>): void {
  let slack: FakeSlack;
  let t: TestBot;
  let client: ConsoleClient;
  const digest = () => slack.topLevel(ALERT_CHANNEL).find((m) => isDigest(JSON.stringify(m.blocks)));
  const carded = () => new Set(slack.topLevel(ALERT_CHANNEL).filter((m) => !isDigest(JSON.stringify(m.blocks))).flatMap((m) => idsIn(JSON.stringify(m.blocks), /"ack:(\d+)"/g)));

  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const db = await database();
    drop = db.drop;
    slack = await startFakeSlack({ channels: [ALERT_CHANNEL], rateLimit: { postsPerSecondPerChannel: 1, burst: 3 } });
    t = await startTestBot({ slack, runbooks: {}, env: { STORM_DIGEST_AFTER_SECONDS: '1', STORM_CARDS_PER_MINUTE: '1', ...(db.url ? { DATABASE_URL: db.url } : {}) } });
    client = new ConsoleClient(t.url);
  });

  afterAll(async () => {
    await t?.stop();
    await slack?.close();
    await drop?.();
  });

  it('shows no digest without a storm, then the Slack digest’s counts line and every listed incident with a link', async () => {
    const calm = await client.get('/');
    expect(calm.status).toBe(200);
    expect(calm.text).not.toContain('id="storm-digest"');

    for (let i = 0; i < INCIDENTS; i += 1) expect([200, 202]).toContain((await t.postWebhook(notificationFor(i))).status);
    // Every incident is either carded or in the digest; wait until all are accounted for.
    await pollUntil(
      () => {
        const d = digest();
        if (!d) return false;
        const listed = idsIn(JSON.stringify(d.blocks), /#(\d+) /g);
        return new Set([...listed, ...carded()]).size === INCIDENTS;
      },
      30_000,
      'a Slack digest listing every incident without a card',
    );

    // Read both in one go until they show the same moment (a card may go out in between).
    const seen = await waitFor(
      async () => {
        const page = await client.get('/');
        expect(page.status).toBe(200);
        const d = digest();
        if (!d) return undefined;
        const section = sectionOf(page.text, 'storm-digest');
        const summary = textOf(/<p class="digest-summary">([^<]*)<\/p>/.exec(section)?.[1] ?? '').trim();
        return summary === d.text ? { section, summary, slack: d } : undefined;
      },
      30_000,
      'the console to show the Slack digest’s counts line',
    );
    expect(seen.summary).toMatch(/^\d+ incidents \(/);
    expect(seen.summary).toContain('carded');

    const slackIds = idsIn(JSON.stringify(seen.slack.blocks), /#(\d+) /g);
    expect(slackIds.length).toBeGreaterThan(0);
    const consoleIds = idsIn(seen.section, /<li data-incident="(\d+)"/g);
    // Every incident of the digest, in the same order: most severe, then newest, first.
    expect(consoleIds).toEqual(slackIds);
    for (const id of slackIds) expect(seen.section).toContain(`<a href="/console/incidents/${id}">#${id} `);
    expect(textOf(seen.section)).toContain(`Alert storm in slack channel ${ALERT_CHANNEL}`);
    // Each line says where its card is: in Slack, or still to come.
    const states = [...seen.section.matchAll(/<li data-incident="(\d+)" data-carded="(true|false)">.*?<span class="muted">([^<]*)<\/span><\/li>/g)];
    expect(states).toHaveLength(slackIds.length);
    for (const [, , isCarded, state] of states) expect(state).toBe(isCarded === 'true' ? 'carded on slack' : 'card follows');
    expect(states.some(([, , isCarded]) => isCarded === 'false')).toBe(true);

    // The links lead to the incidents' console pages.
    const first = slackIds[0]!;
    const incident = await client.get(`/console/incidents/${first}`);
    expect(incident.status).toBe(200);
    expect(incident.text).toContain('id="card"');
  }, 120_000);
}

// The harness's own SQLite file when no URL is given.
describe('the console during a Slack storm, on SQLite', () => stormConsoleSuite(() => Promise.resolve({ url: '' })));

const postgres = await requireService('PostgreSQL at 127.0.0.1:5432', probePostgres);
postgres.describe('the console during a Slack storm, on PostgreSQL', () =>
  stormConsoleSuite(async () => {
    const db: TestDatabase = await createTestDatabase(postgres.value, 'chatops_storm_console');
    return { url: db.url, drop: () => db.drop() };
  }),
);
