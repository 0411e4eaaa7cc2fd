import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeStep, parseRunbook } from '../../../src/runbooks/index.js';
import { runStep } from '../../../src/runbooks/actions/index.js';
import { prometheusQueryUrl } from '../../../src/runbooks/actions/ops/verify.js';
import { sqlArgv } from '../../../src/runbooks/actions/ops/verify-sql.js';
import { fact, fakeHttp, opsStep, runOps, type FakeHttp } from '../../support/ops-steps.js';
import { freePort } from '../../support/ops-service.js';
import { probeCommand, probeMariadb, probePostgres, requireService } from '../../support/services.js';

const servers: FakeHttp[] = [];
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ops-verify-'));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function server(answer: Parameters<typeof fakeHttp>[0]): Promise<FakeHttp> {
  const s = await fakeHttp(answer);
  servers.push(s);
  return s;
}

describe('verify kind: http', () => {
  it('polls until the service answers 200, and reports attempts, last status and time to healthy', async () => {
    const s = await server((_url, n) => (n <= 3 ? { status: 503, body: 'starting' } : { status: 200, body: '{"status":"ok"}' }));
    const step = opsStep('verify', { kind: 'http', url: '{{base}}/health', intervalSeconds: 0.1, withinSeconds: 10 }, { params: { base: s.url } });
    const result = await runOps(step, { base: s.url });
    expect(result.status).toBe('succeeded');
    expect(result.summary).toMatch(/^healthy after 4 attempts in \d+ ms \(HTTP 200\)$/);
    expect(fact(result, 'attempts')).toBe('4');
    expect(fact(result, 'last status')).toBe('HTTP 200');
    expect(fact(result, 'time to healthy')).toMatch(/^\d+ms$/);
    expect(fact(result, 'check')).toBe(`${s.url}/health`);
    expect(fact(result, 'expected status')).toBe('200');
    expect(result.httpStatus).toBe(200);
    expect(s.requests.map((u) => u.pathname)).toEqual(['/health', '/health', '/health', '/health']);
  });

  it('fails with the attempts and the last answer when the service never becomes healthy', async () => {
    const s = await server(() => ({ status: 503, body: 'database unavailable' }));
    const step = opsStep('verify', { kind: 'http', url: `${s.url}/health`, intervalSeconds: 0.2, withinSeconds: 1 });
    const started = performance.now();
    const result = await runOps(step);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/^not healthy within 1s after \d+ attempts: last HTTP 503 \(expected 200\)$/);
    expect(Number(fact(result, 'attempts'))).toBeGreaterThanOrEqual(4);
    expect(fact(result, 'time to healthy')).toBeUndefined();
    expect(fact(result, 'not healthy after')).toMatch(/^\d+ms$|^[\d.]+s$/);
    expect(result.outputTail).toBe('database unavailable');
  });

  it('checks the body and accepts a list of statuses', async () => {
    const s = await server((_url, n) => (n === 1 ? { status: 204 } : { status: 202, body: 'release v1' }));
    const step = opsStep('verify', { kind: 'http', url: s.url, expectStatus: [202, 204], bodyContains: 'v1', intervalSeconds: 0.1 });
    const result = await runOps(step);
    expect(result.status).toBe('succeeded');
    expect(fact(result, 'attempts')).toBe('2');
  });

  it('does not follow redirects', async () => {
    const s = await server((url) => (url.pathname === '/health' ? { status: 302, headers: { location: '/elsewhere' } } : { status: 200 }));
    const result = await runOps(opsStep('verify', { kind: 'http', url: `${s.url}/health`, intervalSeconds: 0.2, withinSeconds: 1 }));
    expect(result.status).toBe('failed');
    expect(result.summary).toContain('last HTTP 302 (expected 200)');
    expect(s.requests.every((u) => u.pathname === '/health')).toBe(true);
  });

  it('refuses a URL that is not http(s) after rendering, without polling', async () => {
    const step = opsStep('verify', { kind: 'http', url: '{{target}}' }, { params: { target: 'http://placeholder' } });
    const result = await runOps(step, { target: 'file:///etc/passwd' });
    expect(result.status).toBe('failed');
    expect(result.summary).toBe('refused: not an http(s) URL: "file:///etc/passwd"');
  });

  it('reports refused connections and stops at the step timeout', async () => {
    const port = await freePort();
    const step = opsStep('verify', { kind: 'http', url: `http://127.0.0.1:${port}/`, intervalSeconds: 0.2, withinSeconds: 30 }, { timeoutSeconds: 1 });
    const started = performance.now();
    const result = await runOps(step);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(result.status).toBe('timed_out');
    expect(result.summary).toMatch(/what was left of the step's timeout\) after \d+ attempts: last request failed: ECONNREFUSED/);
  });

  it('describes what it will check', () => {
    const step = opsStep('verify', { kind: 'http', url: 'http://{{host}}/health', bodyContains: 'ok' }, { params: { host: 'x' } });
    expect(describeStep(step, { host: 'api.internal:8080' })).toBe(
      'will check that http://api.internal:8080/health answers 200 with a body containing "ok" (every 2s, within 30s) (timeout 20s)',
    );
  });
});

describe('verify kind: prometheus', () => {
  const firing = JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { alertname: 'HighLatency', instance: 'api:80' }, value: [1, '1'] }] } });
  const cleared = JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } });

  it('waits until the alert condition returns no series, asking /api/v1/query with the PromQL', async () => {
    const s = await server((_url, n) => ({ status: 200, body: n <= 2 ? firing : cleared }));
    const query = 'histogram_quantile(0.99, rate(http_duration_seconds_bucket{job="api"}[5m])) > 0.5';
    const result = await runOps(opsStep('verify', { kind: 'prometheus', url: `${s.url}/prom/`, query, intervalSeconds: 0.1 }));
    expect(result.status).toBe('succeeded');
    expect(fact(result, 'attempts')).toBe('3');
    expect(fact(result, 'last status')).toBe('0');
    expect(fact(result, 'expected series')).toBe('0');
    expect(s.requests.map((u) => [u.pathname, u.searchParams.get('query')])).toEqual(Array(3).fill(['/prom/api/v1/query', query]));
  });

  it('fails with the series still returned when the condition does not clear', async () => {
    const s = await server(() => ({ status: 200, body: firing }));
    const result = await runOps(opsStep('verify', { kind: 'prometheus', url: s.url, query: 'up == 0', intervalSeconds: 0.2, withinSeconds: 1 }));
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/^not healthy within 1s after \d+ attempts: last 1 series \(first: \{alertname="HighLatency", instance="api:80"\}\)$/);
  });

  it('expect: nonEmpty passes on the first answer with series', async () => {
    const s = await server(() => ({ status: 200, body: firing }));
    const result = await runOps(opsStep('verify', { kind: 'prometheus', url: s.url, query: 'up == 1', expect: 'nonEmpty' }));
    expect(result.status).toBe('succeeded');
    expect(result.summary).toBe('healthy on the first attempt (1 series (first: {alertname="HighLatency", instance="api:80"}))');
  });

  it('stops at once on a malformed query (bad_data)', async () => {
    const s = await server(() => ({ status: 400, body: JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error at char 4' }) }));
    const result = await runOps(opsStep('verify', { kind: 'prometheus', url: s.url, query: 'up ==', withinSeconds: 30 }));
    expect(result.status).toBe('failed');
    expect(result.summary).toBe('check failed after 1 attempt, not retried: HTTP 400, Prometheus error bad_data: parse error at char 4');
  });

  it('uses the PROMETHEUS_URL setting when the step gives no url, and says so when neither is set', async () => {
    const s = await server(() => ({ status: 200, body: cleared }));
    const step = opsStep('verify', { kind: 'prometheus', query: 'up == 0' });
    const withSetting = await runStep(step, {}, { signal: new AbortController().signal, redact: (x) => x, env: process.env, settings: { prometheusUrl: s.url } });
    expect(withSetting.status).toBe('succeeded');
    expect(s.requests).toHaveLength(1);
    const without = await runOps(step);
    expect(without.status).toBe('failed');
    expect(without.summary).toContain('no Prometheus URL: give with.url or set PROMETHEUS_URL');
  });

  it('builds the query URL under a path prefix', () => {
    expect(prometheusQueryUrl(new URL('https://mon.example/prometheus?x=1'), 'up{job="a b"}').href).toBe(
      'https://mon.example/prometheus/api/v1/query?query=up%7Bjob%3D%22a+b%22%7D',
    );
  });
});

describe('verify kind: sql, engine: sqlite', () => {
  it('answers SELECT 1 on a real database file', async () => {
    const file = path.join(dir, 'app.db');
    await execa('sqlite3', [file, 'CREATE TABLE t(x); INSERT INTO t VALUES (1);']);
    const result = await runOps(opsStep('verify', { kind: 'sql', engine: 'sqlite', path: file }));
    expect(result.status).toBe('succeeded');
    expect(fact(result, 'last status')).toBe('`SELECT 1` → 1');
  });

  it('fails on a missing file without creating it, and on a file that is not a database', async () => {
    const missing = path.join(dir, 'missing.db');
    const result = await runOps(opsStep('verify', { kind: 'sql', engine: 'sqlite', path: missing, intervalSeconds: 0.3, withinSeconds: 1 }));
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/last sqlite3 exited 1: Error: unable to open database/);
    expect(existsSync(missing)).toBe(false);

    const junk = path.join(dir, 'junk.db');
    await writeFile(junk, 'not a database, just text that is long enough to be read as a header '.repeat(3));
    const junkResult = await runOps(opsStep('verify', { kind: 'sql', engine: 'sqlite', path: junk, intervalSeconds: 0.3, withinSeconds: 1 }));
    expect(junkResult.status).toBe('failed');
    expect(junkResult.summary).toContain('file is not a database');
  });

  it('refuses a relative path', async () => {
    const result = await runOps(opsStep('verify', { kind: 'sql', engine: 'sqlite', path: 'data/app.db' }));
    expect(result.summary).toBe('refused: the sqlite path must be absolute: "data/app.db"');
  });
});

const postgres = await requireService('PostgreSQL at 127.0.0.1:5432', () => probePostgres('test'));
postgres.describe('verify kind: sql, engine: postgres (real server)', () => {
  const user = postgres.value.user;

  it('answers SELECT 1, with the port from a param', async () => {
    const inputs = { kind: 'sql', engine: 'postgres', host: '127.0.0.1', port: '{{pgport}}', user, database: 'test' };
    const step = opsStep('verify', inputs, { params: { pgport: '1' }, env: ['PGPASSWORD'] });
    const result = await runOps(step, { pgport: '5432' });
    expect(result.status).toBe('succeeded');
    expect(fact(result, 'check')).toBe(`${user}@127.0.0.1:5432/test`);
    expect(fact(result, 'engine')).toBe('postgres');
  });

  it('fails clearly when nothing listens on the port', async () => {
    const port = await freePort();
    const result = await runOps(opsStep('verify', { kind: 'sql', engine: 'postgres', host: '127.0.0.1', port, user, database: 'test', intervalSeconds: 0.3, withinSeconds: 1 }));
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/last psql exited 2: psql: error: connection to server at "127.0.0.1", port \d+ failed: Connection refused/);
  });

  it('refuses a database name that would be read as a connection string', async () => {
    const step = opsStep('verify', { kind: 'sql', engine: 'postgres', host: '127.0.0.1', user, database: '{{db}}' }, { params: { db: 'x' } });
    const result = await runOps(step, { db: 'host=evil.example dbname=test' });
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/^refused: database "host=evil.example dbname=test" is not valid/);
  });
});

/** MariaDB as root, and a database to connect to: `test` when there is one, else `mysql`. */
async function probeMariadbDatabase(): Promise<{ database: string }> {
  await probeMariadb();
  const databases = await probeCommand(['mariadb', '--host=127.0.0.1', '--port=3306', '--user=root', '--batch', '-N', '-e', 'SHOW DATABASES']);
  return { database: databases.split('\n').includes('test') ? 'test' : 'mysql' };
}

const mariadb = await requireService('MariaDB at 127.0.0.1:3306', probeMariadbDatabase);
mariadb.describe('verify kind: sql, engine: mysql (real MariaDB)', () => {
  const database = mariadb.value.database;

  it('answers SELECT 1', async () => {
    const result = await runOps(opsStep('verify', { kind: 'sql', engine: 'mysql', host: '127.0.0.1', port: 3306, user: 'root', database }, { env: ['MYSQL_PWD'] }));
    expect(result.status).toBe('succeeded');
    expect(fact(result, 'last status')).toBe('`SELECT 1` → 1');
  });

  it('fails clearly when nothing listens on the port', async () => {
    const port = await freePort();
    const result = await runOps(opsStep('verify', { kind: 'sql', engine: 'mysql', host: '127.0.0.1', port, user: 'root', database, intervalSeconds: 0.3, withinSeconds: 1 }));
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/exited 1: ERROR 2002 \(HY000\): Can't connect to/);
  });
});

describe('verify inputs at manifest load', () => {
  const load = (withYaml: string) => () =>
    parseRunbook(`name: t\nmatch: {}\nparams:\n  url: { default: 'http://x', pattern: '.+' }\nsteps:\n  - id: v\n    title: v\n    action: verify\n    with: ${withYaml}\n`, 'v.yaml');

  it('accepts templates in strings and ports, refuses unknown kinds, keys and params', () => {
    expect(load(`{ kind: http, url: '{{url}}' }`)).not.toThrow();
    expect(load(`{ kind: sql, engine: postgres, host: db, port: '{{url}}', user: u, database: d }`)).not.toThrow();
    expect(load(`{ kind: tcp, url: x }`)).toThrow(/steps\.0\.with\.kind: Invalid discriminator value/);
    expect(load(`{ kind: http, url: x, method: POST }`)).toThrow(/steps\.0\.with: Unrecognized key: "method"/);
    expect(load(`{ kind: http, url: '{{nope}}' }`)).toThrow(/unknown param "nope"/);
    expect(load(`{ kind: sql, engine: postgres, host: db, port: five, user: u, database: d }`)).toThrow(/steps\.0\.with\.port/);
    expect(load(`{ kind: sql, engine: oracle, path: x }`)).toThrow(/steps\.0\.with\.engine/);
  });

  it('builds the SQL client argv without a password', () => {
    expect(sqlArgv({ kind: 'sql', engine: 'postgres', host: 'db', port: 5433, user: 'app', database: 'app', intervalSeconds: 2, withinSeconds: 30 }, 5)).toEqual([
      'psql', '-X', '-tAc', 'SELECT 1', '--host=db', '--port=5433', '--username=app', '--dbname=app', '--no-password',
    ]);
    expect(sqlArgv({ kind: 'sql', engine: 'mysql', host: 'db', port: 3306, user: 'app', database: 'app', intervalSeconds: 2, withinSeconds: 30 }, 5)).toEqual([
      'mariadb', '--batch', '-N', '-e', 'SELECT 1', '--host=db', '--port=3306', '--user=app', '--database=app', '--connect-timeout=5',
    ]);
  });
});
