import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { loadConfig } from '../../../src/settings/config.js';
import { findExecutable, ROOT, run, schemaDefault, schemaKeys } from './deploy-kit.js';

/*
 * manifests/kubernetes: the objects parse and have the expected kinds, the probes reach the bot's
 * /healthz and /readyz on the container's port, the pod cannot run as root or escalate, every
 * variable the Deployment sets is one the bot's zod schema knows (so a renamed setting cannot
 * silently stop applying), and its plain settings alone make a configuration the bot accepts.
 */

const DIR = path.join(ROOT, 'manifests', 'kubernetes');

/** The parsed documents of one file; fails on any YAML error or warning. */
function documents(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8'), { prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    const problems = [...doc.errors, ...doc.warnings].map((e) => e.message);
    if (problems.length > 0) throw new Error(`${file}: ${problems.join('\n')}`);
  }
  return list.map((doc) => doc.toJS() as unknown).filter((value) => value !== null && value !== undefined);
}

const Meta = z.object({ name: z.string().min(1), labels: z.record(z.string(), z.string()).optional() });
const Port = z.union([z.string(), z.number().int()]);

const EnvVar = z.strictObject({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: z
    .object({
      secretKeyRef: z.object({ name: z.string(), key: z.string(), optional: z.boolean().optional() }).optional(),
      configMapKeyRef: z.object({ name: z.string(), key: z.string(), optional: z.boolean().optional() }).optional(),
      fieldRef: z.object({ fieldPath: z.string() }).optional(),
    })
    .optional(),
});
type EnvVar = z.infer<typeof EnvVar>;

const Probe = z.object({ httpGet: z.object({ path: z.string(), port: Port, scheme: z.string().optional() }) });

const SecurityContext = z.object({
  runAsNonRoot: z.boolean().optional(),
  runAsUser: z.number().int().optional(),
  runAsGroup: z.number().int().optional(),
  allowPrivilegeEscalation: z.boolean().optional(),
  readOnlyRootFilesystem: z.boolean().optional(),
  privileged: z.boolean().optional(),
  capabilities: z.object({ drop: z.array(z.string()).optional(), add: z.array(z.string()).optional() }).optional(),
});

const Container = z.object({
  name: z.string(),
  image: z.string().min(1),
  ports: z.array(z.object({ name: z.string().optional(), containerPort: z.number().int(), protocol: z.string().optional() })).min(1),
  env: z.array(EnvVar).default([]),
  envFrom: z.array(z.unknown()).optional(),
  livenessProbe: Probe,
  readinessProbe: Probe,
  resources: z.object({
    requests: z.record(z.string(), z.union([z.string(), z.number()])),
    limits: z.record(z.string(), z.union([z.string(), z.number()])),
  }),
  securityContext: SecurityContext,
  volumeMounts: z.array(z.object({ name: z.string(), mountPath: z.string(), readOnly: z.boolean().optional() })).default([]),
});
type Container = z.infer<typeof Container>;

const Deployment = z.object({
  apiVersion: z.literal('apps/v1'),
  kind: z.literal('Deployment'),
  metadata: Meta,
  spec: z.object({
    replicas: z.number().int(),
    strategy: z.object({ type: z.string() }),
    selector: z.object({ matchLabels: z.record(z.string(), z.string()) }),
    template: z.object({
      metadata: z.object({ labels: z.record(z.string(), z.string()) }),
      spec: z.object({
        terminationGracePeriodSeconds: z.number().int().positive(),
        securityContext: SecurityContext.extend({ fsGroup: z.number().int().optional() }).default({}),
        containers: z.array(Container).length(1),
        volumes: z
          .array(
            z.object({
              name: z.string(),
              persistentVolumeClaim: z.object({ claimName: z.string() }).optional(),
              emptyDir: z.object({}).loose().optional(),
              configMap: z.object({ name: z.string() }).optional(),
            }),
          )
          .default([]),
      }),
    }),
  }),
});

const Service = z.object({
  apiVersion: z.literal('v1'),
  kind: z.literal('Service'),
  metadata: Meta,
  spec: z.object({
    selector: z.record(z.string(), z.string()),
    ports: z.array(z.object({ name: z.string().optional(), port: z.number().int(), targetPort: Port.optional() })).min(1),
  }),
});

const PersistentVolumeClaim = z.object({
  apiVersion: z.literal('v1'),
  kind: z.literal('PersistentVolumeClaim'),
  metadata: Meta,
  spec: z.object({ accessModes: z.array(z.string()).min(1), resources: z.object({ requests: z.object({ storage: z.string() }) }) }),
});

const Secret = z.object({
  apiVersion: z.literal('v1'),
  kind: z.literal('Secret'),
  metadata: Meta,
  type: z.string().optional(),
  stringData: z.record(z.string(), z.string()),
  data: z.never().optional(),
});

const Kustomization = z.object({
  apiVersion: z.literal('kustomize.config.k8s.io/v1beta1'),
  kind: z.literal('Kustomization'),
  resources: z.array(z.string()).min(1),
});

function single<T>(file: string, schema: z.ZodType<T>): T {
  const docs = documents(file);
  expect(docs, `${file} holds exactly one object`).toHaveLength(1);
  const parsed = schema.safeParse(docs[0]);
  if (!parsed.success) throw new Error(`${file}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

const deployment = () => single('deployment.yaml', Deployment);
const container = (): Container => deployment().spec.template.spec.containers[0] as Container;
const service = () => single('service.yaml', Service);
const pvc = () => single('pvc.yaml', PersistentVolumeClaim);
const secret = () => single('secret.example.yaml', Secret);
const kustomization = () => single('kustomization.yaml', Kustomization);

/** A probe's or Service's port (a number or a container port name) as the container port number. */
function containerPortOf(port: string | number, c: Container): number | undefined {
  if (typeof port === 'number') return c.ports.some((p) => p.containerPort === port) ? port : undefined;
  if (/^\d+$/.test(port)) return containerPortOf(Number(port), c);
  return c.ports.find((p) => p.name === port)?.containerPort;
}

const plainEnv = (c: Container): Record<string, string> =>
  Object.fromEntries(c.env.filter((e): e is EnvVar & { value: string } => e.value !== undefined).map((e) => [e.name, e.value]));

describe('manifests/kubernetes', () => {
  it('every file parses as YAML and is a Kubernetes or Kustomize object', () => {
    const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
    expect(files.sort()).toEqual(expect.arrayContaining(['deployment.yaml', 'kustomization.yaml', 'pvc.yaml', 'secret.example.yaml', 'service.yaml']));
    for (const file of files) {
      for (const doc of documents(file)) {
        const head = z.object({ apiVersion: z.string().min(1), kind: z.string().min(1) }).safeParse(doc);
        expect(head.success, `${file}: every document has apiVersion and kind`).toBe(true);
      }
    }
  });

  it('has the expected kinds and apiVersions', () => {
    expect(deployment().kind).toBe('Deployment');
    expect(service().kind).toBe('Service');
    expect(pvc().kind).toBe('PersistentVolumeClaim');
    expect(secret().kind).toBe('Secret');
    expect(kustomization().kind).toBe('Kustomization');
  });

  it('the kustomization lists every manifest but the example Secret and the runner DaemonSet', () => {
    const listed = kustomization().resources;
    // The runner DaemonSet goes to the clusters where steps run, with its own Secret (runner-deploy.test.ts).
    const separate = ['kustomization.yaml', 'secret.example.yaml', 'runner-daemonset.yaml'];
    const manifests = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f) && !separate.includes(f));
    expect([...listed].sort()).toEqual(manifests.sort());
    expect(listed).not.toContain('secret.example.yaml');
    expect(listed).not.toContain('runner-daemonset.yaml');
  });

  it('runs one replica with the Recreate strategy (SQLite has a single writer)', () => {
    const d = deployment();
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.strategy.type).toBe('Recreate');
    expect(readFileSync(path.join(DIR, 'deployment.yaml'), 'utf8')).toMatch(/single writer/i);
    expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
  });

  it('probes /healthz (liveness) and /readyz (readiness) on the container port the bot listens on', () => {
    const c = container();
    const port = Number(plainEnv(c).PORT ?? schemaDefault('PORT'));
    expect(c.ports.map((p) => p.containerPort)).toContain(port);
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(containerPortOf(c.livenessProbe.httpGet.port, c)).toBe(port);
    expect(containerPortOf(c.readinessProbe.httpGet.port, c)).toBe(port);
    // The pod must be reachable from the Service, so the bot listens beyond loopback.
    expect(plainEnv(c).HOST ?? schemaDefault('HOST')).toBe('0.0.0.0');
  });

  it('the Service selects the pod and forwards to the container port', () => {
    const d = deployment();
    const s = service();
    expect(d.spec.template.metadata.labels).toMatchObject(s.spec.selector);
    const c = container();
    for (const p of s.spec.ports) expect(containerPortOf(p.targetPort ?? p.port, c), `service port ${p.port}`).toBe(c.ports[0]?.containerPort);
  });

  it('runs as non-root, without privilege escalation, on a read-only root filesystem, with no capabilities', () => {
    const pod = deployment().spec.template.spec.securityContext;
    const sc = container().securityContext;
    expect(sc.runAsNonRoot ?? pod.runAsNonRoot).toBe(true);
    const uid = sc.runAsUser ?? pod.runAsUser;
    expect(uid).toBeDefined();
    expect(uid).not.toBe(0);
    expect(uid).toBe(10001); // the image's USER (Dockerfile)
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(sc.privileged ?? false).toBe(false);
    expect(sc.capabilities?.drop).toContain('ALL');
    expect(sc.capabilities?.add ?? []).toEqual([]);
  });

  it('keeps the store on the PersistentVolumeClaim and gives steps a writable /tmp', () => {
    const d = deployment();
    const c = container();
    const claim = pvc();
    expect(claim.spec.accessModes).toEqual(['ReadWriteOnce']);
    const dataVolume = d.spec.template.spec.volumes.find((v) => v.persistentVolumeClaim?.claimName === claim.metadata.name);
    expect(dataVolume, `a volume for the claim ${claim.metadata.name}`).toBeDefined();
    const dataMount = c.volumeMounts.find((m) => m.name === dataVolume?.name);
    expect(dataMount?.mountPath).toBe('/data');
    const database = (plainEnv(c).DATABASE_URL ?? '').replace(/^(sqlite|file):(\/\/)?/, '');
    expect(database.startsWith(`${dataMount?.mountPath}/`), `DATABASE_URL ${database} lies on the volume`).toBe(true);
    const tmp = c.volumeMounts.find((m) => m.mountPath === '/tmp');
    expect(d.spec.template.spec.volumes.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
  });

  it('sizes the claim for the WAL a storm may grow to, with as much again for the database', () => {
    const storage = /^(\d+)(Mi|Gi)$/.exec(pvc().spec.resources.requests.storage);
    expect(storage, 'storage in Mi or Gi').not.toBeNull();
    const claimMb = Number(storage![1]) * (storage![2] === 'Gi' ? 1024 : 1);
    const walLimitMb = loadConfig(plainEnv(container())).sqliteWalLimitMb;
    expect(claimMb).toBeGreaterThanOrEqual(2 * walLimitMb);
  });

  it('sets requests and a memory limit', () => {
    const { requests, limits } = container().resources;
    expect(Object.keys(requests)).toEqual(expect.arrayContaining(['cpu', 'memory']));
    expect(Object.keys(limits)).toContain('memory');
  });

  it('every variable it sets is one the bot\'s zod schema knows', () => {
    const known = schemaKeys();
    const unknown = container()
      .env.map((e) => e.name)
      .filter((name) => !known.includes(name));
    expect(unknown, `variables in deployment.yaml that src/settings/config.ts does not read: ${unknown.join(', ')}`).toEqual([]);
    expect(container().envFrom, 'envFrom would hide which variables are set').toBeUndefined();
    const names = container().env.map((e) => e.name);
    expect(new Set(names).size, 'no variable twice').toBe(names.length);
  });

  it('takes the credentials from the Secret through optional secretKeyRefs, and nothing else', () => {
    const fromSecret = container().env.filter((e) => e.valueFrom?.secretKeyRef);
    const names = fromSecret.map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'DISCORD_BOT_TOKEN', 'ALERTMANAGER_WEBHOOK_TOKEN']));
    const example = secret();
    for (const e of fromSecret) {
      const ref = e.valueFrom?.secretKeyRef;
      expect(ref?.name).toBe(example.metadata.name);
      expect(ref?.optional, `${e.name}: the bot runs without chat credentials`).toBe(true);
      expect(ref?.key).toBe(e.name);
      expect(Object.keys(example.stringData), `secret.example.yaml shows the key ${ref?.key}`).toContain(ref?.key);
    }
    // Credentials never appear as plain values.
    for (const name of ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'DISCORD_BOT_TOKEN', 'ALERTMANAGER_WEBHOOK_TOKEN']) {
      expect(container().env.find((e) => e.name === name)?.value, name).toBeUndefined();
    }
  });

  it('the example Secret holds placeholders only and says never to commit real values', () => {
    const example = secret();
    const known = schemaKeys();
    for (const [key, value] of Object.entries(example.stringData)) {
      expect(known, `secret key ${key} is a variable of the schema`).toContain(key);
      expect(value, key).toMatch(/REPLACE/);
    }
    expect(readFileSync(path.join(DIR, 'secret.example.yaml'), 'utf8')).toMatch(/never commit real values/i);
  });

  it('its plain settings alone are a configuration the bot accepts (it runs without chat credentials)', () => {
    const env = plainEnv(container());
    expect(() => loadConfig(env)).not.toThrow();
    expect(loadConfig(env)).toMatchObject({ slack: undefined, discord: undefined });
  });

  it('gives running steps time to finish: terminationGracePeriodSeconds exceeds SHUTDOWN_TIMEOUT_MS', () => {
    const shutdownMs = Number(plainEnv(container()).SHUTDOWN_TIMEOUT_MS ?? schemaDefault('SHUTDOWN_TIMEOUT_MS'));
    const graceMs = deployment().spec.template.spec.terminationGracePeriodSeconds * 1000;
    expect(graceMs).toBeGreaterThanOrEqual(shutdownMs + 5000);
  });

  // Optional everywhere (CI does not install kubectl): renders what `kubectl apply -k` would apply.
  const kubectl = findExecutable('kubectl');
  it.skipIf(!kubectl)('kubectl kustomize renders the folder', () => {
    const result = run(kubectl ?? 'kubectl', ['kustomize', DIR]);
    expect(result.status, result.output).toBe(0);
    expect(result.output.match(/^kind: \w+$/gm)?.sort()).toEqual(['kind: Deployment', 'kind: PersistentVolumeClaim', 'kind: Service']);
  });
});
