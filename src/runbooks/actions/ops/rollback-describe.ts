import type { ResultMessage } from '../../../domain/result-message.js';
import { restoreAction } from '../data-actions.js';
import type { RestoreInputs } from '../data/inputs.js';
import { restartClause, restartValue, type RestartInputs } from './restart.js';
import { planSwitch, type RollbackInputs } from './rollback.js';
import { quoteArgv, say } from './said.js';
import { checkValue, describeFollowUpVerify } from './verify-inputs.js';

/*
 * How a rollback is described before it runs: in English, and as a code with its values for the
 * bot's language. A symlink rollback plans its switch now, so the description shows the from → to
 * the run will apply.
 */

function followUpClauses(i: { restore?: RestoreInputs | undefined; restart?: RestartInputs | undefined; verify?: Parameters<typeof describeFollowUpVerify>[0] }): string {
  const restore = i.restore !== undefined ? `, then ${restoreAction.describe(i.restore).replace(/^will /u, '')}` : '';
  const restart = i.restart !== undefined ? `, then ${restartClause(i.restart)}${describeFollowUpVerify(i.restart.verify)}` : '';
  return `${restore}${restart}${describeFollowUpVerify(i.verify)}`;
}

/** "will switch /srv/app/current from releases/v2 to releases/v1, then run `…`, then verify that http://… answers 200 (within 30s)" */
export function describeRollback(i: RollbackInputs): string {
  if (i.kind === 'command') return `will run ${quoteArgv(i.run)}${i.cwd !== undefined ? ` in ${i.cwd}` : ''}${followUpClauses(i)}`;
  const plan = planSwitch(i);
  const what =
    'said' in plan
      ? `switch ${i.current} to ${i.to ?? 'the release before the current one'} in ${i.releasesDir} (not possible now: ${plan.text})`
      : `switch ${plan.current} from ${plan.fromText} to ${plan.toText}`;
  return `will ${what}${followUpClauses(i)}`;
}

/**
 * The follow-ups of a description said as a code: each is a flag (1: the catalogue text names it)
 * and its values, empty when absent; the checks of the restart and of the rollback are one value.
 */
function followUpsSaid(i: RollbackInputs): Record<string, string | number> {
  const checks = [i.restart?.verify, i.verify].flatMap((v) => (v === undefined ? [] : [checkValue(v)]));
  const within = [i.restart?.verify, i.verify].flatMap((v) => (v === undefined ? [] : [v.withinSeconds]));
  return {
    restore: i.restore !== undefined ? 1 : 0,
    restoreFrom: i.restore === undefined ? '' : (i.restore.from ?? i.restore.dir ?? ''),
    restart: i.restart !== undefined ? 1 : 0,
    restartWhat: i.restart !== undefined ? restartValue(i.restart) : '',
    verify: checks.length > 0 ? 1 : 0,
    check: checks.join('; '),
    checkWithin: within.length > 0 ? String(Math.max(...within)) : '',
  };
}

/** The rollback's description as a code (a switch that is not possible now says why, as written). */
export function describeRollbackSaid(i: RollbackInputs): ResultMessage {
  const then = followUpsSaid(i);
  if (i.kind === 'command') return say('describe.rollback.command', { argv: quoteArgv(i.run), inDir: i.cwd !== undefined ? 1 : 0, dir: i.cwd ?? '', ...then });
  const plan = planSwitch(i);
  if ('said' in plan) return say('describe.rollback.impossible', { link: i.current, named: i.to !== undefined ? 1 : 0, to: i.to ?? '', dir: i.releasesDir, problem: plan.text, ...then });
  return say('describe.rollback.symlink', { link: plan.current, from: plan.fromText, to: plan.toText, ...then });
}
