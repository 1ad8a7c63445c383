import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

/** Round trip to the server; returns its version string. */
export async function pingDatabase(db: Db): Promise<string> {
  const result = await sql<{ version: string }>`select current_setting('server_version') as version`.execute(
    db,
  );
  return result.rows[0].version;
}

export async function insertHealthPing(db: Db, nonce: string): Promise<void> {
  await db.insertInto('health_ping').values({ nonce }).execute();
}

/** Marks a ping answered; idempotent, so a retried job changes nothing. Returns false for an unknown nonce. */
export async function completeHealthPing(
  db: Db,
  ping: { nonce: string; workerId: string | null; hostname: string },
): Promise<boolean> {
  const result = await db
    .updateTable('health_ping')
    .set({
      completed_at: sql`coalesce(completed_at, now())`,
      worker_id: ping.workerId,
      hostname: ping.hostname,
    })
    .where('nonce', '=', ping.nonce)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function findHealthPing(db: Db, nonce: string) {
  const row = await db.selectFrom('health_ping').selectAll().where('nonce', '=', nonce).executeTakeFirst();
  return row
    ? {
        nonce: row.nonce,
        requestedAt: row.requested_at,
        completedAt: row.completed_at,
        workerId: row.worker_id,
        hostname: row.hostname,
      }
    : undefined;
}
