import { describe, expect, it } from 'vitest';
import { resolveStepRef } from '../../../src/core/jobs.js';
import { parseRunbook } from '../../../src/runbooks/loader.js';

const runbook = parseRunbook(
  `name: shop
match: {}
steps:
  - { id: ps, title: Containers, action: compose, with: { command: ps, projectDir: /srv/shop } }
  - { id: logs, title: Logs, action: compose, with: { command: logs, service: web, projectDir: /srv/shop } }
  - { id: exec, title: Exec, action: compose, with: { command: exec, service: web, run: [ls], projectDir: /srv/shop } }
  - { id: down, title: Down, action: compose, changes: true, with: { command: down, projectDir: /srv/shop } }
`,
  'shop.yaml',
);

describe('a checklist and compose steps', () => {
  it('takes compose ps and logs (they only look), and refuses exec and anything that changes', () => {
    const ref = (step: string) => resolveStepRef([runbook], { runbook: 'shop', step, labels: {} }, 'checklist');
    expect(ref('ps').ok).toBe(true);
    expect(ref('logs').ok).toBe(true);
    expect(ref('exec')).toEqual({ ok: false, problem: 'step "shop/exec" (action compose) is not read-only; a checklist runs verify, http, exec, locate and compose ps/logs checks only' });
    const down = ref('down');
    expect(down.ok).toBe(false);
    expect(down.ok ? '' : down.problem).toMatch(/changes a system/);
  });
});
