import type { DatabaseSession } from './port.js';

/**
 * Opens a transaction for rows the migration can always write again from the source: batches of
 * memories and of relationships. Its commit does not wait for the WAL to reach disk
 * (`synchronous_commit = off`, for this transaction only; no privilege needed).
 *
 * Why this is safe here: the transaction is still atomic (rows and ledger commit together or not
 * at all), and the run's own record is written later with the server's normal commit. WAL reaches
 * disk in order, so once a run is recorded every batch before it is durable too. A server crash in
 * mid-run can lose only the last fraction of a second of batch commits, which Verify's accounting
 * identity reports as missing and an idempotent rerun writes again. In exchange, the batch does
 * not wait on a disk flush at every commit (about 15% of the batches' time in the benchmark).
 */
export async function beginRederivableWrite(client: DatabaseSession, setup?: string): Promise<void> {
  // `setup` (parameterless statements, e.g. staging DDL) rides in the same round trip.
  await client.query(`BEGIN; SET LOCAL synchronous_commit = off${setup ? `; ${setup}` : ''}`);
}
