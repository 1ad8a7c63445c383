import { AppError } from '../../core/errors';
import { gridAffine, type Vec3, type Volume } from '../../core/volume/volume';
import type { Db } from '../db/connection';
import { findCaseDose } from '../repositories/dose.repository';
import type { BlobStore } from '../storage/blob-store';

/** A case's planned dose, as DVHs need it. */
export interface CaseDose {
  doseGridId: number;
  /** Gy on the dose grid (its own geometry, on the frame of reference of the case's CT), i fastest */
  dose: Volume<Float32Array>;
  prescriptionGy: number | null;
  fractions: number | null;
}

/**
 * The planned dose of a case (its whole-plan physical dose when it has several, see findCaseDose), read
 * from the blob store; undefined when the case has no dose.
 *
 * Errors: AppError('INVALID_INPUT') when the stored blob does not hold the grid's voxels as float32.
 */
export async function loadCaseDose(
  deps: { db: Db; blobs: BlobStore },
  caseId: number,
): Promise<CaseDose | undefined> {
  const grid = await findCaseDose(deps.db, caseId);
  if (!grid) return undefined;
  const bytes = await deps.blobs.get(grid.doseBlobSha256);
  const voxels = grid.dims[0] * grid.dims[1] * grid.dims[2];
  if (bytes.byteLength !== voxels * 4) {
    throw new AppError(
      'INVALID_INPUT',
      `dose blob ${grid.doseBlobSha256.slice(0, 12)}… of dose grid ${grid.doseGridId} has ${bytes.byteLength} bytes; ` +
        `${grid.dims.join('x')} float32 voxels need ${voxels * 4}`,
    );
  }
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const spacingMm: Vec3 = grid.spacingMm;
  return {
    doseGridId: grid.doseGridId,
    dose: {
      data: new Float32Array(aligned.buffer, aligned.byteOffset, voxels),
      dims: grid.dims,
      spacingMm,
      affineIjkToLps: gridAffine(grid.directionLps, spacingMm, grid.originLpsMm),
    },
    prescriptionGy: grid.prescriptionGy,
    fractions: grid.fractions,
  };
}
