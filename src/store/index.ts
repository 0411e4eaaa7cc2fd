// Store: the SQLite and PostgreSQL implementations of the store port (src/core/ports/store.ts), with one migration list.
// May import core/domain.ts, src/core/ports, src/domain and the settings' database config type; nothing of the adapters or the runbooks.
export { openStore } from './open.js';
export { postgresMigrations, sqliteMigrations, type Migration } from './migrations.js';
