import { describe, expect, it } from 'vitest';
import { describeStep, parseRunbook } from '../../../src/runbooks/index.js';
import { registryProblems } from '../../../src/runbooks/actions/registry.js';

/*
 * The manifest examples for restart, rollback and verify, as an operator would write them: they
 * load (with templates still in place), and each step describes itself in one line.
 */
const MANIFEST = `
name: gitcortex-ops
match: { service: gitcortex }
params:
  instance: { fromLabel: instance, pattern: '[a-z0-9.-]+:[0-9]+' }
  unit: { default: gitcortex, pattern: '[a-z0-9@._-]+' }
  prometheus: { default: 'http://prometheus:9090', pattern: 'https?://[a-z0-9.:-]+' }
  pgport: { default: '5432', pattern: '[0-9]+' }
steps:
  - id: health
    title: Wait until healthy
    action: verify
    with: { kind: http, url: 'http://{{instance}}/api/health', expectStatus: [200, 204], bodyContains: ok, intervalSeconds: 2, withinSeconds: 30 }
  - id: db
    title: Database answers
    action: verify
    env: [PGPASSWORD]
    with: { kind: sql, engine: postgres, host: db.internal, port: '{{pgport}}', user: gitcortex, database: gitcortex }
  - id: alert-cleared
    title: Alert cleared
    action: verify
    with: { kind: prometheus, url: '{{prometheus}}', query: 'up{job="gitcortex"} == 0', expect: empty, withinSeconds: 120, intervalSeconds: 10 }
    timeoutSeconds: 150
  - id: restart
    title: Restart GitCortex
    action: restart
    changes: true
    timeoutSeconds: 90
    with:
      kind: systemd
      unit: '{{unit}}'
      withinSeconds: 30
      verify: { kind: http, url: 'http://{{instance}}/api/health' }
  - id: restart-web
    title: Restart web container
    action: restart
    changes: true
    env: [DOCKER_HOST]
    with: { kind: compose, service: web, projectDir: /srv/gitcortex, file: compose.prod.yaml }
  - id: restart-api
    title: Restart API pods
    action: restart
    changes: true
    env: [KUBECONFIG]
    with: { kind: kubernetes, deployment: gitcortex-api, namespace: prod, context: eu-west, withinSeconds: 45 }
  - id: restart-worker
    title: Restart worker
    action: restart
    changes: true
    with:
      kind: command
      run: [supervisorctl, restart, gitcortex-worker]
      verify: { kind: sql, engine: mysql, host: 127.0.0.1, user: worker, database: jobs }
  - id: rollback
    title: Roll back release
    action: rollback
    changes: true
    danger: true
    timeoutSeconds: 120
    with:
      kind: symlink
      current: /srv/gitcortex/current
      releasesDir: /srv/gitcortex/releases
      restart: { kind: systemd, unit: '{{unit}}' }
      verify: { kind: http, url: 'http://{{instance}}/api/health', bodyContains: '"status":"ok"' }
  - id: rollback-k8s
    title: Undo API rollout
    action: rollback
    changes: true
    env: [KUBECONFIG]
    with:
      kind: command
      run: [kubectl, rollout, undo, deployment/gitcortex-api, -n, prod]
      restart: { kind: kubernetes, deployment: gitcortex-api, namespace: prod }
`;

describe('operation actions in a manifest', () => {
  it('are all registered', () => {
    expect(registryProblems().filter((p) => /"(restart|rollback|verify)"/.test(p))).toEqual([]);
  });

  it('load with templates in place and describe every step', () => {
    const runbook = parseRunbook(MANIFEST, 'gitcortex-ops.yaml');
    const params = { instance: 'git.internal:8080', unit: 'gitcortex', prometheus: 'http://prometheus:9090', pgport: '5432' };
    expect(runbook.steps.map((s) => describeStep(s, params))).toEqual([
      'will check that http://git.internal:8080/api/health answers 200 or 204 with a body containing "ok" (every 2s, within 30s) (timeout 60s)',
      'will check that postgres gitcortex@db.internal:5432/gitcortex answers SELECT 1 (every 2s, within 30s) (timeout 60s)',
      'will check that Prometheus http://prometheus:9090 returns no series for `up{job="gitcortex"} == 0` (every 10s, within 120s) (timeout 150s)',
      'will restart systemd unit gitcortex and wait until active (30s), then verify that http://git.internal:8080/api/health answers 200 (within 30s) (timeout 90s)',
      'will restart compose service web in /srv/gitcortex (file compose.prod.yaml) and wait until running (30s) (timeout 60s)',
      'will restart deployment/gitcortex-api in namespace prod (context eu-west) and wait for the rollout (45s) (timeout 60s)',
      'will run `supervisorctl restart gitcortex-worker`, then verify that mysql worker@127.0.0.1:3306/jobs answers SELECT 1 (within 30s) (timeout 60s)',
      'will switch /srv/gitcortex/current to the release before the current one in /srv/gitcortex/releases (not possible now: cannot read /srv/gitcortex/current: ENOENT), ' +
        'then restart systemd unit gitcortex and wait until active (30s), then verify that http://git.internal:8080/api/health answers 200 with a body containing "\\"status\\":\\"ok\\"" (within 30s) (timeout 120s)',
      'will run `kubectl rollout undo deployment/gitcortex-api -n prod`, then restart deployment/gitcortex-api in namespace prod and wait for the rollout (30s) (timeout 60s)',
    ]);
  });

  it('name the path of a bad input inside `with:`', () => {
    const bad = MANIFEST.replace('kind: symlink', 'kind: symlinks').replace("withinSeconds: 45", 'withinSeconds: 0');
    expect(() => parseRunbook(bad, 'bad.yaml')).toThrow(/bad\.yaml: steps\.5\.with\.withinSeconds: .*\n.*bad\.yaml: steps\.7\.with\.kind: Invalid discriminator value/);
  });
});
