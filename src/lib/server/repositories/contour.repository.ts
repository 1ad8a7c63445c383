import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

/** A physician's contour set from an RTSTRUCT (natural key: its SOP Instance UID); returns its id. */
export async function upsertPhysicianContourSet(
  db: Db,
  values: {
    caseId: number;
    imageSeriesId: number;
    observerId: number;
    label: string;
    sopInstanceUid: string;
  },
): Promise<number> {
  const result = await db
    .insertInto('contour_set')
    .values({
      case_id: values.caseId,
      image_series_id: values.imageSeriesId,
      source: 'physician',
      observer_id: values.observerId,
      variant: values.sopInstanceUid,
      label: values.label,
      sop_instance_uid: values.sopInstanceUid,
    })
    .onConflict((oc) =>
      oc
        .column('sop_instance_uid')
        .doUpdateSet({ label: values.label, image_series_id: values.imageSeriesId }),
    )
    .returning('id')
    .executeTakeFirstOrThrow();
  return result.id;
}

export interface ContourValues {
  contourSetId: number;
  structureId: number;
  maskBlobSha256: string;
  volumeCc: number;
  voxelCount: number;
  bboxIjk: number[] | null;
  sourceRoiName: string;
  sourceRoiNumber: number;
  colourRgb: string | null;
}

/** One structure of a contour set (natural key: set and structure). */
export async function upsertContour(db: Db, values: ContourValues): Promise<void> {
  const row = {
    contour_set_id: values.contourSetId,
    structure_id: values.structureId,
    mask_blob_sha256: values.maskBlobSha256,
    volume_cc: values.volumeCc,
    voxel_count: values.voxelCount,
    bbox_ijk: values.bboxIjk,
    source_roi_name: values.sourceRoiName,
    source_roi_number: values.sourceRoiNumber,
    colour_rgb: values.colourRgb,
  };
  const { contour_set_id: _set, structure_id: _structure, ...update } = row;
  await db
    .insertInto('contour')
    .values(row)
    .onConflict((oc) => oc.columns(['contour_set_id', 'structure_id']).doUpdateSet(update))
    .execute();
}

export async function countContours(db: Db): Promise<{ sets: number; contours: number }> {
  const sets = await db
    .selectFrom('contour_set')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  const contours = await db
    .selectFrom('contour')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return { sets: sets.n, contours: contours.n };
}

export async function insertUidMappings(
  db: Db,
  siteId: number,
  mappings: ReadonlyArray<{ pseudonymousUid: string; originalUid: string }>,
): Promise<void> {
  if (mappings.length === 0) return;
  await db
    .insertInto('uid_map')
    .values(
      mappings.map((m) => ({
        site_id: siteId,
        pseudonymous_uid: m.pseudonymousUid,
        original_uid: m.originalUid,
      })),
    )
    .onConflict((oc) => oc.columns(['site_id', 'pseudonymous_uid']).doNothing())
    .execute();
}
