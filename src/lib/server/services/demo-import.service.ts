import path from 'node:path';
import { AppError } from '../../core/errors';
import type { Db } from '../db/connection';
import { findCaseId } from '../repositories/case.repository';
import { ensureSite, setPseudonymKeyIfMissing } from '../repositories/site.repository';
import type { BlobStore } from '../storage/blob-store';
import type { DemoManifest } from './demo.service';
import { importDicom } from './import.service';
import { addStructureAlias } from './structure.service';
import { newPseudonymKey, patientPseudonym } from './pseudonym';

export interface DemoImportSummary {
  imported: number;
  skipped: number;
  contourSets: number;
}

/**
 * Imports the generated cohort through the normal DICOM import, one case folder at a time, with each
 * case's laterality and surgery from the manifest (what a clinic would record). Cases already in the
 * database are skipped, so running the demo again reuses what exists.
 */
export async function importDemoCohort(
  db: Db,
  blobs: BlobStore,
  cohortDir: string,
  manifest: DemoManifest,
  onCase?: (done: number, description: string) => void,
): Promise<DemoImportSummary> {
  const summary: DemoImportSummary = { imported: 0, skipped: 0, contourSets: 0 };
  for (const alias of manifest.aliases) await addStructureAlias(db, alias.site, alias.name, alias.tg263Name);
  let done = 0;
  for (const demoCase of manifest.cases) {
    const site = await ensureSite(db, demoCase.site);
    const key = site.pseudonymKey ?? (await setPseudonymKeyIfMissing(db, site.id, newPseudonymKey()));
    if (await findCaseId(db, site.id, patientPseudonym(key, site.code, demoCase.patientId))) {
      summary.skipped++;
    } else {
      const report = await importDicom(db, blobs, path.join(cohortDir, demoCase.folder), {
        siteCode: demoCase.site,
        laterality: demoCase.laterality,
        surgeryType: demoCase.surgery,
        cohortName: 'Demo multi-centre breast cohort',
      });
      if (report.studies.length !== 1) {
        throw new AppError(
          'INTERNAL',
          `demo case ${demoCase.patientId} did not import: ${report.failed.map((f) => f.reason).join('; ')}`,
        );
      }
      summary.imported++;
      summary.contourSets += report.studies[0].structureSets.length;
    }
    onCase?.(++done, demoCase.patientId);
  }
  return summary;
}
