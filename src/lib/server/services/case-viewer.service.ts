import { maskToContours } from '../../core/contours/mask-to-contours';
import { AppError } from '../../core/errors';
import type { ImageGrid } from '../../core/geometry/image-grid';
import { binaryMaskSummary, cropMask } from '../../core/volume/crop';
import {
  axialDifferenceCounts,
  extractPlane,
  placedPlane,
  planeOrientation,
  planeSize,
  planeSpacingMm,
  SLICE_PLANES,
  type PlacedMask,
  type PlaneOrientation,
  type SlicePlane,
} from '../../core/volume/slice-plane';
import { axisAlignedAffine, type Vec3, type Volume } from '../../core/volume/volume';
import type { Db } from '../db/connection';
import type { ContourSetSource, StructureCategory } from '../db/schema';
import {
  findAplSlices,
  findCaseList,
  findCaseListOptions,
  findSlicePositions,
  findCaseSite,
  findContourSetSite,
  findViewerCase,
  findViewerContours,
  findViewerContourSets,
  findViewerMetrics,
  type CaseListFilter,
  type CaseListRow,
  type ViewerCase,
  type ViewerContour,
  type ViewerContourSet,
  type ViewerMetric,
} from '../repositories/case-viewer.repository';
import { findCaseImage, type CaseImage } from '../repositories/evaluation.repository';
import { findCaseReviews, upsertReview, type ReviewGrade } from '../repositories/review.repository';
import type { BlobStore } from '../storage/blob-store';
import { type Principal, requireSite } from './account.service';
import { loadCaseVolume } from './evaluation.service';

export type { SlicePlane } from '../../core/volume/slice-plane';
export type { ReviewGrade } from '../repositories/review.repository';

export interface ViewerDeps {
  db: Db;
  blobs: BlobStore;
}

/**
 * A small least-recently-used cache of loads in flight or done, by key: scrolling through a case asks
 * for the same CT and masks slice after slice, and decoding a blob costs far more than cutting a plane.
 * A failed load is forgotten, so the next request tries again.
 */
class LoadCache<V> {
  private readonly entries = new Map<string, { value: Promise<V>; bytes: number }>();
  private bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.value;
    }
    const entry = { value: load(), bytes: 0 };
    this.entries.set(key, entry);
    entry.value.then(
      (value) => {
        if (this.entries.get(key) !== entry) return;
        entry.bytes = this.sizeOf(value);
        this.bytes += entry.bytes;
        this.evict();
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    this.evict();
    return entry.value;
  }

  private evict(): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && (this.bytes <= this.maxBytes || this.entries.size === 1))
        return;
      this.entries.delete(key);
      this.bytes -= entry.bytes;
    }
  }
}

// A CT is tens of MB decoded: two volumes cover a reader moving between two cases. Masks are kept
// cropped to their bounding box, which makes most of them small; the byte budget bounds the few large.
const volumes = new LoadCache<Volume>(2, Infinity, (v) => v.data.byteLength);
const masks = new LoadCache<PlacedMask | null>(400, 512 * 1024 * 1024, (m) => m?.data.byteLength ?? 0);

async function caseImage(db: Db, caseId: number): Promise<CaseImage> {
  const image = await findCaseImage(db, caseId);
  if (image === undefined) throw new AppError('NOT_FOUND', `case ${caseId} has no stored CT volume`);
  return image;
}

function caseVolume(blobs: BlobStore, image: CaseImage): Promise<Volume> {
  return volumes.get(image.volumeBlobSha256, () => loadCaseVolume(blobs, image));
}

/** A stored mask on the CT grid as its bounding box only, or null when it is empty. */
function placedMask(blobs: BlobStore, sha256: string, dims: Vec3): Promise<PlacedMask | null> {
  return masks.get(`${sha256}:${dims.join('x')}`, async () => {
    const data = await blobs.get(sha256);
    if (data.length !== dims[0] * dims[1] * dims[2])
      throw new AppError(
        'INVALID_INPUT',
        `mask blob ${sha256.slice(0, 12)}… holds ${data.length} voxels, the CT grid ${dims.join('x')}`,
      );
    const { box } = binaryMaskSummary(data, dims);
    if (box === null) return null;
    const cropped = cropMask(
      { data, dims, spacingMm: [1, 1, 1], affineIjkToLps: axisAlignedAffine([1, 1, 1]) },
      box,
    );
    return { data: cropped.data, dims: cropped.dims, originIjk: [box.iMin, box.jMin, box.kMin] };
  });
}

/**
 * Coronal and sagittal planes show the head up: their rows are flipped when the slice index k runs
 * towards the head (the slice normal's LPS z component is positive, as in a head-first series); in a
 * feet-first series k already runs from the head down.
 */
function flipRowsOf(image: Pick<CaseImage, 'directionLps'>, plane: SlicePlane): boolean {
  return plane !== 'axial' && (image.directionLps[8] ?? 1) > 0;
}

export interface PlaneGeometry {
  plane: SlicePlane;
  width: number;
  height: number;
  /** planes of this orientation: indices 0 .. count − 1 */
  count: number;
  /** [between columns, between rows] in mm */
  pixelSpacingMm: [number, number];
  flipRows: boolean;
  orientation: PlaneOrientation;
}

function planeGeometry(image: CaseImage, plane: SlicePlane): PlaneGeometry {
  const flipRows = flipRowsOf(image, plane);
  return {
    plane,
    ...planeSize(image.dims, plane),
    pixelSpacingMm: planeSpacingMm(image.spacingMm, plane),
    flipRows,
    orientation: planeOrientation(image.directionLps, plane, flipRows),
  };
}

function requirePlaneIndex(geometry: PlaneGeometry, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= geometry.count)
    throw new AppError(
      'INVALID_ARGUMENT',
      `${geometry.plane} slice ${index}: the case has ${geometry.plane} slices 0..${geometry.count - 1}`,
    );
}

export interface CaseSlice extends PlaneGeometry {
  index: number;
  /** Hounsfield units, row after row from the top of the displayed plane */
  data: Int16Array;
  volumeBlobSha256: string;
}

/** One plane of a case's CT in Hounsfield units as Int16 (a Float32 CT is rounded and clamped). */
export async function caseSlice(
  deps: ViewerDeps,
  caseId: number,
  plane: SlicePlane,
  index: number,
): Promise<CaseSlice> {
  const image = await caseImage(deps.db, caseId);
  const geometry = planeGeometry(image, plane);
  requirePlaneIndex(geometry, index);
  const volume = await caseVolume(deps.blobs, image);
  const flipRows = geometry.flipRows;
  let data: Int16Array;
  if (volume.data instanceof Int16Array) {
    data = extractPlane(volume.data, volume.dims, plane, index, { flipRows });
  } else {
    const values = extractPlane(volume.data, volume.dims, plane, index, { flipRows });
    data = new Int16Array(values.length);
    for (let n = 0; n < values.length; n++)
      data[n] = Math.max(-32768, Math.min(32767, Math.round(Number(values[n]) || 0)));
  }
  return { ...geometry, index, data, volumeBlobSha256: image.volumeBlobSha256 };
}

/** The bytes of an Int16 plane in little-endian order, whatever the host's order. */
export function int16LittleEndian(data: Int16Array): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  if (new Uint8Array(Uint16Array.of(1).buffer)[0] === 1) return bytes;
  const swapped = new Uint8Array(bytes.length);
  for (let n = 0; n < bytes.length; n += 2) {
    swapped[n] = bytes[n + 1];
    swapped[n + 1] = bytes[n];
  }
  return swapped;
}

export interface PlaneOverlay {
  setId: number;
  structureId: number;
  /**
   * Closed rings, each flat [x0, y0, x1, y1, …] in the displayed plane's pixel coordinates: the centre of
   * pixel (x, y) is at (x, y), so vertices fall halfway between a pixel inside and one outside.
   */
  rings: number[][];
}

export interface CaseOverlays {
  plane: SlicePlane;
  index: number;
  width: number;
  height: number;
  overlays: PlaneOverlay[];
}

// marching squares on a single plane: a one-slice grid whose patient coordinates are the pixel indices
function planeGrid(width: number, height: number): ImageGrid {
  return {
    dims: [width, height, 1],
    spacingMm: [1, 1, 1],
    rowLps: [1, 0, 0],
    columnLps: [0, 1, 0],
    normalLps: [0, 0, 1],
    slicePositionLps: [[0, 0, 0]],
    slicePositionsMm: [0],
    affineIjkToLps: axisAlignedAffine([1, 1, 1]),
    frameOfReferenceUid: '',
  };
}

function planeRings(mask: PlacedMask, plane: SlicePlane, index: number, geometry: PlaneGeometry): number[][] {
  const part = placedPlane(mask, plane, index);
  if (part === null) return [];
  const grid = planeGrid(part.width, part.height);
  const slices = maskToContours({ ...grid, data: part.data, dims: grid.dims }, grid);
  const rings: number[][] = [];
  for (const slice of slices) {
    for (const contour of slice.contours) {
      const points = contour.pointsLps;
      const ring: number[] = [];
      for (let m = 0; m < points.length; m += 3) {
        const y = points[m + 1] + part.offsetY;
        ring.push(points[m] + part.offsetX, geometry.flipRows ? geometry.height - 1 - y : y);
      }
      rings.push(ring);
    }
  }
  return rings;
}

/** The outline of every structure of every contour set of a case on one plane. */
export async function caseOverlays(
  deps: ViewerDeps,
  caseId: number,
  plane: SlicePlane,
  index: number,
): Promise<CaseOverlays> {
  const image = await caseImage(deps.db, caseId);
  const geometry = planeGeometry(image, plane);
  requirePlaneIndex(geometry, index);
  const sets = await findViewerContourSets(deps.db, caseId, image.seriesId);
  const contours = await findViewerContours(
    deps.db,
    sets.map((s) => s.id),
  );
  const overlays = await Promise.all(
    contours
      .filter((c) => boxContains(c.bboxIjk, plane, index))
      .map(async (c) => {
        const mask = await placedMask(deps.blobs, c.maskBlobSha256, image.dims);
        return {
          setId: c.setId,
          structureId: c.structureId,
          rings: mask === null ? [] : planeRings(mask, plane, index, geometry),
        };
      }),
  );
  return {
    plane,
    index,
    width: geometry.width,
    height: geometry.height,
    overlays: overlays.filter((o) => o.rings.length > 0),
  };
}

/** Whether a stored bounding box reaches the plane; a missing box (older rows) is read to find out. */
function boxContains(bboxIjk: number[] | null, plane: SlicePlane, index: number): boolean {
  if (bboxIjk === null || bboxIjk.length !== 6) return true;
  const axis = plane === 'axial' ? 2 : plane === 'coronal' ? 1 : 0;
  return index >= bboxIjk[axis] && index <= bboxIjk[axis + 3];
}

export interface Disagreement {
  /** the axial slice, or null when the two contours agree on every slice */
  k: number | null;
  method: 'apl' | 'symmetric-difference';
  /** APL in mm, or voxels in exactly one of the two masks, on slice k */
  value: number;
  /** the stored metric row's reference and test sets (APL is directed) */
  referenceSetId: number | null;
  testSetId: number | null;
  description: string;
}

/** The APL tolerance of the jump: 2 mm, the editing-effort tolerance the dashboards use. */
export const DISAGREEMENT_APL_TOLERANCE_MM = 2;

function argMax(values: ArrayLike<number>): { index: number; value: number } {
  let index = -1;
  let value = 0;
  for (let n = 0; n < values.length; n++) {
    const x = values[n];
    if (Number.isFinite(x) && x > value) {
      value = x;
      index = n;
    }
  }
  return { index, value };
}

/**
 * The axial slice where two contour sets disagree most on a structure: the largest added path length at
 * 2 mm from a stored metric row of the pair (either direction, the first set as reference preferred),
 * or, without one, the slice with most voxels in exactly one of the two masks (a structure missing from
 * a set counts as empty).
 */
export async function largestDisagreement(
  deps: ViewerDeps,
  caseId: number,
  values: { structureId: number; setA: number; setB: number },
): Promise<Disagreement> {
  if (values.setA === values.setB)
    throw new AppError('INVALID_ARGUMENT', 'choose two different contour sets');
  const image = await caseImage(deps.db, caseId);
  const sets = await findViewerContourSets(deps.db, caseId, image.seriesId);
  for (const id of [values.setA, values.setB])
    if (!sets.some((s) => s.id === id))
      throw new AppError('NOT_FOUND', `contour set ${id} is not a contour set of case ${caseId}`);
  const stored = await findAplSlices(deps.db, {
    ...values,
    toleranceKey: String(DISAGREEMENT_APL_TOLERANCE_MM),
  });
  for (const row of stored) {
    const best = argMax(row.aplMmBySlice);
    if (best.index >= 0)
      return {
        k: best.index,
        method: 'apl',
        value: best.value,
        referenceSetId: row.referenceSetId,
        testSetId: row.testSetId,
        description: `the largest added path length at ${DISAGREEMENT_APL_TOLERANCE_MM} mm of a stored metric row, ${best.value.toFixed(1)} mm`,
      };
  }
  const contours = (await findViewerContours(deps.db, [values.setA, values.setB])).filter(
    (c) => c.structureId === values.structureId,
  );
  if (contours.length === 0)
    throw new AppError(
      'NOT_FOUND',
      `neither contour set ${values.setA} nor ${values.setB} has structure ${values.structureId}`,
    );
  const load = async (setId: number): Promise<PlacedMask | null> => {
    const contour = contours.find((c) => c.setId === setId);
    return contour === undefined ? null : placedMask(deps.blobs, contour.maskBlobSha256, image.dims);
  };
  const empty: PlacedMask = { data: new Uint8Array(0), dims: [0, 0, 0], originIjk: [0, 0, 0] };
  const [a, b] = await Promise.all([load(values.setA), load(values.setB)]);
  const best = argMax(axialDifferenceCounts(a ?? empty, b ?? empty, image.dims[2]));
  return {
    k: best.index >= 0 ? best.index : null,
    method: 'symmetric-difference',
    value: best.value,
    referenceSetId: null,
    testSetId: null,
    description:
      best.index >= 0
        ? `no stored added path length for this pair: the most voxels in only one of the two contours, ${best.value}`
        : 'the two contours are identical on every slice',
  };
}

export interface ViewerSetStructure {
  structureId: number;
  structure: string;
  volumeCc: number;
  bboxIjk: number[] | null;
}

export interface ViewerSet {
  id: number;
  source: ContourSetSource;
  /** observer code, model NAME@VERSION, "consensus", or who corrected what */
  label: string;
  /** whether the acceptability grading applies (model and corrected sets) */
  gradable: boolean;
  structures: ViewerSetStructure[];
}

export interface ViewerReview {
  id: number;
  contourSetId: number;
  setLabel: string;
  structureId: number;
  structure: string;
  reviewerEmail: string;
  reviewerName: string;
  grade: ReviewGrade;
  comment: string;
  createdAt: string;
}

export interface CaseViewerData {
  case: ViewerCase;
  image: {
    dims: Vec3;
    spacingMm: Vec3;
    slicePositionsMm: number[];
    /** identifies the CT content: slice URLs carrying it may be cached for good */
    version: string;
    planes: Record<SlicePlane, PlaneGeometry>;
  } | null;
  sets: ViewerSet[];
  structures: Array<{ id: number; name: string; category: StructureCategory }>;
  metrics: ViewerMetric[];
  reviews: ViewerReview[];
  /** the set the metrics table compares with first: the consensus, else the first physician */
  defaultReferenceSetId: number | null;
  /** an axial slice through the contoured organs */
  initialAxialIndex: number;
}

function baseLabel(set: ViewerContourSet, all: readonly ViewerContourSet[], depth: number): string {
  if (set.source === 'model')
    return set.modelName === null
      ? set.label || `model set ${set.id}`
      : `${set.modelName}@${set.modelVersion}`;
  if (set.source === 'consensus') return 'consensus';
  const who = set.observerCode ?? (set.label || `set ${set.id}`);
  if (set.source === 'physician') return who;
  const parent = all.find((s) => s.id === set.parentSetId);
  return parent === undefined || depth > 3
    ? `${who}, corrected`
    : `${who}, corrected from ${baseLabel(parent, all, depth + 1)}`;
}

/**
 * What the legend calls each set: observer code, model NAME@VERSION, "consensus", or who corrected what.
 * Sets that would share a label (an observer's second structure set, whose variant is a UID) are
 * numbered in their order.
 */
function setLabels(sets: readonly ViewerContourSet[]): Map<number, string> {
  const bases = sets.map((s) => baseLabel(s, sets, 0));
  const seen = new Map<string, number>();
  return new Map(
    sets.map((s, n) => {
      const base = bases[n];
      const shared = bases.filter((b) => b === base).length > 1;
      const ordinal = (seen.get(base) ?? 0) + 1;
      seen.set(base, ordinal);
      return [s.id, shared ? `${base} #${ordinal}` : base];
    }),
  );
}

/** Everything the case viewer page shows besides the pixels: the case, its CT grid, sets, metrics, reviews. */
export async function caseViewerData(db: Db, caseId: number): Promise<CaseViewerData> {
  const found = await findViewerCase(db, caseId);
  if (found === undefined) throw new AppError('NOT_FOUND', `case ${caseId} does not exist`);
  const image = await findCaseImage(db, caseId);
  const setRows = image === undefined ? [] : await findViewerContourSets(db, caseId, image.seriesId);
  const setIds = new Set(setRows.map((s) => s.id));
  const [contours, metricRows, reviewRows, slicePositionsMm] = await Promise.all([
    findViewerContours(db, [...setIds]),
    findViewerMetrics(db, caseId),
    findCaseReviews(db, caseId),
    image === undefined ? Promise.resolve([]) : findSlicePositions(db, image.seriesId),
  ]);
  const labels = setLabels(setRows);
  const sets: ViewerSet[] = setRows.map((s) => ({
    id: s.id,
    source: s.source,
    label: labels.get(s.id)!,
    gradable: s.source === 'model' || s.source === 'corrected',
    structures: contours
      .filter((c) => c.setId === s.id)
      .map((c) => ({
        structureId: c.structureId,
        structure: c.structure,
        volumeCc: c.volumeCc,
        bboxIjk: c.bboxIjk,
      })),
  }));
  const structures = new Map<number, { id: number; name: string; category: StructureCategory }>();
  for (const c of contours)
    structures.set(c.structureId, { id: c.structureId, name: c.structure, category: c.category });
  const reference =
    setRows.find((s) => s.source === 'consensus') ??
    setRows.find((s) => s.source === 'physician') ??
    setRows[0];
  return {
    case: found,
    image:
      image === undefined
        ? null
        : {
            dims: image.dims,
            spacingMm: image.spacingMm,
            slicePositionsMm,
            version: image.volumeBlobSha256.slice(0, 16),
            planes: Object.fromEntries(SLICE_PLANES.map((p) => [p, planeGeometry(image, p)])) as Record<
              SlicePlane,
              PlaneGeometry
            >,
          },
    sets,
    structures: [...structures.values()].sort((a, b) => a.name.localeCompare(b.name)),
    metrics: metricRows.filter((m) => setIds.has(m.referenceSetId) && setIds.has(m.testSetId)),
    reviews: reviewRows.map((r) => ({
      ...r,
      setLabel: labels.get(r.contourSetId) ?? `set ${r.contourSetId}`,
      createdAt: r.createdAt.toISOString(),
    })),
    defaultReferenceSetId: reference?.id ?? null,
    initialAxialIndex: image === undefined ? 0 : initialAxialIndex(contours, image.dims[2]),
  };
}

/** The middle slice of the organs' joint extent (the body outline aside), or of the series. */
function initialAxialIndex(contours: readonly ViewerContour[], nz: number): number {
  let kMin = Infinity;
  let kMax = -Infinity;
  for (const c of contours) {
    if (c.category === 'external' || c.bboxIjk === null || c.bboxIjk.length !== 6) continue;
    kMin = Math.min(kMin, c.bboxIjk[2]);
    kMax = Math.max(kMax, c.bboxIjk[5]);
  }
  const k = Number.isFinite(kMin) ? Math.round((kMin + kMax) / 2) : Math.floor(nz / 2);
  return Math.max(0, Math.min(nz - 1, k));
}

export interface CaseList {
  options: { sites: string[]; cohorts: string[] };
  cases: CaseListRow[];
  /** the list stops here; narrow the filters to see the rest */
  limit: number;
}

export const CASE_LIST_LIMIT = 500;

export async function listCases(db: Db, filter: CaseListFilter): Promise<CaseList> {
  const [options, cases] = await Promise.all([
    findCaseListOptions(db),
    findCaseList(db, filter, CASE_LIST_LIMIT),
  ]);
  return { options, cases, limit: CASE_LIST_LIMIT };
}

export const GRADE_SCALE: Readonly<Record<ReviewGrade, string>> = {
  1: 'acceptable as is',
  2: 'minor edits',
  3: 'major edits',
  4: 'unusable',
};

/**
 * Stores a reviewer's acceptability grade of one structure of a model or corrected contour set of a case,
 * replacing the same reviewer's earlier grade of it.
 */
export async function saveReview(
  db: Db,
  caseId: number,
  input: {
    contourSetId: number;
    structureId: number;
    reviewerId: number;
    grade: ReviewGrade;
    comment: string;
  },
): Promise<{ reviewId: number; reviewerId: number }> {
  const image = await findCaseImage(db, caseId);
  const sets = image === undefined ? [] : await findViewerContourSets(db, caseId, image.seriesId);
  const set = sets.find((s) => s.id === input.contourSetId);
  if (set === undefined)
    throw new AppError(
      'NOT_FOUND',
      `contour set ${input.contourSetId} is not a contour set of case ${caseId}`,
    );
  if (set.source !== 'model' && set.source !== 'corrected')
    throw new AppError(
      'INVALID_ARGUMENT',
      `contour set ${set.id} is a ${set.source} set: grading applies to model and corrected sets`,
    );
  const contours = await findViewerContours(db, [set.id]);
  if (!contours.some((c) => c.structureId === input.structureId))
    throw new AppError('NOT_FOUND', `contour set ${set.id} has no contour of structure ${input.structureId}`);
  const reviewId = await upsertReview(db, {
    contourSetId: set.id,
    structureId: input.structureId,
    reviewerId: input.reviewerId,
    grade: input.grade,
    comment: input.comment.trim(),
  });
  return { reviewId, reviewerId: input.reviewerId };
}

/**
 * The case's site, once the principal is known to see it: NOT_FOUND for no such case, FORBIDDEN for a
 * case of a site the principal is not bound to.
 */
export async function requireCaseAccess(
  db: Db,
  principal: Principal,
  caseId: number,
): Promise<{ siteId: number; siteCode: string }> {
  const site = await findCaseSite(db, caseId);
  if (site === undefined) throw new AppError('NOT_FOUND', `case ${caseId} does not exist`);
  requireSite(principal, site.siteCode);
  return site;
}

/** The case and site of a contour set, once the principal is known to see it. */
export async function requireContourSetAccess(
  db: Db,
  principal: Principal,
  setId: number,
): Promise<{ caseId: number; siteId: number; siteCode: string }> {
  const found = await findContourSetSite(db, setId);
  if (found === undefined) throw new AppError('NOT_FOUND', `contour set ${setId} does not exist`);
  requireSite(principal, found.siteCode);
  return found;
}
