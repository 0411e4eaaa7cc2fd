import { describe, expect, it } from 'vitest';
import type { Approval, AuditEvent, Incident, StepRun, StoredAlert } from '../../../src/core/domain.js';
import { createRedactor } from '../../../src/domain/redact.js';
import { buildTimelineMarkdown, timelineFigures, timelineSummary, type TimelineInput } from '../../../src/core/timeline.js';
import { at } from './factories.js';

const incident: Incident = {
  id: 7,
  groupKey: 'g',
  episode: 1,
  status: 'resolved',
  severity: 'critical',
  title: 'HighLatency on gitcortex',
  receiver: 'bot',
  groupLabels: { alertname: 'HighLatency', service: 'gitcortex' },
  commonLabels: {},
  commonAnnotations: {},
  externalUrl: '',
  truncatedAlerts: 0,
  previousIncidentId: null,
  targets: [],
  createdAt: at(60),
  updatedAt: at(3_660),
  lastSeenAt: at(3_660),
  resolvedAt: at(3_660),
  acknowledgement: { by: 'slack:U0ALICE', byName: 'alice', at: at(360) },
  silence: { id: 'sil-1', by: 'slack:U0BOB', byName: 'bob', at: at(400), until: at(4_000) },
  resolution: { by: 'slack:U0ALICE', byName: 'alice', at: at(3_660), note: 'pool | restarted' },
  escalation: null,
};

const alerts: StoredAlert[] = [
  { incidentId: 7, fingerprint: 'a', status: 'resolved', labels: {}, annotations: {}, startsAt: at(30), endsAt: null, generatorUrl: null },
  { incidentId: 7, fingerprint: 'b', status: 'resolved', labels: {}, annotations: {}, startsAt: at(0), endsAt: null, generatorUrl: null },
];

const run: StepRun = {
  id: 3,
  incidentId: 7,
  runbook: 'gitcortex',
  step: 'restart',
  stepTitle: 'Restart GitCortex',
  params: {},
  platform: 'slack',
  requestedBy: 'U0ALICE',
  requestedByName: 'alice',
  changes: true,
  requiredApprovals: 1,
  selfApprove: false,
  state: 'succeeded',
  createdAt: at(500),
  updatedAt: at(600),
  startedAt: at(550),
  finishedAt: at(600),
  result: { status: 'succeeded', summary: 'exit 0 in 1.2s', durationMs: 1200, outputTail: '' },
  runner: 'replica-a',
  process: null,
};
const approvals: Approval[] = [
  { runId: 3, approver: 'U0BOB', approverName: 'bob', decision: 'approve', at: at(540) },
  { runId: 3, approver: 'U0DAVE', approverName: 'dave', decision: 'deny', at: at(541) },
];

function event(seq: number, s: number, actor: string, kind: string, text: string): AuditEvent {
  return { seq, at: at(s), incidentId: 7, actor, kind, text, data: {}, prevHash: '', hash: '' };
}

const audit: AuditEvent[] = [
  event(1, 60, 'system', 'alert.received', '🚨 Incident #7 opened'),
  event(2, 360, 'slack:U0ALICE', 'incident.ack', 'alice acknowledged'),
  event(3, 700, 'system', 'incident.escalated', 'paged the secondary with token xoxb-123456789-abcdefgh'),
  event(4, 3_660, 'slack:U0ALICE', 'incident.resolved', 'alice resolved\nby hand'),
];

const input: TimelineInput = { incident, alerts, runs: [run], approvals, audit };
const redact = createRedactor([]);

describe('timeline', () => {
  it('measures time to acknowledge and to resolve from the opening, and lists who requested and approved each action', () => {
    const figures = timelineFigures(input);
    expect(figures).toEqual({
      alertStart: at(0),
      timeToAcknowledgeMs: 300_000,
      timeToResolveMs: 3_600_000,
      actions: [{ title: 'Restart GitCortex', state: 'succeeded', requestedBy: 'alice', approvedBy: ['bob'], result: 'exit 0 in 1.2s' }],
    });
    expect(timelineSummary(figures)).toBe(
      'Time to acknowledge: 5m. Time to resolve: 1h 00m. Actions: Restart GitCortex (requested by alice, approved by bob; succeeded).',
    );
  });

  it('says so when nobody acknowledged and nothing ran while it is open', () => {
    const open = { ...incident, status: 'firing' as const, resolvedAt: null, acknowledgement: null, resolution: null };
    expect(timelineSummary(timelineFigures({ incident: open, alerts, runs: [], approvals: [] }))).toBe(
      'Time to acknowledge: never acknowledged. Time to resolve: still open. Actions: none.',
    );
  });

  it('renders Markdown with the figures, an actions table and every event, unknown kinds included, redacted', () => {
    const md = buildTimelineMarkdown(input, redact);
    expect(md.split('\n').slice(0, 14)).toEqual([
      '# Incident #7: HighLatency on gitcortex',
      '',
      '- **Severity:** critical',
      '- **Status:** resolved',
      '- **Group:** alertname=HighLatency, service=gitcortex',
      '- **Alert started:** 2026-11-22 01:37 UTC',
      '- **Incident opened:** 2026-11-22 01:38 UTC',
      '- **Acknowledged:** 2026-11-22 01:43 UTC by alice',
      '- **Silenced:** by bob at 2026-11-22 01:44 UTC until 2026-11-22 02:44 UTC (silence sil-1)',
      '- **Resolved:** 2026-11-22 02:38 UTC by alice: pool \\| restarted',
      '- **Time to acknowledge:** 5m',
      '- **Time to resolve:** 1h 00m',
      '',
      '## Actions',
    ]);
    expect(md).toContain('| Restart GitCortex | alice | bob | succeeded | exit 0 in 1.2s |');
    expect(md).toContain('- 2026-11-22 01:43:37 UTC · `incident.ack` · alice: alice acknowledged');
    expect(md).toContain('· `incident.escalated` · system: paged the secondary with token [REDACTED]');
    expect(md).toContain('alice resolved by hand');
    expect(md).not.toContain('xoxb-');
    expect(md.endsWith('\n')).toBe(true);
  });

  it('redacts configured secret values wherever they appear', () => {
    const secret = 'hunter2-very-secret';
    const md = buildTimelineMarkdown({ ...input, audit: [event(1, 1, 'system', 'step.finished', `output: ${secret}`)] }, createRedactor([secret]));
    expect(md).not.toContain(secret);
    expect(md).toContain('output: [REDACTED]');
  });
});
