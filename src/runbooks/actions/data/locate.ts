import { realpath } from 'node:fs/promises';
import { z } from 'zod';
import { formatBytes } from '../../../domain/format.js';
import { defineAction } from '../typed-action.js';
import { checkSidecar } from './backup-files.js';
import { ActionError, check, fsProblem, Job, pathProblem, text } from './common.js';
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
  run(inputs, ctx) {
    const job = new Job(ctx);
    return job.perform(async () => {
      check(pathProblem(inputs.from, 'from'));
      let real: string;
      try {
        real = await realpath(inputs.from);
      } catch (error) {
        throw new ActionError(`backup ${inputs.from} ${fsProblem(error)}`);
      }
      const info = await statOrUndefined(real);
      if (!info?.isFile()) throw new ActionError(`backup ${inputs.from} is not a regular file`);
      const { sidecar, sha256 } = await checkSidecar(real, job.signal);
      if (sidecar === 'mismatch') throw new ActionError(`backup ${real} does not match its .sha256 sidecar`);
      job.artefacts.push({ kind: 'backup', path: real, sizeBytes: info.size, sha256 });
      if (real !== inputs.from) job.fact('link', `${inputs.from} → ${real}`);
      job.fact('modified', info.mtime.toISOString());
      job.fact('sha256', `${sha256} (${sidecar === 'verified' ? 'matches the sidecar' : 'no .sha256 sidecar'})`);
      return `the backup is ${real === inputs.from ? real : `${inputs.from} → ${real}`} (${formatBytes(info.size)}, modified ${info.mtime.toISOString().slice(0, 16).replace('T', ' ')} UTC)`;
    });
  },
});
