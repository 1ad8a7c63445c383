/**
 * Checks of a cohort's cases that spoil metrics silently when missed, over what the database holds about
 * each contour (structure, volume, mask content hash) and case (laterality, patient key). Each finding
 * says what a physicist can act on.
 */
export type CheckName =
  | 'missing_structure'
  | 'unmapped_structure'
  | 'laterality'
  | 'volume_outlier'
  | 'duplicate_case'
  | 'duplicate_mask'
  | 'fragmented'
  | 'holes'
  | 'skipped_slices'
  | 'outside_body'
  | 'near_duplicate_case';

export interface Finding {
  check: CheckName;
  caseId: number;
  structure: string | null;
  message: string;
}

export interface CheckedCase {
  caseId: number;
  pseudonym: string;
  laterality: 'left' | 'right' | 'bilateral' | null;
  surgery: string | null;
  patientKey: string | null;
  contours: ReadonlyArray<{ structure: string; volumeCc: number; maskSha256: string; setLabel: string }>;
  /** per imported contour set, the ROI names that map to no TG-263 structure */
  unmapped?: ReadonlyArray<{ setLabel: string; names: readonly string[] }>;
}

/** Target volumes whose side is in their name (TG-263 _L and _R). */
function targetSide(structure: string): 'left' | 'right' | null {
  if (!/^(CTV|PTV|GTV)/.test(structure)) return null;
  if (structure.endsWith('_L')) return 'left';
  if (structure.endsWith('_R')) return 'right';
  return null;
}

const median = (sorted: readonly number[]) => {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
};

/** Modified z-score above which a volume is an outlier (Iglewicz and Hoaglin). */
export const OUTLIER_Z = 3.5;
/** Fewest cases of a structure for the outlier check to say anything. */
export const OUTLIER_MIN_CASES = 5;

/**
 * The structures a case is expected to have: the given list (targets only on the case's side), or else
 * those at least half the cases of the same laterality and surgery have, nodal targets (CTVn) aside: which
 * nodes are treated is decided patient by patient.
 */
function expectedFor(
  c: CheckedCase,
  cases: readonly CheckedCase[],
  given: readonly string[] | undefined,
): string[] {
  if (given) return given.filter((s) => targetSide(s) === null || targetSide(s) === c.laterality);
  const peers = cases.filter((p) => p.laterality === c.laterality && p.surgery === c.surgery);
  const counts = new Map<string, number>();
  for (const p of peers)
    for (const structure of new Set(p.contours.map((k) => k.structure)))
      counts.set(structure, (counts.get(structure) ?? 0) + 1);
  return [...counts]
    .filter(([structure, n]) => n * 2 >= peers.length && !structure.startsWith('CTVn'))
    .map(([structure]) => structure);
}

export function checkCases(cases: readonly CheckedCase[], expectedStructures?: readonly string[]): Finding[] {
  const findings: Finding[] = [];
  for (const c of cases) {
    const unmapped = (c.unmapped ?? []).filter((u) => u.names.length > 0);
    if (unmapped.length)
      findings.push({
        check: 'unmapped_structure',
        caseId: c.caseId,
        structure: null,
        message:
          `${c.pseudonym} has ROIs that map to no TG-263 structure: ` +
          unmapped.map((u) => `${u.names.map((n) => `"${n}"`).join(', ')} (${u.setLabel})`).join('; ') +
          ': add a site alias (contourbench structures alias) and import again, or accept them as not used',
      });
    const present = new Set(c.contours.map((k) => k.structure));
    for (const structure of expectedFor(c, cases, expectedStructures))
      if (
        !present.has(structure) &&
        (targetSide(structure) === null || targetSide(structure) === c.laterality)
      )
        findings.push({
          check: 'missing_structure',
          caseId: c.caseId,
          structure,
          message: `${c.pseudonym} has no ${structure} contour (check the structure mapping of its RTSTRUCTs)`,
        });
    if (c.laterality === 'left' || c.laterality === 'right')
      for (const structure of present) {
        const side = targetSide(structure);
        if (side !== null && side !== c.laterality)
          findings.push({
            check: 'laterality',
            caseId: c.caseId,
            structure,
            message: `${c.pseudonym} is a ${c.laterality}-sided case with a ${side}-sided target ${structure}`,
          });
      }
  }

  // volume outliers per structure, on each case's median volume over its contour sets
  const volumes = new Map<string, Array<{ c: CheckedCase; volumeCc: number }>>();
  for (const c of cases) {
    const byStructure = new Map<string, number[]>();
    for (const k of c.contours)
      byStructure.set(k.structure, [...(byStructure.get(k.structure) ?? []), k.volumeCc]);
    for (const [structure, list] of byStructure)
      volumes.set(structure, [
        ...(volumes.get(structure) ?? []),
        { c, volumeCc: median([...list].sort((a, b) => a - b)) },
      ]);
  }
  for (const [structure, list] of volumes) {
    if (list.length < OUTLIER_MIN_CASES) continue;
    const sorted = list.map((v) => v.volumeCc).sort((a, b) => a - b);
    const mid = median(sorted);
    const mad = median(sorted.map((v) => Math.abs(v - mid)).sort((a, b) => a - b));
    if (mad === 0) continue;
    for (const { c, volumeCc } of list) {
      const z = (0.6745 * (volumeCc - mid)) / mad;
      if (Math.abs(z) > OUTLIER_Z)
        findings.push({
          check: 'volume_outlier',
          caseId: c.caseId,
          structure,
          message:
            `${c.pseudonym} ${structure} is ${volumeCc.toFixed(1)} cc against a cohort median of ${mid.toFixed(1)} cc ` +
            `(modified z ${z.toFixed(1)}): check for a wrong structure, a partial contour or a scan cut short`,
        });
    }
  }

  // the same patient twice, or the very same mask in two cases
  const byPatient = new Map<string, CheckedCase[]>();
  for (const c of cases)
    if (c.patientKey) byPatient.set(c.patientKey, [...(byPatient.get(c.patientKey) ?? []), c]);
  for (const group of byPatient.values())
    for (const c of group.slice(1))
      findings.push({
        check: 'duplicate_case',
        caseId: c.caseId,
        structure: null,
        message: `${c.pseudonym} is the same patient as ${group[0]!.pseudonym}: keep one, or say why both belong`,
      });
  const byMask = new Map<string, { c: CheckedCase; structure: string }>();
  for (const c of cases)
    for (const k of c.contours) {
      const first = byMask.get(k.maskSha256);
      if (first === undefined) byMask.set(k.maskSha256, { c, structure: k.structure });
      else if (first.c.caseId !== c.caseId)
        findings.push({
          check: 'duplicate_mask',
          caseId: c.caseId,
          structure: k.structure,
          message: `${c.pseudonym} ${k.structure} (${k.setLabel}) is voxel for voxel the ${first.structure} of ${first.c.pseudonym}: a copied case or contour`,
        });
    }
  return findings.sort((a, b) => a.caseId - b.caseId || a.check.localeCompare(b.check));
}
