import { DATA_ACTIONS } from './data-actions.js';
import { OPERATION_ACTIONS } from './operation-actions.js';
import type { TypedAction } from './typed-action.js';
import { TYPED_ACTION_NAMES, type TypedActionName } from './typed-names.js';

const ACTIONS = new Map<string, TypedAction>([...DATA_ACTIONS, ...OPERATION_ACTIONS].map((a) => [a.name, a]));

/** The implementation of a typed action; every name in TYPED_ACTION_NAMES has one (checked at start-up). */
export function typedAction(name: TypedActionName): TypedAction {
  const action = ACTIONS.get(name);
  if (!action) throw new Error(`typed action "${name}" is not implemented`);
  return action;
}

/** Names listed but not implemented, or implemented but not listed: both are programming errors. */
export function registryProblems(): string[] {
  const listed = new Set<string>(TYPED_ACTION_NAMES);
  return [
    ...TYPED_ACTION_NAMES.filter((n) => !ACTIONS.has(n)).map((n) => `typed action "${n}" is listed but not implemented`),
    ...[...ACTIONS.keys()].filter((n) => !listed.has(n)).map((n) => `typed action "${n}" is implemented but not listed`),
  ];
}
