import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRunbook, stepHash, type Runbook } from '../../../src/runbooks/index.js';
import { jobSchema, type Job } from '../../../src/runners/protocol.js';
import { inspectScope, vetJob } from '../../../src/runner/vetting.js';
import { answerQuery } from '../../../src/runner/work.js';

/*
 * What the runner agrees to do: only a step its own manifests hold with the same digest, with
 * params that pass its patterns, placed on this runner by its runOn; an `inspect` only of a file
 * in the step's picker directory or one its own steps produced. Queries run on real files.
 */

const manifest = (dir: string, run = 'echo backed up') => `
name: gitcortex
match: { service: gitcortex }
runOn: { labels: { host: '{{host}}' } }
params:
  host: { fromLabel: host, pattern: '[a-z0-9-]+' }
  backups: { default: ${dir}/backups, pattern: '/[A-Za-z0-9/._-]+' }
  backup: { chosen: true, pattern: '/[A-Za-z0-9/._-]+' }
steps:
  - id: note
    title: Note it
    action: exec
    run: [sh, -c, '${run}']
  - id: backup
    title: Back up
    action: backup
    with: { engine: directory, source: '${dir}/data', dir: '{{backups}}', prefix: gitcortex, keep: { days: 1 } }
  - id: restore
    title: Restore
    action: restore
    changes: true
    pick: { param: backup, dir: '{{backups}}', prefix: gitcortex }
    with: { engine: directory, target: '${dir}/data', from: '{{backup}}' }
  - id: elsewhere
    title: Somewhere else
    action: exec
    run: [sh, -c, 'true']
    runOn: other-runner
`;

const SELF = { name: 'gitcortex-1', labels: { host: 'gitcortex-1' } };
const DIR = '/srv/gc';
const local = parseRunbook(manifest(DIR), 'local.yaml');
const stepOf = (runbook: Runbook, id: string) => {
  const step = runbook.steps.find((s) => s.id === id);
  if (!step) throw new Error(`no step ${id}`);
  return step;
};

function job(over: Partial<Job> & { step: string }, from: Runbook = local): Job {
  return jobSchema.parse({
    id: 7,
    kind: 'run',
    runbook: from.name,
    stepHash: stepHash(from.name, stepOf(from, over.step)),
    params: { host: 'gitcortex-1', backups: `${DIR}/backups` },
    evidence: { incidentId: 3, runId: 9, requestedBy: 'alice', approvers: ['bob'], purpose: 'step' },
    ...over,
  });
}

const refusal = (j: Job, runbooks: readonly Runbook[] = [local]) => {
  const vetted = vetJob(runbooks, j, SELF);
  return vetted.ok ? undefined : vetted.reason;
};

describe('vetting a job against the runner\'s own manifests', () => {
  it('accepts a step it holds unchanged, with good params, placed on this runner, and hands back the LOCAL step', () => {
    const vetted = vetJob([local], job({ step: 'note' }), SELF);
    expect(vetted.ok).toBe(true);
    if (vetted.ok) expect(vetted.step).toBe(stepOf(local, 'note'));
  });

  it('refuses an unknown runbook or step', () => {
    expect(refusal(job({ step: 'note', runbook: 'payments' }))).toBe("runbook payments is not in this host's manifests");
    expect(refusal({ ...job({ step: 'note' }), step: 'drop-tables' })).toBe("step gitcortex/drop-tables is not in this host's manifests");
  });

  it('refuses a step the bot holds in another form (its digest differs from the local one)', () => {
    const changed = parseRunbook(manifest(DIR, 'rm -rf /srv/gc/data'), 'bot.yaml');
    const reason = refusal(job({ step: 'note' }, changed));
    const here = stepHash('gitcortex', stepOf(local, 'note')).slice(0, 12);
    const asked = stepHash('gitcortex', stepOf(changed, 'note')).slice(0, 12);
    expect(reason).toBe(`step gitcortex/note differs from this host's manifests (hash ${here}… here, ${asked}… asked)`);
  });

  it('refuses params that fail this host\'s patterns, are undeclared or missing', () => {
    expect(refusal(job({ step: 'note', params: { host: 'gitcortex-1', backups: '/srv/gc/backups; rm -rf /' } }))).toMatch(/^step gitcortex\/note: param "backups": /);
    expect(refusal(job({ step: 'note', params: { host: 'gitcortex-1', backups: `${DIR}/backups`, extra: 'x' } }))).toBe(
      'step gitcortex/note: param "extra" is not declared by runbook gitcortex',
    );
    expect(refusal(job({ step: 'note', params: { host: 'gitcortex-1' } }))).toBe('step gitcortex/note: param "backups" is missing');
    expect(refusal(job({ step: 'note', params: { host: '-gitcortex', backups: `${DIR}/backups` } }))).toMatch(/param "host"/);
  });

  it("refuses a step its runOn places on another runner, or that has no runOn", () => {
    expect(refusal(job({ step: 'note', params: { host: 'gitcortex-2', backups: `${DIR}/backups` } }))).toBe(
      "step gitcortex/note runs on a runner labelled host=gitcortex-2 by this host's manifests, not on runner gitcortex-1",
    );
    // A label it does not advertise is the bot's to pin (RUNNERS_FILE): not held against the step.
    const byService = parseRunbook(manifest(DIR).replace("runOn: { labels: { host: '{{host}}' } }", "runOn: { labels: { host: '{{host}}', service: gitcortex } }"), 'service.yaml');
    expect(refusal(job({ step: 'note' }, byService), [byService])).toBeUndefined();
    expect(vetJob([byService], job({ step: 'note' }, byService), { name: 'gitcortex-1', labels: { host: 'gitcortex-1', service: 'payments' } })).toMatchObject({ ok: false });
    expect(refusal(job({ step: 'elsewhere' }))).toBe("step gitcortex/elsewhere runs on runner other-runner by this host's manifests, not on runner gitcortex-1");
    const inBot = parseRunbook(manifest(DIR).replace("runOn: { labels: { host: '{{host}}' } }\n", ''), 'bot-only.yaml');
    expect(refusal(job({ step: 'note' }, inBot), [inBot])).toBe("step gitcortex/note has no runOn in this host's manifests: it runs in the bot, not on a runner");
  });

  it('takes a chosen file only from the step\'s picker directory or from what this runner produced, and pins only such a file', () => {
    const params = { host: 'gitcortex-1', backups: `${DIR}/backups` };
    const inPicker = `${DIR}/backups/gitcortex-20250101T000000Z.tar.gz`;
    expect(refusal(job({ step: 'restore', params: { ...params, backup: inPicker }, pins: [{ path: inPicker, sha256: 'a'.repeat(64) }] }))).toBeUndefined();
    expect(refusal(job({ step: 'restore', params: { ...params, backup: '/etc/shadow' } }))).toBe(
      `step gitcortex/restore: param "backup" "/etc/shadow" is neither in the picker's directory ${DIR}/backups nor a file this runner produced`,
    );
    expect(refusal(job({ step: 'restore', params: { ...params, backup: `${DIR}/backups/../data/x` } }))).toMatch(/is neither in the picker's directory/);
    // A snapshot this runner's checkpoint took, wherever it is (a "Roll back").
    const snapshot = '/var/lib/gc/.checkpoint-1.tar.gz';
    const vetted = vetJob([local], job({ step: 'restore', params: { ...params, backup: snapshot } }), SELF, (f) => f === snapshot);
    expect(vetted.ok).toBe(true);
    // Checking a pin reads and hashes its file: never one the job did not choose.
    expect(refusal(job({ step: 'note', pins: [{ path: '/etc/shadow', sha256: 'a'.repeat(64) }] }))).toBe('step gitcortex/note: the pinned file "/etc/shadow" is not a value chosen for this job');
  });

  it('refuses a query the step cannot answer', () => {
    expect(refusal(job({ step: 'note', kind: 'list' }))).toBe('step gitcortex/note has no picker to list');
    expect(refusal(job({ step: 'note', kind: 'expire' }))).toBe('step gitcortex/note is not a backup step');
    expect(refusal(job({ step: 'restore', kind: 'inspect' }))).toBe('an inspect job needs a path');
  });
});

describe('which files an inspect may describe', () => {
  const restore = stepOf(local, 'restore');
  const params = { host: 'gitcortex-1', backups: `${DIR}/backups` };
  const none = () => false;

  it('a file inside the picker directory, checked again there', () => {
    expect(inspectScope(restore, params, `${DIR}/backups/gitcortex-20250101T000000Z.tar.gz`, none)).toEqual({ ok: true, within: `${DIR}/backups` });
  });

  it('nothing outside it, however the path is written', () => {
    for (const file of ['/etc/shadow', `${DIR}/backups/../data/secret`, `${DIR}/backups`, 'gitcortex.tar.gz', `${DIR}/backups-evil/x`]) {
      const scope = inspectScope(restore, params, file, none);
      expect(scope.ok, file).toBe(false);
    }
    expect(inspectScope(restore, params, '/etc/shadow', none)).toEqual({
      ok: false,
      reason: `"/etc/shadow" is outside the picker's directory ${DIR}/backups and is not a file this runner produced`,
    });
    expect(inspectScope(stepOf(local, 'note'), params, '/etc/shadow', none)).toEqual({ ok: false, reason: '"/etc/shadow" is not a file this runner produced, and step note has no picker directory' });
  });

  it('a file this runner\'s own steps produced, wherever it is', () => {
    expect(inspectScope(stepOf(local, 'note'), params, '/var/lib/gc/snapshot.db.gz', (f) => f === '/var/lib/gc/snapshot.db.gz')).toEqual({ ok: true, within: undefined });
  });
});

describe('queries on real files', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  const setup = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-queries-'));
    dirs.push(dir);
    fs.mkdirSync(path.join(dir, 'backups'));
    const runbook = parseRunbook(manifest(dir), 'local.yaml');
    const params = { host: 'gitcortex-1', backups: path.join(dir, 'backups') };
    return { dir, runbook, params };
  };
  const deps = (now = new Date()) => ({ produced: () => false, now: () => now });

  it('list answers the picker\'s backups; inspect refuses a symlink out of the picker directory', async () => {
    const { dir, runbook, params } = setup();
    const backup = path.join(dir, 'backups', 'gitcortex-20250101T000000Z.tar.gz');
    fs.writeFileSync(backup, 'content');
    fs.writeFileSync(path.join(dir, 'secret'), 'not yours');
    fs.symlinkSync(path.join(dir, 'secret'), path.join(dir, 'backups', 'gitcortex-20250102T000000Z.tar.gz'));
    const restore = stepOf(runbook, 'restore');
    const listed = await answerQuery(restore, job({ step: 'restore', kind: 'list', params }, runbook), deps());
    expect(listed).toMatchObject({ answer: { kind: 'list', choices: [{ path: backup }] } });
    const inspected = await answerQuery(restore, job({ step: 'restore', kind: 'inspect', path: backup, params }, runbook), deps());
    expect(inspected).toMatchObject({ answer: { kind: 'inspect', inspection: { ok: true, file: { path: backup, sizeBytes: 7, sidecar: 'missing' } } } });
    const link = path.join(dir, 'backups', 'gitcortex-20250102T000000Z.tar.gz');
    const escaped = await answerQuery(restore, job({ step: 'restore', kind: 'inspect', path: link, params }, runbook), deps());
    expect(escaped).toMatchObject({ answer: { kind: 'inspect', inspection: { ok: false } } });
    expect(JSON.stringify(escaped)).toContain('outside the picker');
    const outside = await answerQuery(restore, job({ step: 'restore', kind: 'inspect', path: path.join(dir, 'secret'), params }, runbook), deps());
    expect(outside).toEqual({ refused: `${JSON.stringify(path.join(dir, 'secret'))} is outside the picker's directory ${path.join(dir, 'backups')} and is not a file this runner produced` });
  });

  it('expire measures retention from the runner\'s clock, never from a later time the bot sends', async () => {
    const { dir, runbook, params } = setup();
    const now = new Date('2025-03-10T12:00:00Z');
    const old = path.join(dir, 'backups', 'gitcortex-20250301T000000Z.tar.gz');
    const recent = path.join(dir, 'backups', 'gitcortex-20250310T000000Z.tar.gz');
    for (const f of [old, recent]) fs.writeFileSync(f, 'x');
    const backup = stepOf(runbook, 'backup');
    const future = await answerQuery(backup, job({ step: 'backup', kind: 'expire', now: '2030-01-01T00:00:00Z', params }, runbook), deps(now));
    expect(future).toEqual({ answer: { kind: 'expire', expiry: { dir: path.join(dir, 'backups'), kept: 1, deleted: ['gitcortex-20250301T000000Z.tar.gz'], problems: [] } } });
    expect(fs.existsSync(recent)).toBe(true);
    expect(fs.existsSync(old)).toBe(false);
    expect(await answerQuery(backup, job({ step: 'backup', kind: 'expire', now: 'yesterday', params }, runbook), deps(now))).toEqual({ refused: '"now" "yesterday" is not a time' });
  });
});
