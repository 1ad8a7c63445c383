import type { Kysely, Transaction } from 'kysely';
import type { Database, StructureCategory } from '../db/schema';
import { caseImageColumns, toCaseImage, type CaseImage } from './evaluation.repository';

type Db = Kysely<Database> | Transaction<Database>;

export interface ExportVersionRow {
  versionId: number;
  version: number;
  contentSha256: string;
  policy: Record<string, unknown>;
  caseCount: number;
  note: string;
  frozenAt: Date;
}

/**
 * The frozen version `version` of the cohort named `cohort`: `cohort: false` when there is no such
 * cohort, else the version (undefined when the cohort has no such version) and the versions it has.
 */
export async function findExportVersion(
  db: Db,
  cohort: string,
  version: number,
): Promise<{ cohort: false } | { cohort: true; version: ExportVersionRow | undefined; versions: number[] }> {
  const found = await db.selectFrom('cohort').select('id').where('name', '=', cohort).executeTakeFirst();
  if (found === undefined) return { cohort: false };
  const rows = await db
    .selectFrom('cohort_version')
    .select([
      'id as versionId',
      'version',
      'content_sha256 as contentSha256',
      'reference_policy as policy',
      'case_count as caseCount',
      'note',
      'frozen_at as frozenAt',
    ])
    .where('cohort_id', '=', found.id)
    .orderBy('version')
    .execute();
  return {
    cohort: true,
    version: rows.find((r) => r.version === version),
    versions: rows.map((r) => r.version),
  };
}

export interface ExportCaseRow {
  caseId: number;
  pseudonym: string;
  site: string;
}

/** The cases of a frozen version with their pseudonyms and site codes. */
export async function findExportCases(db: Db, versionId: number): Promise<ExportCaseRow[]> {
  return db
    .selectFrom('cohort_version_case as vc')
    .innerJoin('patient_case as c', 'c.id', 'vc.case_id')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .select(['c.id as caseId', 'c.pseudonym', 's.code as site'])
    .where('vc.cohort_version_id', '=', versionId)
    .orderBy('c.pseudonym')
    .orderBy('s.code')
    .execute();
}

/** Every image series with a stored CT volume of these cases, oldest first per case. */
export async function findExportImages(
  db: Db,
  caseIds: readonly number[],
): Promise<Array<CaseImage & { caseId: number }>> {
  if (caseIds.length === 0) return [];
  const rows = await db
    .selectFrom('image_series')
    .select(caseImageColumns)
    .where('case_id', 'in', [...caseIds])
    .where('volume_blob_sha256', 'is not', null)
    .orderBy('case_id')
    .orderBy('id')
    .execute();
  return rows.map(toCaseImage);
}

export interface ExportReferenceRow {
  caseId: number;
  structureId: number;
  structure: string;
  category: StructureCategory;
  contourSetId: number;
  maskSha256: string;
  /** the image series the reference set was drawn on, when recorded */
  imageSeriesId: number | null;
  /** the stored volume of the contour that still holds the frozen mask, cc; null when none does */
  volumeCc: number | null;
}

/** The frozen references of a version with their structures, by case and TG-263 name. */
export async function findExportReferences(db: Db, versionId: number): Promise<ExportReferenceRow[]> {
  return db
    .selectFrom('cohort_version_reference as r')
    .innerJoin('structure as st', 'st.id', 'r.structure_id')
    .innerJoin('contour_set as cs', 'cs.id', 'r.contour_set_id')
    .leftJoin('contour as ct', (join) =>
      join
        .onRef('ct.contour_set_id', '=', 'r.contour_set_id')
        .onRef('ct.structure_id', '=', 'r.structure_id')
        .onRef('ct.mask_blob_sha256', '=', 'r.mask_blob_sha256'),
    )
    .select([
      'r.case_id as caseId',
      'r.structure_id as structureId',
      'st.tg263_name as structure',
      'st.category',
      'r.contour_set_id as contourSetId',
      'r.mask_blob_sha256 as maskSha256',
      'cs.image_series_id as imageSeriesId',
      'ct.volume_cc as volumeCc',
    ])
    .where('r.cohort_version_id', '=', versionId)
    .orderBy('r.case_id')
    .orderBy('st.tg263_name')
    .execute();
}
