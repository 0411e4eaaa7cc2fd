// Runbooks: manifests that map alerts to approved, audited steps, the actions that run them and the local step runner.
// May import src/domain only (a lower layer); this index is the only way in, for the core through src/core/ports.
export { loadRunbooks, parseRunbook } from './loader.js';
export { matchingRunbooks, noRunbookHint, runbookMatches } from './match.js';
export { resolveParams, vetParams, type ParamResolution } from './params.js';
export { quoteValue } from './param-value.js';
export { renderTemplate, templateNames } from './template.js';
export { inspectChosenFile, type ChosenFile, type Inspection } from './chosen-file.js';
export { listBackupChoices, listPickChoices, type BackupChoice } from './backup-choices.js';
export { resolveRunOn, describeTarget, runOnSchema, type RunOn, type RunnerTarget } from './run-on.js';
export { stepHash } from './step-hash.js';
export { ACTION_NAMES, describeStep, runStep, type ActionContext, type StepResult } from './actions/index.js';
export type { ActionSettings, StepArtefact } from './actions/types.js';
export type { StepProcess } from './actions/process-group.js';
export { loadExeca, loadUndici } from './actions/lazy-clients.js';
export { localStepRunner, type BackupExpiry } from './runner.js';
export {
  paramSpecSchema,
  runbookSchema,
  stepParamNames,
  stepSchema,
  type ExecStep,
  type HttpStep,
  type ParamSpec,
  type Runbook,
  type RunbookStep,
} from './schema.js';
