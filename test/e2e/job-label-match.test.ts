import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Card } from '../../src/core/card.js';
import { describeWithAlertmanager, startAlertmanager, type RunningAlertmanager } from '../support/alertmanager.js';
import { startTestBot, WEBHOOK_TOKEN, type TestBot } from '../support/bot-harness.js';

/*
 * The GitCortex manual's own alert rule, `up{job="gitcortex"} == 0`, sends GitCortexDown with a
 * `job` label and no `service` label. Through the real Alertmanager it reaches the shipped GitCortex
 * runbooks (their alsoMatch on job=gitcortex); an alert no runbook matches gets a card that says
 * which labels were looked at and what the nearest runbook wanted.
 */

const SHIPPED = ['gitcortex.yaml', 'gitcortex-down.yaml', 'gitcortex-recovery.yaml', 'opentruss.yaml'];

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const stepIds = (card: Card) => [...card.buttons, ...(card.menu?.options ?? [])].map((b) => b.id).filter((id) => id.startsWith('run-step:'));

describeWithAlertmanager('the manual\'s job label through the real Alertmanager', () => {
  let t: TestBot;
  let am: RunningAlertmanager;

  beforeAll(async () => {
    const runbooks = Object.fromEntries(await Promise.all(SHIPPED.map(async (f) => [f, await readFile(path.resolve('manifests/runbooks', f), 'utf8')] as const)));
    t = await startTestBot({ runbooks, env: { CONSOLE: 'on' } });
    am = await startAlertmanager({ webhookUrl: `${t.url}/webhooks/alertmanager`, bearerToken: WEBHOOK_TOKEN, groupBy: ['alertname', 'job'] });
  }, 60_000);
  afterAll(async () => {
    await am?.stop();
    await t?.stop();
  });

  const cardOf = (alertname: string) =>
    until(`the card of ${alertname}`, async () => {
      const incident = (await t.bot.engine.recentIncidents(10)).find((i) => i.commonLabels.alertname === alertname);
      return incident && (await t.bot.engine.incidentCard(incident.id));
    });

  it('offers the GitCortex steps for GitCortexDown labelled job=gitcortex (no service label)', async () => {
    await am.fireAlerts([{ labels: { alertname: 'GitCortexDown', job: 'gitcortex', instance: 'gitcortex-1:3001', severity: 'critical' }, annotations: { summary: 'GitCortex 服务不可用' } }]);
    const card = await cardOf('GitCortexDown');
    const ids = stepIds(card);
    expect(ids.some((id) => id.includes(':gitcortex-down:'))).toBe(true);
    expect(ids.some((id) => id.includes(':gitcortex:health'))).toBe(true);
    expect(ids.some((id) => id.includes(':opentruss:'))).toBe(false);
    expect(card.description ?? '').not.toContain('No runbook matches');
  }, 60_000);

  it('says on the card why an alert reaches no runbook, naming the labels looked at', async () => {
    await am.fireAlerts([{ labels: { alertname: 'GitCortexDown', job: 'gitcortex-staging', severity: 'critical' } }]);
    const card = await until('the unmatched card', async () => {
      const incident = (await t.bot.engine.recentIncidents(10)).find((i) => i.commonLabels.job === 'gitcortex-staging');
      return incident && (await t.bot.engine.incidentCard(incident.id));
    });
    expect(stepIds(card)).toEqual([]);
    expect(card.description).toContain('No runbook matches this alert. Labels looked at: alertname=GitCortexDown, job=gitcortex-staging, service=(absent)');
    expect(card.description).toMatch(/nearest: gitcortex(-down)?, which wants /);
  }, 60_000);
});
