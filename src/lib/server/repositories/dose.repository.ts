import type { Kysely, Transaction } from 'kysely';
import { gridColumns, gridOfColumns, type GridGeometry } from '../db/grid-columns';
import type { Database, NewRow, Row } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export type DoseType = Row<'dose_grid'>['dose_type'];

export interface DoseGridValues extends GridGeometry {
  caseId: number;
  imageSeriesId: number;
  /** pseudonymised SOP Instance UID of the RTDOSE: the natural key */
  sopInstanceUid: string;
  doseBlobSha256: string;
  doseType: DoseType;
  summationType: string;
  maxGy: number;
  prescriptionGy: number | null;
  fractions: number | null;
}

/** Inserts the dose grid or refreshes it (natural key: its SOP Instance UID); returns its id. */
export async function upsertDoseGrid(db: Db, values: DoseGridValues): Promise<number> {
  const row: NewRow<'dose_grid'> = {
    case_id: values.caseId,
    image_series_id: values.imageSeriesId,
    sop_instance_uid: values.sopInstanceUid,
    ...gridColumns(values),
    dose_blob_sha256: values.doseBlobSha256,
    dose_type: values.doseType,
    summation_type: values.summationType,
    max_gy: values.maxGy,
    prescription_gy: values.prescriptionGy,
    fractions: values.fractions,
  };
  const { sop_instance_uid: _uid, ...update } = row;
  const result = await db
    .insertInto('dose_grid')
    .values(row)
    .onConflict((oc) => oc.column('sop_instance_uid').doUpdateSet(update))
    .returning('id')
    .executeTakeFirstOrThrow();
  return result.id;
}

/** A stored dose grid: its geometry, the blob of its float32 Gy voxels and the prescription. */
export interface CaseDoseGrid extends Omit<DoseGridValues, 'caseId' | 'sopInstanceUid'> {
  doseGridId: number;
}

function toCaseDoseGrid(row: Row<'dose_grid'>): CaseDoseGrid {
  return {
    doseGridId: row.id,
    imageSeriesId: row.image_series_id,
    ...gridOfColumns(row),
    doseBlobSha256: row.dose_blob_sha256,
    doseType: row.dose_type,
    summationType: row.summation_type,
    maxGy: row.max_gy,
    prescriptionGy: row.prescription_gy,
    fractions: row.fractions,
  };
}

/**
 * The dose of a case: of its dose grids, a whole-plan physical dose first (summation type PLAN, then
 * dose type PHYSICAL), the most recently imported among equals. Undefined when the case has none.
 */
export async function findCaseDose(db: Db, caseId: number): Promise<CaseDoseGrid | undefined> {
  const row = await db
    .selectFrom('dose_grid')
    .selectAll()
    .where('case_id', '=', caseId)
    .orderBy((eb) => eb.case().when('summation_type', '=', 'PLAN').then(0).else(1).end())
    .orderBy((eb) => eb.case().when('dose_type', '=', 'PHYSICAL').then(0).else(1).end())
    .orderBy('id', 'desc')
    .executeTakeFirst();
  return row ? toCaseDoseGrid(row) : undefined;
}
