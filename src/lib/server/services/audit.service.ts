import type { ImportReport } from './import.service';
import type { Db } from '../db/connection';
import {
  findAuditActions,
  findAuditEvents,
  type AuditEventRow,
  type AuditFilter,
} from '../repositories/audit.repository';

export type { AuditEventRow };

/** The audit trail, newest first (at most 1000 events a page). */
export function auditTrail(
  db: Db,
  filter: Partial<AuditFilter> & { limit?: number },
): Promise<AuditEventRow[]> {
  return findAuditEvents(db, { ...filter, limit: Math.min(filter.limit ?? 100, 100_000) });
}

export function auditActions(db: Db): Promise<string[]> {
  return findAuditActions(db);
}

/** What an import did, for its audit event: counts and case ids, never a patient identifier. */
export function importAuditDetails(report: ImportReport): Record<string, unknown> {
  return {
    files: report.files,
    bytes: report.bytesRead,
    caseIds: report.studies.map((s) => s.caseId),
    structureSets: report.studies.reduce((n, s) => n + s.structureSets.length, 0),
    rejected: report.rejected.length,
    failed: report.failed.length,
  };
}
