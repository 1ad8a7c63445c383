import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database } from '../db/schema';
import { gridOfColumns, type GridGeometry } from '../db/grid-columns';

type Db = Kysely<Database> | Transaction<Database>;

export interface CaseImage extends GridGeometry {
  seriesId: number;
  volumeBlobSha256: string;
}

/** The image_series columns a CaseImage is read from. */
export const caseImageColumns = [
  'id',
  'case_id',
  'dim_x',
  'dim_y',
  'dim_z',
  'spacing_x_mm',
  'spacing_y_mm',
  'spacing_z_mm',
  'origin_lps_mm',
  'direction_lps',
  'volume_blob_sha256',
] as const;

type CaseImageRow = Pick<Selectable<Database['image_series']>, (typeof caseImageColumns)[number]>;

/** A CaseImage (with its case) from a row of caseImageColumns. */
export function toCaseImage(row: CaseImageRow): CaseImage & { caseId: number } {
  return {
    caseId: row.case_id,
    seriesId: row.id,
    ...gridOfColumns(row),
    volumeBlobSha256: row.volume_blob_sha256 as string,
  };
}

/** The CT of a case the model runs on: its first image series with a stored volume. */
export async function findCaseImage(db: Db, caseId: number): Promise<CaseImage | undefined> {
  const row = await db
    .selectFrom('image_series')
    .select(caseImageColumns)
    .where('case_id', '=', caseId)
    .where('volume_blob_sha256', 'is not', null)
    .orderBy('id')
    .executeTakeFirst();
  if (row === undefined) return undefined;
  const { caseId: _caseId, ...image } = toCaseImage(row);
  return image;
}

export interface ReferenceContour {
  setId: number;
  source: 'physician' | 'consensus';
  observerCode: string | null;
  tg263Name: string;
  structureId: number;
  maskBlobSha256: string;
}

/** What a reference contour is read as, besides its mask. */
const referenceColumns = [
  'contour_set.id as setId',
  'contour_set.source as source',
  'observer.code as observerCode',
  'structure.tg263_name as tg263Name',
  'structure.id as structureId',
] as const;

/** Every physician and consensus contour of a case on one image series, for these structures. */
export async function findReferenceContours(
  db: Db,
  caseId: number,
  seriesId: number,
  structures: readonly string[],
): Promise<ReferenceContour[]> {
  if (structures.length === 0) return [];
  const rows = await db
    .selectFrom('contour')
    .innerJoin('contour_set', 'contour_set.id', 'contour.contour_set_id')
    .innerJoin('structure', 'structure.id', 'contour.structure_id')
    .leftJoin('observer', 'observer.id', 'contour_set.observer_id')
    .select([...referenceColumns, 'contour.mask_blob_sha256 as maskBlobSha256'])
    .where('contour_set.case_id', '=', caseId)
    .where('contour_set.image_series_id', '=', seriesId)
    // physicians' sets and the STAPLE consensus; other consensus variants (majority vote) are references
    // only where a frozen cohort version chose them
    .where((eb) =>
      eb.or([
        eb('contour_set.source', '=', 'physician'),
        eb.and([eb('contour_set.source', '=', 'consensus'), eb('contour_set.variant', '=', 'staple')]),
      ]),
    )
    .where('structure.tg263_name', 'in', [...structures])
    .orderBy('contour_set.id')
    .orderBy('structure.tg263_name')
    .execute();
  return rows as ReferenceContour[];
}

/**
 * The references a frozen cohort version chose for a case, for these structures: the contour set and the
 * mask as frozen (by its sha256), so a later recomputation of that set does not change what the version
 * evaluates against.
 */
export async function findVersionReferences(
  db: Db,
  cohortVersionId: number,
  caseId: number,
  structures: readonly string[],
): Promise<ReferenceContour[]> {
  if (structures.length === 0) return [];
  const rows = await db
    .selectFrom('cohort_version_reference as vr')
    .innerJoin('contour_set', 'contour_set.id', 'vr.contour_set_id')
    .innerJoin('structure', 'structure.id', 'vr.structure_id')
    .leftJoin('observer', 'observer.id', 'contour_set.observer_id')
    .select([...referenceColumns, 'vr.mask_blob_sha256 as maskBlobSha256'])
    .where('vr.cohort_version_id', '=', cohortVersionId)
    .where('vr.case_id', '=', caseId)
    .where('structure.tg263_name', 'in', [...structures])
    .orderBy('contour_set.id')
    .orderBy('structure.tg263_name')
    .execute();
  return rows as ReferenceContour[];
}

/** The model's contour set of a case (natural key: case, model version), created or re-pointed at this run. */
export async function upsertModelContourSet(
  db: Db,
  values: {
    caseId: number;
    modelVersionId: number;
    evaluationRunId: number | null;
    imageSeriesId: number;
    label: string;
  },
): Promise<number> {
  const existing = await db
    .selectFrom('contour_set')
    .select('id')
    .where('case_id', '=', values.caseId)
    .where('source', '=', 'model')
    .where('model_version_id', '=', values.modelVersionId)
    .where('parent_set_id', 'is', null)
    .where('variant', '=', '')
    .executeTakeFirst();
  if (existing !== undefined) {
    await db
      .updateTable('contour_set')
      .set({
        evaluation_run_id: values.evaluationRunId,
        image_series_id: values.imageSeriesId,
        label: values.label,
      })
      .where('id', '=', existing.id)
      .execute();
    return existing.id;
  }
  const row = await db
    .insertInto('contour_set')
    .values({
      case_id: values.caseId,
      source: 'model',
      model_version_id: values.modelVersionId,
      evaluation_run_id: values.evaluationRunId,
      image_series_id: values.imageSeriesId,
      label: values.label,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** The contour set a model version produced for a case, or undefined. */
export async function findModelContourSet(
  db: Db,
  caseId: number,
  modelVersionId: number,
): Promise<number | undefined> {
  const row = await db
    .selectFrom('contour_set')
    .select('id')
    .where('case_id', '=', caseId)
    .where('source', '=', 'model')
    .where('model_version_id', '=', modelVersionId)
    .where('parent_set_id', 'is', null)
    .where('variant', '=', '')
    .executeTakeFirst();
  return row?.id;
}
