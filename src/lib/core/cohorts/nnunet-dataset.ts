/**
 * A frozen cohort version as an nnU-Net v2 raw dataset: folder and case names, label numbering, the
 * overlap rule that turns several binary reference masks into one integer label map, and the dataset.json
 * and export report objects.
 *
 * Layout (nnU-Net v2 "dataset format"):
 *
 * ```
 * Dataset<ID3>_<Name>/
 *   dataset.json             channel_names, labels, numTraining, file_ending, plus provenance
 *   export_report.json       per case: reference voxels and the voxels each structure lost to overlap
 *   imagesTr/<case>_0000.nii.gz
 *   labelsTr/<case>.nii.gz
 * ```
 *
 * Overlap rule: labels are numbered 1..n in decreasing median reference volume over the version (ties by
 * TG-263 name), and painted in increasing label order, so where structures overlap the voxel takes the
 * highest label: the structure that is smaller over the cohort (A_LAD inside Heart, CTV inside External).
 */
import { AppError } from '../errors';

export const NNUNET_FILE_ENDING = '.nii.gz';
/** nnU-Net's suffix of the first (here the only) image channel. */
export const NNUNET_CT_CHANNEL_SUFFIX = '_0000';
/** nnU-Net v2 accepts three-digit dataset ids; 1..500 are conventionally the published ones. */
export const NNUNET_DEFAULT_DATASET_ID = 501;

export const OVERLAP_RULE =
  'Labels are numbered 1..n in decreasing median reference volume (cc) over the cohort version, ties by ' +
  'TG-263 name, and painted in increasing label order: where structures overlap, the voxel takes the ' +
  'highest label, i.e. the structure that is smaller over the cohort. The voxels a structure lost this ' +
  'way are counted per case in export_report.json.';

export const MISSING_RULE =
  'A case without a reference for a structure has no voxel of that label: nnU-Net trains on those ' +
  'voxels as background. The cases concerned are listed under "missing".';

const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** `Dataset<ID3>_<Name>`; AppError INVALID_ARGUMENT for an id outside 1..999 or an unsafe name. */
export function datasetFolderName(datasetId: number, name: string): string {
  if (!Number.isInteger(datasetId) || datasetId < 1 || datasetId > 999)
    throw new AppError('INVALID_ARGUMENT', `dataset id ${datasetId}: expected a whole number from 1 to 999`);
  if (!DATASET_NAME.test(name))
    throw new AppError(
      'INVALID_ARGUMENT',
      `dataset name "${name}": expected 1 to 64 letters, digits, "_" or "-", starting with a letter or digit`,
    );
  return `Dataset${String(datasetId).padStart(3, '0')}_${name}`;
}

/** The dataset name derived from a cohort and version: its letters and digits, "_" between runs, `_v<N>`. */
export function defaultDatasetName(cohort: string, version: number): string {
  const base = cohort
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 48)
    .replace(/_+$/, '');
  return `${base || 'Cohort'}_v${version}`;
}

/** Code-unit order, the order cohort version digests use; never locale-dependent. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface DatasetCaseKey {
  caseId: number;
  pseudonym: string;
  site: string;
}

/**
 * File identifiers `<Name>_<NNN>` (NNN from 001, wider when there are more than 999 cases) for the cases
 * in pseudonym order, then site code; patient identifiers never reach a file name.
 */
export function caseIdentifiers<T extends DatasetCaseKey>(
  datasetName: string,
  cases: readonly T[],
): Array<T & { identifier: string }> {
  const width = Math.max(3, String(cases.length).length);
  return [...cases]
    .sort(
      (a, b) => compareText(a.pseudonym, b.pseudonym) || compareText(a.site, b.site) || a.caseId - b.caseId,
    )
    .map((c, n) => ({ ...c, identifier: `${datasetName}_${String(n + 1).padStart(width, '0')}` }));
}

/** Median of a sample; null when empty. */
function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface LabelEntry {
  /** label value in the label maps, 1..n */
  value: number;
  structure: string;
  /** median reference volume over the version's cases that have one, cc; null when none has */
  medianVolumeCc: number | null;
  /** cases with a reference of this structure */
  references: number;
}

/**
 * Label numbering: 1..n in decreasing median reference volume (cc), ties and structures without any
 * volume (last) by TG-263 name. Painting in this order makes the cohort-smaller structure win overlaps.
 * RangeError on a structure named twice or on more than 65535 structures.
 */
export function numberLabels(
  structures: ReadonlyArray<{ structure: string; volumesCc: readonly number[] }>,
): LabelEntry[] {
  const seen = new Set<string>();
  for (const s of structures) {
    if (seen.has(s.structure)) throw new RangeError(`structure ${s.structure} is named twice`);
    seen.add(s.structure);
  }
  if (structures.length > 65535)
    throw new RangeError(`${structures.length} structures: at most 65535 labels`);
  return structures
    .map((s) => ({
      structure: s.structure,
      medianVolumeCc: median(s.volumesCc),
      references: s.volumesCc.length,
    }))
    .sort((a, b) => {
      const va = a.medianVolumeCc ?? -Infinity;
      const vb = b.medianVolumeCc ?? -Infinity;
      return va !== vb ? vb - va : compareText(a.structure, b.structure);
    })
    .map((s, n) => ({ value: n + 1, ...s }));
}

/** A zeroed label map for this many labels: uint8 up to 255 labels, uint16 above. */
export function createLabelMap(labelCount: number, voxels: number): Uint8Array | Uint16Array {
  if (labelCount > 65535) throw new RangeError(`${labelCount} labels: at most 65535`);
  return labelCount <= 255 ? new Uint8Array(voxels) : new Uint16Array(voxels);
}

/**
 * Paints one structure's mask (non-zero = inside) into a label map with `value`, over whatever was painted
 * before; each voxel taken from an earlier structure adds one to `lostByLabel[thatLabel]`. Returns the
 * mask's voxel count. Structures must be painted in increasing label order (RangeError when a voxel
 * already holds a higher label, or when the mask is not on the label map's grid).
 */
export function paintStructure(
  labelMap: Uint8Array | Uint16Array,
  value: number,
  mask: Uint8Array,
  lostByLabel: number[],
): number {
  if (mask.length !== labelMap.length)
    throw new RangeError(`mask has ${mask.length} voxels, the label map ${labelMap.length}`);
  if (!Number.isInteger(value) || value < 1 || value > (labelMap instanceof Uint8Array ? 255 : 65535))
    throw new RangeError(`label ${value} does not fit the label map`);
  let inside = 0;
  for (let n = 0; n < mask.length; n++) {
    if (mask[n] === 0) continue;
    inside++;
    const previous = labelMap[n]!;
    if (previous !== 0) {
      if (previous > value)
        throw new RangeError(`label ${value} painted after label ${previous}: paint in increasing order`);
      if (previous !== value) lostByLabel[previous] = (lostByLabel[previous] ?? 0) + 1;
    }
    labelMap[n] = value;
  }
  return inside;
}

export interface DatasetReference {
  structure: string;
  contourSetId: number;
  maskSha256: string;
}

export interface DatasetCase extends DatasetCaseKey {
  identifier: string;
  ctSha256: string;
  /** the references exported (the chosen structures the case has), by structure name */
  references: readonly DatasetReference[];
  /** chosen structures the case has no reference for */
  missing: readonly string[];
}

export interface DatasetJsonInput {
  folder: string;
  cohort: {
    name: string;
    version: number;
    contentSha256: string;
    referencePolicy: unknown;
    frozenAt: string;
    note: string;
  };
  labels: readonly LabelEntry[];
  /** structures of the version left out of the label maps */
  excluded: readonly string[];
  cases: readonly DatasetCase[];
  exportedAt: string;
}

/**
 * The dataset.json nnU-Net v2 reads (channel_names, labels, numTraining, file_ending), and under
 * "contourbench" the provenance it ignores: cohort version and content digest, reference policy, each case's
 * pseudonym and file identifier, each exported reference's contour set and mask digest, the rules applied
 * and the export time (the one field that differs between two exports of the same version).
 */
export function buildDatasetJson(input: DatasetJsonInput) {
  const labels: Record<string, number> = { background: 0 };
  for (const l of input.labels) labels[l.structure] = l.value;
  return {
    channel_names: { '0': 'CT' },
    labels,
    numTraining: input.cases.length,
    file_ending: NNUNET_FILE_ENDING,
    name: input.folder,
    description: `Cohort "${input.cohort.name}" version ${input.cohort.version}: CT and reference contours`,
    contourbench: {
      cohort: input.cohort.name,
      version: input.cohort.version,
      content_sha256: input.cohort.contentSha256,
      reference_policy: input.cohort.referencePolicy,
      frozen_at: input.cohort.frozenAt,
      note: input.cohort.note,
      exported_at: input.exportedAt,
      images: 'CT in Hounsfield units, int16, NIfTI-1 with sform and qform (RAS) from the stored CT grid',
      label_maps: `${input.labels.length > 255 ? 'uint16' : 'uint8'} on the grid and affine of the case's CT`,
      overlap_rule: OVERLAP_RULE,
      missing_rule: MISSING_RULE,
      paint_order: input.labels.map((l) => ({
        label: l.value,
        structure: l.structure,
        median_volume_cc: l.medianVolumeCc,
        references: l.references,
      })),
      excluded_structures: [...input.excluded],
      cases: input.cases.map((c) => ({
        identifier: c.identifier,
        pseudonym: c.pseudonym,
        site: c.site,
        image: `imagesTr/${c.identifier}${NNUNET_CT_CHANNEL_SUFFIX}${NNUNET_FILE_ENDING}`,
        label: `labelsTr/${c.identifier}${NNUNET_FILE_ENDING}`,
        ct_sha256: c.ctSha256,
        references: Object.fromEntries(
          c.references.map((r) => [
            r.structure,
            { contour_set_id: r.contourSetId, mask_sha256: r.maskSha256 },
          ]),
        ),
        missing: [...c.missing],
      })),
    },
  };
}

export interface CaseOverlap {
  identifier: string;
  /** reference voxels per structure, before the overlap rule */
  referenceVoxels: Record<string, number>;
  /** voxels each structure lost to a higher label */
  lostVoxels: Record<string, number>;
  missing: readonly string[];
}

/** Per-structure counts of one painted case, keyed by structure name, in label order. */
export function caseOverlap(
  identifier: string,
  labels: readonly LabelEntry[],
  referenceVoxels: ReadonlyMap<string, number>,
  lostByLabel: readonly number[],
  missing: readonly string[],
): CaseOverlap {
  const painted = labels.filter((l) => referenceVoxels.has(l.structure));
  return {
    identifier,
    referenceVoxels: Object.fromEntries(painted.map((l) => [l.structure, referenceVoxels.get(l.structure)!])),
    lostVoxels: Object.fromEntries(painted.map((l) => [l.structure, lostByLabel[l.value] ?? 0])),
    missing,
  };
}

/** export_report.json: the rules, and per case and in total the reference and lost voxels. */
export function buildExportReport(
  folder: string,
  labels: readonly LabelEntry[],
  cases: readonly CaseOverlap[],
) {
  const total = (field: 'referenceVoxels' | 'lostVoxels') =>
    Object.fromEntries(
      labels.map((l) => [l.structure, cases.reduce((s, c) => s + (c[field][l.structure] ?? 0), 0)]),
    );
  return {
    dataset: folder,
    overlap_rule: OVERLAP_RULE,
    missing_rule: MISSING_RULE,
    labels: labels.map((l) => ({ value: l.value, structure: l.structure })),
    totals: { reference_voxels: total('referenceVoxels'), lost_voxels: total('lostVoxels') },
    missing: cases.flatMap((c) => c.missing.map((structure) => ({ case: c.identifier, structure }))),
    cases: cases.map((c) => ({
      identifier: c.identifier,
      reference_voxels: c.referenceVoxels,
      lost_voxels: c.lostVoxels,
      missing: [...c.missing],
    })),
  };
}
