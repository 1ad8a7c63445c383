import type { Vec3 } from '../../src/lib/core/volume/volume';
import type { Db } from '../../src/lib/server/db/connection';
import { upsertBlob } from '../../src/lib/server/repositories/blob.repository';
import { upsertCase, upsertImageSeries } from '../../src/lib/server/repositories/case.repository';
import {
  upsertContour,
  upsertPhysicianContourSet,
} from '../../src/lib/server/repositories/contour.repository';
import type { BlobStore } from '../../src/lib/server/storage/blob-store';

/**
 * A case with one stored CT series, as an import would leave it: the case row, the volume blob and the
 * series geometry (slices along the direction's third column from the origin). `uid` makes the DICOM
 * UIDs of the case unique in the test database.
 */
export async function insertCaseWithCt(
  db: Db,
  blobs: BlobStore,
  c: {
    siteId: number;
    pseudonym: string;
    uid: string;
    ct: Int16Array | Float32Array;
    dims: Vec3;
    spacingMm: Vec3;
    originLpsMm?: Vec3;
    directionLps?: number[];
    acquisitionDate?: string | null;
    laterality?: 'left' | 'right' | null;
    surgeryType?: 'breast_conserving' | 'mastectomy' | null;
    protocol?: string | null;
  },
): Promise<{ caseId: number; seriesId: number }> {
  const caseId = await upsertCase(db, {
    siteId: c.siteId,
    pseudonym: c.pseudonym,
    patientKeySha256: null,
    acquisitionDate: c.acquisitionDate ?? null,
    laterality: c.laterality ?? null,
    surgeryType: c.surgeryType ?? null,
    protocol: c.protocol ?? null,
    manufacturer: null,
    scannerModel: null,
    convolutionKernel: null,
    kvp: null,
    sliceThicknessMm: null,
    pixelSpacingMm: null,
    huMean: null,
    huStd: null,
    huP05: null,
    huP50: null,
    huP95: null,
  });
  const volume = await blobs.put(new Uint8Array(c.ct.buffer, c.ct.byteOffset, c.ct.byteLength));
  await upsertBlob(db, { ...volume, mediaType: 'application/octet-stream' });
  const origin = c.originLpsMm ?? [0, 0, 0];
  const direction = c.directionLps ?? [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const normal = [direction[6]!, direction[7]!, direction[8]!];
  const slices = Array.from({ length: c.dims[2] }, (_, k) => k * c.spacingMm[2]);
  const seriesId = await upsertImageSeries(db, {
    caseId,
    seriesInstanceUid: `${c.uid}.1`,
    studyInstanceUid: `${c.uid}.2`,
    frameOfReferenceUid: `${c.uid}.3`,
    sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
    modality: 'CT',
    description: '',
    dims: [...c.dims],
    spacingMm: [...c.spacingMm],
    originLpsMm: [...origin],
    directionLps: direction,
    slicePositionsMm: slices.map(
      (d) => origin[0] * normal[0]! + origin[1] * normal[1]! + origin[2] * normal[2]! + d,
    ),
    sliceOriginsLpsMm: slices.flatMap((d) => origin.map((o, a) => o + d * normal[a]!)),
    sopInstanceUids: slices.map((_, k) => `${c.uid}.4.${k}`),
    volumeBlobSha256: volume.sha256,
  });
  return { caseId, seriesId };
}

/** One physician contour set (by SOP instance UID) with a mask per structure; returns the set id and mask hashes. */
export async function insertPhysicianSet(
  db: Db,
  blobs: BlobStore,
  s: {
    caseId: number;
    seriesId: number;
    observerId: number;
    label: string;
    sopInstanceUid: string;
    /** voxel volume in cc, for each contour's volume */
    voxelCc: number;
    masks: Array<{ structureId: number; structure: string; mask: Uint8Array; roiNumber?: number }>;
  },
): Promise<{ setId: number; maskSha256: Map<string, string> }> {
  const setId = await upsertPhysicianContourSet(db, {
    caseId: s.caseId,
    imageSeriesId: s.seriesId,
    observerId: s.observerId,
    label: s.label,
    sopInstanceUid: s.sopInstanceUid,
  });
  const maskSha256 = new Map<string, string>();
  for (const [i, m] of s.masks.entries()) {
    const stored = await blobs.put(m.mask);
    await upsertBlob(db, { ...stored, mediaType: 'application/x-contourbench-mask' });
    maskSha256.set(m.structure, stored.sha256);
    const voxels = m.mask.reduce((a, b) => a + (b ? 1 : 0), 0);
    await upsertContour(db, {
      contourSetId: setId,
      structureId: m.structureId,
      maskBlobSha256: stored.sha256,
      volumeCc: voxels * s.voxelCc,
      voxelCount: voxels,
      bboxIjk: null,
      sourceRoiName: m.structure,
      sourceRoiNumber: m.roiNumber ?? i + 1,
      colourRgb: null,
    });
  }
  return { setId, maskSha256 };
}
