/**
 * The ports: every interface the core needs from the outside (store, chat platforms, silences,
 * leadership, clock, step runner). Implemented by src/store, src/bot, src/alertmanager and the runbook actions; imports only core types.
 */
export type { Clock } from './clock.js';
export { systemClock } from './clock.js';
export type { ChatPlatform, ChatUser, MessageRef, PostOptions } from './chat-platform.js';
export type { Leadership } from './leadership.js';
export { alwaysLeader } from './leadership.js';
export type { NewSilence, SilenceApi, SilenceMatcher } from './silence-api.js';
export { SilenceApiError } from './silence-api.js';
export type { Store, StoreTx, TransactionScope } from './store.js';
export type { StepRunner } from './step-runner.js';
export type { Runbook, RunbookStep, StepResult } from './runbooks.js';
export type { RunnerJob, RunnerJobKind, RunnerJobState, RunnerJobsTx, RunnerRecord } from './runner-jobs.js';
