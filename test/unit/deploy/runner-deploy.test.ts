import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { loadRunnerConfig, runnerEnvSchema } from '../../../src/runner/config.js';
import { findExecutable, parseUnit, ROOT, run, schemaKeys, timespan } from './deploy-kit.js';

/*
 * How a runner is deployed: the systemd unit, the Kubernetes DaemonSet and the image's `runner`
 * command start the runner's built entry point with variables the runner's zod schema knows and a
 * configuration it accepts; its state directory is where it may write and outlives a restart; its
 * runbooks are read-only to it; stopping leaves it time for its grace period.
 */

const RUNNER_KEYS = schemaKeys(runnerEnvSchema);
const GRACE_SECONDS = runnerEnvSchema.shape.RUNNER_STOP_GRACE_SECONDS.parse(undefined);
/** What stopping takes beyond the grace: SIGTERM to SIGKILL of a step's group (5 s), then sending the results. */
const STOP_MARGIN_SECONDS = 15;
const TOKEN = 'deploy-test-token-0123456789abcdef';

function withTokenFile<T>(use: (file: string) => T): T {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runner-deploy-'));
  try {
    const file = path.join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`);
    return use(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('manifests/systemd/chatops-runner.service', () => {
  const unit = parseUnit(readFileSync(path.join(ROOT, 'manifests', 'systemd', 'chatops-runner.service'), 'utf8'));
  const get = (section: string, key: string) => unit.get(section)?.get(key) ?? [];
  const one = (section: string, key: string) => {
    const values = get(section, key);
    expect(values, `[${section}] ${key}= set once`).toHaveLength(1);
    return values[0] ?? '';
  };
  const env = () => Object.fromEntries(get('Service', 'Environment').map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));

  it('starts the runner\'s built entry point as its own unprivileged user', () => {
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(one('Service', 'User')).toBe('chatops-runner');
    expect(one('Service', 'ExecStart')).toBe('/usr/bin/node dist/src/runner.js');
    const scripts = z.object({ scripts: z.record(z.string(), z.string()) }).parse(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')));
    expect(scripts.scripts.runner).toBe('node dist/src/runner.js');
    expect(one('Service', 'Restart')).toBe('on-failure');
    expect(one('Service', 'ExecReload')).toBe('/bin/kill -HUP $MAINPID');
  });

  it('sets only variables the runner knows; its state directory is the unit\'s, the only place it may write', () => {
    const vars = env();
    expect(Object.keys(vars).filter((name) => ![...RUNNER_KEYS, 'NODE_ENV'].includes(name))).toEqual([]);
    expect(vars.RUNNER_STATE_DIR).toBe(`/var/lib/${one('Service', 'StateDirectory')}`);
    expect(get('Service', 'ReadWritePaths').join(' ').split(/\s+/)).toEqual([vars.RUNNER_STATE_DIR]);
    expect(one('Service', 'ProtectSystem')).toBe('strict');
    expect(one('Service', 'NoNewPrivileges')).toBe('yes');
    // The runbooks are not under a writable path: the runner cannot change what it agrees to run.
    expect(vars.RUNBOOKS_DIR?.startsWith('/etc/')).toBe(true);
  });

  it('takes the token as a systemd credential, never from an environment file', () => {
    const [name, source] = one('Service', 'LoadCredential').split(':');
    expect(env().RUNNER_TOKEN_FILE).toBe(`%d/${name}`);
    expect(source).toBe('/etc/chatops-runner/token');
    expect(env().RUNNER_TOKEN).toBeUndefined();
    // With the credential in place and the settings the env file adds, the runner accepts the configuration.
    const config = withTokenFile((file) => loadRunnerConfig({ ...env(), RUNNER_TOKEN_FILE: file, BOT_URL: 'https://chatops.example.com', RUNNER_NAME: 'gitcortex-1' }, 'h'));
    expect(config).toMatchObject({ token: TOKEN, stateDir: '/var/lib/chatops-runner', runbooksDirs: ['/etc/chatops-runner/runbooks'] });
  });

  it('stops with SIGTERM to the runner alone, waiting longer than its grace period', () => {
    expect(one('Service', 'KillSignal')).toBe('SIGTERM');
    expect(one('Service', 'KillMode')).toBe('mixed');
    expect(timespan(one('Service', 'TimeoutStopSec'))).toBeGreaterThanOrEqual(GRACE_SECONDS + STOP_MARGIN_SECONDS);
  });
});

// ---------------------------------------------------------------------------------------------

const Mount = z.object({ name: z.string(), mountPath: z.string(), readOnly: z.boolean().optional() });
const EnvVar = z.strictObject({ name: z.string(), value: z.string().optional(), valueFrom: z.object({ fieldRef: z.object({ fieldPath: z.string() }) }).optional() });
const SecurityContext = z.object({
  runAsNonRoot: z.boolean().optional(),
  runAsUser: z.number().int().optional(),
  allowPrivilegeEscalation: z.boolean().optional(),
  readOnlyRootFilesystem: z.boolean().optional(),
  privileged: z.boolean().optional(),
  capabilities: z.object({ drop: z.array(z.string()).optional(), add: z.array(z.string()).optional() }).optional(),
});
const Container = z.object({
  name: z.string(),
  image: z.string(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  env: z.array(EnvVar).default([]),
  securityContext: SecurityContext,
  volumeMounts: z.array(Mount).default([]),
  resources: z.object({ requests: z.record(z.string(), z.unknown()), limits: z.record(z.string(), z.unknown()) }).optional(),
});
const DaemonSet = z.object({
  apiVersion: z.literal('apps/v1'),
  kind: z.literal('DaemonSet'),
  metadata: z.object({ name: z.string() }),
  spec: z.object({
    selector: z.object({ matchLabels: z.record(z.string(), z.string()) }),
    template: z.object({
      metadata: z.object({ labels: z.record(z.string(), z.string()) }),
      spec: z.object({
        terminationGracePeriodSeconds: z.number().int(),
        hostPID: z.boolean().optional(),
        hostNetwork: z.boolean().optional(),
        securityContext: SecurityContext.extend({ fsGroup: z.number().int().optional() }),
        initContainers: z.array(Container).default([]),
        containers: z.array(Container).length(1),
        volumes: z.array(
          z.object({
            name: z.string(),
            hostPath: z.object({ path: z.string(), type: z.string().optional() }).optional(),
            configMap: z.object({ name: z.string() }).optional(),
            secret: z.object({ secretName: z.string(), defaultMode: z.number().optional() }).optional(),
            emptyDir: z.object({}).loose().optional(),
          }),
        ),
      }),
    }),
  }),
});

describe('manifests/kubernetes/runner-daemonset.yaml', () => {
  const file = path.join(ROOT, 'manifests', 'kubernetes', 'runner-daemonset.yaml');
  const daemonSet = () => {
    const docs = parseAllDocuments(readFileSync(file, 'utf8'));
    const list = Array.isArray(docs) ? docs : [docs];
    expect(list).toHaveLength(1);
    return DaemonSet.parse(list[0]?.toJS());
  };
  const pod = () => daemonSet().spec.template.spec;
  const runner = () => pod().containers[0] as z.output<typeof Container>;
  /** The container's variables as the kubelet gives them, with `$(NODE_NAME)` expanded. */
  const resolvedEnv = (nodeName: string) => {
    const vars: Record<string, string> = {};
    for (const e of runner().env) vars[e.name] = e.valueFrom?.fieldRef.fieldPath === 'spec.nodeName' ? nodeName : (e.value ?? '').replace(/\$\((\w+)\)/g, (_all, name: string) => vars[name] ?? '');
    return vars;
  };
  const volumeAt = (mountPath: string) => {
    const mount = runner().volumeMounts.find((m) => mountPath === m.mountPath || mountPath.startsWith(`${m.mountPath}/`));
    return { mount, volume: pod().volumes.find((v) => v.name === mount?.name) };
  };

  it('runs the image\'s runner command, named after its node', () => {
    expect(daemonSet().spec.template.metadata.labels).toMatchObject(daemonSet().spec.selector.matchLabels);
    expect(runner().args).toEqual(['runner']);
    const env = resolvedEnv('node-1');
    expect(env.RUNNER_NAME).toBe('node-1');
    expect(env.RUNNER_LABELS).toContain('host=node-1');
  });

  it('sets only variables the runner knows (and the node name they use), making a configuration it accepts', () => {
    const helpers = runner().env.filter((e) => e.valueFrom !== undefined).map((e) => e.name);
    expect(helpers).toEqual(['NODE_NAME']);
    expect(runner().env.map((e) => e.name).filter((name) => !RUNNER_KEYS.includes(name) && !helpers.includes(name))).toEqual([]);
    const env = resolvedEnv('node-1');
    const config = withTokenFile((tokenFile) => loadRunnerConfig({ ...env, RUNNER_TOKEN_FILE: tokenFile }, 'pod-name'));
    expect(config).toMatchObject({ name: 'node-1', labels: { host: 'node-1' }, token: TOKEN, stateDir: '/var/lib/chatops-runner' });
  });

  it('reads the token from the Secret and the runbooks from a ConfigMap, both read-only; keeps its state on the node', () => {
    const env = resolvedEnv('node-1');
    const token = volumeAt(env.RUNNER_TOKEN_FILE ?? '');
    expect(token.mount?.readOnly).toBe(true);
    expect(token.volume?.secret?.secretName).toBe('chatops-runner');
    expect(path.posix.basename(env.RUNNER_TOKEN_FILE ?? '')).toBe('RUNNER_TOKEN');
    const runbooks = volumeAt(env.RUNBOOKS_DIR ?? '');
    expect(runbooks.mount?.readOnly).toBe(true);
    expect(runbooks.volume?.configMap?.name).toBe('chatops-runner-runbooks');
    // Job records and unsent results outlive the pod: the state is on the node.
    const state = volumeAt(env.RUNNER_STATE_DIR ?? '');
    expect(state.volume?.hostPath?.path).toBe('/var/lib/chatops-runner');
    expect(pod().initContainers.some((c) => c.volumeMounts.some((m) => m.name === state.mount?.name))).toBe(true);
  });

  it('runs unprivileged, in its own pid namespace, without the cluster API', () => {
    const sc = runner().securityContext;
    expect(sc.runAsNonRoot ?? pod().securityContext.runAsNonRoot).toBe(true);
    expect(sc.runAsUser ?? pod().securityContext.runAsUser).toBe(10001);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(sc.privileged ?? false).toBe(false);
    expect(sc.capabilities?.drop).toContain('ALL');
    expect(sc.capabilities?.add ?? []).toEqual([]);
    expect(pod().hostPID ?? false).toBe(false);
    expect(pod().hostNetwork ?? false).toBe(false);
    expect(readFileSync(file, 'utf8')).toMatch(/automountServiceAccountToken: false/);
    for (const init of pod().initContainers) expect(init.securityContext.allowPrivilegeEscalation).toBe(false);
  });

  it('gives running steps their grace period before the kubelet kills the pod', () => {
    const grace = Number(resolvedEnv('n').RUNNER_STOP_GRACE_SECONDS ?? GRACE_SECONDS);
    expect(pod().terminationGracePeriodSeconds).toBeGreaterThanOrEqual(grace + STOP_MARGIN_SECONDS);
  });

  // Optional (CI does not install kubectl): kustomize renders it on its own, as it is applied.
  const kubectl = findExecutable('kubectl');
  it.skipIf(!kubectl)('kubectl kustomize renders it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'runner-kustomize-'));
    try {
      copyFileSync(file, path.join(dir, 'runner-daemonset.yaml'));
      writeFileSync(path.join(dir, 'kustomization.yaml'), 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [runner-daemonset.yaml]\n');
      const result = run(kubectl ?? 'kubectl', ['kustomize', dir]);
      expect(result.status, result.output).toBe(0);
      expect(result.output).toMatch(/^kind: DaemonSet$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('the image\'s runner command', () => {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

  it('is a script on PATH that starts the runner entry point the build emits', () => {
    const script = /printf '([^']*)' > \/usr\/local\/bin\/runner/.exec(dockerfile)?.[1];
    expect(script, 'the Dockerfile writes /usr/local/bin/runner').toBeDefined();
    expect(script?.replaceAll('\\n', '\n')).toBe('#!/bin/sh\nexec node /app/dist/src/runner.js "$@"\n');
    expect(dockerfile).toMatch(/chmod 0755 \/usr\/local\/bin\/runner/);
    // The build stage checks that the entry point was emitted.
    expect(dockerfile).toMatch(/test -f dist\/src\/runner\.js/);
  });
});
