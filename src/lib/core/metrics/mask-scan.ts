import type { Mask } from '../volume/volume';

/** Inclusive voxel bounding box; empty when `count` is 0 (the bounds are then meaningless). */
export interface VoxelBox {
  count: number;
  iMin: number;
  iMax: number;
  jMin: number;
  jMax: number;
  kMin: number;
  kMax: number;
}

export interface MaskStats extends VoxelBox {
  /** Sums of voxel indices over the mask, for the centroid. */
  sumI: number;
  sumJ: number;
  sumK: number;
}

/** Counts and boxes of a reference and a test mask and of their intersection and union. */
export interface PairScan {
  reference: MaskStats;
  test: MaskStats;
  intersection: number;
  union: VoxelBox;
}

function emptyStats(): MaskStats {
  return {
    count: 0,
    iMin: Infinity,
    iMax: -1,
    jMin: Infinity,
    jMax: -1,
    kMin: Infinity,
    kMax: -1,
    sumI: 0,
    sumJ: 0,
    sumK: 0,
  };
}

/**
 * One pass over two binary masks of the same grid: voxel counts, intersection, index sums and bounding
 * boxes. Runs of sixteen zero voxels in both masks are skipped with four 64-bit reads, so the cost is close
 * to streaming the two arrays once.
 */
export function scanPair(reference: Mask, test: Mask): PairScan {
  const [nx, ny, nz] = reference.dims;
  const r = reference.data;
  const t = test.data;
  const ref = emptyStats();
  const tst = emptyStats();
  let intersection = 0;
  // Read as doubles, 8 voxels a load: a mask byte is 0 or 1, so a word is +0.0 exactly when all eight are 0
  // (-0.0 would need a byte of 0x80).
  const aligned = r.byteOffset % 8 === 0 && t.byteOffset % 8 === 0;
  const r64 = aligned ? new Float64Array(r.buffer, r.byteOffset, r.length >> 3) : null;
  const t64 = aligned ? new Float64Array(t.buffer, t.byteOffset, t.length >> 3) : null;

  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const rowStart = nx * (j + ny * k);
      const rowEnd = rowStart + nx;
      let rCount = 0;
      let tCount = 0;
      let rSumI = 0;
      let tSumI = 0;
      let rFirst = -1;
      let rLast = -1;
      let tFirst = -1;
      let tLast = -1;
      let n = rowStart;
      while (n < rowEnd) {
        if (r64 !== null && t64 !== null && (n & 15) === 0 && n + 16 <= rowEnd) {
          const w = n >> 3;
          if (r64[w] === 0 && r64[w + 1] === 0 && t64[w] === 0 && t64[w + 1] === 0) {
            n += 16;
            continue;
          }
        }
        const end = Math.min(rowEnd, (n & ~15) + 16);
        for (; n < end; n++) {
          const rv = r[n];
          const tv = t[n];
          if ((rv | tv) === 0) continue;
          const i = n - rowStart;
          if (rv !== 0) {
            rCount++;
            rSumI += i;
            if (rFirst < 0) rFirst = i;
            rLast = i;
            if (tv !== 0) intersection++;
          }
          if (tv !== 0) {
            tCount++;
            tSumI += i;
            if (tFirst < 0) tFirst = i;
            tLast = i;
          }
        }
      }
      if (rCount > 0) addRow(ref, rCount, rSumI, rFirst, rLast, j, k);
      if (tCount > 0) addRow(tst, tCount, tSumI, tFirst, tLast, j, k);
    }
  }
  return { reference: ref, test: tst, intersection, union: unionBox(ref, tst) };
}

function addRow(
  stats: MaskStats,
  count: number,
  sumI: number,
  first: number,
  last: number,
  j: number,
  k: number,
) {
  stats.count += count;
  stats.sumI += sumI;
  stats.sumJ += count * j;
  stats.sumK += count * k;
  if (first < stats.iMin) stats.iMin = first;
  if (last > stats.iMax) stats.iMax = last;
  if (j < stats.jMin) stats.jMin = j;
  if (j > stats.jMax) stats.jMax = j;
  if (k < stats.kMin) stats.kMin = k;
  if (k > stats.kMax) stats.kMax = k;
}

function unionBox(a: VoxelBox, b: VoxelBox): VoxelBox {
  return {
    count: a.count + b.count,
    iMin: Math.min(a.iMin, b.iMin),
    iMax: Math.max(a.iMax, b.iMax),
    jMin: Math.min(a.jMin, b.jMin),
    jMax: Math.max(a.jMax, b.jMax),
    kMin: Math.min(a.kMin, b.kMin),
    kMax: Math.max(a.kMax, b.kMax),
  };
}
