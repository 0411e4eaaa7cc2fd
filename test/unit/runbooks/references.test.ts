import { describe, expect, it } from 'vitest';
import { parseRunbook } from '../../../src/runbooks/loader.js';

/** `pick` and `checkpoint` tie steps and chosen params of one runbook together; bad ties fail at load. */
const manifest = (steps: string, params = '') => `
name: db
match: { service: db }
params:
  dir: { default: /backups, pattern: '/[a-z/]+' }
  backup: { chosen: true, pattern: '/[A-Za-z0-9/._-]+' }
${params}
steps:
  - id: snap
    title: Snapshot
    action: exec
    run: ['true']
${steps}
`;

const restoreStep = `
  - id: restore
    title: Restore
    action: exec
    run: [echo, '{{backup}}']
    changes: true
    pick: { param: backup, dir: '{{dir}}', prefix: db- }
`;

describe('runbook step references', () => {
  it('accepts a picker on a chosen param and a checkpoint that names real steps', () => {
    const rb = parseRunbook(
      manifest(`${restoreStep}
  - id: upgrade
    title: Upgrade
    action: exec
    run: ['true']
    changes: true
    checkpoint: { step: snap, rollback: restore, param: backup }
`),
      'db.yaml',
    );
    expect(rb.steps.find((s) => s.id === 'restore')?.pick).toEqual({ param: 'backup', dir: '{{dir}}', prefix: 'db-', limit: 5, names: [], safety: false });
    expect(rb.steps.find((s) => s.id === 'upgrade')?.checkpoint).toEqual({ step: 'snap', rollback: 'restore', param: 'backup' });
    expect(rb.params.backup?.chosen).toBe(true);
  });

  it('refuses a chosen param with a label or default', () => {
    expect(() => parseRunbook(manifest('', '  other: { chosen: true, default: x, pattern: x }'), 'db.yaml')).toThrow(
      'db.yaml: params.other: a chosen param takes no fromLabel or default: its value is chosen in chat',
    );
  });

  it('refuses a picker for a param that is not chosen, and unknown params in its directory', () => {
    const bad = restoreStep.replace('param: backup', 'param: dir').replace("'{{dir}}'", "'{{nope}}'");
    const message = (() => {
      try {
        parseRunbook(manifest(bad), 'db.yaml');
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toContain('db.yaml: steps.1.pick.param: "dir" must be a declared param with chosen: true');
    expect(message).toContain('db.yaml: steps.1.pick: pick uses unknown param "nope"');
  });

  it('refuses a checkpoint on a read-only step, to a missing step, or through a changing snapshot step', () => {
    const steps = `${restoreStep}
  - id: look
    title: Look
    action: exec
    run: ['true']
    checkpoint: { step: ghost, rollback: nowhere, param: backup }
  - id: upgrade
    title: Upgrade
    action: exec
    run: ['true']
    changes: true
    checkpoint: { step: restore, rollback: restore, param: backup }
`;
    let message = '';
    try {
      parseRunbook(manifest(steps), 'db.yaml');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('steps.2.checkpoint: only a step with changes: true takes a pre-change checkpoint');
    expect(message).toContain('steps.2.checkpoint.step: no other step "ghost" in this runbook');
    expect(message).toContain('steps.2.checkpoint.rollback: no step "nowhere" in this runbook');
    expect(message).toContain('steps.3.checkpoint.step: checkpoint step "restore" must not itself need approval');
  });
});

describe('restart is always followed by a verify', () => {
  it('refuses a restart by command without verify:, and accepts it with one', () => {
    const restart = (extra: string) => `
name: svc
match: {}
steps:
  - id: restart
    title: Restart
    action: restart
    changes: true
    with: { kind: command, run: [supervisorctl, restart, app]${extra} }
`;
    expect(() => parseRunbook(restart(''), 'svc.yaml')).toThrow('svc.yaml: steps.0.with.verify: a restart by command needs verify: (http or sql)');
    expect(parseRunbook(restart(", verify: { kind: http, url: 'http://127.0.0.1:8080/health' }"), 'svc.yaml').steps).toHaveLength(1);
  });
});
