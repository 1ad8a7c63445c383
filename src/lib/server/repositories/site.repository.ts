import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface Site {
  id: number;
  code: string;
  name: string;
  pseudonymKey: string | null;
  keepUidMap: boolean;
}

/** The site with this code, created when missing (name defaults to the code). */
export async function ensureSite(db: Db, code: string, name = code): Promise<Site> {
  const row = await db
    .insertInto('site')
    .values({ code, name })
    .onConflict((oc) => oc.column('code').doUpdateSet({ code }))
    .returning(['id', 'code', 'name', 'pseudonym_key', 'keep_uid_map'])
    .executeTakeFirstOrThrow();
  return {
    id: row.id,
    code: row.code,
    name: row.name,
    pseudonymKey: row.pseudonym_key,
    keepUidMap: row.keep_uid_map,
  };
}

/** Sets the site's pseudonym key unless it has one; returns the key in force. */
export async function setPseudonymKeyIfMissing(db: Db, siteId: number, key: string): Promise<string> {
  await db
    .updateTable('site')
    .set({ pseudonym_key: key })
    .where('id', '=', siteId)
    .where('pseudonym_key', 'is', null)
    .execute();
  const row = await db
    .selectFrom('site')
    .select('pseudonym_key')
    .where('id', '=', siteId)
    .executeTakeFirstOrThrow();
  return row.pseudonym_key!;
}

export async function setKeepUidMap(db: Db, siteId: number, keep: boolean): Promise<void> {
  await db.updateTable('site').set({ keep_uid_map: keep }).where('id', '=', siteId).execute();
}
