/**
 * Majority vote of binary masks on one grid: a voxel is foreground when more than half of the raters
 * have it (strict majority). With an even number of raters a tie is background, so two raters give
 * their intersection. Masks of unequal length are a RangeError; no masks is a RangeError.
 */
export function majorityVote(masks: readonly Uint8Array[]): Uint8Array {
  if (masks.length === 0) throw new RangeError('majority vote: no masks');
  const n = masks[0]!.length;
  for (const [i, m] of masks.entries())
    if (m.length !== n) throw new RangeError(`majority vote: mask ${i} has ${m.length} voxels, mask 0 ${n}`);
  const votes = new Uint8Array(n);
  for (const m of masks) for (let v = 0; v < n; v++) if (m[v]) votes[v]!++;
  const needed = Math.floor(masks.length / 2) + 1;
  const out = new Uint8Array(n);
  for (let v = 0; v < n; v++) if (votes[v]! >= needed) out[v] = 1;
  return out;
}
