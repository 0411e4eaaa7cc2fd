/** Runbooks: manifests that map alerts to approved, audited steps. The public surface of this folder. */
export { loadRunbooks, parseRunbook } from './loader.js';
export { matchingRunbooks, runbookMatches } from './match.js';
export { resolveParams, type ParamResolution } from './params.js';
export { renderTemplate, templateNames } from './template.js';
export { ACTION_NAMES, describeStep, runStep, type ActionContext, type StepResult } from './actions/index.js';
export {
  paramSpecSchema,
  runbookSchema,
  stepSchema,
  type ExecStep,
  type HttpStep,
  type ParamSpec,
  type Runbook,
  type RunbookStep,
} from './schema.js';
