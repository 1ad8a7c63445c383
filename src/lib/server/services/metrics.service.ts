import { computeMetrics, type MetricOptions, type MetricResult } from '../../core/metrics/metric-set';
import { readMaskPair } from '../io/nifti-file';

export interface FileMetrics {
  result: MetricResult;
  /** Things a user should know about the inputs (an absent label), not errors. */
  warnings: string[];
  readMs: number;
  computeMs: number;
}

/**
 * Metrics of a candidate segmentation file against a reference file (NIfTI, .nii or .nii.gz), optionally
 * for one label of label maps. Errors name the file and the problem (missing, not NIfTI, other grid).
 */
export async function compareMaskFiles(
  referencePath: string,
  candidatePath: string,
  options: MetricOptions & { label?: number } = {},
): Promise<FileMetrics> {
  const readStarted = performance.now();
  const { reference, candidate } = await readMaskPair(referencePath, candidatePath, options.label);
  const readMs = performance.now() - readStarted;
  const computeStarted = performance.now();
  const result = computeMetrics(reference, candidate, options);
  const computeMs = performance.now() - computeStarted;
  const warnings: string[] = [];
  const what = options.label === undefined ? 'no foreground voxels' : `no voxels with label ${options.label}`;
  if (result.referenceEmpty) warnings.push(`${referencePath} has ${what}`);
  if (result.testEmpty) warnings.push(`${candidatePath} has ${what}`);
  return { result, warnings, readMs, computeMs };
}
