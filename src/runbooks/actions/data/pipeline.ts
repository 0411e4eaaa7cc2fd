import { open, realpath, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { StepArtefact, StepFact } from '../types.js';
import { applyRetention, expireSafetyBackups, latestVerifiedBackup, publish, readSidecar, sidecarPath, writeSidecar } from './backup-files.js';
import { ActionError, check, fsCode, fsProblem, pathProblem, prefixProblem, refusal, sizeValue, STAMP_PATTERN, utcStamp, wrapped, type KeepRule, type Summary } from './common.js';
import type { Job } from './job.js';
import type { BackupEngine, RestoreEngine } from './engine.js';
import { sha256File, statOrUndefined } from './files.js';
import { changedSinceRequest } from '../../chosen-file.js';
import type { BackupName } from './naming.js';

/*
 * The two procedures every engine shares.
 *
 * Backup: the engine writes a temporary `.<name>.tmp-*` file in the destination and verifies it;
 * then it is hashed, renamed (never over an existing file) to `<prefix>-<UTC stamp>.<ext>`, given a
 * `.sha256` sidecar, and old backups beyond the keep rules are deleted. A failure anywhere removes
 * every temporary file, so the destination never holds a file that looks like a good backup but
 * is not one.
 *
 * Restore: find the backup (explicit, or the newest whose sidecar matches), check its sidecar,
 * let the engine verify and stage it, take a safety backup of the current state (nothing is
 * restored if that fails), then let the engine replace the current state.
 */

export interface BackupPlan {
  dir: string;
  prefix: string;
  kind: StepArtefact['kind'];
  keep?: KeepRule | undefined;
  /** Other names of this step's backups, which retention counts too. */
  names?: readonly BackupName[] | undefined;
  /** For a safety backup: when the normal backup fails (a damaged database), keep an as-is copy. */
  asIsFallback?: boolean;
}

/** Checks that the destination is a writable directory, with a message that says which problem it is. */
async function checkDestination(dir: string, job: Job): Promise<void> {
  let info;
  try {
    info = await statOrUndefined(dir);
  } catch (error) {
    throw new ActionError(`destination ${dir}: ${fsProblem(error)}`);
  }
  if (info === undefined) throw refusal(`destination ${dir} does not exist (it is not created: a missing mount must not fill another disk)`, 'data.dest.missing', { dir });
  if (!info.isDirectory()) throw refusal(`destination ${dir} is not a directory`, 'data.dest.notDir', { dir });
  // Root ignores permission bits, so ask the file system itself: create and remove an empty probe file.
  const probe = job.tempPath(dir, 'write-probe', 'tmp');
  try {
    await (await open(probe, 'wx')).close();
    await unlink(probe);
    job.keep(probe);
  } catch (error) {
    throw refusal(`destination ${dir} is not writable: ${fsProblem(error)}`, 'data.dest.notWritable', { dir, error: fsCode(error) });
  }
}

/** Writes one verified backup; returns its artefact (also recorded on the job) and the facts about it. */
export async function writeBackup<T>(engine: BackupEngine<T>, target: T, plan: BackupPlan, job: Job): Promise<{ artefact: StepArtefact; facts: StepFact[] }> {
  engine.validate(target);
  check(pathProblem(plan.dir, 'dir'));
  check(prefixProblem(plan.prefix));
  await checkDestination(plan.dir, job);
  let now = new Date();
  const name = `${plan.prefix}-${utcStamp(now)}.${engine.ext}`;

  const before = job.temporaries();
  let temp = job.tempPath(plan.dir, name, 'tmp');
  let facts: StepFact[];
  try {
    facts = await engine.produce(target, temp, job);
  } catch (error) {
    if (!plan.asIsFallback || engine.produceAsIs === undefined || job.signal.aborted) throw asActionError(error, `backup of ${engine.what(target)}`);
    const reason = error instanceof Error ? error.message : String(error);
    await job.cleanup(before);
    temp = job.tempPath(plan.dir, name, 'tmp');
    try {
      // The label says what this is (a byte copy, since the normal backup failed); the value says why.
      facts = [{ label: 'as-is copy', value: reason }, ...(await engine.produceAsIs(target, temp, job))];
    } catch (second) {
      throw asActionError(second, `as-is copy of ${engine.what(target)} (after: ${reason})`);
    }
  }

  try {
    const { sha256, bytes } = await sha256File(temp, job.signal);
    // Names have one-second resolution: when two backups of a prefix land in the same second (a
    // rollback's safety backup, then a restore's), the later one takes the next free second.
    let final = path.join(plan.dir, name);
    for (let attempt = 1; !(await publish(temp, final)); attempt++) {
      if (attempt >= 5) throw new ActionError(`${final} and the names after it already exist`);
      await delay(1000 - (Date.now() % 1000) + 5, undefined, { signal: job.signal });
      now = new Date();
      final = path.join(plan.dir, `${plan.prefix}-${utcStamp(now)}.${engine.ext}`);
    }
    job.keep(temp);
    try {
      await writeSidecar(final, sha256);
    } catch (error) {
      // A backup without its sidecar would not count as verified: take it back rather than leave it half-done.
      await rm(final, { force: true });
      throw error;
    }
    const artefact: StepArtefact = { kind: plan.kind, path: final, sizeBytes: bytes, sha256 };
    job.artefacts.push(artefact);
    if (plan.keep !== undefined) facts.push(...(await retention(engine.ext, plan, final, now)));
    return { artefact, facts };
  } catch (error) {
    throw asActionError(error, `storing the backup in ${plan.dir}`);
  }
}

async function retention(ext: string, plan: BackupPlan, final: string, now: Date): Promise<StepFact[]> {
  if (plan.keep === undefined) return [];
  let outcome;
  try {
    outcome = await applyRetention({ dir: plan.dir, prefix: plan.prefix, ext, names: plan.names }, plan.keep, final, now);
  } catch (error) {
    // The backup itself is done and verified; a retention problem is reported, not a failure.
    return [{ label: 'retention problems', value: fsProblem(error) }];
  }
  const { deleted, kept, problems } = outcome;
  // Counts and names only: the labels carry the words, so the thread can say them in its language.
  const facts: StepFact[] = [
    ...(deleted.length > 0 ? [{ label: 'deleted by retention', value: `${deleted.length}: ${deleted.slice(0, 10).join(', ')}${deleted.length > 10 ? ', …' : ''}` }] : []),
    { label: 'kept by retention', value: String(kept) },
  ];
  if (problems.length > 0) facts.push({ label: 'retention problems', value: problems.slice(0, 5).join('; ') });
  return facts;
}

function asActionError(error: unknown, what: string): unknown {
  if (error instanceof ActionError) return error;
  if (error instanceof Error && error.name === 'AbortError') return error;
  return new ActionError(`${what}: ${fsProblem(error)}`);
}

export interface RestorePlan {
  from?: string | undefined;
  latest?: boolean | undefined;
  dir?: string | undefined;
  prefix?: string | undefined;
  safetyDir?: string | undefined;
  /** false: an explicit backup is restored without a matching sidecar; if-present: without one, never with a mismatch. */
  verify?: boolean | 'if-present' | undefined;
  /** Days older safety backups are kept (the newest always); default 7. */
  safetyDays?: number | undefined;
}

/**
 * The backup file to restore, after its checks: an explicit one must have a matching `.sha256`
 * sidecar (unless `verify` is false) and, when it was chosen in chat, still the hash it had when
 * the step was requested (`job.ctx.pins`), so a file swapped after approval is never restored.
 */
async function locateBackup(ext: string, prefix: string, plan: RestorePlan, job: Job): Promise<string> {
  if (plan.from !== undefined) {
    const from = plan.from;
    check(pathProblem(from, 'from'));
    const info = await statOrUndefined(from).catch((error: unknown) => {
      throw new ActionError(`backup ${from}: ${fsProblem(error)}`);
    });
    if (info === undefined) throw refusal(`backup ${from} does not exist`, 'data.backup.missing', { path: from });
    if (!info.isFile()) throw refusal(`backup ${from} is not a file`, 'data.backup.notFile', { path: from });
    // A link (the manual's latest.db.gz) is resolved once: the file it points to now is read, checked and restored.
    const file = await realpath(from);
    if (file !== from) job.fact('link', `${from} → ${file}`);
    const verify = plan.verify ?? true;
    const recorded = await readSidecar(file);
    if (recorded === undefined && verify === true) {
      throw refusal(
        `backup ${from} has no .sha256 sidecar ${sidecarPath(file)}, so it cannot be checked: refusing to restore it (verify: false or if-present in the runbook allows it)`,
        'data.backup.noSidecar',
        { path: from, sidecar: sidecarPath(file) },
      );
    }
    const { sha256 } = await sha256File(file, job.signal);
    const pinned = job.ctx.pins?.find((p) => p.path === from)?.sha256;
    if (pinned !== undefined && pinned !== sha256) throw new ActionError(changedSinceRequest(from, sha256, pinned));
    if (recorded !== undefined && verify !== false && sha256 !== recorded) {
      throw refusal(
        `backup ${from} does not match its sidecar ${sidecarPath(file)} (sha256 ${sha256.slice(0, 12)}…, recorded ${recorded.slice(0, 12)}…): refusing to restore it`,
        'data.backup.mismatch',
        { path: from, sidecar: sidecarPath(file), actual: `${sha256.slice(0, 12)}…`, recorded: `${recorded.slice(0, 12)}…` },
      );
    }
    // How the hash was checked is in the label, so the value stays the hash in every language.
    const how = verify === false ? 'sha256 (not checked: verify is false)' : recorded === undefined ? 'sha256 (no .sha256 sidecar: the content is checked below)' : 'sha256 (matches the sidecar)';
    job.fact(how, sha256);
    if (pinned !== undefined) job.fact('same file as requested', `sha256 ${pinned.slice(0, 16)}…`);
    job.fact('backup', `${file} (${sizeValue(info.size)})`);
    return file;
  }
  const dir = plan.dir ?? '';
  check(pathProblem(dir, 'dir'));
  let found;
  try {
    found = await latestVerifiedBackup(dir, prefix, ext, job.signal);
  } catch (error) {
    if (job.signal.aborted) throw error;
    throw new ActionError(`looking for backups in ${dir}: ${fsProblem(error)}`);
  }
  const skipped = (why: 'missing' | 'mismatch') => found.skipped.filter((s) => s.sidecar === why).slice(0, 5).map((s) => s.name);
  if (skipped('missing').length > 0) job.fact('skipped: no .sha256 sidecar', skipped('missing').join(', '));
  if (skipped('mismatch').length > 0) job.fact('skipped: sha256 does not match its sidecar', skipped('mismatch').join(', '));
  if (found.backup === undefined) {
    const count = found.skipped.length;
    const text = `no verified backup ${prefix}-<time>.${ext} in ${dir}${count > 0 ? ` (${count} without a matching .sha256)` : ''}`;
    const name = `${prefix}-${STAMP_PATTERN}.${ext}`;
    throw count > 0 ? refusal(text, 'data.backup.noneVerified', { name, dir, count }) : refusal(text, 'data.backup.none', { name, dir });
  }
  job.fact('backup (newest verified)', `${found.backup.path} (${sizeValue(found.backup.sizeBytes)})`);
  job.fact('sha256 (matches the sidecar)', found.backup.sha256);
  return found.backup.path;
}

/** Restores `target` from a backup after a safety backup; returns the summary. */
export async function runRestore<T, P>(backupEngine: BackupEngine<T>, restoreEngine: RestoreEngine<T, P>, target: T, plan: RestorePlan, job: Job): Promise<Summary> {
  backupEngine.validate(target);
  const prefix = plan.prefix ?? backupEngine.defaultPrefix(target);
  check(prefixProblem(prefix));
  const backup = await locateBackup(backupEngine.ext, prefix, plan, job);
  const prepared = await restoreEngine.prepare(target, backup, job);

  // Beside the live data when it has a place on disk: the copy of the current state never lands
  // beside the backup being restored, wherever that came from.
  const safetyDir = plan.safetyDir ?? backupEngine.besideLive?.(target) ?? plan.dir ?? path.dirname(backup);
  if (backupEngine.absent !== undefined && (await backupEngine.absent(target))) {
    job.fact('no safety backup (nothing to keep: it does not exist)', backupEngine.subject(target));
  } else {
    try {
      const { artefact, facts } = await writeBackup(backupEngine, target, { dir: safetyDir, prefix: `${prefix}-safety`, kind: 'safety-backup', asIsFallback: true }, job);
      job.fact('safety backup', `${artefact.path} (${sizeValue(artefact.sizeBytes)})`);
      for (const fact of facts) job.fact(`safety ${fact.label}`, fact.value);
      const expired = await expireSafetyBackups(safetyDir, prefix, backupEngine.ext, plan.safetyDays ?? 7, artefact.path, new Date()).catch((error: unknown) => ({
        deleted: [],
        kept: 0,
        problems: [fsProblem(error)],
      }));
      if (expired.deleted.length > 0) job.fact('expired safety backups', expired.deleted.join(', '));
      if (expired.problems.length > 0) job.fact('safety retention problems', expired.problems.slice(0, 3).join('; '));
    } catch (error) {
      if (job.signal.aborted) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new ActionError(`the safety backup failed, so nothing was restored: ${reason}`, false, wrapped({ code: 'data.safety.failed', params: {} }, error));
    }
  }
  return restoreEngine.apply(target, prepared, job);
}
