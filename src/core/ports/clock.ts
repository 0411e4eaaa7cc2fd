/**
 * The time source the core reads instead of `new Date()`, so that tests and the workers agree on
 * "now" (timeouts, escalation levels, retention ages are all measured against it).
 */
export type Clock = () => Date;

/** The wall clock. */
export const systemClock: Clock = () => new Date();
