// Alertmanager: the implementation of the silences port (core/ports/silence-api.ts) over its API v2.
// May import src/core/ports and src/runbooks/index.ts (its lazily loaded HTTP client).
export { createAlertmanagerSilences } from './silences.js';
