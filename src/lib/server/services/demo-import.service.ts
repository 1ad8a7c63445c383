import path from 'node:path';
import { formatCsvRecord } from '../../core/editing/editing-csv';
import { AppError } from '../../core/errors';
import type { Db } from '../db/connection';
import { findCaseId } from '../repositories/case.repository';
import { addCaseToCohort, ensureCohort } from '../repositories/cohort.repository';
import { findPhysicianContourSets } from '../repositories/contour.repository';
import { ensureSite, setPseudonymKeyIfMissing } from '../repositories/site.repository';
import type { BlobStore } from '../storage/blob-store';
import { DEMO_COHORT, type DemoManifest } from './demo.service';
import { importEditingCsv } from './editing.service';
import { importDicom } from './import.service';
import { addStructureAlias } from './structure.service';
import { newPseudonymKey, patientPseudonym } from './pseudonym';

export interface DemoImportSummary {
  imported: number;
  skipped: number;
  contourSets: number;
  editingSessions: number;
}

/**
 * Imports the generated cohort through the normal DICOM import, one case folder at a time, with each
 * case's laterality, surgery and dose prescription from the manifest (what a clinic would record), into
 * the cohort of all demo cases; test-split cases also join the held-out cohort the demo models are
 * evaluated on. Cases
 * already in the database are skipped, so running the demo again reuses what exists.
 */
export async function importDemoCohort(
  db: Db,
  blobs: BlobStore,
  cohortDir: string,
  manifest: DemoManifest,
  onCase?: (done: number, description: string) => void,
): Promise<DemoImportSummary> {
  const summary: DemoImportSummary = { imported: 0, skipped: 0, contourSets: 0, editingSessions: 0 };
  const csv = ['site,case,observer,structure,mode,started_at,ended_at,active_seconds,to_set,tool'];
  for (const alias of manifest.aliases) await addStructureAlias(db, alias.site, alias.name, alias.tg263Name);
  let done = 0;
  for (const demoCase of manifest.cases) {
    const site = await ensureSite(db, demoCase.site);
    const key = site.pseudonymKey ?? (await setPseudonymKeyIfMissing(db, site.id, newPseudonymKey()));
    let caseId = await findCaseId(db, site.id, patientPseudonym(key, site.code, demoCase.patientId));
    if (caseId !== undefined) {
      summary.skipped++;
    } else {
      const report = await importDicom(db, blobs, path.join(cohortDir, demoCase.folder), {
        siteCode: demoCase.site,
        laterality: demoCase.laterality,
        surgeryType: demoCase.surgery,
        protocol: demoCase.protocol,
        cohortName: DEMO_COHORT,
        // the planned dose's prescription, which a clinic's RT Plan would state
        prescription: { prescriptionGy: demoCase.prescriptionGy, fractions: demoCase.fractions },
      });
      if (report.studies.length !== 1) {
        throw new AppError(
          'INTERNAL',
          `demo case ${demoCase.patientId} did not import: ${report.failed.map((f) => f.reason).join('; ')}`,
        );
      }
      summary.imported++;
      caseId = report.studies[0].caseId;
      summary.contourSets += report.studies[0].structureSets.length;
      // the physicians' drawing times, through the editing-time CSV import a clinic would use
      const sets = await findPhysicianContourSets(db, report.studies[0].caseId);
      for (const session of demoCase.sessions) {
        const setId = sets.get(session.observer);
        const row = [
          demoCase.site,
          report.studies[0].pseudonym,
          session.observer,
          session.tg263Name,
          'from_scratch',
        ];
        row.push(
          session.startedAt,
          session.endedAt,
          String(session.activeSeconds),
          setId ? String(setId) : '',
          'demo',
        );
        csv.push(formatCsvRecord(row));
      }
    }
    if (demoCase.split === 'test')
      await addCaseToCohort(
        db,
        await ensureCohort(db, manifest.ai.testCohort),
        caseId,
        'held out: not used to fit the demo models',
      );
    onCase?.(++done, demoCase.patientId);
  }
  if (csv.length > 1) {
    const result = await importEditingCsv(db, `${csv.join('\n')}\n`, 'demo editing log');
    if (result.errors.length > 0) {
      throw new AppError(
        'INTERNAL',
        `demo editing log: ${result.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`,
      );
    }
    summary.editingSessions = result.imported;
  }
  return summary;
}
