import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

/** The observer with this code at the site, created when missing; returns its id. */
export async function ensureObserver(
  db: Db,
  siteId: number,
  code: string,
  displayName = code,
): Promise<number> {
  const row = await db
    .insertInto('observer')
    .values({ site_id: siteId, code, display_name: displayName })
    .onConflict((oc) => oc.columns(['site_id', 'code']).doUpdateSet({ code }))
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}
