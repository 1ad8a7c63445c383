import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

/** The values a cohort selection can take, as they occur in the stored cases. */
export interface CohortSelectionOptions {
  sites: string[];
  lateralities: string[];
  surgeries: string[];
  protocols: string[];
  manufacturers: string[];
  scannerModels: string[];
  kernels: string[];
  /** TG-263 names with at least one physician or consensus contour */
  structures: string[];
  /** first and last acquisition date, YYYY-MM-DD */
  firstDate: string | null;
  lastDate: string | null;
}

/** The distinct values of the cases of these sites (every site when null). */
export async function findCohortSelectionOptions(
  db: Db,
  sites: readonly string[] | null,
): Promise<CohortSelectionOptions> {
  if (sites !== null && sites.length === 0)
    return {
      sites: [],
      lateralities: [],
      surgeries: [],
      protocols: [],
      manufacturers: [],
      scannerModels: [],
      kernels: [],
      structures: [],
      firstDate: null,
      lastDate: null,
    };
  const scoped = sites === null ? sql`true` : sql`s.code in (${sql.join([...sites])})`;
  const result = await sql<CohortSelectionOptions>`
    with scoped as (
      select c.* , s.code as site_code from patient_case c join site s on s.id = c.site_id where ${scoped}
    )
    select
      coalesce((select array_agg(distinct site_code order by site_code) from scoped), '{}') as sites,
      coalesce((select array_agg(distinct laterality::text order by laterality::text) from scoped
        where laterality is not null), '{}') as lateralities,
      coalesce((select array_agg(distinct surgery_type::text order by surgery_type::text) from scoped
        where surgery_type is not null), '{}') as surgeries,
      coalesce((select array_agg(distinct protocol order by protocol) from scoped
        where protocol is not null and protocol <> ''), '{}') as protocols,
      coalesce((select array_agg(distinct manufacturer order by manufacturer) from scoped
        where manufacturer is not null and manufacturer <> ''), '{}') as manufacturers,
      coalesce((select array_agg(distinct scanner_model order by scanner_model) from scoped
        where scanner_model is not null and scanner_model <> ''), '{}') as "scannerModels",
      coalesce((select array_agg(distinct convolution_kernel order by convolution_kernel) from scoped
        where convolution_kernel is not null and convolution_kernel <> ''), '{}') as kernels,
      coalesce((select array_agg(tg263_name order by tg263_name) from structure st
        where exists (select 1 from contour ct join contour_set cs on cs.id = ct.contour_set_id
          join scoped on scoped.id = cs.case_id
          where ct.structure_id = st.id and cs.source in ('physician', 'consensus'))), '{}') as structures,
      (select to_char(min(acquisition_date), 'YYYY-MM-DD') from scoped) as "firstDate",
      (select to_char(max(acquisition_date), 'YYYY-MM-DD') from scoped) as "lastDate"`.execute(db);
  return result.rows[0]!;
}

/** The site codes of each cohort's current cases, by cohort name (a cohort without cases is absent). */
export async function findCohortSiteCodes(db: Db): Promise<Map<string, string[]>> {
  const rows = await db
    .selectFrom('cohort as co')
    .innerJoin('cohort_case as cc', 'cc.cohort_id', 'co.id')
    .innerJoin('patient_case as c', 'c.id', 'cc.case_id')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .select(['co.name', sql<string[]>`array_agg(distinct s.code order by s.code)`.as('sites')])
    .groupBy('co.name')
    .execute();
  return new Map(rows.map((r) => [r.name, r.sites]));
}

/** The site code of each case, by pseudonym (unknown pseudonyms are absent). */
export async function findSiteCodesOfCases(
  db: Db,
  pseudonyms: readonly string[],
): Promise<Map<string, string>> {
  if (pseudonyms.length === 0) return new Map();
  const rows = await db
    .selectFrom('patient_case as c')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .select(['c.pseudonym', 's.code'])
    .where('c.pseudonym', 'in', [...pseudonyms])
    .execute();
  return new Map(rows.map((r) => [r.pseudonym, r.code]));
}

/** The site codes of the cases a frozen cohort version holds (empty when there is no such version). */
export async function findVersionSiteCodes(db: Db, cohort: string, version: number): Promise<string[]> {
  const rows = await db
    .selectFrom('cohort_version as v')
    .innerJoin('cohort as co', 'co.id', 'v.cohort_id')
    .innerJoin('cohort_version_case as vc', 'vc.cohort_version_id', 'v.id')
    .innerJoin('patient_case as c', 'c.id', 'vc.case_id')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .select('s.code')
    .distinct()
    .where('co.name', '=', cohort)
    .where('v.version', '=', version)
    .orderBy('s.code')
    .execute();
  return rows.map((r) => r.code);
}
