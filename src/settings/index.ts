// Settings: the environment's variables (config.ts) and each settings file's schema with its loader.
// May import src/domain, src/core (validation helpers and value types) and src/runbooks/index.ts; read by app.ts and main.ts.
export { describeDatabase, loadConfig, type Config } from './config.js';
export { loadEscalation, type EscalationConfig } from './escalation.js';
export { loadPolicy, type Policy } from './policy.js';
export { loadRoutes, type Routes } from './routes.js';
export { loadSchedules, type Schedules } from './schedules.js';
