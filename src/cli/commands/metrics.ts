import type { Command } from 'commander';
import { z } from 'zod';
import { metricsToJson } from '../../lib/core/metrics/metric-json';
import {
  defaultAplTolerancesMm,
  defaultSurfaceDiceTolerancesMm,
  type MetricResult,
} from '../../lib/core/metrics/metric-set';
import { compareMaskFiles } from '../../lib/server/services/metrics.service';
import { parseOption } from '../options';

const toleranceList = z
  .string()
  .trim()
  .min(1, 'expected a comma-separated list of tolerances in mm')
  .transform((text) => text.split(',').map((part) => part.trim()))
  .pipe(
    z
      .array(
        z
          .string()
          .regex(/^\d+(\.\d+)?$/, 'each tolerance must be a number of mm >= 0, such as 1 or 2.5')
          .transform(Number),
      )
      .refine((values) => new Set(values).size === values.length, 'tolerances must not repeat'),
  );

const labelOption = z.coerce
  .number({ error: 'expected a label number' })
  .int('expected a whole label number')
  .min(-2147483648)
  .max(2147483647);

interface MetricsOptions {
  reference: string;
  candidate: string;
  label?: string;
  tolerance?: string;
  aplTolerance?: string;
  json?: boolean;
}

const fmt = (value: number | null, digits = 3, unit = ''): string => {
  if (value === null) return 'n/a';
  if (value === Infinity) return '∞';
  return `${value.toFixed(digits)}${unit}`;
};

/** The readable table printed without --json. */
export function formatMetricsTable(
  result: MetricResult,
  referencePath: string,
  candidatePath: string,
): string {
  const rows: Array<[string, string] | string> = [];
  const add = (label: string, value: string) => rows.push([label, value]);
  rows.push('Overlap');
  add('Dice', fmt(result.dice, 4));
  add('Jaccard', fmt(result.jaccard, 4));
  add('Sensitivity', fmt(result.sensitivity, 4));
  add('Precision', fmt(result.precision, 4));
  add('Detected', result.detected === null ? 'n/a (empty reference)' : result.detected ? 'yes' : 'NO');
  rows.push('Volume');
  add('Reference', `${fmt(result.volumeReferenceCc, 2)} cc (${result.voxelsReference} voxels)`);
  add('Candidate', `${fmt(result.volumeTestCc, 2)} cc (${result.voxelsTest} voxels)`);
  add('Difference', `${fmt(result.volumeDiffCc, 2)} cc (${fmt(result.volumeDiffPct, 1)} %)`);
  rows.push('Surface distance (DeepMind surfels)');
  add('HD95', `${fmt(result.hd95Mm, 2)} mm`);
  add(
    'HD95 ref->cand / cand->ref',
    `${fmt(result.hd95ReferenceToTestMm, 2)} / ${fmt(result.hd95TestToReferenceMm, 2)} mm`,
  );
  add('HD max', `${fmt(result.hdMaxMm, 2)} mm`);
  add(
    'MSD ref->cand / cand->ref',
    `${fmt(result.msdReferenceToTestMm, 2)} / ${fmt(result.msdTestToReferenceMm, 2)} mm`,
  );
  add('MSD mean of directions', `${fmt(result.msdMeanMm, 2)} mm`);
  add('ASSD (pooled)', `${fmt(result.assdMm, 2)} mm`);
  result.surfaceDice.tolerancesMm.forEach((tau, t) =>
    add(`Surface Dice @ ${tau} mm`, fmt(result.surfaceDice.values[t], 4)),
  );
  rows.push('Added path length (axial slices)');
  result.apl.tolerancesMm.forEach((tau, t) =>
    add(
      `APL @ ${tau} mm`,
      `${fmt(result.apl.pixelMm[t], 1)} mm pixels, ${fmt(result.apl.contourMm[t], 1)} mm contour, ${result.apl.slicesWithAddedPixel[t]} slices`,
    ),
  );
  add(
    'Reference boundary',
    `${fmt(result.apl.referenceBoundaryPixelLengthMm, 1)} mm pixels, ${fmt(result.apl.referenceContourLengthMm, 1)} mm contour, ${result.apl.referenceSlices} slices`,
  );
  rows.push('Position');
  add('Centroid shift', `${fmt(result.centroidShiftMm, 2)} mm`);
  add(
    'Cranial / caudal extent error',
    `${fmt(result.cranialExtentErrorMm, 1)} / ${fmt(result.caudalExtentErrorMm, 1)} mm`,
  );
  const vc = result.voxelCentre;
  rows.push('Other conventions (voxel centres; for comparison with other tools)');
  if (vc === null) {
    add('All', 'n/a (empty mask)');
  } else {
    add('HD95 max of directed (MONAI)', `${fmt(vc.hd95Mm, 2)} mm`);
    add('HD95 pooled (MedPy)', `${fmt(vc.hd95PooledMm, 2)} mm`);
    add('HD95 mean of directed (plastimatch)', `${fmt(vc.hd95DirectedMeanMm, 2)} mm`);
    add('ASSD pooled', `${fmt(vc.assdPooledMm, 2)} mm`);
  }
  const width = Math.max(...rows.map((row) => (typeof row === 'string' ? 0 : row[0].length)));
  const lines = [`Reference: ${referencePath}`, `Candidate: ${candidatePath}`];
  lines.push(
    `Grid: ${result.dims.join(' x ')} voxels of ${result.spacingMm.map((s) => Number(s.toFixed(4))).join(' x ')} mm`,
  );
  for (const row of rows) {
    if (typeof row === 'string') lines.push('', row);
    else lines.push(`  ${row[0].padEnd(width)}  ${row[1]}`);
  }
  lines.push('', `Definitions: ${result.parameters.definitionVersion} (README, "Metric definitions")`);
  return `${lines.join('\n')}\n`;
}

export function registerMetrics(program: Command): void {
  program
    .command('metrics')
    .description('compare a candidate segmentation with a reference (NIfTI .nii or .nii.gz)')
    .requiredOption('-r, --reference <file>', 'reference (ground truth) mask or label map')
    .requiredOption('-c, --candidate <file>', 'candidate (test) mask or label map on the same grid')
    .option('-l, --label <n>', 'compare only voxels equal to this label (default: any non-zero voxel)')
    .option(
      '-t, --tolerance <list>',
      'surface Dice tolerances in mm',
      defaultSurfaceDiceTolerancesMm.join(','),
    )
    .option('--apl-tolerance <list>', 'added path length tolerances in mm', defaultAplTolerancesMm.join(','))
    .option('--json', 'print one JSON object (the reference implementation\'s names, "Infinity" for +inf)')
    .action(async (options: MetricsOptions) => {
      const label =
        options.label === undefined ? undefined : parseOption(labelOption, '--label', options.label);
      const surfaceDiceTolerancesMm = parseOption(toleranceList, '--tolerance', options.tolerance);
      const aplTolerancesMm = parseOption(toleranceList, '--apl-tolerance', options.aplTolerance);
      const { result, warnings } = await compareMaskFiles(options.reference, options.candidate, {
        label,
        surfaceDiceTolerancesMm,
        aplTolerancesMm,
      });
      for (const warning of warnings) process.stderr.write(`contourbench: warning: ${warning}\n`);
      process.stdout.write(
        options.json
          ? `${JSON.stringify(metricsToJson(result), null, 2)}\n`
          : formatMetricsTable(result, options.reference, options.candidate),
      );
    });
}
