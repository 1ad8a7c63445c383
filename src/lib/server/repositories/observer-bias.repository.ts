import { type Kysely, sql, type Transaction } from 'kysely';
import { metricDefinitionVersion } from '../../core/metrics/metric-set';
import type { Database } from '../db/schema';
import { caseClauses } from './analytics.repository';

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
    .where((eb) =>
      eb.and(caseClauses(filter, { caseId: 'm.case_id', day: sql`c.acquisition_date`, observer: 'o.code' })),
    )
    .orderBy('st.tg263_name')
    .orderBy('o.code')
    .orderBy('c.acquisition_date')
    .orderBy('m.case_id')
    .execute();
  return rows;
}
