import type { Command } from 'commander';
import { rasteriseRoiFromFiles } from '../../lib/server/services/rasterise.service';

export function registerRasterize(program: Command): void {
  program
    .command('rasterize')
    .description('write one ROI of an RTSTRUCT as a NIfTI mask on its CT grid')
    .requiredOption('-s, --series <dir>', 'folder with the CT series the structure set was drawn on')
    .requiredOption('-r, --rtstruct <file>', 'RTSTRUCT file')
    .requiredOption('--roi <name>', 'ROI name (exact, else case-insensitive)')
    .requiredOption('-o, --out <file>', 'output mask (.nii or .nii.gz)')
    .action(async (options: { series: string; rtstruct: string; roi: string; out: string }) => {
      const result = await rasteriseRoiFromFiles(options.series, options.rtstruct, options.roi, options.out);
      const { report } = result;
      const skipped = [
        report.skippedType ? `${report.skippedType} open or point contours` : '',
        report.skippedOffGrid.length ? `${report.skippedOffGrid.length} contours off the slices` : '',
        report.skippedDegenerate ? `${report.skippedDegenerate} contours with fewer than 3 points` : '',
      ].filter(Boolean);
      for (const warning of result.series.warnings)
        process.stderr.write(`contourbench: warning: ${warning}\n`);
      process.stdout.write(
        `${result.roiName}: ${result.voxels} voxels, ${result.volumeCc.toFixed(2)} cc on ${report.slices} slices ` +
          `from ${report.used} of ${report.contours} contours${skipped.length ? ` (skipped: ${skipped.join(', ')})` : ''}\n` +
          `grid ${result.series.grid.dims.join(' x ')}, written to ${options.out}\n`,
      );
    });
}
