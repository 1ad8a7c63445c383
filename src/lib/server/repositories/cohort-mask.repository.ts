import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface MaskCheckContour {
  caseId: number;
  pseudonym: string;
  setId: number;
  source: 'physician' | 'consensus';
  variant: string;
  observerCode: string | null;
  /** the image series the set was drawn on; null for sets imported before series were recorded */
  imageSeriesId: number | null;
  structure: string;
  maskSha256: string;
  /** [i0, j0, k0, i1, j1, k1] inclusive, or null for an empty mask */
  bboxIjk: number[] | null;
  voxelCount: number;
}

/**
 * Every physician and consensus contour of a cohort's cases, with its mask's hash and bounding box, by case
 * (in import order), set and structure.
 */
export async function findMaskCheckContours(db: Db, cohortId: number): Promise<MaskCheckContour[]> {
  const rows = await db
    .selectFrom('cohort_case as cc')
    .innerJoin('patient_case as c', 'c.id', 'cc.case_id')
    .innerJoin('contour_set as cs', 'cs.case_id', 'c.id')
    .innerJoin('contour as ct', 'ct.contour_set_id', 'cs.id')
    .innerJoin('structure as st', 'st.id', 'ct.structure_id')
    .leftJoin('observer as o', 'o.id', 'cs.observer_id')
    .select([
      'c.id as caseId',
      'c.pseudonym',
      'cs.id as setId',
      'cs.source',
      'cs.variant',
      'o.code as observerCode',
      'cs.image_series_id as imageSeriesId',
      'st.tg263_name as structure',
      'ct.mask_blob_sha256 as maskSha256',
      'ct.bbox_ijk as bboxIjk',
      'ct.voxel_count as voxelCount',
    ])
    .where('cc.cohort_id', '=', cohortId)
    .where('cs.source', 'in', ['physician', 'consensus'])
    .orderBy('c.id')
    .orderBy('cs.id')
    .orderBy('st.tg263_name')
    .execute();
  return rows as MaskCheckContour[];
}

export interface CaseSeriesGrid {
  seriesId: number;
  caseId: number;
  dims: [number, number, number];
  spacingMm: [number, number, number];
  hasVolume: boolean;
}

/** The grids of the image series of a cohort's cases, in id order. */
export async function findCohortSeriesGrids(db: Db, cohortId: number): Promise<CaseSeriesGrid[]> {
  const rows = await db
    .selectFrom('cohort_case as cc')
    .innerJoin('image_series as s', 's.case_id', 'cc.case_id')
    .select([
      's.id',
      's.case_id',
      's.dim_x',
      's.dim_y',
      's.dim_z',
      's.spacing_x_mm',
      's.spacing_y_mm',
      's.spacing_z_mm',
      's.volume_blob_sha256',
    ])
    .where('cc.cohort_id', '=', cohortId)
    .orderBy('s.id')
    .execute();
  return rows.map((r) => ({
    seriesId: r.id,
    caseId: r.case_id,
    dims: [r.dim_x, r.dim_y, r.dim_z],
    spacingMm: [r.spacing_x_mm, r.spacing_y_mm, r.spacing_z_mm],
    hasVolume: r.volume_blob_sha256 !== null,
  }));
}

export type MaskCheckKind = 'shape' | 'outside_body' | 'dice';

export interface MaskCheckResultKey {
  maskSha256: string;
  check: MaskCheckKind;
  /** '' for a shape, the body outline's mask for outside_body, the other mask for dice */
  otherSha256: string;
  /** the grid's dimensions as '512x512x120' */
  grid: string;
}

export interface MaskCheckResultRow extends MaskCheckResultKey {
  result: Record<string, unknown>;
}

/** Kept results of these masks (every check, other mask and grid) under one definition version. */
export async function findMaskCheckResults(
  db: Db,
  maskSha256s: readonly string[],
  definitionVersion: number,
): Promise<MaskCheckResultRow[]> {
  const unique = [...new Set(maskSha256s)];
  const found: MaskCheckResultRow[] = [];
  for (let i = 0; i < unique.length; i += 5000) {
    const rows = await db
      .selectFrom('mask_check_result')
      .select([
        'mask_blob_sha256 as maskSha256',
        'check_name as check',
        'other_blob_sha256 as otherSha256',
        'grid',
        'result',
      ])
      .where('mask_blob_sha256', 'in', unique.slice(i, i + 5000))
      .where('definition_version', '=', definitionVersion)
      .execute();
    found.push(...rows);
  }
  return found;
}

/** Keeps results; one already kept under the same key is replaced (the last of duplicates given wins). */
export async function upsertMaskCheckResults(
  db: Db,
  rows: readonly MaskCheckResultRow[],
  definitionVersion: number,
): Promise<void> {
  const unique = [
    ...new Map(rows.map((r) => [`${r.maskSha256}|${r.check}|${r.otherSha256}|${r.grid}`, r])).values(),
  ];
  for (let i = 0; i < unique.length; i += 2000)
    await db
      .insertInto('mask_check_result')
      .values(
        unique.slice(i, i + 2000).map((r) => ({
          mask_blob_sha256: r.maskSha256,
          check_name: r.check,
          other_blob_sha256: r.otherSha256,
          grid: r.grid,
          definition_version: definitionVersion,
          result: r.result,
        })),
      )
      .onConflict((oc) =>
        oc
          .columns(['mask_blob_sha256', 'check_name', 'other_blob_sha256', 'grid', 'definition_version'])
          .doUpdateSet((eb) => ({ result: eb.ref('excluded.result'), computed_at: new Date() })),
      )
      .execute();
}
