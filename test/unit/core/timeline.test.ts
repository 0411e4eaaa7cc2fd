import { describe, expect, it } from 'vitest';
import type { Approval, AuditEvent, Incident, StepRun, StoredAlert } from '../../../src/core/domain.js';
import { createRedactor } from '../../../src/domain/redact.js';
import { buildTimelineMarkdown, timelineFigures, timelineSummary, type TimelineInput } from '../../../src/core/timeline.js';
import { useLocale } from '../../../src/core/i18n/index.js';
import { englishIn } from '../../support/no-english.js';
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

  it('writes its headings, fields and table in zh-CN, times in UTC+8', () => {
    const previous = useLocale({ locale: 'zh-CN', timeZone: 'Asia/Shanghai' });
    try {
      // The events are the audit trail's texts as recorded (here English): only the frame is checked.
      const md = buildTimelineMarkdown({ ...input, audit: [] }, redact);
      expect(md.split('\n').slice(0, 17)).toEqual([
        '# 事件 #7：HighLatency on gitcortex',
        '',
        '- **级别：** critical',
        '- **状态：** 已恢复',
        '- **分组：** alertname=HighLatency, service=gitcortex',
        '- **告警开始：** 2026-11-22 09:37 UTC+8',
        '- **事件创建：** 2026-11-22 09:38 UTC+8',
        '- **认领：** 2026-11-22 09:43 UTC+8，alice',
        '- **静默：** bob 于 2026-11-22 09:44 UTC+8 设置，至 2026-11-22 10:44 UTC+8（静默 sil-1）',
        '- **恢复：** 2026-11-22 10:38 UTC+8，由 alice 处理：pool \\| restarted',
        '- **认领耗时：** 5 分钟',
        '- **恢复耗时：** 1 小时 00 分',
        '',
        '## 处置操作',
        '',
        '| 步骤 | 发起人 | 审批人 | 状态 | 结果 |',
        '| --- | --- | --- | --- | --- |',
      ]);
      expect(md).toContain('## 事件记录');
      expect(md).toContain('没有记录任何事件。');
      const frame = md.replace(/^\| Restart GitCortex .*$/m, '');
      expect(englishIn(frame, { allowed: ['HighLatency on gitcortex', 'critical', 'alice', 'bob', 'pool', 'restarted'] })).toEqual([]);
    } finally {
      useLocale(previous);
    }
  });

  it('redacts configured secret values wherever they appear', () => {
    const secret = 'hunter2-very-secret';
    const md = buildTimelineMarkdown({ ...input, audit: [event(1, 1, 'system', 'step.finished', `output: ${secret}`)] }, createRedactor([secret]));
    expect(md).not.toContain(secret);
    expect(md).toContain('output: [REDACTED]');
  });
});
