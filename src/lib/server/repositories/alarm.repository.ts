import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface NewAlarm {
  seriesKey: string;
  rule: string;
  metricName: string;
  modelVersionId: number | null;
  siteId: number | null;
  structureId: number | null;
  pointAt: Date;
  value: number | null;
  details: Record<string, unknown>;
}

/**
 * Stores alarms, keeping the ones already raised (natural key: series, rule, point time) untouched so a
 * refresh never duplicates an alarm nor clears its acknowledgement. Returns how many were new.
 */
export async function insertAlarms(db: Db, alarms: readonly NewAlarm[]): Promise<number> {
  let inserted = 0;
  for (let i = 0; i < alarms.length; i += 1000) {
    const chunk = alarms.slice(i, i + 1000);
    const result = await db
      .insertInto('alarm')
      .values(
        chunk.map((a) => ({
          series_key: a.seriesKey,
          rule: a.rule,
          metric_name: a.metricName,
          model_version_id: a.modelVersionId,
          site_id: a.siteId,
          structure_id: a.structureId,
          point_at: a.pointAt,
          value: a.value === null || Number.isFinite(a.value) ? a.value : null,
          details: a.details,
        })),
      )
      .onConflict((oc) => oc.columns(['series_key', 'rule', 'point_at']).doNothing())
      .executeTakeFirst();
    inserted += Number(result.numInsertedOrUpdatedRows ?? 0);
  }
  return inserted;
}

export interface AlarmRow {
  id: number;
  seriesKey: string;
  rule: string;
  metric: string;
  model: string | null;
  site: string | null;
  structure: string | null;
  pointAt: Date;
  value: number | null;
  details: Record<string, unknown>;
  raisedAt: Date;
  acknowledgedAt: Date | null;
  acknowledgedBy: string | null;
  acknowledgementNote: string | null;
}

export async function listAlarms(
  db: Db,
  options: { open?: boolean; limit: number; sites?: readonly string[]; structures?: readonly string[] },
): Promise<AlarmRow[]> {
  let query = db
    .selectFrom('alarm as a')
    .leftJoin('model_version as mv', 'mv.id', 'a.model_version_id')
    .leftJoin('model as mo', 'mo.id', 'mv.model_id')
    .leftJoin('site as s', 's.id', 'a.site_id')
    .leftJoin('structure as st', 'st.id', 'a.structure_id')
    .leftJoin('app_user as u', 'u.id', 'a.acknowledged_by')
    .select([
      'a.id',
      'a.series_key as seriesKey',
      'a.rule',
      'a.metric_name as metric',
      sql<string | null>`case when mo.name is null then null else mo.name || '@' || mv.version end`.as(
        'model',
      ),
      's.code as site',
      'st.tg263_name as structure',
      'a.point_at as pointAt',
      'a.value',
      'a.details',
      'a.raised_at as raisedAt',
      'a.acknowledged_at as acknowledgedAt',
      'u.email as acknowledgedBy',
      'a.acknowledgement_note as acknowledgementNote',
    ])
    .orderBy('a.raised_at', 'desc')
    .orderBy('a.point_at', 'desc')
    .orderBy('a.id', 'desc')
    .limit(options.limit);
  if (options.open) query = query.where('a.acknowledged_at', 'is', null);
  if (options.sites?.length) query = query.where('s.code', 'in', [...options.sites]);
  if (options.structures?.length) query = query.where('st.tg263_name', 'in', [...options.structures]);
  return (await query.execute()) as AlarmRow[];
}

/** Acknowledges an open alarm; false when there is no such alarm or it was acknowledged already. */
export async function acknowledgeAlarm(
  db: Db,
  id: number,
  userId: number | null,
  note: string,
): Promise<boolean> {
  const result = await db
    .updateTable('alarm')
    .set({ acknowledged_at: new Date(), acknowledged_by: userId, acknowledgement_note: note })
    .where('id', '=', id)
    .where('acknowledged_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function alarmExists(db: Db, id: number): Promise<boolean> {
  return (await db.selectFrom('alarm').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}

/** Ids of sites, structures and model versions by their names, for the keys alarms are stored under. */
export async function findAlarmSubjectIds(db: Db) {
  const [sites, structures, models] = await Promise.all([
    db.selectFrom('site').select(['id', 'code']).execute(),
    db.selectFrom('structure').select(['id', 'tg263_name']).execute(),
    db
      .selectFrom('model_version as mv')
      .innerJoin('model as mo', 'mo.id', 'mv.model_id')
      .select(['mv.id', sql<string>`mo.name || '@' || mv.version`.as('label')])
      .execute(),
  ]);
  return {
    sites: new Map(sites.map((s) => [s.code, s.id])),
    structures: new Map(structures.map((s) => [s.tg263_name, s.id])),
    models: new Map(models.map((m) => [m.label, m.id])),
  };
}
