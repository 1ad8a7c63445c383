import { sql, type Kysely, type Transaction } from 'kysely';
import type { ContourSetSource, Database, NewRow } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

// Postgres takes at most 65535 bind parameters per statement; a wide row (metric has ~45 columns) caps
// the rows per INSERT well below the 5000 that narrow tables allow.
const MAX_PARAMETERS = 65_000;
const MAX_ROWS = 5000;

/** Rows in slices small enough for one multi-row INSERT each. */
function chunks<T extends object>(rows: readonly T[]): T[][] {
  if (rows.length === 0) return [];
  const columns = Math.max(1, Object.keys(rows[0]).length);
  const size = Math.max(1, Math.min(MAX_ROWS, Math.floor(MAX_PARAMETERS / columns)));
  const out: T[][] = [];
  for (let start = 0; start < rows.length; start += size) out.push(rows.slice(start, start + size));
  return out;
}

/**
 * Creates the cohort unless one of that name exists; returns its id, or undefined when it existed. A
 * concurrent creator's uncommitted row makes this wait for its outcome, so two callers never both win.
 */
export async function insertCohortIfAbsent(
  db: Db,
  name: string,
  description: string,
): Promise<number | undefined> {
  const row = await db
    .insertInto('cohort')
    .values({ name, description })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id;
}

/** Inserts cases; returns their ids with the natural key (site, pseudonym) they were given. */
export async function insertCases(
  db: Db,
  rows: readonly NewRow<'patient_case'>[],
): Promise<Array<{ id: number; siteId: number; pseudonym: string }>> {
  const out: Array<{ id: number; siteId: number; pseudonym: string }> = [];
  for (const chunk of chunks(rows)) {
    const inserted = await db
      .insertInto('patient_case')
      .values(chunk)
      .returning(['id', 'site_id', 'pseudonym'])
      .execute();
    for (const row of inserted) out.push({ id: row.id, siteId: row.site_id, pseudonym: row.pseudonym });
  }
  return out;
}

export async function insertCohortCases(db: Db, rows: readonly NewRow<'cohort_case'>[]): Promise<void> {
  for (const chunk of chunks(rows)) await db.insertInto('cohort_case').values(chunk).execute();
}

/** Inserts evaluation runs; returns their ids in the order given (one statement per run). */
export async function insertEvaluationRuns(
  db: Db,
  rows: readonly NewRow<'evaluation_run'>[],
): Promise<number[]> {
  const ids: number[] = [];
  for (const row of rows) {
    ids.push(
      (await db.insertInto('evaluation_run').values(row).returning('id').executeTakeFirstOrThrow()).id,
    );
  }
  return ids;
}

export async function insertJobOutcomes(db: Db, rows: readonly NewRow<'job_outcome'>[]): Promise<void> {
  for (const chunk of chunks(rows)) await db.insertInto('job_outcome').values(chunk).execute();
}

/** The natural key of a contour set (contour_set_natural_key) with its id. */
export interface InsertedContourSet {
  id: number;
  caseId: number;
  source: ContourSetSource;
  observerId: number | null;
  modelVersionId: number | null;
  parentSetId: number | null;
  variant: string;
}

/** Inserts contour sets; returns each id with its natural key, so callers never rely on row order. */
export async function insertContourSets(
  db: Db,
  rows: readonly NewRow<'contour_set'>[],
): Promise<InsertedContourSet[]> {
  const out: InsertedContourSet[] = [];
  for (const chunk of chunks(rows)) {
    const inserted = await db
      .insertInto('contour_set')
      .values(chunk)
      .returning(['id', 'case_id', 'source', 'observer_id', 'model_version_id', 'parent_set_id', 'variant'])
      .execute();
    for (const row of inserted)
      out.push({
        id: row.id,
        caseId: row.case_id,
        source: row.source,
        observerId: row.observer_id,
        modelVersionId: row.model_version_id,
        parentSetId: row.parent_set_id,
        variant: row.variant,
      });
  }
  return out;
}

export async function insertMetrics(db: Db, rows: readonly NewRow<'metric'>[]): Promise<void> {
  for (const chunk of chunks(rows)) await db.insertInto('metric').values(chunk).execute();
}

export async function insertEditingSessions(
  db: Db,
  rows: readonly NewRow<'editing_session'>[],
): Promise<void> {
  for (const chunk of chunks(rows)) await db.insertInto('editing_session').values(chunk).execute();
}

/** Refreshes the planner statistics of the tables a seed fills (a bulk load leaves them stale). */
export async function analyzeSeededTables(db: Db): Promise<void> {
  await sql`analyze patient_case, contour_set, metric, editing_session, cohort_case, evaluation_run, job_outcome`.execute(
    db,
  );
}
