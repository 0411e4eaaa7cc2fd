import { realpath } from 'node:fs/promises';
import { z } from 'zod';
import { formatBytes } from '../../../domain/format.js';
import { defineAction } from '../typed-action.js';
import { checkSidecar } from './backup-files.js';
import { ActionError, check, fsCode, fsProblem, pathProblem, refusal, sizeValue, summary, text } from './common.js';
import { Job } from './job.js';
import { statOrUndefined } from './files.js';

/*
 * `locate`: names an existing backup without changing anything, as a step's pre-change
 * checkpoint. GitCortex's upgrade rollback restores the backup taken before the upgrade
 * (`restore.sh latest.db.gz`), not a copy of the migrated database taken just before the binary
 * is swapped back; so the rollback's checkpoint is this step, its artefact that backup (a link
 * such as latest.db.gz resolved to its file, hashed), and the thread's "Roll back" restores it.
 */

export const locateInputs = z.strictObject({
  /** The backup, e.g. {{backup_dir}}/latest.db.gz; a symbolic link is resolved to the file it points to. */
  from: text,
});

export const locateAction = defineAction({
  name: 'locate',
  summary: 'Names an existing backup (a latest.* link resolved to its file) with its size and sha256, e.g. as the checkpoint a "Roll back" restores.',
  inputs: locateInputs,
  describe: (inputs) => `will name the backup ${inputs.from} (a link resolved to its file) and hash it; nothing is changed`,
  describeSaid: (inputs) => ({ code: 'data.describe.locate', params: { from: inputs.from } }),
  run(inputs, ctx) {
    const job = new Job(ctx);
    return job.perform(async () => {
      check(pathProblem(inputs.from, 'from'));
      let real: string;
      try {
        real = await realpath(inputs.from);
      } catch (error) {
        const text = `backup ${inputs.from} ${fsProblem(error)}`;
        throw fsCode(error) === 'ENOENT' ? refusal(text, 'data.backup.missing', { path: inputs.from }) : new ActionError(text);
      }
      const info = await statOrUndefined(real);
      if (!info?.isFile()) throw refusal(`backup ${inputs.from} is not a regular file`, 'data.backup.notFile', { path: inputs.from });
      const { sidecar, sha256 } = await checkSidecar(real, job.signal);
      if (sidecar === 'mismatch') throw refusal(`backup ${real} does not match its .sha256 sidecar`, 'data.locate.mismatch', { path: real });
      job.artefacts.push({ kind: 'backup', path: real, sizeBytes: info.size, sha256 });
      if (real !== inputs.from) job.fact('link', `${inputs.from} → ${real}`);
      job.fact('modified', info.mtime.toISOString());
      job.fact(sidecar === 'verified' ? 'sha256 (matches the sidecar)' : 'sha256 (no .sha256 sidecar)', sha256);
      const modified = `${info.mtime.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
      const text = `the backup is ${real === inputs.from ? real : `${inputs.from} → ${real}`} (${formatBytes(info.size)}, modified ${modified})`;
      const size = sizeValue(info.size);
      return real === inputs.from ? summary(text, 'data.located', { path: real, size, modified }) : summary(text, 'data.located.link', { link: inputs.from, path: real, size, modified });
    });
  },
});
