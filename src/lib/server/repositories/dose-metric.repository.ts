import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface DosedContour {
  contourSetId: number;
  structureId: number;
  structure: string;
  maskSha256: string;
  voxelCount: number;
  bboxIjk: number[] | null;
  /** the dose metric already stored for this contour on the dose, and the mask it was computed from */
  storedMaskSha256: string | null;
}

/** Every contour of a case (physicians, consensus, models), with what is stored for it on the dose grid. */
export async function findDosedContours(
  db: Db,
  caseId: number,
  doseGridId: number,
  definitionVersion: string,
): Promise<DosedContour[]> {
  return db
    .selectFrom('contour as ct')
    .innerJoin('contour_set as cs', 'cs.id', 'ct.contour_set_id')
    .innerJoin('structure as st', 'st.id', 'ct.structure_id')
    .leftJoin('dose_metric as dm', (join) =>
      join
        .onRef('dm.contour_set_id', '=', 'ct.contour_set_id')
        .onRef('dm.structure_id', '=', 'ct.structure_id')
        .on('dm.dose_grid_id', '=', doseGridId)
        .on('dm.definition_version', '=', definitionVersion),
    )
    .select([
      'ct.contour_set_id as contourSetId',
      'ct.structure_id as structureId',
      'st.tg263_name as structure',
      'ct.mask_blob_sha256 as maskSha256',
      'ct.voxel_count as voxelCount',
      'ct.bbox_ijk as bboxIjk',
      'dm.mask_blob_sha256 as storedMaskSha256',
    ])
    .where('cs.case_id', '=', caseId)
    .orderBy('ct.contour_set_id')
    .orderBy('st.tg263_name')
    .execute();
}

export interface DoseMetricValues {
  doseGridId: number;
  contourSetId: number;
  structureId: number;
  maskSha256: string;
  definitionVersion: string;
  volumeCc: number;
  outsideDoseCc: number;
  /** metric name ("Dmean", "V20Gy") -> value in its unit */
  values: Record<string, number | null>;
  dvhBinWidthGy: number;
  dvhCumulativePct: number[];
}

/** Stores a contour's dose metrics on its natural key, replacing what was there. */
export async function upsertDoseMetric(db: Db, v: DoseMetricValues): Promise<void> {
  const row = {
    dose_grid_id: v.doseGridId,
    contour_set_id: v.contourSetId,
    structure_id: v.structureId,
    mask_blob_sha256: v.maskSha256,
    definition_version: v.definitionVersion,
    volume_cc: v.volumeCc,
    outside_dose_cc: v.outsideDoseCc,
    metric_values: v.values,
    dvh_bin_width_gy: v.dvhBinWidthGy,
    dvh_cumulative_pct: v.dvhCumulativePct,
  };
  const { dose_grid_id: _g, contour_set_id: _s, structure_id: _t, definition_version: _d, ...update } = row;
  await db
    .insertInto('dose_metric')
    .values(row)
    .onConflict((oc) =>
      oc.constraint('dose_metric_natural_key').doUpdateSet({ ...update, computed_at: new Date() }),
    )
    .execute();
}

/**
 * The dose consequence of every metric row of a case: for each row, the test contour's dose metric minus
 * the reference contour's, for the metrics both have on the case's dose; rows where either has none get
 * null. One statement, so the deltas always match the stored dose metrics.
 */
export async function refreshDoseDeltas(
  db: Db,
  caseId: number,
  doseGridId: number,
  definitionVersion: string,
): Promise<number> {
  const result = await sql`
    update metric m set dose_delta = (
      select jsonb_object_agg(k.key, (t.metric_values ->> k.key)::float8 - (r.metric_values ->> k.key)::float8)
      from dose_metric r
      join dose_metric t on t.dose_grid_id = r.dose_grid_id and t.structure_id = r.structure_id
        and t.definition_version = r.definition_version and t.contour_set_id = m.test_set_id
      cross join lateral jsonb_object_keys(r.metric_values) as k(key)
      where r.dose_grid_id = ${doseGridId} and r.definition_version = ${definitionVersion}
        and r.contour_set_id = m.reference_set_id and r.structure_id = m.structure_id
        and jsonb_typeof(r.metric_values -> k.key) = 'number'
        and jsonb_typeof(t.metric_values -> k.key) = 'number')
    where m.case_id = ${caseId}`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

export interface StoredDvh {
  contourSetId: number;
  structure: string;
  volumeCc: number;
  values: Record<string, number | null>;
  dvhBinWidthGy: number;
  dvhCumulativePct: number[];
}

/** The stored DVHs of a case's contours of one structure on the case's dose (for the viewer). */
export async function findStructureDvhs(
  db: Db,
  caseId: number,
  structureId: number,
  definitionVersion: string,
): Promise<StoredDvh[]> {
  return db
    .selectFrom('dose_metric as dm')
    .innerJoin('contour_set as cs', 'cs.id', 'dm.contour_set_id')
    .innerJoin('structure as st', 'st.id', 'dm.structure_id')
    .select([
      'dm.contour_set_id as contourSetId',
      'st.tg263_name as structure',
      'dm.volume_cc as volumeCc',
      'dm.metric_values as values',
      'dm.dvh_bin_width_gy as dvhBinWidthGy',
      'dm.dvh_cumulative_pct as dvhCumulativePct',
    ])
    .where('cs.case_id', '=', caseId)
    .where('dm.structure_id', '=', structureId)
    .where('dm.definition_version', '=', definitionVersion)
    .orderBy('dm.contour_set_id')
    .execute() as Promise<StoredDvh[]>;
}
