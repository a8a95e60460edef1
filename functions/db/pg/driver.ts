/**
 * node-postgres itself, for the one tool that must work beneath the port: the RDS Data API
 * emulator (dev/harness/data-api-server.ts) answers in the service's shapes, which takes rows as
 * arrays, values as raw text, column metadata and the server's own error class. Everything else
 * reaches PostgreSQL through the port (`openPgDatabase`, `openPgSession`).
 */
export { default } from 'pg';
