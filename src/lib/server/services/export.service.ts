import { AppError } from '../../core/errors';
import type { ImageGrid } from '../../core/geometry/image-grid';
import type { Vec3 } from '../../core/volume/volume';
import type { Db } from '../db/connection';
import { writeRtStruct, writeRtStructFile, type RtStructInput } from '../io/rtstruct-writer';
import { findContourSetForExport, findOriginalUids } from '../repositories/contour.repository';
import type { BlobStore } from '../storage/blob-store';

const interpretedTypes: Record<string, string> = {
  OAR: 'ORGAN',
  CTV: 'CTV',
  nodal: 'CTV',
  GTV: 'GTV',
  PTV: 'PTV',
  external: 'EXTERNAL',
  other: '',
};

export interface ExportResult {
  file: string;
  rois: number;
  /** True when the file refers to the original UIDs (the site keeps the UID map). */
  originalUids: boolean;
  elapsedMs: number;
}

/**
 * Writes a contour set as an RTSTRUCT on its CT series, ROIs named by TG-263. The file refers to the
 * original study, series and image UIDs where the site keeps the UID map (so the planning system finds its
 * CT), and to the pseudonymous ones otherwise; the patient is named by the case pseudonym either way.
 */
export async function exportContourSet(
  db: Db,
  blobs: BlobStore,
  contourSetId: number,
  outPath: string,
  options: { simplifyToleranceMm?: number } = {},
): Promise<ExportResult> {
  const started = performance.now();
  const { input, originalUids } = await exportInput(db, blobs, contourSetId);
  input.simplifyToleranceMm = options.simplifyToleranceMm;
  await writeRtStructFile(outPath, input);
  return { file: outPath, rois: input.rois.length, originalUids, elapsedMs: performance.now() - started };
}

/** The RTSTRUCT bytes of a contour set (see exportContourSet). */
export async function exportContourSetBytes(
  db: Db,
  blobs: BlobStore,
  contourSetId: number,
): Promise<Uint8Array> {
  return writeRtStruct((await exportInput(db, blobs, contourSetId)).input);
}

async function exportInput(
  db: Db,
  blobs: BlobStore,
  contourSetId: number,
): Promise<{ input: RtStructInput; originalUids: boolean }> {
  const set = await findContourSetForExport(db, contourSetId);
  if (!set)
    throw new AppError('NOT_FOUND', `contour set ${contourSetId} does not exist or has no image series`);
  const s = set.series;
  if (s.sopInstanceUids.length !== s.dims[2] || s.sliceOriginsLpsMm.length !== s.dims[2] * 3) {
    throw new AppError(
      'INVALID_INPUT',
      `contour set ${contourSetId}: its image series lacks the slice references an RTSTRUCT needs (re-import it)`,
    );
  }
  const d = s.directionLps;
  const grid: ImageGrid = {
    dims: s.dims,
    spacingMm: s.spacingMm,
    rowLps: [d[0], d[1], d[2]],
    columnLps: [d[3], d[4], d[5]],
    normalLps: [d[6], d[7], d[8]],
    slicePositionLps: Array.from(
      { length: s.dims[2] },
      (_, k) => s.sliceOriginsLpsMm.slice(k * 3, k * 3 + 3) as unknown as Vec3,
    ),
    slicePositionsMm: s.slicePositionsMm,
    affineIjkToLps: Float64Array.from([
      d[0] * s.spacingMm[0],
      d[3] * s.spacingMm[1],
      d[6] * s.spacingMm[2],
      s.sliceOriginsLpsMm[0],
      d[1] * s.spacingMm[0],
      d[4] * s.spacingMm[1],
      d[7] * s.spacingMm[2],
      s.sliceOriginsLpsMm[1],
      d[2] * s.spacingMm[0],
      d[5] * s.spacingMm[1],
      d[8] * s.spacingMm[2],
      s.sliceOriginsLpsMm[2],
      0,
      0,
      0,
      1,
    ]),
    frameOfReferenceUid: s.frameOfReferenceUid,
  };
  const originals = set.keepUidMap
    ? await findOriginalUids(db, set.siteId, [
        s.seriesInstanceUid,
        s.studyInstanceUid ?? '',
        s.frameOfReferenceUid,
        ...s.sopInstanceUids,
      ])
    : new Map<string, string>();
  const uid = (pseudonymous: string) => originals.get(pseudonymous) ?? pseudonymous;
  const rois = await Promise.all(
    set.contours.map(async (contour, index) => {
      const data = await blobs.get(contour.maskBlobSha256);
      if (data.length !== s.dims[0] * s.dims[1] * s.dims[2]) {
        throw new AppError(
          'INTERNAL',
          `mask ${contour.maskBlobSha256} of ${contour.tg263Name} does not fit the series grid`,
        );
      }
      return {
        number: index + 1,
        name: contour.tg263Name,
        colourRgb: contour.colourRgb,
        interpretedType: interpretedTypes[contour.category] ?? '',
        description: contour.sourceRoiName ? `imported as ${contour.sourceRoiName}` : undefined,
        mask: { data, dims: grid.dims, spacingMm: grid.spacingMm, affineIjkToLps: grid.affineIjkToLps },
      };
    }),
  );
  const input: RtStructInput = {
    referencedSeries: {
      studyInstanceUid: uid(s.studyInstanceUid ?? ''),
      seriesInstanceUid: uid(s.seriesInstanceUid),
      frameOfReferenceUid: uid(s.frameOfReferenceUid),
      sopClassUid: s.sopClassUid ?? '1.2.840.10008.5.1.4.1.1.2',
      sopInstanceUids: s.sopInstanceUids.map(uid),
      grid: { ...grid, frameOfReferenceUid: uid(s.frameOfReferenceUid) },
    },
    patient: {
      patientName: `${set.pseudonym}^`,
      patientId: set.pseudonym,
      patientBirthDate: '',
      patientSex: '',
    },
    study: {
      studyDate: set.acquisitionDate?.replaceAll('-', '') ?? '',
      studyTime: '',
      studyId: '',
      accessionNumber: '',
      referringPhysicianName: '',
    },
    structureSet: {
      label: (set.label || `CB${set.id}`).slice(0, 16),
      description: `ContourBench contour set ${set.id}`,
    },
    rois,
  };
  return { input, originalUids: originals.size > 0 };
}
