import { type Kysely, sql, type SqlBool, type Transaction } from 'kysely';
import { metricDefinitionVersion } from '../../core/metrics/metric-set';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

/** Which (observer, consensus) rows are read; every field narrows, none widens. */
export interface ObserverVolumeFilter {
  structures?: readonly string[];
  sites?: readonly string[];
  /** observer codes of the physician (test) set */
  observers?: readonly string[];
  cohort?: string;
  /** inclusive acquisition days 'YYYY-MM-DD' */
  from?: string;
  to?: string;
}

/** One physician's structure on one case beside the case's consensus of the same structure. */
export interface ObserverVolumeRow {
  structure: string;
  observer: string;
  caseId: number;
  casePseudonym: string;
  site: string;
  observerVolumeCc: number;
  consensusVolumeCc: number;
  observerEmpty: boolean;
  consensusEmpty: boolean;
}

/**
 * The volumes of every physician set against its case's consensus set (the metric row with test = the
 * physician, reference = the consensus, at the current metric definition), in structure, observer and
 * acquisition order.
 */
export async function findObserverVolumes(
  db: Db,
  filter: ObserverVolumeFilter,
): Promise<ObserverVolumeRow[]> {
  const rows = await db
    .selectFrom('metric as m')
    .innerJoin('contour_set as ts', 'ts.id', 'm.test_set_id')
    .innerJoin('observer as o', 'o.id', 'ts.observer_id')
    .innerJoin('contour_set as rs', 'rs.id', 'm.reference_set_id')
    .innerJoin('patient_case as c', 'c.id', 'm.case_id')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .innerJoin('structure as st', 'st.id', 'm.structure_id')
    .select([
      'st.tg263_name as structure',
      'o.code as observer',
      'm.case_id as caseId',
      'c.pseudonym as casePseudonym',
      's.code as site',
      'm.test_volume_cc as observerVolumeCc',
      'm.reference_volume_cc as consensusVolumeCc',
      'm.test_empty as observerEmpty',
      'm.reference_empty as consensusEmpty',
    ])
    .where('m.definition_version', '=', metricDefinitionVersion)
    .where('ts.source', '=', 'physician')
    .where('rs.source', '=', 'consensus')
    .where((eb) => {
      const clauses = [];
      if (filter.structures?.length) clauses.push(eb('st.tg263_name', 'in', [...filter.structures]));
      if (filter.sites?.length) clauses.push(eb('s.code', 'in', [...filter.sites]));
      if (filter.observers?.length) clauses.push(eb('o.code', 'in', [...filter.observers]));
      if (filter.cohort !== undefined)
        clauses.push(sql<SqlBool>`exists (select 1 from cohort_case cc join cohort co on co.id = cc.cohort_id
          where cc.case_id = m.case_id and co.name = ${filter.cohort})`);
      if (filter.from !== undefined) clauses.push(sql<SqlBool>`c.acquisition_date >= ${filter.from}::date`);
      if (filter.to !== undefined) clauses.push(sql<SqlBool>`c.acquisition_date <= ${filter.to}::date`);
      return eb.and(clauses);
    })
    .orderBy('st.tg263_name')
    .orderBy('o.code')
    .orderBy('c.acquisition_date')
    .orderBy('m.case_id')
    .execute();
  return rows;
}
