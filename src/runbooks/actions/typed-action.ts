import type { z } from 'zod';
import type { ResultMessage } from '../../domain/result-message.js';
import type { ActionContext, StepResult } from './types.js';

/**
 * A typed action: a remediation the bot ships (restart, checkpoint, backup, restore, rollback,
 * verify) with a zod schema for its `with:` inputs. In a manifest every string inside `with:` may
 * use {{params}}; the inputs are rendered first and then parsed, so the schema checks the values
 * that will actually be used.
 */
export interface TypedAction<S extends z.ZodType = z.ZodType> {
  name: string;
  /** One line for the manifest reference. */
  summary: string;
  inputs: S;
  /** What will run, on what: the dry-run text shown before approval and when the step starts. */
  describe(inputs: z.output<S>): string;
  /** The same description as a code and its values (without the timeout), for the bot to say in its language. */
  describeSaid?(inputs: z.output<S>): ResultMessage;
  run(inputs: z.output<S>, ctx: TypedActionContext): Promise<StepResult>;
}

export interface TypedActionContext extends ActionContext {
  /** The step's whole time budget; an action with several phases shares it between them. */
  timeoutMs: number;
  /** The program environment: PATH plus what the step allowlisted. */
  programEnv: Record<string, string>;
}

/** Declares an action with its input type inferred from its schema. */
export function defineAction<S extends z.ZodType>(action: TypedAction<S>): TypedAction<S> {
  return action;
}
