import type { Kysely, Transaction } from 'kysely';
import type { Database, NewRow, Row } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export type DoseType = Row<'dose_grid'>['dose_type'];

export interface DoseGridValues {
  caseId: number;
  imageSeriesId: number;
  /** pseudonymised SOP Instance UID of the RTDOSE: the natural key */
  sopInstanceUid: string;
  dims: [number, number, number];
  spacingMm: [number, number, number];
  /** centre of voxel (0, 0, 0), LPS mm */
  originLpsMm: [number, number, number];
  /** unit vectors of the i, j and k axes in LPS, three numbers each */
  directionLps: number[];
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
    dim_x: values.dims[0],
    dim_y: values.dims[1],
    dim_z: values.dims[2],
    spacing_x_mm: values.spacingMm[0],
    spacing_y_mm: values.spacingMm[1],
    spacing_z_mm: values.spacingMm[2],
    origin_lps_mm: values.originLpsMm,
    direction_lps: values.directionLps,
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
export interface CaseDoseGrid {
  doseGridId: number;
  imageSeriesId: number;
  dims: [number, number, number];
  spacingMm: [number, number, number];
  originLpsMm: [number, number, number];
  directionLps: number[];
  doseBlobSha256: string;
  doseType: DoseType;
  summationType: string;
  maxGy: number;
  prescriptionGy: number | null;
  fractions: number | null;
}

function toCaseDoseGrid(row: Row<'dose_grid'>): CaseDoseGrid {
  return {
    doseGridId: row.id,
    imageSeriesId: row.image_series_id,
    dims: [row.dim_x, row.dim_y, row.dim_z],
    spacingMm: [row.spacing_x_mm, row.spacing_y_mm, row.spacing_z_mm],
    originLpsMm: [row.origin_lps_mm[0], row.origin_lps_mm[1], row.origin_lps_mm[2]],
    directionLps: row.direction_lps,
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

/** Every dose grid of a case, oldest first. */
export async function listCaseDoses(db: Db, caseId: number): Promise<CaseDoseGrid[]> {
  const rows = await db
    .selectFrom('dose_grid')
    .selectAll()
    .where('case_id', '=', caseId)
    .orderBy('id')
    .execute();
  return rows.map(toCaseDoseGrid);
}
