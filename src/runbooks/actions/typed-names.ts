/**
 * The typed actions a step may name, listed statically so the step schema's `action` field has
 * literal types (the registry checks at compile time that it implements exactly these).
 */
export const TYPED_ACTION_NAMES = ['restart', 'checkpoint', 'backup', 'restore', 'rollback', 'verify', 'locate', 'compose'] as const;

export type TypedActionName = (typeof TYPED_ACTION_NAMES)[number];
