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
    /** ROI names that map to no TG-263 structure */
    unmappedRoiNames?: readonly string[];
  },
): Promise<number> {
  const unmapped = [...(values.unmappedRoiNames ?? [])];
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
      unmapped_roi_names: unmapped,
    })
    .onConflict((oc) =>
      oc.column('sop_instance_uid').doUpdateSet({
        label: values.label,
        image_series_id: values.imageSeriesId,
        unmapped_roi_names: unmapped,
      }),
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
  /** ROI Number in the source RTSTRUCT, or the model output channel; null for a computed consensus */
  sourceRoiNumber: number | null;
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

export interface ContourSetForExport {
  id: number;
  label: string;
  caseId: number;
  pseudonym: string;
  siteId: number;
  keepUidMap: boolean;
  acquisitionDate: string | null;
  series: {
    seriesInstanceUid: string;
    studyInstanceUid: string | null;
    frameOfReferenceUid: string;
    sopClassUid: string | null;
    dims: [number, number, number];
    spacingMm: [number, number, number];
    directionLps: number[];
    slicePositionsMm: number[];
    sliceOriginsLpsMm: number[];
    sopInstanceUids: string[];
  };
  contours: Array<{
    tg263Name: string;
    category: string;
    sourceRoiName: string | null;
    colourRgb: string | null;
    maskBlobSha256: string;
  }>;
}

/** A contour set with its case, image series geometry and contours, or undefined when it does not exist. */
export async function findContourSetForExport(db: Db, id: number): Promise<ContourSetForExport | undefined> {
  const row = await db
    .selectFrom('contour_set')
    .innerJoin('patient_case', 'patient_case.id', 'contour_set.case_id')
    .innerJoin('site', 'site.id', 'patient_case.site_id')
    .innerJoin('image_series', 'image_series.id', 'contour_set.image_series_id')
    .select([
      'contour_set.id',
      'contour_set.label',
      'patient_case.id as case_id',
      'patient_case.pseudonym',
      'patient_case.acquisition_date',
      'site.id as site_id',
      'site.keep_uid_map',
      'image_series.series_instance_uid',
      'image_series.study_instance_uid',
      'image_series.frame_of_reference_uid',
      'image_series.sop_class_uid',
      'image_series.dim_x',
      'image_series.dim_y',
      'image_series.dim_z',
      'image_series.spacing_x_mm',
      'image_series.spacing_y_mm',
      'image_series.spacing_z_mm',
      'image_series.direction_lps',
      'image_series.slice_positions_mm',
      'image_series.slice_origins_lps_mm',
      'image_series.sop_instance_uids',
    ])
    .where('contour_set.id', '=', id)
    .executeTakeFirst();
  if (!row) return undefined;
  const contours = await db
    .selectFrom('contour')
    .innerJoin('structure', 'structure.id', 'contour.structure_id')
    .select([
      'structure.tg263_name',
      'structure.category',
      'contour.source_roi_name',
      'contour.colour_rgb',
      'contour.mask_blob_sha256',
    ])
    .where('contour.contour_set_id', '=', id)
    .orderBy('contour.id')
    .execute();
  return {
    id: row.id,
    label: row.label,
    caseId: row.case_id,
    pseudonym: row.pseudonym,
    siteId: row.site_id,
    keepUidMap: row.keep_uid_map,
    acquisitionDate: row.acquisition_date,
    series: {
      seriesInstanceUid: row.series_instance_uid,
      studyInstanceUid: row.study_instance_uid,
      frameOfReferenceUid: row.frame_of_reference_uid,
      sopClassUid: row.sop_class_uid,
      dims: [row.dim_x, row.dim_y, row.dim_z],
      spacingMm: [row.spacing_x_mm, row.spacing_y_mm, row.spacing_z_mm],
      directionLps: row.direction_lps,
      slicePositionsMm: row.slice_positions_mm,
      sliceOriginsLpsMm: row.slice_origins_lps_mm,
      sopInstanceUids: row.sop_instance_uids,
    },
    contours: contours.map((c) => ({
      tg263Name: c.tg263_name,
      category: c.category,
      sourceRoiName: c.source_roi_name,
      colourRgb: c.colour_rgb,
      maskBlobSha256: c.mask_blob_sha256,
    })),
  };
}

/** Original UIDs for pseudonymous ones, where the site keeps the map. */
export async function findOriginalUids(
  db: Db,
  siteId: number,
  uids: readonly string[],
): Promise<Map<string, string>> {
  if (uids.length === 0) return new Map();
  const rows = await db
    .selectFrom('uid_map')
    .select(['pseudonymous_uid', 'original_uid'])
    .where('site_id', '=', siteId)
    .where('pseudonymous_uid', 'in', uids)
    .execute();
  return new Map(rows.map((row) => [row.pseudonymous_uid, row.original_uid]));
}

/** The physician contour sets of a case by observer code (the latest set of each observer). */
export async function findPhysicianContourSets(db: Db, caseId: number): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('contour_set')
    .innerJoin('observer', 'observer.id', 'contour_set.observer_id')
    .select(['observer.code', 'contour_set.id'])
    .where('contour_set.case_id', '=', caseId)
    .where('contour_set.source', '=', 'physician')
    .orderBy('contour_set.id')
    .execute();
  return new Map(rows.map((row) => [row.code, row.id]));
}
