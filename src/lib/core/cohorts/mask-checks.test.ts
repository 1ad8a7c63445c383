import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../phantom/random';
import type { IndexBox } from '../volume/crop';
import { axisAlignedAffine, type Mask, type Vec3 } from '../volume/volume';
import {
  diceUpperBound,
  expectedPieces,
  expectsContiguousSlices,
  expectsInsideBody,
  hasForbiddenHoles,
  holePolicy,
  formatCc,
  formatPercent,
  formatSlices,
  fragmentedMessage,
  holesMessage,
  isFragmented,
  isNearDuplicate,
  labelComponents,
  maskDice,
  maskShape,
  nearDuplicateMessage,
  outsideBody,
  outsideBodyMessage,
  skippedSlicesMessage,
  type Connectivity,
} from './mask-checks';

function empty(dims: Vec3): Mask {
  return {
    data: new Uint8Array(dims[0] * dims[1] * dims[2]),
    dims,
    spacingMm: [1, 1, 1],
    affineIjkToLps: axisAlignedAffine([1, 1, 1]),
  };
}

function fill(mask: Mask, box: IndexBox, value = 1): Mask {
  const [nx, ny] = mask.dims;
  for (let k = box.kMin; k <= box.kMax; k++)
    for (let j = box.jMin; j <= box.jMax; j++)
      for (let i = box.iMin; i <= box.iMax; i++) mask.data[i + nx * (j + ny * k)] = value;
  return mask;
}

const box = (
  iMin: number,
  iMax: number,
  jMin: number,
  jMax: number,
  kMin: number,
  kMax: number,
): IndexBox => ({
  iMin,
  iMax,
  jMin,
  jMax,
  kMin,
  kMax,
});
const whole = (dims: Vec3) => box(0, dims[0] - 1, 0, dims[1] - 1, 0, dims[2] - 1);

/** Components by breadth-first search over voxels: the reference for the run-based labelling. */
function referenceSizes(data: Uint8Array, dims: Vec3, value: number, connectivity: Connectivity): number[] {
  const [nx, ny, nz] = dims;
  const seen = new Uint8Array(data.length);
  const offsets: Array<[number, number, number]> = [];
  for (let dk = -1; dk <= 1; dk++)
    for (let dj = -1; dj <= 1; dj++)
      for (let di = -1; di <= 1; di++) {
        const order = Math.abs(di) + Math.abs(dj) + Math.abs(dk);
        if (order === 0) continue;
        const inPlane = dk === 0;
        if (connectivity === 4 && (!inPlane || order > 1)) continue;
        if (connectivity === 8 && !inPlane) continue;
        if (connectivity === 6 && order > 1) continue;
        offsets.push([di, dj, dk]);
      }
  const sizes: number[] = [];
  for (let start = 0; start < data.length; start++) {
    if (data[start] !== value || seen[start]) continue;
    seen[start] = 1;
    const queue = [start];
    let size = 0;
    while (queue.length) {
      const n = queue.pop()!;
      size++;
      const i = n % nx;
      const j = Math.floor(n / nx) % ny;
      const k = Math.floor(n / (nx * ny));
      for (const [di, dj, dk] of offsets) {
        const ii = i + di;
        const jj = j + dj;
        const kk = k + dk;
        if (ii < 0 || jj < 0 || kk < 0 || ii >= nx || jj >= ny || kk >= nz) continue;
        const m = ii + nx * (jj + ny * kk);
        if (data[m] === value && !seen[m]) {
          seen[m] = 1;
          queue.push(m);
        }
      }
    }
    sizes.push(size);
  }
  return sizes.sort((a, b) => b - a);
}

describe('labelComponents', () => {
  it('joins voxels touching at a corner under 26 only, at an in-slice edge under 8 and 26', () => {
    const dims: Vec3 = [3, 3, 2];
    const corner = empty(dims);
    corner.data[0] = 1; // (0, 0, 0)
    corner.data[1 + 3 * (1 + 3 * 1)] = 1; // (1, 1, 1)
    expect(labelComponents(corner.data, dims, 1, 26).count).toBe(1);
    expect(labelComponents(corner.data, dims, 1, 6).count).toBe(2);
    expect(labelComponents(corner.data, dims, 1, 8).count).toBe(2);
    const edge = empty(dims);
    edge.data[0] = 1; // (0, 0, 0)
    edge.data[1 + 3] = 1; // (1, 1, 0)
    expect([4, 8, 6, 26].map((c) => labelComponents(edge.data, dims, 1, c as Connectivity).count)).toEqual([
      2, 1, 2, 1,
    ]);
  });

  it('counts voxels, slices and edge contact of each component', () => {
    const dims: Vec3 = [6, 6, 4];
    const mask = fill(fill(empty(dims), box(1, 2, 1, 2, 1, 2)), box(5, 5, 0, 0, 3, 3));
    const labels = labelComponents(mask.data, dims, 1, 26);
    expect(labels.count).toBe(2);
    expect([...labels.voxels]).toEqual([8, 1]);
    expect([...labels.kMin]).toEqual([1, 3]);
    expect([...labels.kMax]).toEqual([2, 3]);
    expect([...labels.touchesEdge]).toEqual([0, 1]);
    // background: one component, at the edge
    const background = labelComponents(mask.data, dims, 0, 6);
    expect(background.count).toBe(1);
    expect(background.voxels[0]).toBe(6 * 6 * 4 - 9);
  });

  it('agrees with a voxel-by-voxel search on random masks, for every connectivity', () => {
    const random = mulberry32(31);
    const dims: Vec3 = [9, 7, 6];
    for (const density of [0.1, 0.3, 0.5, 0.7])
      for (let r = 0; r < 8; r++) {
        const data = Uint8Array.from({ length: 9 * 7 * 6 }, () => (random() < density ? 1 : 0));
        for (const connectivity of [4, 8, 6, 26] as const)
          for (const value of [0, 1] as const) {
            const labels = labelComponents(data, dims, value, connectivity);
            expect([...labels.voxels].sort((a, b) => b - a)).toEqual(
              referenceSizes(data, dims, value, connectivity),
            );
          }
      }
  });

  it('refuses a mask of the wrong size', () => {
    expect(() => labelComponents(new Uint8Array(5), [2, 2, 2], 1, 6)).toThrow(RangeError);
  });
});

describe('maskShape', () => {
  const dims: Vec3 = [12, 12, 12];

  it('finds one solid piece with nothing to report', () => {
    const cube = fill(empty(dims), box(2, 5, 2, 5, 2, 5));
    expect(maskShape(cube, box(2, 5, 2, 5, 2, 5))).toEqual({
      voxels: 64,
      parts: {
        count: 1,
        largest: [{ voxels: 64, kMin: 2, kMax: 5 }],
        slicesBesidesLargest: [],
        slicesBesidesTwoLargest: [],
      },
      holes: { voxels: 0, slices: [], enclosedVoxels: 0, enclosedSlices: [] },
      skippedSlices: [],
    });
  });

  it('lists far blobs with their slices and the slices skipped between them', () => {
    const mask = fill(empty(dims), box(2, 5, 2, 5, 2, 5)); // 64 voxels, k 2-5
    fill(mask, box(9, 10, 9, 10, 8, 9)); // 8 voxels, k 8-9
    mask.data[11 + 12 * (0 + 12 * 11)] = 1; // a speck at (11, 0, 11)
    const shape = maskShape(mask, box(2, 11, 0, 10, 2, 11));
    expect(shape.voxels).toBe(73);
    expect(shape.parts).toEqual({
      count: 3,
      largest: [
        { voxels: 64, kMin: 2, kMax: 5 },
        { voxels: 8, kMin: 8, kMax: 9 },
        { voxels: 1, kMin: 11, kMax: 11 },
      ],
      slicesBesidesLargest: [8, 9, 11],
      slicesBesidesTwoLargest: [11],
    });
    expect(shape.skippedSlices).toEqual([6, 7, 10]);
    expect(shape.holes.voxels).toBe(0);
  });

  it('tells a closed cavity from a tunnel open at both ends', () => {
    const cavity = fill(fill(empty(dims), box(2, 6, 2, 6, 2, 6)), box(4, 4, 4, 5, 4, 4), 0);
    expect(maskShape(cavity, box(2, 6, 2, 6, 2, 6)).holes).toEqual({
      voxels: 2,
      slices: [4],
      enclosedVoxels: 2,
      enclosedSlices: [4],
    });
    const tunnel = fill(fill(empty(dims), box(2, 6, 2, 6, 2, 6)), box(4, 4, 4, 4, 2, 6), 0);
    expect(maskShape(tunnel, box(2, 6, 2, 6, 2, 6)).holes).toEqual({
      voxels: 5,
      slices: [2, 3, 4, 5, 6],
      enclosedVoxels: 0,
      enclosedSlices: [],
    });
    // a lung may ring the diaphragm dome in a slice: only the closed cavity counts for it
    expect(hasForbiddenHoles('Heart', maskShape(tunnel, box(2, 6, 2, 6, 2, 6)))).toBe(true);
    expect(hasForbiddenHoles('Lung_R', maskShape(tunnel, box(2, 6, 2, 6, 2, 6)))).toBe(false);
    expect(hasForbiddenHoles('Lung_R', maskShape(cavity, box(2, 6, 2, 6, 2, 6)))).toBe(true);
    expect(hasForbiddenHoles('External', maskShape(cavity, box(2, 6, 2, 6, 2, 6)))).toBe(false);
    // a notch open to the side is no hole
    const notch = fill(fill(empty(dims), box(2, 6, 2, 6, 2, 6)), box(4, 6, 4, 4, 3, 3), 0);
    expect(maskShape(notch, box(2, 6, 2, 6, 2, 6)).holes.voxels).toBe(0);
  });

  it('counts a ring closed only at a corner as closed (8-connected in the slice)', () => {
    const ring = empty([5, 5, 1]);
    // a diamond: (2,0) (1,1) (3,1) (0,2) (4,2) (1,3) (3,3) (2,4) around the centre (2,2)
    for (const [i, j] of [
      [2, 0],
      [1, 1],
      [3, 1],
      [0, 2],
      [4, 2],
      [1, 3],
      [3, 3],
      [2, 4],
    ] as const)
      ring.data[i + 5 * j] = 1;
    const shape = maskShape(ring, box(0, 4, 0, 4, 0, 0));
    expect(shape.parts.count).toBe(1);
    expect(shape.holes).toEqual({ voxels: 5, slices: [0], enclosedVoxels: 0, enclosedSlices: [] });
  });

  it('gives an empty mask no parts', () => {
    expect(maskShape(empty(dims), box(0, 0, 0, 0, 0, 0))).toMatchObject({
      voxels: 0,
      parts: { count: 0, largest: [] },
      skippedSlices: [],
    });
  });
});

describe('outsideBody', () => {
  const dims: Vec3 = [10, 10, 3];

  it('tolerates a one-voxel rim and counts what lies beyond it', () => {
    const body = fill(empty(dims), box(2, 7, 2, 7, 0, 2));
    const structure = fill(empty(dims), box(1, 5, 4, 4, 1, 1)); // i = 1 is one voxel outside: the rim
    expect(outsideBody(structure, box(1, 5, 4, 4, 1, 1), body.data)).toEqual({ voxels: 0, slices: [] });
    fill(structure, box(0, 0, 4, 5, 1, 1)); // two voxels two outside
    expect(outsideBody(structure, box(0, 5, 4, 5, 1, 1), body.data)).toEqual({ voxels: 2, slices: [1] });
  });

  it('counts a hole in the body outline as inside, and a slice without outline as outside', () => {
    const body = fill(fill(empty(dims), box(1, 8, 1, 8, 0, 1)), box(3, 6, 3, 6, 0, 1), 0);
    const lung = fill(empty(dims), box(4, 5, 4, 5, 0, 2)); // in the hole on k 0-1, no body on k 2
    expect(outsideBody(lung, box(4, 5, 4, 5, 0, 2), body.data)).toEqual({ voxels: 4, slices: [2] });
  });

  it('refuses masks on different grids', () => {
    expect(() => outsideBody(empty(dims), whole(dims), new Uint8Array(3))).toThrow(RangeError);
  });
});

describe('maskDice', () => {
  it('is exact within the boxes and null for two empty masks', () => {
    const dims: Vec3 = [8, 8, 4];
    const a = fill(empty(dims), box(0, 3, 0, 3, 0, 1)); // 32
    const b = fill(empty(dims), box(2, 5, 0, 3, 0, 1)); // 32, overlap 16
    expect(maskDice(a.data, box(0, 3, 0, 3, 0, 1), b.data, box(2, 5, 0, 3, 0, 1), dims)).toBe(0.5);
    expect(maskDice(a.data, box(0, 3, 0, 3, 0, 1), a.data, box(0, 3, 0, 3, 0, 1), dims)).toBe(1);
    const none = empty(dims);
    expect(maskDice(none.data, box(0, 0, 0, 0, 0, 0), none.data, box(0, 0, 0, 0, 0, 0), dims)).toBeNull();
    expect(diceUpperBound(98, 102)).toBe(0.98);
    expect(diceUpperBound(0, 0)).toBeNull();
  });
});

describe('structure expectations', () => {
  it('knows which structures are one piece, solid, contiguous and inside the body', () => {
    expect(
      ['Heart', 'Lung_L', 'External', 'CTV_Breast_L', 'CTVn_LN_Ax_L2_R', 'PTV_Breast_L'].map(expectedPieces),
    ).toEqual([1, 1, 1, 1, 1, 1]);
    // a thin vessel on thick slices: pieces are not a finding, gaps are
    expect(expectedPieces('A_LAD')).toBeNull();
    expect(expectsContiguousSlices('A_LAD')).toBe(true);
    expect(expectedPieces('Lungs')).toBe(2);
    expect(['Glnd_Thyroid', 'Sternum', 'CTVn_LN_L', 'GTV_1', 'Bolus'].map(expectedPieces)).toEqual([
      null,
      null,
      null,
      null,
      null,
    ]);
    expect(['Heart', 'CTVn_LN_L', 'Sternum', 'Lung_L', 'Liver', 'External', 'Bolus'].map(holePolicy)).toEqual(
      ['in-slice', 'in-slice', 'in-slice', 'closed', 'closed', null, null],
    );
    expect(['External', 'CTV_Breast_L', 'GTV_1', 'Clips'].map(expectsContiguousSlices)).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(['Heart', 'CTV_Breast_L', 'PTV_Breast_L', 'External', 'Bolus'].map(expectsInsideBody)).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});

describe('messages', () => {
  it('writes volumes, shares and slices readably', () => {
    expect([0, 0.0023, 0.06, 3.14159, 612.34].map(formatCc)).toEqual([
      '0 cc',
      '0.0023 cc',
      '0.06 cc',
      '3.14 cc',
      '612.3 cc',
    ]);
    expect([0.02345, 0.5, 12.345].map(formatPercent)).toEqual(['0.023 %', '0.5 %', '12.3 %']);
  });

  it('writes slices as ranges, with a limit', () => {
    expect(formatSlices([9, 3, 4, 5, 12])).toBe('3-5, 9, 12');
    expect(formatSlices([1, 3, 5, 7, 8], 2)).toBe('1, 3 and 3 more slices');
    expect(formatSlices([])).toBe('');
  });

  it('names each observer with volumes in cc and slices', () => {
    const dims: Vec3 = [12, 12, 12];
    const mask = fill(empty(dims), box(2, 5, 2, 5, 2, 5));
    fill(mask, box(8, 10, 9, 10, 8, 9)); // 12 voxels
    mask.data[11 + 12 * (0 + 12 * 11)] = 1;
    const broken = maskShape(mask, box(2, 11, 0, 10, 2, 11));
    expect(isFragmented('Heart', broken)).toBe(true);
    expect(isFragmented('Lungs', broken)).toBe(true);
    expect(isFragmented('Glnd_Thyroid', broken)).toBe(false);
    // 0.5 cc voxels
    expect(fragmentedMessage('P-1', 'Heart', [{ setLabel: 'Dr A', shape: broken, voxelCc: 0.5 }])).toBe(
      'P-1 Heart should be one piece (26-connected, every piece counts however small): observer Dr A has 3 ' +
        'pieces; the 2 besides the largest hold 6.50 cc on axial slices 9-10, 12 (6.00 cc on slices 9-10, a ' +
        'speck of 1 voxel on slice 12). Remove stray islands, or join pieces a missed slice has split',
    );
    expect(fragmentedMessage('P-1', 'Lungs', [{ setLabel: 'consensus', shape: broken, voxelCc: 0.5 }])).toBe(
      'P-1 Lungs should be two pieces, one per lung (26-connected, every piece counts however small): ' +
        'consensus has 3 pieces; the one besides the two largest holds 0.50 cc on axial slice 12 (a speck of ' +
        '1 voxel). Remove stray islands, or join pieces a missed slice has split',
    );
    expect(skippedSlicesMessage('P-1', 'Heart', [{ setLabel: 'Dr A', shape: broken, voxelCc: 0.5 }])).toBe(
      'P-1 Heart has slices left out: observer Dr A has no contour on 3 axial slices (7-8, 11) inside its extent. ' +
        'Draw the missed slice, or check the structure set for a contour on a wrong slice',
    );
    const cavity = maskShape(
      fill(fill(empty(dims), box(2, 6, 2, 6, 2, 6)), box(4, 4, 4, 5, 4, 4), 0),
      box(2, 6, 2, 6, 2, 6),
    );
    expect(
      holesMessage('P-1', 'Heart', [
        { setLabel: 'Dr A', shape: cavity, voxelCc: 2 },
        { setLabel: 'consensus', shape: cavity, voxelCc: 2 },
      ]),
    ).toBe(
      'P-1 Heart should have no holes: observer Dr A leaves 4.00 cc of holes on axial slice 5 (4.00 cc of it ' +
        'closed in 3-D); consensus leaves 4.00 cc of holes on axial slice 5 (4.00 cc of it closed in 3-D). Fill ' +
        'them, or look for an inner contour drawn by mistake (an inner contour on a slice is a hole)',
    );
    expect(holesMessage('P-1', 'Lung_L', [{ setLabel: 'EXPERT', shape: cavity, voxelCc: 0.25 }])).toBe(
      'P-1 Lung_L should have no cavity closed in 3-D (a ring around the diaphragm or heart in a slice is ' +
        'anatomy): observer EXPERT encloses 0.50 cc of cavities on axial slice 5. Fill them, or look for an inner ' +
        'contour drawn by mistake (an inner contour on a slice is a hole)',
    );
    expect(
      outsideBodyMessage('P-1', 'Heart', [
        {
          setLabel: 'Dr A',
          externalLabel: 'Dr A',
          voxels: 200,
          outside: { voxels: 3, slices: [4, 5] },
          voxelCc: 0.1,
        },
        {
          setLabel: 'Dr B',
          externalLabel: 'EXPERT',
          voxels: 100,
          outside: { voxels: 1, slices: [7] },
          voxelCc: 0.1,
        },
      ]),
    ).toBe(
      "P-1 Heart reaches outside the body (more than 1 voxel beyond the External's outline in its slice; " +
        'holes of the outline count as inside): observer Dr A has 0.30 cc (1.5 %) outside the External of ' +
        'its own set, on axial slices 5-6; observer Dr B has 0.10 cc (1.0 %) outside the External of observer ' +
        "EXPERT, on axial slice 8. Crop it to the body, or check the External and the structure's slices",
    );
  });

  it('calls two cases near duplicates only when every shared structure overlaps', () => {
    const best = [
      { structure: 'Heart', dice: 0.995 },
      { structure: 'Lung_L', dice: 0.99 },
      { structure: 'External', dice: 0.999 },
    ];
    expect(isNearDuplicate(best)).toBe(true);
    expect(isNearDuplicate(best.slice(0, 2))).toBe(false);
    expect(isNearDuplicate([...best, { structure: 'A_LAD', dice: 0.97 }])).toBe(false);
    expect(
      nearDuplicateMessage('P-2', { dims: [300, 300, 80], spacingMm: [1.171875, 1.171875, 3] }, [
        { pseudonym: 'P-1', bestDice: best },
      ]),
    ).toBe(
      'P-2 looks like the same scan as P-1 (all 3 shared structures overlap, lowest Dice 0.990 for Lung_L): ' +
        'same 300x300x80 grid at 1.172 x 1.172 x 3 mm, and for every shared structure some physician or ' +
        'consensus contour of each case overlaps voxel for voxel with Dice >= 0.98 (at least 3 shared ' +
        'structures needed). Keep one, or say why both belong',
    );
  });
});
