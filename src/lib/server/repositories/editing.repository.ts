import type { Kysely, Transaction } from 'kysely';
import type { Database, EditingMode, NewRow } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

/** Key of a case or observer within its site, for the lookup maps below. */
export function siteScopedKey(siteCode: string, code: string): string {
  return `${siteCode}\u0000${code}`;
}

/** Ids of the sites with these codes, keyed by code; missing codes are absent. */
export async function findSiteIds(db: Db, codes: readonly string[]): Promise<Map<string, number>> {
  if (codes.length === 0) return new Map();
  const rows = await db
    .selectFrom('site')
    .select(['id', 'code'])
    .where('code', 'in', [...new Set(codes)])
    .execute();
  return new Map(rows.map((row) => [row.code, row.id]));
}

/** Ids of the cases with these pseudonyms at these sites, keyed by siteScopedKey(site code, pseudonym). */
export async function findCaseIds(
  db: Db,
  keys: ReadonlyArray<{ siteCode: string; pseudonym: string }>,
): Promise<Map<string, number>> {
  if (keys.length === 0) return new Map();
  const rows = await db
    .selectFrom('patient_case')
    .innerJoin('site', 'site.id', 'patient_case.site_id')
    .select(['patient_case.id', 'patient_case.pseudonym', 'site.code'])
    .where('site.code', 'in', [...new Set(keys.map((k) => k.siteCode))])
    .where('patient_case.pseudonym', 'in', [...new Set(keys.map((k) => k.pseudonym))])
    .execute();
  return new Map(rows.map((row) => [siteScopedKey(row.code, row.pseudonym), row.id]));
}

/** Ids of the observers with these codes at these sites, keyed by siteScopedKey(site code, observer code). */
export async function findObserverIds(
  db: Db,
  keys: ReadonlyArray<{ siteCode: string; code: string }>,
): Promise<Map<string, number>> {
  if (keys.length === 0) return new Map();
  const rows = await db
    .selectFrom('observer')
    .innerJoin('site', 'site.id', 'observer.site_id')
    .select(['observer.id', 'observer.code', 'site.code as site_code'])
    .where('site.code', 'in', [...new Set(keys.map((k) => k.siteCode))])
    .where('observer.code', 'in', [...new Set(keys.map((k) => k.code))])
    .execute();
  return new Map(rows.map((row) => [siteScopedKey(row.site_code, row.code), row.id]));
}

/** Ids of the structures with these TG-263 names, keyed by name; unknown names are absent. */
export async function findStructureIdsByName(db: Db, names: readonly string[]): Promise<Map<string, number>> {
  if (names.length === 0) return new Map();
  const rows = await db
    .selectFrom('structure')
    .select(['id', 'tg263_name'])
    .where('tg263_name', 'in', [...new Set(names)])
    .execute();
  return new Map(rows.map((row) => [row.tg263_name, row.id]));
}

/** The case id of each of these contour sets, keyed by set id; unknown ids are absent. */
export async function findContourSetCases(db: Db, ids: readonly number[]): Promise<Map<number, number>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('contour_set')
    .select(['id', 'case_id'])
    .where('id', 'in', [...new Set(ids)])
    .execute();
  return new Map(rows.map((row) => [row.id, row.case_id]));
}

export interface EditingSessionValues {
  observerId: number;
  caseId: number;
  /** null: the session covers the whole case. */
  structureId: number | null;
  fromSetId: number | null;
  toSetId: number | null;
  startedAt: Date;
  endedAt: Date;
  activeSeconds: number;
  mode: EditingMode;
  tool: string | null;
}

/**
 * Inserts the editing session or updates it in place (natural key editing_session_natural_key: observer,
 * case, structure, started_at); returns its id. Re-writing identical values leaves the row as it was.
 */
export async function upsertEditingSession(db: Db, values: EditingSessionValues): Promise<number> {
  const row: NewRow<'editing_session'> = {
    observer_id: values.observerId,
    case_id: values.caseId,
    structure_id: values.structureId,
    from_set_id: values.fromSetId,
    to_set_id: values.toSetId,
    started_at: values.startedAt,
    ended_at: values.endedAt,
    active_seconds: values.activeSeconds,
    mode: values.mode,
    tool: values.tool,
  };
  const result = await db
    .insertInto('editing_session')
    .values(row)
    .onConflict((oc) =>
      oc.constraint('editing_session_natural_key').doUpdateSet({
        from_set_id: values.fromSetId,
        to_set_id: values.toSetId,
        ended_at: values.endedAt,
        active_seconds: values.activeSeconds,
        mode: values.mode,
        tool: values.tool,
      }),
    )
    .returning('id')
    .executeTakeFirstOrThrow();
  return result.id;
}

/** Number of stored editing sessions. */
export async function countEditingSessions(db: Db): Promise<number> {
  const row = await db
    .selectFrom('editing_session')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
