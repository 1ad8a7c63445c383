import type { Finding } from '../../core/cohorts/case-checks';
import {
  diceUpperBound,
  expectedPieces,
  expectsContiguousSlices,
  expectsInsideBody,
  fragmentedMessage,
  hasForbiddenHoles,
  holePolicy,
  holesMessage,
  isFragmented,
  isNearDuplicate,
  MASK_CHECKS_VERSION,
  maskDice,
  maskShape,
  nearDuplicateMessage,
  NEAR_DUPLICATE_DICE,
  NEAR_DUPLICATE_MIN_STRUCTURES,
  outsideBody,
  outsideBodyMessage,
  skippedSlicesMessage,
  type LabelledOutside,
  type LabelledShape,
  type MaskShape,
  type NearDuplicateEvidence,
  type OutsideBody,
} from '../../core/cohorts/mask-checks';
import { AppError } from '../../core/errors';
import { binaryMaskSummary, type IndexBox } from '../../core/volume/crop';
import { axisAlignedAffine, type Mask, type Vec3 } from '../../core/volume/volume';
import type { Db } from '../db/connection';
import {
  findCohortSeriesGrids,
  findMaskCheckContours,
  findMaskCheckResults,
  upsertMaskCheckResults,
  type CaseSeriesGrid,
  type MaskCheckContour,
  type MaskCheckKind,
  type MaskCheckResultRow,
} from '../repositories/cohort-mask.repository';
import type { BlobStore } from '../storage/blob-store';

/** The structure name of the body outline a set's other structures are checked against. */
const BODY = 'External';
/** Masks read at once: each is a whole-grid array while it is checked. */
const PARALLEL_READS = 4;

interface Grid {
  dims: Vec3;
  spacingMm: Vec3;
  /** dimensions as '512x512x120' */
  key: string;
  /** spacing to the micrometre, for comparing grids */
  spacingKey: string;
  voxelCc: number;
}

interface Checked {
  contour: MaskCheckContour;
  /** observer code, or 'consensus' */
  setLabel: string;
  seriesId: number;
  grid: Grid;
  /** the body outline this contour is checked against, and whose it is */
  external: { sha256: string; setLabel: string } | null;
  shape?: MaskShape;
  outside?: OutsideBody;
}

function labelOf(c: MaskCheckContour): string {
  if (c.source === 'consensus')
    return c.variant === '' || c.variant === 'staple' ? 'consensus' : `consensus (${c.variant})`;
  return c.observerCode ?? `set ${c.setId}`;
}

function boxOf(bboxIjk: number[] | null): IndexBox | null {
  if (bboxIjk === null || bboxIjk.length !== 6) return null;
  const [iMin, jMin, kMin, iMax, jMax, kMax] = bboxIjk as [number, number, number, number, number, number];
  return { iMin, jMin, kMin, iMax, jMax, kMax };
}

const NO_VOXELS: IndexBox = { iMin: 0, iMax: -1, jMin: 0, jMax: -1, kMin: 0, kMax: -1 };

/** Runs `task` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A mask read from the store and checked to lie on its grid. */
async function readGridMask(blobs: BlobStore, sha256: string, grid: Grid, what: string): Promise<Mask> {
  const data = await blobs.get(sha256);
  const voxels = grid.dims[0] * grid.dims[1] * grid.dims[2];
  if (data.length !== voxels)
    throw new AppError(
      'INVALID_INPUT',
      `${what}: mask ${sha256.slice(0, 12)}… has ${data.length} voxels, its CT grid ${grid.key} has ${voxels}`,
    );
  return {
    data,
    dims: grid.dims,
    spacingMm: grid.spacingMm,
    affineIjkToLps: axisAlignedAffine(grid.spacingMm),
  };
}

const contourName = (c: Checked) => `${c.contour.pseudonym} ${c.contour.structure} (${c.setLabel})`;

/** The box of a contour's voxels: the stored one when it holds them all, else found by a scan. */
function trueBox(mask: Mask, stored: IndexBox | null, voxelCount: number, shape?: MaskShape): IndexBox {
  if (stored !== null && (shape === undefined || shape.voxels === voxelCount)) return stored;
  return binaryMaskSummary(mask.data, mask.dims).box ?? NO_VOXELS;
}

function isShape(value: unknown): value is MaskShape {
  const v = value as Partial<MaskShape> | undefined;
  return (
    typeof v?.voxels === 'number' &&
    typeof v.parts?.count === 'number' &&
    Array.isArray(v.holes?.enclosedSlices) &&
    Array.isArray(v.skippedSlices)
  );
}

function isOutside(value: unknown): value is OutsideBody {
  const v = value as Partial<OutsideBody> | undefined;
  return typeof v?.voxels === 'number' && Array.isArray(v.slices);
}

/** Results kept from earlier runs, and those computed in this one (to keep). */
class KeptResults {
  private readonly byKey = new Map<string, Record<string, unknown>>();
  readonly fresh: MaskCheckResultRow[] = [];

  constructor(rows: readonly MaskCheckResultRow[]) {
    for (const r of rows)
      this.byKey.set(KeptResults.key(r.maskSha256, r.check, r.otherSha256, r.grid), r.result);
  }

  private static key(mask: string, check: MaskCheckKind, other: string, grid: string) {
    return `${mask}|${check}|${other}|${grid}`;
  }

  get(mask: string, check: MaskCheckKind, other: string, grid: string): Record<string, unknown> | undefined {
    return this.byKey.get(KeptResults.key(mask, check, other, grid));
  }

  set(mask: string, check: MaskCheckKind, other: string, grid: string, result: Record<string, unknown>) {
    this.byKey.set(KeptResults.key(mask, check, other, grid), result);
    this.fresh.push({ maskSha256: mask, check, otherSha256: other, grid, result });
  }
}

/**
 * The mask-based case checks of a cohort, over every physician and consensus contour of its cases:
 * - fragmented: more 26-connected pieces than the structure is drawn in (one; two for Lungs), with the
 *   volume and slices of the extra pieces, every piece counted however small;
 * - holes: in-slice holes (4-connected background enclosed in the slice) in a structure that has none,
 *   with the part closed in 3-D; for the lungs and liver only cavities closed in 3-D (their slices may
 *   ring the diaphragm dome, the heart or the vena cava); the External is not checked (a body outline may
 *   leave out air);
 * - skipped_slices: slices with no voxel between a structure's first and last slice;
 * - outside_body: voxels more than one voxel (in-slice) outside the External of the contour's own set, or
 *   when that set has none, of the first physician (else consensus) set of the case that has one; holes of
 *   the External count as inside; PTVs are not checked (their margin crosses the skin);
 * - near_duplicate_case: a case on a grid of the same dimensions and spacing as an earlier case (by import
 *   order) of the cohort, sharing at least three structures, each with a pair of contours (one from either
 *   case) overlapping with Dice >= 0.98; one finding on the later case, naming the earlier.
 * Which structures each check applies to is decided in core/cohorts/mask-checks.ts. One finding per case,
 * check and structure, naming each contour set that shows the problem. Results are kept by the masks'
 * content hashes, so a mask is read once, and a cohort checked again reads only masks it has not seen.
 */
export async function maskFindings(deps: { db: Db; blobs: BlobStore }, cohortId: number): Promise<Finding[]> {
  const { db, blobs } = deps;
  const [contours, seriesGrids] = await Promise.all([
    findMaskCheckContours(db, cohortId),
    findCohortSeriesGrids(db, cohortId),
  ]);
  if (contours.length === 0) return [];
  const checked = placeContours(contours, seriesGrids);
  const kept = new KeptResults(
    await findMaskCheckResults(
      db,
      checked.map((c) => c.contour.maskSha256),
      MASK_CHECKS_VERSION,
    ),
  );
  await checkMasks(blobs, checked, kept);
  const findings = [...contourFindings(checked), ...(await nearDuplicates(blobs, checked, kept))];
  if (kept.fresh.length) await upsertMaskCheckResults(db, kept.fresh, MASK_CHECKS_VERSION);
  return findings.sort(
    (a, b) =>
      a.caseId - b.caseId ||
      a.check.localeCompare(b.check) ||
      (a.structure ?? '').localeCompare(b.structure ?? ''),
  );
}

/**
 * Each non-empty contour on its grid (its set's series; for a set without one, the case's first series
 * with a stored CT), with the External it is checked against: its own set's, else the case's first
 * physician set's on the same series, else a consensus set's.
 */
function placeContours(
  contours: readonly MaskCheckContour[],
  seriesGrids: readonly CaseSeriesGrid[],
): Checked[] {
  const series = new Map<number, CaseSeriesGrid>(seriesGrids.map((s) => [s.seriesId, s]));
  const caseSeries = new Map<number, CaseSeriesGrid>();
  for (const s of seriesGrids)
    if (!caseSeries.has(s.caseId) || (s.hasVolume && !caseSeries.get(s.caseId)!.hasVolume))
      caseSeries.set(s.caseId, s);
  const checked: Checked[] = [];
  const externalOfSet = new Map<number, { sha256: string; setLabel: string }>();
  const externalOfSeries = new Map<number, { sha256: string; setLabel: string; source: string }>();
  for (const contour of contours) {
    const s =
      (contour.imageSeriesId === null ? undefined : series.get(contour.imageSeriesId)) ??
      caseSeries.get(contour.caseId);
    if (s === undefined || contour.voxelCount === 0) continue;
    const setLabel = labelOf(contour);
    const grid: Grid = {
      dims: s.dims,
      spacingMm: s.spacingMm,
      key: s.dims.join('x'),
      spacingKey: s.spacingMm.map((v) => v.toFixed(3)).join('x'),
      voxelCc: (s.spacingMm[0] * s.spacingMm[1] * s.spacingMm[2]) / 1000,
    };
    checked.push({ contour, setLabel, seriesId: s.seriesId, grid, external: null });
    if (contour.structure !== BODY) continue;
    externalOfSet.set(contour.setId, { sha256: contour.maskSha256, setLabel });
    const known = externalOfSeries.get(s.seriesId);
    if (known === undefined || (known.source !== 'physician' && contour.source === 'physician'))
      externalOfSeries.set(s.seriesId, { sha256: contour.maskSha256, setLabel, source: contour.source });
  }
  for (const c of checked) {
    if (!expectsInsideBody(c.contour.structure)) continue;
    const own = externalOfSet.get(c.contour.setId);
    const fallback = externalOfSeries.get(c.seriesId);
    c.external = own ?? (fallback ? { sha256: fallback.sha256, setLabel: fallback.setLabel } : null);
  }
  return checked;
}

const wantsShape = (structure: string) =>
  expectedPieces(structure) !== null || holePolicy(structure) !== null || expectsContiguousSlices(structure);

/** The shape and outside-body results of every contour: kept ones taken, the others computed. */
async function checkMasks(blobs: BlobStore, checked: readonly Checked[], kept: KeptResults): Promise<void> {
  for (const c of checked) {
    const shape = kept.get(c.contour.maskSha256, 'shape', '', c.grid.key);
    if (isShape(shape)) c.shape = shape;
    if (c.external) {
      const outside = kept.get(c.contour.maskSha256, 'outside_body', c.external.sha256, c.grid.key);
      if (isOutside(outside)) c.outside = outside;
    }
  }
  const todo = checked.filter(
    (c) => (wantsShape(c.contour.structure) && !c.shape) || (c.external && !c.outside),
  );
  // case by case, so that only one case's body outlines are held
  const byCase = new Map<number, Checked[]>();
  for (const c of todo) byCase.set(c.contour.caseId, [...(byCase.get(c.contour.caseId) ?? []), c]);
  for (const list of byCase.values()) {
    const bodies = new Map<string, Promise<Mask>>();
    const bodyOf = (c: Checked) => {
      const sha256 = c.external!.sha256;
      if (!bodies.has(sha256))
        bodies.set(
          sha256,
          readGridMask(blobs, sha256, c.grid, `${c.contour.pseudonym} External (${c.external!.setLabel})`),
        );
      return bodies.get(sha256)!;
    };
    await eachLimited(list, PARALLEL_READS, async (c) => {
      const mask = await readGridMask(blobs, c.contour.maskSha256, c.grid, contourName(c));
      let box = boxOf(c.contour.bboxIjk) ?? trueBox(mask, null, c.contour.voxelCount);
      if (wantsShape(c.contour.structure) && !c.shape) {
        let shape = maskShape(mask, box);
        if (shape.voxels !== c.contour.voxelCount) {
          // a stored box that misses voxels: check the whole mask
          box = trueBox(mask, null, c.contour.voxelCount);
          shape = maskShape(mask, box);
        }
        c.shape = shape;
        kept.set(c.contour.maskSha256, 'shape', '', c.grid.key, { ...shape });
      }
      if (c.external && !c.outside) {
        const body = await bodyOf(c);
        c.outside = outsideBody(mask, box, body.data);
        kept.set(c.contour.maskSha256, 'outside_body', c.external.sha256, c.grid.key, { ...c.outside });
      }
    });
  }
}

/** The fragmented, holes, skipped_slices and outside_body findings: one per case, check and structure. */
function contourFindings(checked: readonly Checked[]): Finding[] {
  const findings: Finding[] = [];
  const groups = new Map<string, Checked[]>();
  for (const c of checked) {
    const key = `${c.contour.caseId}|${c.contour.structure}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  for (const group of groups.values()) {
    const { caseId, pseudonym, structure } = group[0]!.contour;
    const shapes = (keep: (shape: MaskShape) => boolean): LabelledShape[] =>
      group
        .filter((c) => c.shape !== undefined && keep(c.shape))
        .map((c) => ({ setLabel: c.setLabel, shape: c.shape!, voxelCc: c.grid.voxelCc }));
    const fragmented = shapes((s) => isFragmented(structure, s));
    if (fragmented.length)
      findings.push({
        check: 'fragmented',
        caseId,
        structure,
        message: fragmentedMessage(pseudonym, structure, fragmented),
      });
    const holes = shapes((s) => hasForbiddenHoles(structure, s));
    if (holes.length)
      findings.push({
        check: 'holes',
        caseId,
        structure,
        message: holesMessage(pseudonym, structure, holes),
      });
    const skipped = expectsContiguousSlices(structure) ? shapes((s) => s.skippedSlices.length > 0) : [];
    if (skipped.length)
      findings.push({
        check: 'skipped_slices',
        caseId,
        structure,
        message: skippedSlicesMessage(pseudonym, structure, skipped),
      });
    const outside: LabelledOutside[] = group
      .filter((c) => c.external !== null && c.outside !== undefined && c.outside.voxels > 0)
      .map((c) => ({
        setLabel: c.setLabel,
        externalLabel: c.external!.setLabel,
        voxels: c.contour.voxelCount,
        outside: c.outside!,
        voxelCc: c.grid.voxelCc,
      }));
    if (outside.length)
      findings.push({
        check: 'outside_body',
        caseId,
        structure,
        message: outsideBodyMessage(pseudonym, structure, outside),
      });
  }
  return findings;
}

interface CaseContours {
  caseId: number;
  pseudonym: string;
  grid: Grid;
  seriesId: number;
  byStructure: Map<string, Checked[]>;
}

/**
 * Near-duplicate cases: pairs of cases on grids of the same dimensions and spacing whose shared structures
 * all have a contour pair with Dice >= NEAR_DUPLICATE_DICE (isNearDuplicate). Pairs whose voxel counts
 * alone keep Dice below it are never read, so a cohort of different patients reads no mask; identical
 * masks need no read; the Dice of a pair is kept.
 */
async function nearDuplicates(blobs: BlobStore, checked: readonly Checked[], kept: KeptResults) {
  const cases = new Map<number, CaseContours>();
  for (const c of checked) {
    let entry = cases.get(c.contour.caseId);
    if (entry === undefined) {
      entry = {
        caseId: c.contour.caseId,
        pseudonym: c.contour.pseudonym,
        grid: c.grid,
        seriesId: c.seriesId,
        byStructure: new Map(),
      };
      cases.set(c.contour.caseId, entry);
    }
    // one grid a case: the contours on the series of its first contour
    if (c.seriesId !== entry.seriesId) continue;
    entry.byStructure.set(c.contour.structure, [...(entry.byStructure.get(c.contour.structure) ?? []), c]);
  }
  const ordered = [...cases.values()].sort((a, b) => a.caseId - b.caseId);
  const evidence = new Map<number, NearDuplicateEvidence[]>();
  for (const [n, later] of ordered.entries())
    for (const earlier of ordered.slice(0, n)) {
      if (earlier.grid.key !== later.grid.key || earlier.grid.spacingKey !== later.grid.spacingKey) continue;
      const shared = [...later.byStructure.keys()].filter((s) => earlier.byStructure.has(s)).sort();
      if (shared.length < NEAR_DUPLICATE_MIN_STRUCTURES) continue;
      const candidates = shared.map((structure) => {
        const pairs: Array<[Checked, Checked]> = [];
        for (const a of earlier.byStructure.get(structure)!)
          for (const b of later.byStructure.get(structure)!)
            if ((diceUpperBound(a.contour.voxelCount, b.contour.voxelCount) ?? 0) >= NEAR_DUPLICATE_DICE)
              pairs.push([a, b]);
        return { structure, pairs };
      });
      if (candidates.some((c) => c.pairs.length === 0)) continue;
      const bestDice: Array<{ structure: string; dice: number }> = [];
      for (const { structure, pairs } of candidates) {
        const best = await bestPairDice(blobs, pairs, later.grid, kept);
        if (best < NEAR_DUPLICATE_DICE) break;
        bestDice.push({ structure, dice: best });
      }
      if (bestDice.length === shared.length && isNearDuplicate(bestDice))
        evidence.set(later.caseId, [
          ...(evidence.get(later.caseId) ?? []),
          { pseudonym: earlier.pseudonym, bestDice },
        ]);
    }
  const findings: Finding[] = [];
  for (const [caseId, earlier] of evidence) {
    const c = cases.get(caseId)!;
    findings.push({
      check: 'near_duplicate_case',
      caseId,
      structure: null,
      message: nearDuplicateMessage(c.pseudonym, c.grid, earlier),
    });
  }
  return findings;
}

/** The highest Dice over these contour pairs of one structure: kept values first, masks read at most once. */
async function bestPairDice(
  blobs: BlobStore,
  pairs: ReadonlyArray<[Checked, Checked]>,
  grid: Grid,
  kept: KeptResults,
): Promise<number> {
  if (pairs.some(([a, b]) => a.contour.maskSha256 === b.contour.maskSha256)) return 1;
  let best = 0;
  const masks = new Map<string, Promise<{ data: Uint8Array; box: IndexBox }>>();
  const read = (c: Checked) => {
    const sha256 = c.contour.maskSha256;
    if (!masks.has(sha256))
      masks.set(
        sha256,
        readGridMask(blobs, sha256, grid, contourName(c)).then((mask) => ({
          data: mask.data,
          box: trueBox(mask, boxOf(c.contour.bboxIjk), c.contour.voxelCount, c.shape),
        })),
      );
    return masks.get(sha256)!;
  };
  for (const [a, b] of pairs) {
    const [low, high] = [a.contour.maskSha256, b.contour.maskSha256].sort() as [string, string];
    const known = kept.get(low, 'dice', high, grid.key);
    let dice: number;
    if (typeof known?.dice === 'number') dice = known.dice;
    else {
      const [ma, mb] = await Promise.all([read(a), read(b)]);
      dice = maskDice(ma.data, ma.box, mb.data, mb.box, grid.dims) ?? 0;
      kept.set(low, 'dice', high, grid.key, { dice });
    }
    best = Math.max(best, dice);
  }
  return best;
}
