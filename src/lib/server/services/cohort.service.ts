import { createHash } from 'node:crypto';
import {
  describeRule,
  parseReferencePolicy,
  ruleFor,
  versionContentText,
  type ReferencePolicy,
} from '../../core/cohorts/reference-policy';
import { checkCases, type CheckedCase, type Finding } from '../../core/cohorts/case-checks';
import { AppError, errorMessage } from '../../core/errors';
import type { Db } from '../db/connection';
import type { BlobStore } from '../storage/blob-store';
import {
  addCaseToCohort,
  findCaseIdsByPseudonym,
  findCasesBySelection,
  findCheckedContours,
  findFindingDecisions,
  findCohortCases,
  findCohortId,
  findCohortMembers,
  findCohortRuns,
  findCohorts,
  findCohortVersions,
  findReferenceCandidates,
  insertCohort,
  insertCohortVersion,
  nextCohortVersion,
  removeCaseFromCohort,
  upsertFindingDecision,
  type CaseSelection,
  type CohortListRow,
  type CohortMemberRow,
  type CohortRunRow,
  type CohortVersionRow,
  type ReferenceCandidate,
} from '../repositories/cohort.repository';
import { type Actor, audit } from './account.service';
import { maskFindings } from './cohort-mask-checks.service';
import { computeMajorityVote, MAJORITY_VARIANT, STAPLE_VARIANT } from './consensus.service';

/** What the checks (masks are read) and freezing (majority votes are computed) need. */
export interface CohortDeps {
  db: Db;
  blobs: BlobStore;
}

export type { CaseSelection, CohortListRow, CohortMemberRow, CohortRunRow, CohortVersionRow };

async function cohortIdOf(db: Db, name: string): Promise<number> {
  const id = await findCohortId(db, name);
  if (id === undefined) throw new AppError('NOT_FOUND', `no cohort named "${name}"`);
  return id;
}

/** Creates a cohort of the cases a selection matches; refuses an existing name or an empty selection. */
export async function createCohort(
  db: Db,
  input: { name: string; description?: string; selection: CaseSelection; reason?: string },
  actor: Actor,
): Promise<{ cohortId: number; cases: number }> {
  const name = input.name.trim();
  if (!name || name.length > 128)
    throw new AppError('INVALID_ARGUMENT', 'a cohort name of 1 to 128 characters');
  return db.transaction().execute(async (tx) => {
    if ((await findCohortId(tx, name)) !== undefined)
      throw new AppError('CONFLICT', `a cohort named "${name}" exists already`);
    const caseIds = await findCasesBySelection(tx, input.selection);
    if (caseIds.length === 0)
      throw new AppError('NOT_FOUND', `no case matches the selection ${JSON.stringify(input.selection)}`);
    const cohortId = await insertCohort(tx, name, input.description ?? '', actor.userId);
    const reason = input.reason ?? `selected by ${JSON.stringify(input.selection)}`;
    for (const caseId of caseIds) await addCaseToCohort(tx, cohortId, caseId, reason);
    await audit(tx, actor, {
      action: 'cohort.create',
      objectType: 'cohort',
      objectId: name,
      details: { selection: input.selection, cases: caseIds.length },
    });
    return { cohortId, cases: caseIds.length };
  });
}

/** Adds or removes cases by pseudonym, with the reason recorded; unknown pseudonyms are refused by name. */
export async function changeCohortCases(
  db: Db,
  name: string,
  change: { add?: string[]; remove?: string[]; reason: string },
  actor: Actor,
): Promise<{ added: number; removed: number }> {
  if (!change.reason.trim()) throw new AppError('INVALID_ARGUMENT', 'give the reason for the change');
  return db.transaction().execute(async (tx) => {
    const cohortId = await cohortIdOf(tx, name);
    const wanted = [...(change.add ?? []), ...(change.remove ?? [])];
    const ids = await findCaseIdsByPseudonym(tx, wanted);
    const unknown = wanted.filter((p) => !ids.has(p));
    if (unknown.length) throw new AppError('NOT_FOUND', `no case with pseudonym ${unknown.join(', ')}`);
    let added = 0;
    let removed = 0;
    for (const pseudonym of change.add ?? []) {
      await addCaseToCohort(tx, cohortId, ids.get(pseudonym)!, change.reason);
      added++;
    }
    for (const pseudonym of change.remove ?? [])
      if (await removeCaseFromCohort(tx, cohortId, ids.get(pseudonym)!)) removed++;
    await audit(tx, actor, {
      action: 'cohort.change',
      objectType: 'cohort',
      objectId: name,
      details: { add: change.add ?? [], remove: change.remove ?? [], reason: change.reason },
    });
    return { added, removed };
  });
}

/** The reference set of each case and structure under the policy (the first such set when several). */
function chooseReferences(policy: ReferencePolicy, candidates: readonly ReferenceCandidate[]) {
  const chosen = new Map<string, ReferenceCandidate>();
  const structures = new Set<string>();
  for (const c of candidates) {
    structures.add(c.structure);
    const rule = ruleFor(policy, c.structure);
    const fits =
      rule.kind === 'staple'
        ? c.source === 'consensus' && c.variant === STAPLE_VARIANT
        : rule.kind === 'majority'
          ? c.source === 'consensus' && c.variant === MAJORITY_VARIANT
          : c.source === 'physician' && c.observer === rule.observer;
    const key = `${c.caseId}|${c.structureId}`;
    if (fits && !chosen.has(key)) chosen.set(key, c);
  }
  return { chosen: [...chosen.values()], structures: [...structures].sort() };
}

export interface Stratification {
  cohort: string;
  cases: number;
  /** counts per site x laterality x surgery x protocol */
  strata: Array<{ site: string; laterality: string; surgery: string; protocol: string; cases: number }>;
  /** per structure: cases with any physician or consensus contour, and with a reference under the policy */
  structures: Array<{
    structure: string;
    rule: string | null;
    contoured: number;
    withReference: number | null;
  }>;
}

/** What a cohort holds, before it is frozen; with a policy, how many cases it gives a reference. */
export async function stratification(
  db: Db,
  name: string,
  referenceEntries?: string[],
): Promise<Stratification> {
  const cohortId = await cohortIdOf(db, name);
  const policy = referenceEntries?.length ? policyOf(referenceEntries) : undefined;
  const [cases, candidates] = await Promise.all([
    findCohortCases(db, cohortId),
    findReferenceCandidates(db, cohortId),
  ]);
  const strata = new Map<string, Stratification['strata'][number]>();
  for (const c of cases) {
    const row = {
      site: c.site,
      laterality: c.laterality ?? 'unknown',
      surgery: c.surgery ?? 'unknown',
      protocol: c.protocol ?? 'unknown',
    };
    const key = JSON.stringify(row);
    const kept = strata.get(key) ?? { ...row, cases: 0 };
    kept.cases++;
    strata.set(key, kept);
  }
  const contoured = new Map<string, Set<number>>();
  for (const c of candidates) {
    if (!contoured.has(c.structure)) contoured.set(c.structure, new Set());
    contoured.get(c.structure)!.add(c.caseId);
  }
  const referenced = new Map<string, number>();
  if (policy) {
    const count = (structure: string) => referenced.set(structure, (referenced.get(structure) ?? 0) + 1);
    for (const r of chooseReferences(policy, candidates).chosen)
      if (ruleFor(policy, r.structure).kind !== 'majority') count(r.structure);
    // a majority vote is computed on freezing, for every case with two physicians' contours or more
    const physicians = new Map<string, number>();
    for (const c of candidates)
      if (c.source === 'physician' && ruleFor(policy, c.structure).kind === 'majority') {
        const key = `${c.caseId}|${c.structure}`;
        physicians.set(key, (physicians.get(key) ?? 0) + 1);
        if (physicians.get(key) === 2) count(c.structure);
      }
  }
  return {
    cohort: name,
    cases: cases.length,
    strata: [...strata.values()].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    structures: [...contoured.keys()].sort().map((structure) => ({
      structure,
      rule: policy ? describeRule(ruleFor(policy, structure)) : null,
      contoured: contoured.get(structure)!.size,
      withReference: policy ? (referenced.get(structure) ?? 0) : null,
    })),
  };
}

function policyOf(entries: string[]): ReferencePolicy {
  try {
    return parseReferencePolicy(entries);
  } catch (error) {
    throw new AppError('INVALID_ARGUMENT', errorMessage(error));
  }
}

export interface FrozenVersion {
  cohort: string;
  version: number;
  versionId: number;
  contentSha256: string;
  cases: number;
  references: number;
  /** false when the latest version already held exactly this content */
  created: boolean;
}

/**
 * Freezes the cohort as it is now: its cases and, per case and structure, the reference set the policy
 * picks, under a sha256 of that content. Freezing unchanged content again returns the latest version.
 * When the policy names the majority vote, each case's vote is computed (and stored) first.
 */
export async function freezeCohort(
  deps: CohortDeps,
  name: string,
  input: { reference: string[]; note?: string },
  actor: Actor,
): Promise<FrozenVersion> {
  const { db } = deps;
  const policy = policyOf(input.reference);
  const open = (await checkCohort(deps, name)).findings.filter((f) => f.decision === null);
  if (open.length)
    throw new AppError(
      'CONFLICT',
      `cohort "${name}" has ${open.length} undecided finding(s); accept each with a note or exclude its case:\n${open.map((f) => `  ${f.check}: ${f.message}`).join('\n')}`,
    );
  const usesMajority =
    policy.default.kind === 'majority' || Object.values(policy.structures).some((r) => r.kind === 'majority');
  // the vote of the structures the policy gives it, computed again (physicians' sets may have changed)
  if (usesMajority)
    for (const c of await findCohortCases(db, await cohortIdOf(db, name)))
      await computeMajorityVote(
        deps,
        c.caseId,
        (structure) => ruleFor(policy, structure).kind === 'majority',
      );
  return db.transaction().execute(async (tx) => {
    const cohortId = await cohortIdOf(tx, name);
    const [cases, candidates, versions] = await Promise.all([
      findCohortCases(tx, cohortId),
      findReferenceCandidates(tx, cohortId),
      findCohortVersions(tx, cohortId),
    ]);
    if (cases.length === 0) throw new AppError('INVALID_ARGUMENT', `cohort "${name}" has no cases to freeze`);
    const { chosen } = chooseReferences(policy, candidates);
    const byCase = new Map<number, Array<{ structure: string; maskSha256: string }>>();
    for (const r of chosen) {
      if (!byCase.has(r.caseId)) byCase.set(r.caseId, []);
      byCase.get(r.caseId)!.push({ structure: r.structure, maskSha256: r.maskSha256 });
    }
    const text = versionContentText(
      policy,
      cases.map((c) => ({ pseudonym: c.pseudonym, references: byCase.get(c.caseId) ?? [] })),
    );
    const contentSha256 = createHash('sha256').update(text).digest('hex');
    const latest = versions.at(-1);
    if (latest && latest.contentSha256 === contentSha256)
      return {
        cohort: name,
        version: latest.version,
        versionId: latest.id,
        contentSha256,
        cases: latest.caseCount,
        references: chosen.length,
        created: false,
      };
    const version = await nextCohortVersion(tx, cohortId);
    const versionId = await insertCohortVersion(tx, {
      cohortId,
      version,
      contentSha256,
      policy: policy as unknown as Record<string, unknown>,
      note: input.note ?? '',
      userId: actor.userId,
      caseIds: cases.map((c) => c.caseId),
      references: chosen.map((r) => ({
        caseId: r.caseId,
        structureId: r.structureId,
        contourSetId: r.contourSetId,
        maskSha256: r.maskSha256,
      })),
    });
    await audit(tx, actor, {
      action: 'cohort.freeze',
      objectType: 'cohort_version',
      objectId: versionId,
      details: { cohort: name, version, contentSha256, cases: cases.length, references: chosen.length },
    });
    return {
      cohort: name,
      version,
      versionId,
      contentSha256,
      cases: cases.length,
      references: chosen.length,
      created: true,
    };
  });
}

export async function cohortVersions(db: Db, name: string): Promise<CohortVersionRow[]> {
  return findCohortVersions(db, await cohortIdOf(db, name));
}

export interface DecidedFinding extends Finding {
  pseudonym: string;
  /** what was decided about it, if anything */
  decision: { decision: 'accepted' | 'excluded'; note: string } | null;
}

/**
 * The case checks of a cohort. From the stored metadata: structures missing (of `expected`, targets only
 * on their side, or else of those most cases of the same laterality and surgery have), ROI names mapped to
 * no structure, targets on the wrong side, volume outliers, the same patient twice and masks copied between
 * cases. From the masks (cohort-mask-checks.service.ts, cached by mask content): structures in pieces,
 * holes, skipped slices, contours outside the body outline and near-duplicate cases.
 */

export async function checkCohort(
  deps: CohortDeps,
  name: string,
  expected?: string[],
): Promise<{ cohort: string; cases: number; findings: DecidedFinding[] }> {
  const { db } = deps;
  const cohortId = await cohortIdOf(db, name);
  const [rows, decisions] = await Promise.all([
    findCheckedContours(db, cohortId),
    findFindingDecisions(db, cohortId),
  ]);
  const cases = new Map<
    number,
    CheckedCase & {
      contours: CheckedCase['contours'][number][];
      unmapped: Array<{ setLabel: string; names: readonly string[] }>;
    }
  >();
  for (const r of rows) {
    let c = cases.get(r.caseId);
    if (!c) {
      c = {
        caseId: r.caseId,
        pseudonym: r.pseudonym,
        laterality: r.laterality,
        surgery: r.surgery,
        patientKey: r.patientKey,
        contours: [],
        unmapped: [],
      };
      cases.set(r.caseId, c);
    }
    if (r.unmappedRoiNames?.length && !c.unmapped.some((u) => u.setLabel === r.setLabel))
      c.unmapped.push({ setLabel: r.setLabel, names: r.unmappedRoiNames });
    if (r.structure !== null && r.volumeCc !== null && r.maskSha256 !== null)
      c.contours.push({
        structure: r.structure,
        volumeCc: r.volumeCc,
        maskSha256: r.maskSha256,
        setLabel: r.setLabel,
      });
  }
  const decided = new Map(decisions.map((d) => [`${d.caseId}|${d.check}|${d.structure}`, d]));
  const findings = [
    ...checkCases([...cases.values()], expected),
    ...(await maskFindings(deps, cohortId)),
  ].map((f) => {
    const d = decided.get(`${f.caseId}|${f.check}|${f.structure ?? ''}`);
    return {
      ...f,
      pseudonym: cases.get(f.caseId)!.pseudonym,
      decision: d ? { decision: d.decision, note: d.note } : null,
    };
  });
  return { cohort: name, cases: cases.size, findings };
}

/**
 * Records what was decided about a finding: accepted with a note (the case stays), or the case excluded
 * from the cohort (with the note as the reason). Versions are frozen only when every finding is decided.
 */
export async function decideFinding(
  deps: CohortDeps,
  name: string,
  input: {
    pseudonym: string;
    check: string;
    structure?: string;
    decision: 'accepted' | 'excluded';
    note: string;
  },
  actor: Actor,
): Promise<void> {
  if (!input.note.trim()) throw new AppError('INVALID_ARGUMENT', 'write the note: what was checked and why');
  const { db } = deps;
  const checked = await checkCohort(deps, name);
  const finding = checked.findings.find(
    (f) =>
      f.pseudonym === input.pseudonym &&
      f.check === input.check &&
      (f.structure ?? '') === (input.structure ?? ''),
  );
  if (!finding)
    throw new AppError(
      'NOT_FOUND',
      `cohort "${name}" has no ${input.check} finding for ${input.pseudonym}${input.structure ? ` ${input.structure}` : ''}`,
    );
  await db.transaction().execute(async (tx) => {
    const cohortId = await cohortIdOf(tx, name);
    await upsertFindingDecision(tx, {
      cohortId,
      caseId: finding.caseId,
      check: input.check,
      structure: input.structure ?? '',
      decision: input.decision,
      note: input.note.trim(),
      userId: actor.userId,
    });
    if (input.decision === 'excluded') await removeCaseFromCohort(tx, cohortId, finding.caseId);
    await audit(tx, actor, {
      action: `cohort.finding_${input.decision}`,
      objectType: 'cohort',
      objectId: name,
      details: {
        case: input.pseudonym,
        check: input.check,
        structure: input.structure ?? null,
        note: input.note.trim(),
      },
    });
  });
}

/** Every cohort with its counts of cases, versions and runs. */
export function listCohorts(db: Db): Promise<CohortListRow[]> {
  return findCohorts(db);
}

export interface CohortOverview {
  name: string;
  cases: CohortMemberRow[];
  versions: CohortVersionRow[];
  /** evaluation runs over the cohort, newest first, each with the cohort version it evaluated (or null) */
  runs: CohortRunRow[];
}

/** A cohort's cases (with the reason each was added), its frozen versions and the runs over it. */
export async function cohortOverview(db: Db, name: string): Promise<CohortOverview> {
  const cohortId = await cohortIdOf(db, name);
  const [cases, versions, runs] = await Promise.all([
    findCohortMembers(db, cohortId),
    findCohortVersions(db, cohortId),
    findCohortRuns(db, cohortId),
  ]);
  return { name, cases, versions, runs };
}
