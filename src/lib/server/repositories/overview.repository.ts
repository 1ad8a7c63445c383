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
