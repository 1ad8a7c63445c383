import type { Kysely, Transaction } from 'kysely';
import type { CaseLaterality, Database, NewRow, SurgeryType } from '../db/schema';
import { gridColumns } from '../db/grid-columns';

type Db = Kysely<Database> | Transaction<Database>;

export interface CaseValues {
  siteId: number;
  pseudonym: string;
  patientKeySha256: string | null;
  acquisitionDate: string | null;
  laterality: CaseLaterality | null;
  surgeryType: SurgeryType | null;
  protocol: string | null;
  manufacturer: string | null;
  scannerModel: string | null;
  convolutionKernel: string | null;
  kvp: number | null;
  sliceThicknessMm: number | null;
  pixelSpacingMm: number | null;
  huMean: number | null;
  huStd: number | null;
  huP05: number | null;
  huP50: number | null;
  huP95: number | null;
}

/** Inserts the case or updates its metadata (natural key: site and pseudonym); returns its id. */
export async function upsertCase(db: Db, values: CaseValues): Promise<number> {
  const row: NewRow<'patient_case'> = {
    site_id: values.siteId,
    pseudonym: values.pseudonym,
    patient_key_sha256: values.patientKeySha256,
    acquisition_date: values.acquisitionDate,
    laterality: values.laterality,
    surgery_type: values.surgeryType,
    protocol: values.protocol,
    manufacturer: values.manufacturer,
    scanner_model: values.scannerModel,
    convolution_kernel: values.convolutionKernel,
    kvp: values.kvp,
    slice_thickness_mm: values.sliceThicknessMm,
    pixel_spacing_mm: values.pixelSpacingMm,
    hu_mean: values.huMean,
    hu_std: values.huStd,
    hu_p05: values.huP05,
    hu_p50: values.huP50,
    hu_p95: values.huP95,
  };
  const { site_id: _site, pseudonym: _pseudonym, ...update } = row;
  const result = await db
    .insertInto('patient_case')
    .values(row)
    .onConflict((oc) => oc.columns(['site_id', 'pseudonym']).doUpdateSet(update))
    .returning('id')
    .executeTakeFirstOrThrow();
  return result.id;
}

export interface SeriesValues {
  caseId: number;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  frameOfReferenceUid: string;
  sopClassUid: string;
  modality: string;
  description: string;
  dims: [number, number, number];
  spacingMm: [number, number, number];
  originLpsMm: [number, number, number];
  directionLps: number[];
  slicePositionsMm: number[];
  sliceOriginsLpsMm: number[];
  sopInstanceUids: string[];
  volumeBlobSha256: string;
}

/** Inserts the image series or refreshes it (natural key: Series Instance UID); returns its id. */
export async function upsertImageSeries(db: Db, values: SeriesValues): Promise<number> {
  const row: NewRow<'image_series'> = {
    case_id: values.caseId,
    series_instance_uid: values.seriesInstanceUid,
    study_instance_uid: values.studyInstanceUid,
    frame_of_reference_uid: values.frameOfReferenceUid,
    sop_class_uid: values.sopClassUid,
    modality: values.modality,
    description: values.description,
    ...gridColumns(values),
    slice_positions_mm: values.slicePositionsMm,
    slice_origins_lps_mm: values.sliceOriginsLpsMm,
    sop_instance_uids: values.sopInstanceUids,
    volume_blob_sha256: values.volumeBlobSha256,
  };
  const { series_instance_uid: _uid, ...update } = row;
  const result = await db
    .insertInto('image_series')
    .values(row)
    .onConflict((oc) => oc.column('series_instance_uid').doUpdateSet(update))
    .returning('id')
    .executeTakeFirstOrThrow();
  return result.id;
}

export async function countCases(db: Db, siteId?: number): Promise<number> {
  let query = db.selectFrom('patient_case').select((eb) => eb.fn.countAll<number>().as('n'));
  if (siteId !== undefined) query = query.where('site_id', '=', siteId);
  return (await query.executeTakeFirstOrThrow()).n;
}

/** The id of the case with this pseudonym at the site, if imported. */
export async function findCaseId(db: Db, siteId: number, pseudonym: string): Promise<number | undefined> {
  const row = await db
    .selectFrom('patient_case')
    .select('id')
    .where('site_id', '=', siteId)
    .where('pseudonym', '=', pseudonym)
    .executeTakeFirst();
  return row?.id;
}
