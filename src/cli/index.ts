// CLI: the audit command-line tools (verify, export, seals), each an entry point of its own (npm run audit:*).
// May import the database drivers directly (read-only), src/settings, src/core's value types and src/domain; nothing imports it, so this index exports nothing.
export {};
