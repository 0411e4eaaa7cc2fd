import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderCardBlocks } from '../../../src/bot/slack/render.js';
import { buildCard } from '../../../src/core/card-builder.js';
import type { StepState } from '../../../src/core/card.js';
import type { Approval, Incident, StepRun, StoredAlert } from '../../../src/core/domain.js';
import { useLocale, type LocaleSetting } from '../../../src/core/i18n/index.js';
import { offersFor } from '../../../src/core/offers.js';
import { englishIn, shownTexts } from '../../support/no-english.js';
import { alert, at, gitcortexRunbook } from './factories.js';

/**
 * Every state of a card in zh-CN (firing, owned, silenced, escalated, resolved by hand with a note,
 * a step in each state with its approvals), rendered as Slack shows it: no English is left but
 * the data (runbook titles, labels, names). Times are in the configured zone.
 */
const STATES: StepState[] = ['requested', 'approved', 'running', 'succeeded', 'failed', 'timed_out', 'interrupted', 'denied', 'expired'];

describe('the card in zh-CN', () => {
  let previous: LocaleSetting;
  beforeAll(() => {
    previous = useLocale({ locale: 'zh-CN', timeZone: 'Asia/Shanghai' });
  });
  afterAll(() => {
    useLocale(previous);
  });

  const runbook = gitcortexRunbook();
  const labels = { alertname: 'HighLatency', service: 'gitcortex', instance: 'gitcortex-1:3001', severity: 'critical' };
  const base: Incident = {
    id: 7, groupKey: 'g', episode: 1, status: 'firing', severity: 'critical', title: 'HighLatency on gitcortex', receiver: 'chatops-bot',
    groupLabels: { alertname: 'HighLatency', service: 'gitcortex' }, commonLabels: labels, commonAnnotations: { summary: '延迟过高' },
    externalUrl: 'http://alertmanager.example:9093', truncatedAlerts: 3, previousIncidentId: 6, targets: [],
    createdAt: at(0), updatedAt: at(0), lastSeenAt: at(0), resolvedAt: null, acknowledgement: null, silence: null, resolution: null, escalation: null,
  };
  const a = alert('gitcortex-1:3001', { severity: 'critical', annotations: { summary: '延迟过高' } });
  const alerts: StoredAlert[] = [{ incidentId: 7, fingerprint: a.fingerprint, status: 'firing', labels: a.labels, annotations: a.annotations, startsAt: a.startsAt, endsAt: null, generatorUrl: a.generatorURL }];
  const runs: StepRun[] = STATES.map((state, i) => ({
    id: i + 1, incidentId: 7, runbook: 'gitcortex', step: runbook.steps[i % runbook.steps.length]?.id ?? 'status', stepTitle: `步骤${i}`, params: {}, platform: 'slack',
    requestedBy: 'U0ALICE', requestedByName: 'alice', changes: true, requiredApprovals: 1, selfApprove: false, state,
    createdAt: at(10), updatedAt: at(12), startedAt: at(11), finishedAt: at(12),
    result: state === 'succeeded' || state === 'failed' ? { status: state, summary: 'exit 0 in 0.3s', exitCode: 0, durationMs: 300, outputTail: '' } : null,
    runner: null, process: null,
  }));
  // Distinct steps, so each run is the latest of its step and shows on the card.
  const distinct = runs.map((r, i) => ({ ...r, step: `s${i}` }));
  const approvals = new Map<number, Approval[]>(distinct.map((r) => [r.id, [{ runId: r.id, approver: 'slack:U0BOB', approverName: 'bob', decision: r.state === 'denied' ? 'deny' : 'approve', at: at(11), session: null }]]));
  const { offers, unavailable } = offersFor([runbook], labels);
  const DATA = ['HighLatency on gitcortex', 'HighLatency', 'gitcortex', 'critical', 'alice', 'bob', 'carol', 'Alertmanager', ...runbook.steps.flatMap((s) => [s.title, s.id])];

  const variants: Array<[string, Incident]> = [
    ['firing', base],
    ['owned and silenced', { ...base, acknowledgement: { by: 'slack:U0CAROL', byName: 'carol', at: at(60) }, silence: { id: 's-1', by: 'slack:U0CAROL', byName: 'carol', at: at(60), until: at(3660) } }],
    ['escalated', { ...base, escalation: { level: 2, at: at(900) } }],
    ['resolved by hand', { ...base, status: 'resolved', resolvedAt: at(1200), resolution: { by: 'slack:U0CAROL', byName: 'carol', at: at(1200), note: '已回滚' } }],
  ];

  it.each(variants)('%s: no English in what Slack shows', (_name, incident) => {
    const card = buildCard({ incident, alerts, runs: distinct, approvals, approvalTtlMinutes: 15, offers, unavailable, silencing: true, now: at(120) });
    const texts = shownTexts(renderCardBlocks(card)).concat(card.fallbackText);
    expect(texts.flatMap((text) => englishIn(text, { allowed: DATA }))).toEqual([]);
    expect(texts.join('\n')).toContain('UTC+8');
  });

  it('names every step state in Chinese', () => {
    const card = buildCard({ incident: base, alerts, runs: distinct, approvals, approvalTtlMinutes: 15, offers, unavailable, now: at(120) });
    expect(card.steps.map((s) => s.state)).toEqual(STATES);
    const text = shownTexts(renderCardBlocks(card)).join('\n');
    for (const word of ['待审批', '已批准', '执行中', '成功', '失败', '超时', '已中断', '已拒绝', '已过期', '退出码 0，耗时 0.3 秒', 'alice 发起', 'bob 批准']) expect(text).toContain(word);
  });
});
