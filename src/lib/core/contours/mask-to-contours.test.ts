import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../../test/helpers/random';
import { AppError } from '../errors';
import { cross, dot, type ImageGrid } from '../geometry/image-grid';
import { axisAlignedAffine, type Mask, type Vec3 } from '../volume/volume';
import { maskToContours, type SliceContours } from './mask-to-contours';
import type { Contour } from './structure-set';

/** An ImageGrid from its parts; slice k sits at `originLps + offsetsMm[k]·normal` (any spacing). */
function makeGrid(
  dims: Vec3,
  spacingMm: Vec3,
  options: { rowLps?: Vec3; columnLps?: Vec3; originLps?: Vec3; sliceOffsetsMm?: number[] } = {},
): ImageGrid {
  const rowLps = options.rowLps ?? [1, 0, 0];
  const columnLps = options.columnLps ?? [0, 1, 0];
  const normalLps = cross(rowLps, columnLps);
  const originLps = options.originLps ?? [0, 0, 0];
  const offsetsMm = options.sliceOffsetsMm ?? Array.from({ length: dims[2] }, (_, k) => k * spacingMm[2]);
  const slicePositionLps = offsetsMm.map(
    (offset) => originLps.map((value, axis) => value + offset * normalLps[axis]) as unknown as Vec3,
  );
  const affine = axisAlignedAffine(spacingMm, originLps);
  for (let axis = 0; axis < 3; axis++) {
    affine[axis * 4] = rowLps[axis] * spacingMm[0];
    affine[axis * 4 + 1] = columnLps[axis] * spacingMm[1];
    affine[axis * 4 + 2] = normalLps[axis] * spacingMm[2];
  }
  return {
    dims,
    spacingMm,
    rowLps,
    columnLps,
    normalLps,
    slicePositionLps,
    slicePositionsMm: slicePositionLps.map((position) => dot(position, normalLps)),
    affineIjkToLps: affine,
    frameOfReferenceUid: '1.2.3',
  };
}

/** Direction cosines rotated by three angles (radians), still orthonormal. */
function obliqueAxes(alpha: number, beta: number, gamma: number): { rowLps: Vec3; columnLps: Vec3 } {
  const rotate = (v: Vec3): Vec3 => {
    let [x, y, z] = v;
    [x, y] = [x * Math.cos(alpha) - y * Math.sin(alpha), x * Math.sin(alpha) + y * Math.cos(alpha)];
    [y, z] = [y * Math.cos(beta) - z * Math.sin(beta), y * Math.sin(beta) + z * Math.cos(beta)];
    [x, z] = [x * Math.cos(gamma) + z * Math.sin(gamma), -x * Math.sin(gamma) + z * Math.cos(gamma)];
    return [x, y, z];
  };
  return { rowLps: rotate([1, 0, 0]), columnLps: rotate([0, 1, 0]) };
}

function makeMask(grid: ImageGrid, voxels: Array<[number, number, number]> = []): Mask {
  const [nx, ny, nz] = grid.dims;
  const data = new Uint8Array(nx * ny * nz);
  for (const [i, j, k] of voxels) data[i + nx * (j + ny * k)] = 1;
  return { data, dims: grid.dims, spacingMm: grid.spacingMm, affineIjkToLps: grid.affineIjkToLps };
}

/** Sets the voxels of slice k from rows of '#' (inside) and '.' (outside); row index is j. */
function paint(mask: Mask, k: number, rows: string[]): Mask {
  const [nx, ny] = mask.dims;
  rows.forEach((line, j) => {
    for (let i = 0; i < line.length; i++) mask.data[i + nx * (j + ny * k)] = line[i] === '#' ? 1 : 0;
  });
  return mask;
}

/**
 * A deliberately independent rasteriser with DESIGN.md's rule: each contour goes to the slice whose
 * position along the normal is nearest (within half a step); a voxel is inside when its centre is inside
 * by the even-odd rule over all contours of that slice. Also asserts every point lies in the slice plane.
 */
function rasteriseEvenOdd(contours: Contour[], grid: ImageGrid): Uint8Array {
  const [nx, ny, nz] = grid.dims;
  const out = new Uint8Array(nx * ny * nz);
  const bySlice = new Map<number, Array<{ x: number[]; y: number[] }>>();
  for (const contour of contours) {
    const p = contour.pointsLps;
    const positionMm = p[0] * grid.normalLps[0] + p[1] * grid.normalLps[1] + p[2] * grid.normalLps[2];
    let k = 0;
    for (let s = 1; s < nz; s++) {
      if (Math.abs(grid.slicePositionsMm[s] - positionMm) < Math.abs(grid.slicePositionsMm[k] - positionMm)) {
        k = s;
      }
    }
    expect(Math.abs(grid.slicePositionsMm[k] - positionMm)).toBeLessThanOrEqual(grid.spacingMm[2] / 2);
    const origin = grid.slicePositionLps[k];
    const x: number[] = [];
    const y: number[] = [];
    for (let m = 0; m < p.length; m += 3) {
      const d: Vec3 = [p[m] - origin[0], p[m + 1] - origin[1], p[m + 2] - origin[2]];
      expect(Math.abs(dot(d, grid.normalLps))).toBeLessThan(1e-9);
      x.push(dot(d, grid.rowLps));
      y.push(dot(d, grid.columnLps));
    }
    const list = bySlice.get(k) ?? [];
    list.push({ x, y });
    bySlice.set(k, list);
  }
  for (const [k, polygons] of bySlice) {
    for (let j = 0; j < ny; j++) {
      const cy = j * grid.spacingMm[1];
      for (let i = 0; i < nx; i++) {
        const cx = i * grid.spacingMm[0];
        let inside = false;
        for (const { x, y } of polygons) {
          for (let a = 0, b = x.length - 1; a < x.length; b = a++) {
            if (y[a] > cy !== y[b] > cy && cx < ((x[b] - x[a]) * (cy - y[a])) / (y[b] - y[a]) + x[a]) {
              inside = !inside;
            }
          }
        }
        if (inside) out[i + nx * (j + ny * k)] = 1;
      }
    }
  }
  return out;
}

function allContours(slices: SliceContours[]): Contour[] {
  return slices.flatMap((slice) => slice.contours);
}

function expectRoundTrip(mask: Mask, grid: ImageGrid): SliceContours[] {
  const slices = maskToContours(mask, grid);
  const back = rasteriseEvenOdd(allContours(slices), grid);
  let differing = 0;
  for (let n = 0; n < back.length; n++) if (back[n] !== mask.data[n]) differing++;
  expect(differing).toBe(0);
  return slices;
}

function points(contour: Contour): number[][] {
  const out: number[][] = [];
  for (let m = 0; m < contour.pointsLps.length; m += 3)
    out.push(Array.from(contour.pointsLps.slice(m, m + 3)));
  return out;
}

function sorted(list: number[][]): number[][] {
  return [...list].sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
}

describe('maskToContours: geometry of the vertices', () => {
  it('puts a single voxel inside a diamond through the four edge midpoints, in LPS', () => {
    const grid = makeGrid([5, 6, 3], [1, 1, 2], { originLps: [10, 20, 30] });
    const slices = maskToContours(makeMask(grid, [[2, 3, 1]]), grid);
    expect(slices.map((slice) => slice.k)).toEqual([1]);
    expect(slices[0].contours).toHaveLength(1);
    const contour = slices[0].contours[0];
    expect(contour.geometricType).toBe('CLOSED_PLANAR');
    expect(contour.referencedSopInstanceUids).toEqual([]);
    // Centre (12, 23, 32); vertices halfway to the four 4-neighbours, closing point not repeated.
    expect(sorted(points(contour))).toEqual([
      [11.5, 23, 32],
      [12, 22.5, 32],
      [12, 23.5, 32],
      [12.5, 23, 32],
    ]);
  });

  it('maps i along the row direction and j along the column direction with their own spacings', () => {
    // Row direction along -y, column along +z (a sagittal-like grid), spacings 0.5 and 3 mm.
    const grid = makeGrid([4, 3, 2], [0.5, 3, 1], {
      rowLps: [0, -1, 0],
      columnLps: [0, 0, 1],
      originLps: [-7, 4, 100],
    });
    const slices = maskToContours(makeMask(grid, [[3, 0, 0]]), grid);
    // normal = row x column = (-1, 0, 0); centre of (3, 0, 0) = origin + 3·0.5·row = (-7, 2.5, 100).
    expect(sorted(points(slices[0].contours[0]))).toEqual([
      [-7, 2.25, 100],
      [-7, 2.5, 98.5],
      [-7, 2.5, 101.5],
      [-7, 2.75, 100],
    ]);
  });

  it('drops collinear vertices: a rectangle is an octagon with its corners cut', () => {
    const grid = makeGrid([8, 6, 1], [1, 1, 1]);
    const mask = paint(makeMask(grid), 0, ['........', '.#####..', '.#####..', '.#####..', '........']);
    const slices = expectRoundTrip(mask, grid);
    expect(slices[0].contours).toHaveLength(1);
    expect(sorted(points(slices[0].contours[0]))).toEqual([
      [0.5, 1, 0],
      [0.5, 3, 0],
      [1, 0.5, 0],
      [1, 3.5, 0],
      [5, 0.5, 0],
      [5, 3.5, 0],
      [5.5, 1, 0],
      [5.5, 3, 0],
    ]);
  });

  it('keeps a diagonal staircase as one straight edge', () => {
    const grid = makeGrid([4, 4, 1], [1, 1, 1]);
    const mask = paint(makeMask(grid), 0, ['#...', '##..', '###.', '####']);
    const slices = expectRoundTrip(mask, grid);
    // The staircase's corner midpoints are collinear along the diagonal: a triangle with cut corners.
    expect(slices[0].contours[0].pointsLps.length / 3).toBeLessThanOrEqual(6);
  });
});

describe('maskToContours: topology and the even-odd round trip', () => {
  it('returns nothing for an empty mask and skips empty slices', () => {
    const grid = makeGrid([4, 4, 5], [1, 1, 1]);
    expect(maskToContours(makeMask(grid), grid)).toEqual([]);
    const slices = maskToContours(
      makeMask(grid, [
        [1, 1, 1],
        [2, 2, 3],
      ]),
      grid,
    );
    expect(slices.map((slice) => slice.k)).toEqual([1, 3]);
  });

  it('writes a hole as its own contour', () => {
    const grid = makeGrid([7, 7, 1], [1, 1, 1]);
    const mask = paint(makeMask(grid), 0, [
      '.......',
      '.#####.',
      '.#...#.',
      '.#...#.',
      '.#...#.',
      '.#####.',
      '.......',
    ]);
    const slices = expectRoundTrip(mask, grid);
    expect(slices[0].contours).toHaveLength(2);
  });

  it('writes every nested ring as its own contour: hole, island in the hole, its hole, a voxel inside', () => {
    const grid = makeGrid([9, 9, 1], [1, 1, 1]);
    const mask = paint(makeMask(grid), 0, [
      '#########',
      '#.......#',
      '#.#####.#',
      '#.#...#.#',
      '#.#.#.#.#',
      '#.#...#.#',
      '#.#####.#',
      '#.......#',
      '#########',
    ]);
    const slices = expectRoundTrip(mask, grid);
    // outer, hole, island ring, its hole, the single voxel in the middle
    expect(slices[0].contours).toHaveLength(5);
  });

  it('closes shapes that touch every border of the array', () => {
    const grid = makeGrid([5, 4, 2], [0.8, 1.2, 3]);
    const mask = makeMask(grid);
    mask.data.fill(1);
    const slices = expectRoundTrip(mask, grid);
    expect(slices).toHaveLength(2);
    for (const slice of slices) {
      expect(slice.contours).toHaveLength(1);
      const [xs, ys] = [0, 1].map((axis) => points(slice.contours[0]).map((p) => p[axis]));
      // Vertices lie half a voxel outside the array, on both sides.
      expect(Math.min(...xs)).toBeCloseTo(-0.4, 12);
      expect(Math.max(...xs)).toBeCloseTo(4 * 0.8 + 0.4, 12);
      expect(Math.min(...ys)).toBeCloseTo(-0.6, 12);
      expect(Math.max(...ys)).toBeCloseTo(3 * 1.2 + 0.6, 12);
    }
  });

  it('handles a 1x1 slice and 1-voxel-wide arrays', () => {
    for (const dims of [
      [1, 1, 1],
      [1, 5, 1],
      [6, 1, 2],
    ] as Vec3[]) {
      const grid = makeGrid(dims, [1, 1, 1]);
      const mask = makeMask(grid);
      mask.data.fill(1);
      if (mask.data.length > 2) mask.data[2] = 0;
      expectRoundTrip(mask, grid);
    }
  });

  it('separates voxels that touch only diagonally (saddles), foreground and background alike', () => {
    const grid = makeGrid([4, 4, 2], [1, 1, 1]);
    const mask = paint(makeMask(grid), 0, ['#...', '.#..', '..#.', '...#']);
    paint(mask, 1, ['.##.', '#..#', '#..#', '.##.']);
    const slices = expectRoundTrip(mask, grid);
    expect(slices[0].contours).toHaveLength(4);
    // A diamond of four voxels around an empty centre: four separate single-voxel rings.
    expect(slices[1].contours).toHaveLength(4);
  });

  it('round-trips a checkerboard, the worst case for saddles', () => {
    const grid = makeGrid([7, 6, 1], [1, 1, 1]);
    const mask = makeMask(grid);
    for (let j = 0; j < 6; j++) for (let i = 0; i < 7; i++) mask.data[i + 7 * j] = (i + j) % 2;
    const slices = expectRoundTrip(mask, grid);
    expect(slices[0].contours).toHaveLength(21);
  });

  it('round-trips random masks exactly on oblique, anisotropic grids with uneven slice steps', () => {
    const random = mulberry32(20240611);
    for (let trial = 0; trial < 12; trial++) {
      const dims: Vec3 = [5 + Math.floor(random() * 14), 5 + Math.floor(random() * 14), 3];
      const axes =
        trial % 3 === 0 ? {} : obliqueAxes(random() * 2 - 1, random() * 0.6 - 0.3, random() * 0.6 - 0.3);
      const grid = makeGrid(dims, [0.3 + random() * 2, 0.3 + random() * 2, 2.5], {
        ...axes,
        originLps: [random() * 400 - 200, random() * 400 - 200, random() * 400 - 200],
        sliceOffsetsMm: [0, 2.5, 5.5],
      });
      const mask = makeMask(grid);
      const density = 0.2 + random() * 0.6;
      for (let n = 0; n < mask.data.length; n++) mask.data[n] = random() < density ? 1 : 0;
      expectRoundTrip(mask, grid);
    }
  });

  it('round-trips smooth blobs with holes at realistic CT spacing', () => {
    const grid = makeGrid([64, 48, 2], [0.9765625, 0.9765625, 3], {
      originLps: [-249.51171875, -180.2, -612.5],
    });
    const mask = makeMask(grid);
    for (let j = 0; j < 48; j++) {
      for (let i = 0; i < 64; i++) {
        const r = Math.hypot(i - 30.3, j - 22.7);
        const ring = r < 20 && !(r > 8 && r < 12);
        mask.data[i + 64 * j] = ring ? 1 : 0;
        mask.data[i + 64 * (j + 48)] =
          Math.hypot(i - 10, j - 10) < 6.5 || Math.hypot(i - 50, j - 35) < 9 ? 1 : 0;
      }
    }
    const slices = expectRoundTrip(mask, grid);
    expect(slices.map((slice) => slice.contours.length)).toEqual([3, 2]);
  });
});

describe('maskToContours: simplification', () => {
  function disc(radius: number): { grid: ImageGrid; mask: Mask } {
    const size = 2 * radius + 5;
    const grid = makeGrid([size, size, 1], [0.8, 1.1, 2]);
    const mask = makeMask(grid);
    for (let j = 0; j < size; j++) {
      for (let i = 0; i < size; i++) {
        const dx = (i - size / 2) * 0.8;
        const dy = (j - size / 2) * 1.1;
        mask.data[i + size * j] = Math.hypot(dx, dy) < radius ? 1 : 0;
      }
    }
    return { grid, mask };
  }

  function distanceToPolygon(p: number[], polygon: number[][]): number {
    let best = Infinity;
    for (let a = 0, b = polygon.length - 1; a < polygon.length; b = a++) {
      const [ax, ay] = polygon[b];
      const [bx, by] = polygon[a];
      const dx = bx - ax;
      const dy = by - ay;
      const t = Math.max(0, Math.min(1, ((p[0] - ax) * dx + (p[1] - ay) * dy) / (dx * dx + dy * dy)));
      best = Math.min(best, Math.hypot(p[0] - ax - t * dx, p[1] - ay - t * dy));
    }
    return best;
  }

  it('keeps every removed vertex within the tolerance and only keeps original vertices', () => {
    const { grid, mask } = disc(15);
    const exact = points(maskToContours(mask, grid)[0].contours[0]);
    for (const toleranceMm of [0.1, 0.5, 2]) {
      const simplified = points(
        maskToContours(mask, grid, { simplifyToleranceMm: toleranceMm })[0].contours[0],
      );
      // 0.1 mm is below every deviation of this staircase, so only the larger tolerances remove points.
      if (toleranceMm >= 0.5) expect(simplified.length).toBeLessThan(exact.length);
      else expect(simplified.length).toBe(exact.length);
      expect(simplified.length).toBeGreaterThanOrEqual(3);
      const originals = new Set(exact.map((p) => p.join(',')));
      for (const p of simplified) expect(originals.has(p.join(','))).toBe(true);
      for (const p of exact)
        expect(distanceToPolygon(p, simplified)).toBeLessThanOrEqual(toleranceMm + 1e-12);
    }
  });

  it('never goes below 3 points, however large the tolerance', () => {
    const grid = makeGrid([3, 3, 1], [1, 1, 1]);
    const slices = maskToContours(makeMask(grid, [[1, 1, 0]]), grid, { simplifyToleranceMm: 100 });
    expect(slices[0].contours[0].pointsLps.length / 3).toBe(3);
    const { grid: discGrid, mask } = disc(6);
    const big = maskToContours(mask, discGrid, { simplifyToleranceMm: 1000 });
    expect(big[0].contours[0].pointsLps.length / 3).toBe(3);
  });

  it('changes nothing with a zero tolerance', () => {
    const { grid, mask } = disc(9);
    expect(maskToContours(mask, grid, { simplifyToleranceMm: 0 })).toEqual(maskToContours(mask, grid));
  });
});

describe('maskToContours: invalid arguments', () => {
  function expectInvalid(run: () => unknown, message: RegExp) {
    let caught: unknown;
    try {
      run();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect((caught as AppError).code).toBe('INVALID_ARGUMENT');
    expect((caught as AppError).message).toMatch(message);
  }

  it('rejects a mask that is not on the grid', () => {
    const grid = makeGrid([4, 4, 2], [1, 1, 1]);
    const other = makeMask(makeGrid([4, 5, 2], [1, 1, 1]));
    expectInvalid(
      () => maskToContours(other, grid),
      /mask dimensions 4x5x2 differ from the image grid 4x4x2/,
    );
    const short = { ...makeMask(grid), data: new Uint8Array(5) };
    expectInvalid(() => maskToContours(short, grid), /holds 5 voxels, expected 4x4x2 = 32/);
    const missingSlice = { ...grid, slicePositionLps: grid.slicePositionLps.slice(1) };
    expectInvalid(() => maskToContours(makeMask(grid), missingSlice), /1 slice positions for 2 slices/);
  });

  it('rejects a negative or non-finite tolerance', () => {
    const grid = makeGrid([4, 4, 1], [1, 1, 1]);
    for (const simplifyToleranceMm of [-1, NaN, Infinity]) {
      expectInvalid(
        () => maskToContours(makeMask(grid), grid, { simplifyToleranceMm }),
        /simplifyToleranceMm must be a finite number >= 0/,
      );
    }
  });
});
