import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

/** The cohort with this name, created when missing; returns its id. */
export async function ensureCohort(db: Db, name: string): Promise<number> {
  const row = await db
    .insertInto('cohort')
    .values({ name })
    .onConflict((oc) => oc.column('name').doUpdateSet({ name }))
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function addCaseToCohort(
  db: Db,
  cohortId: number,
  caseId: number,
  reason: string,
): Promise<void> {
  await db
    .insertInto('cohort_case')
    .values({ cohort_id: cohortId, case_id: caseId, reason })
    .onConflict((oc) => oc.columns(['cohort_id', 'case_id']).doNothing())
    .execute();
}
