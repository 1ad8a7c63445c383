import { AppError } from '../../core/errors';
import { rasteriseRoi, type RasteriseReport } from '../../core/contours/rasterise';
import type { Mask } from '../../core/volume/volume';
import { buildImageSeries, scanDicomFolder, type CtSeries } from '../io/ct-series';
import { parseDicom } from '../io/dicom/parser';
import { writeNiftiFile } from '../io/nifti-file';
import { assertSameFrameOfReference, readStructureSet } from '../io/rtstruct';
import { readFile } from 'node:fs/promises';

export interface RasteriseResult {
  mask: Mask;
  report: RasteriseReport;
  series: CtSeries;
  roiName: string;
  voxels: number;
  volumeCc: number;
  elapsedMs: number;
}

/**
 * One ROI of an RTSTRUCT file rasterised on the image series in `seriesDir`, written as NIfTI when
 * `outPath` is given. The ROI is found by exact name, then case-insensitively; the error lists the names.
 */
export async function rasteriseRoiFromFiles(
  seriesDir: string,
  rtstructPath: string,
  roiName: string,
  outPath?: string,
): Promise<RasteriseResult> {
  const scan = await scanDicomFolder(seriesDir);
  if (scan.imageSeries.size === 0) {
    const reasons = scan.rejected.slice(0, 3).map((r) => `${r.path}: ${r.reason}`);
    throw new AppError(
      'INVALID_INPUT',
      `${seriesDir}: no image series found${reasons.length ? ` (${reasons.join('; ')})` : ''}`,
    );
  }
  if (scan.imageSeries.size > 1) {
    throw new AppError(
      'INVALID_INPUT',
      `${seriesDir}: holds ${scan.imageSeries.size} image series; point to one series`,
    );
  }
  const series = buildImageSeries([...scan.imageSeries.values()][0]);
  const bytes = await readFile(rtstructPath).catch((error: NodeJS.ErrnoException) => {
    throw new AppError(
      error.code === 'ENOENT' ? 'NOT_FOUND' : 'INVALID_INPUT',
      `${rtstructPath}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`,
    );
  });
  const structureSet = readStructureSet(parseDicom(bytes, rtstructPath));
  assertSameFrameOfReference(structureSet, series, rtstructPath);
  const roi =
    structureSet.rois.find((r) => r.name === roiName) ??
    structureSet.rois.find((r) => r.name.toLowerCase() === roiName.toLowerCase());
  if (!roi) {
    throw new AppError(
      'NOT_FOUND',
      `${rtstructPath}: no ROI named "${roiName}"; it has ${structureSet.rois.map((r) => `"${r.name}"`).join(', ')}`,
    );
  }
  const started = performance.now();
  const { mask, report } = rasteriseRoi(roi, series.grid);
  const elapsedMs = performance.now() - started;
  let voxels = 0;
  for (let n = 0; n < mask.data.length; n++) voxels += mask.data[n];
  if (outPath)
    await writeNiftiFile(outPath, mask, { description: `${roi.name} ${rtstructPath}`.slice(0, 79) });
  const [sx, sy, sz] = series.grid.spacingMm;
  return {
    mask,
    report,
    series,
    roiName: roi.name,
    voxels,
    volumeCc: (voxels * sx * sy * sz) / 1000,
    elapsedMs,
  };
}
