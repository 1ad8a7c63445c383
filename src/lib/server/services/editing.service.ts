import { parseEditingCsv, type EditingCsvError } from '../../core/editing/editing-csv';
import type { Db } from '../db/connection';
import {
  findCaseIds,
  findContourSetCases,
  findObserverIds,
  findSiteIds,
  findStructureIdsByName,
  siteScopedKey,
  upsertEditingSession,
  type EditingSessionValues,
} from '../repositories/editing.repository';

export interface EditingImportResult {
  /** Sessions written (inserted or updated); 0 when there was any error. */
  imported: number;
  /** Every problem found, by line; when non-empty nothing was stored. */
  errors: EditingCsvError[];
}

/**
 * Imports an editing-time CSV (columns in core/editing/editing-csv.ts) in one transaction. Rows refer to
 * sites by code, cases by pseudonym and observers by code at that site, structures by TG-263 name, and
 * contour sets by id (which must belong to the row's case). If any row is invalid or refers to something
 * unknown, nothing is stored and every problem is reported with the file, its line and its column.
 * Sessions are upserted on their natural key (observer, case, structure, started_at), so importing the
 * same file again changes nothing.
 */
export async function importEditingCsv(db: Db, text: string, source: string): Promise<EditingImportResult> {
  const { rows, errors } = parseEditingCsv(text, source);
  return db.transaction().execute(async (trx) => {
    const sites = await findSiteIds(
      trx,
      rows.map((r) => r.siteCode),
    );
    const cases = await findCaseIds(
      trx,
      rows.map((r) => ({ siteCode: r.siteCode, pseudonym: r.casePseudonym })),
    );
    const observers = await findObserverIds(
      trx,
      rows.map((r) => ({ siteCode: r.siteCode, code: r.observerCode })),
    );
    const structures = await findStructureIdsByName(
      trx,
      rows.flatMap((r) => (r.structureName === null ? [] : [r.structureName])),
    );
    const setCases = await findContourSetCases(
      trx,
      rows.flatMap((r) => [r.fromSetId, r.toSetId].filter((id): id is number => id !== null)),
    );

    const sessions: EditingSessionValues[] = [];
    const firstLineOfKey = new Map<string, number>();
    for (const row of rows) {
      // each problem names its column, as the parser's do
      const problems: Array<{ column: string; problem: string }> = [];
      const problem = (column: string, text: string) => problems.push({ column, problem: text });
      const caseId = cases.get(siteScopedKey(row.siteCode, row.casePseudonym));
      const observerId = observers.get(siteScopedKey(row.siteCode, row.observerCode));
      const structureId = row.structureName === null ? null : structures.get(row.structureName);
      if (!sites.has(row.siteCode)) {
        problem('site', `unknown site "${row.siteCode}"`);
      } else {
        if (caseId === undefined) problem('case', `no case "${row.casePseudonym}" at site ${row.siteCode}`);
        if (observerId === undefined)
          problem('observer', `no observer "${row.observerCode}" at site ${row.siteCode}`);
      }
      if (structureId === undefined) problem('structure', `unknown TG-263 structure "${row.structureName}"`);
      for (const [column, setId] of [
        ['from_set', row.fromSetId],
        ['to_set', row.toSetId],
      ] as const) {
        if (setId === null) continue;
        const setCase = setCases.get(setId);
        if (setCase === undefined) problem(column, `no contour set ${setId}`);
        else if (caseId !== undefined && setCase !== caseId)
          problem(column, `contour set ${setId} belongs to another case, not ${row.casePseudonym}`);
      }
      if (caseId !== undefined && observerId !== undefined && structureId !== undefined) {
        const key = `${observerId}/${caseId}/${structureId}/${row.startedAt.toISOString()}`;
        const first = firstLineOfKey.get(key);
        if (first !== undefined)
          problem('started_at', `the same observer, case, structure and started_at as line ${first}`);
        else firstLineOfKey.set(key, row.line);
      }
      if (problems.length > 0) {
        for (const { column, problem: text } of problems)
          errors.push({ line: row.line, message: `${source} line ${row.line}, column ${column}: ${text}` });
        continue;
      }
      sessions.push({
        observerId: observerId as number,
        caseId: caseId as number,
        structureId: structureId as number | null,
        fromSetId: row.fromSetId,
        toSetId: row.toSetId,
        startedAt: row.startedAt,
        endedAt: row.endedAt,
        activeSeconds: row.activeSeconds,
        mode: row.mode,
        tool: row.tool,
      });
    }
    // a stable sort: a line's problems keep their column order
    if (errors.length > 0) return { imported: 0, errors: errors.sort((a, b) => a.line - b.line) };
    for (const session of sessions) await upsertEditingSession(trx, session);
    return { imported: sessions.length, errors: [] };
  });
}
