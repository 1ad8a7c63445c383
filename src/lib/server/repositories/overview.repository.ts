import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface OverviewCounts {
  sites: number;
  cases: number;
  contourSets: number;
  contours: number;
  observers: number;
  editingSessions: number;
  cohorts: number;
  firstAcquisition: string | null;
  lastAcquisition: string | null;
}

/** What the database holds, in one round trip. */
export async function countOverview(db: Db): Promise<OverviewCounts> {
  const result = await sql<OverviewCounts>`
    select
      (select count(*)::int from site where exists (select 1 from patient_case where site_id = site.id)) as "sites",
      (select count(*)::int from patient_case) as "cases",
      (select count(*)::int from contour_set) as "contourSets",
      (select count(*)::int from contour) as "contours",
      (select count(*)::int from observer) as "observers",
      (select count(*)::int from editing_session) as "editingSessions",
      (select count(*)::int from cohort) as "cohorts",
      (select min(acquisition_date)::text from patient_case) as "firstAcquisition",
      (select max(acquisition_date)::text from patient_case) as "lastAcquisition"`.execute(db);
  return result.rows[0];
}

export interface RecentRun {
  id: number;
  model: string;
  cohort: string;
  /** the frozen cohort version evaluated, or null for the cohort's cases at the time */
  cohortVersion: number | null;
  status: string;
  total: number;
  succeeded: number;
  failed: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** The latest evaluation runs, newest first. */
export async function findRecentRuns(db: Db, limit: number): Promise<RecentRun[]> {
  const result = await sql<RecentRun>`
    select r.id, mo.name || '@' || mv.version as model, co.name as cohort, cv.version as "cohortVersion",
      r.status,
      r.jobs_total as total, r.jobs_succeeded as succeeded, r.jobs_failed as failed,
      r.created_at as "createdAt", r.started_at as "startedAt", r.finished_at as "finishedAt"
    from evaluation_run r
    join model_version mv on mv.id = r.model_version_id
    join model mo on mo.id = mv.model_id
    join cohort co on co.id = r.cohort_id
    left join cohort_version cv on cv.id = r.cohort_version_id
    order by r.created_at desc, r.id desc
    limit ${limit}`.execute(db);
  return result.rows;
}

/** Cohorts, sites and model versions with their sizes, and how many alarms are open. */
export async function findCatalogue(db: Db) {
  const result = await sql<{
    cohorts: Array<{ name: string; cases: number }>;
    sites: Array<{ code: string; name: string; cases: number; observers: number }>;
    models: Array<{ model: string; sha256: string; registeredAt: string; runs: number }>;
    openAlarms: number;
  }>`
    select
      coalesce((select json_agg(x order by x.name) from (
        select co.name, count(cc.case_id)::int as cases from cohort co
        left join cohort_case cc on cc.cohort_id = co.id group by co.id) x), '[]') as cohorts,
      coalesce((select json_agg(x order by x.code) from (
        select s.code, s.name,
          (select count(*)::int from patient_case c where c.site_id = s.id) as cases,
          (select count(*)::int from observer o where o.site_id = s.id) as observers
        from site s) x where x.cases > 0), '[]') as sites,
      coalesce((select json_agg(x order by x.model) from (
        select mo.name || '@' || mv.version as model, mv.onnx_sha256 as sha256, mv.registered_at as "registeredAt",
          (select count(*)::int from evaluation_run r where r.model_version_id = mv.id) as runs
        from model_version mv join model mo on mo.id = mv.model_id) x), '[]') as models,
      (select count(*)::int from alarm where acknowledged_at is null) as "openAlarms"`.execute(db);
  return result.rows[0]!;
}
