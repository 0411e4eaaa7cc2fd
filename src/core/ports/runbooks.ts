/**
 * The runbook model the core reads: manifest types and the pure functions over them (matching,
 * params, templates), from the runbooks layer below. Running a step goes through StepRunner.
 */
export {
  inspectChosenFile,
  matchingRunbooks,
  noRunbookHint,
  quoteValue,
  renderTemplate,
  resolveParams,
  stepParamNames,
  type ActionSettings,
  type BackupExpiry,
  type ChosenFile,
  type Runbook,
  type RunbookStep,
  type StepArtefact,
  type StepProcess,
  type StepResult,
} from '../../runbooks/index.js';
