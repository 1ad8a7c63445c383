/**
 * Horizontal offsets in px of a beeswarm around a centre line. Points are ordered by their vertical
 * position `yPx` (ties keep input order), cut into rows one diameter (2 radiusPx) tall, and each row is
 * laid out from the centre outwards: 0, +s, -s, +2s, -2s, ... with s one diameter, or less where a row
 * would not fit in ±halfWidthPx (dense rows overlap rather than spill into the next group). The same
 * input always gives the same offsets, so a chart does not shimmer between renders. Non-finite positions
 * get offset 0; no points give an empty array. Invalid radius or half-width throw a RangeError.
 */
export function swarmOffsets(yPx: ArrayLike<number>, radiusPx: number, halfWidthPx: number): Float64Array {
  if (!(radiusPx > 0) || !Number.isFinite(radiusPx))
    throw new RangeError(`swarm radius ${radiusPx} px: expected a positive number`);
  if (!(halfWidthPx >= 0) || !Number.isFinite(halfWidthPx))
    throw new RangeError(`swarm half-width ${halfWidthPx} px: expected a number >= 0`);
  const n = yPx.length;
  const offsets = new Float64Array(n);
  const order: number[] = [];
  for (let i = 0; i < n; i += 1) if (Number.isFinite(yPx[i]!)) order.push(i);
  order.sort((a, b) => yPx[a]! - yPx[b]! || a - b);
  const diameter = 2 * radiusPx;
  for (let start = 0; start < order.length;) {
    const row = Math.floor(yPx[order[start]!]! / diameter);
    let end = start + 1;
    while (end < order.length && Math.floor(yPx[order[end]!]! / diameter) === row) end += 1;
    const count = end - start;
    // the outermost point of a row of `count` sits ceil((count - 1) / 2) steps from the centre
    const steps = Math.ceil((count - 1) / 2);
    const step = steps === 0 ? 0 : Math.min(diameter, halfWidthPx / steps);
    for (let k = 0; k < count; k += 1) {
      const distance = Math.ceil(k / 2) * step;
      offsets[order[start + k]!] = k % 2 === 1 || distance === 0 ? distance : -distance;
    }
    start = end;
  }
  return offsets;
}
