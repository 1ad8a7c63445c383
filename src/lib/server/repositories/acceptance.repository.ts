import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface AcceptanceCriterion {
  /** null: every structure without a criterion of its own on this metric */
  structure: string | null;
  metric: string;
  comparator: '>=' | '<=';
  threshold: number;
  minPassRate: number;
  note: string;
}

/** The criteria of a named set, structure-specific ones first. */
export async function findCriteria(db: Db, criteriaSet: string): Promise<AcceptanceCriterion[]> {
  const rows = await db
    .selectFrom('acceptance_criterion as a')
    .leftJoin('structure as st', 'st.id', 'a.structure_id')
    .select([
      'st.tg263_name as structure',
      'a.metric',
      'a.comparator',
      'a.threshold',
      'a.min_pass_rate as minPassRate',
      'a.note',
    ])
    .where('a.criteria_set', '=', criteriaSet)
    .orderBy('st.tg263_name')
    .orderBy('a.metric')
    .execute();
  return rows;
}

export async function listCriteriaSets(db: Db): Promise<Array<{ name: string; criteria: number }>> {
  const rows = await db
    .selectFrom('acceptance_criterion')
    .select(['criteria_set as name', (eb) => eb.fn.countAll<number>().as('criteria')])
    .groupBy('criteria_set')
    .orderBy('criteria_set')
    .execute();
  return rows.map((r) => ({ name: r.name, criteria: Number(r.criteria) }));
}

/**
 * Replaces a named set by `criteria` in one transaction; structures are given by TG-263 name and must
 * exist (the caller has checked them against the structure table).
 */
export async function replaceCriteria(
  db: Kysely<Database>,
  criteriaSet: string,
  criteria: ReadonlyArray<AcceptanceCriterion & { structureId: number | null }>,
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('acceptance_criterion').where('criteria_set', '=', criteriaSet).execute();
    if (criteria.length === 0) return;
    await tx
      .insertInto('acceptance_criterion')
      .values(
        criteria.map((c) => ({
          criteria_set: criteriaSet,
          structure_id: c.structureId,
          metric: c.metric,
          comparator: c.comparator,
          threshold: c.threshold,
          min_pass_rate: c.minPassRate,
          note: c.note,
        })),
      )
      .execute();
  });
}
