// Core: incidents, steps, approvals, audit, the use cases adapters call and the workers behind them; no SDK, no driver.
// May import src/domain, src/core/ports (the only way to the runbooks), and src/settings as types only.
export { Engine, type EngineOptions } from './engine.js';
export type { IncidentUseCases } from './use-cases.js';
export * from './ports/index.js';
