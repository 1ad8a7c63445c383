import { describe, expect, it } from 'vitest';
import { TG263_STRUCTURES } from '../structures/tg263';
import {
  defaultPhantomGrid,
  generatePhantom,
  renderCt,
  type Phantom,
  type PhantomGrid,
  type PhantomSpec,
} from './breast-phantom';
import { gaussian, mulberry32 } from './random';

// 2 x 2 x 3 mm over a 460 mm field of view keeps each phantom at ~4.6 M voxels
const GRID = defaultPhantomGrid([2, 2, 3], 460);
const VOXEL_CC = (2 * 2 * 3) / 1000;

const BASE: PhantomSpec = {
  seed: 1,
  laterality: 'left',
  surgery: 'breast_conserving',
  tumourBed: 'seroma',
  nodal: true,
  size: 1,
  breathing: 0.5,
};

const cache = new Map<string, Phantom>();
function phantom(overrides: Partial<PhantomSpec> = {}): Phantom {
  const spec = { ...BASE, ...overrides };
  const key = JSON.stringify(spec);
  let result = cache.get(key);
  if (!result) {
    result = generatePhantom(spec, GRID);
    cache.set(key, result);
  }
  return result;
}

function mask(p: Phantom, name: string): Uint8Array {
  const found = p.structures.find((s) => s.tg263Name === name);
  if (!found) throw new Error(`no structure ${name}`);
  return found.mask;
}

function count(m: Uint8Array): number {
  let c = 0;
  for (let n = 0; n < m.length; n++) c += m[n];
  return c;
}

function overlap(a: Uint8Array, b: Uint8Array): number {
  let c = 0;
  for (let n = 0; n < a.length; n++) c += a[n] & b[n];
  return c;
}

function dice(a: Uint8Array, b: Uint8Array): number {
  return (2 * overlap(a, b)) / (count(a) + count(b));
}

/** Centroid x (mm, LPS) of a mask on `grid`. */
function centroidX(m: Uint8Array, grid: PhantomGrid): number {
  const nx = grid.dims[0];
  let sum = 0;
  let c = 0;
  for (let n = 0; n < m.length; n++) {
    if (m[n]) {
      sum += grid.originLps[0] + (n % nx) * grid.spacingMm[0];
      c++;
    }
  }
  return sum / c;
}

function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let n = 0; n < a.length; n++) if (a[n] !== b[n]) return n;
  return -1;
}

function meanSd(
  values: ArrayLike<number>,
  select: (n: number) => boolean,
): { mean: number; sd: number; n: number } {
  let s = 0;
  let s2 = 0;
  let c = 0;
  for (let n = 0; n < values.length; n++) {
    if (!select(n)) continue;
    s += values[n];
    s2 += values[n] * values[n];
    c++;
  }
  const mean = s / c;
  return { mean, sd: Math.sqrt(s2 / c - mean * mean), n: c };
}

describe('random', () => {
  it('mulberry32 is deterministic, in [0, 1) and seed-dependent', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(xs.slice(0, 10)).not.toEqual(Array.from({ length: 10 }, () => c()));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });

  it('gaussian has mean 0 and SD 1', () => {
    const normal = gaussian(mulberry32(7));
    const xs = Array.from({ length: 20000 }, () => normal());
    const { mean, sd } = meanSd(xs, () => true);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(sd).toBeGreaterThan(0.97);
    expect(sd).toBeLessThan(1.03);
  });
});

describe('defaultPhantomGrid', () => {
  it('rounds dims and centres the field of view on the body axis', () => {
    const grid = defaultPhantomGrid([0.98, 0.98, 3], 500);
    expect(grid.dims).toEqual([510, 510, 88]);
    expect(grid.originLps[0]).toBeCloseTo(-(509 * 0.98) / 2, 9);
    expect(grid.originLps[1]).toBeCloseTo(grid.originLps[0], 9);
    const zTop = grid.originLps[2] + (grid.dims[2] - 1) * 3;
    expect(grid.originLps[2]).toBeLessThan(-240);
    expect(zTop).toBeGreaterThan(15);
    expect(zTop - grid.originLps[2]).toBeGreaterThan(250);
  });

  it('rejects a non-positive spacing', () => {
    expect(() => defaultPhantomGrid([0, 1, 1], 500)).toThrow(/spacing/);
  });
});

describe('generatePhantom', () => {
  it('is deterministic in the seed', () => {
    const a = phantom();
    const b = generatePhantom({ ...BASE }, GRID);
    expect(b.structures.map((s) => s.tg263Name)).toEqual(a.structures.map((s) => s.tg263Name));
    for (let n = 0; n < a.structures.length; n++) {
      expect(firstDifference(a.structures[n].mask, b.structures[n].mask), a.structures[n].tg263Name).toBe(-1);
    }
    expect(firstDifference(a.hu, b.hu)).toBe(-1);
  });

  it('gives clearly different anatomy for different seeds', () => {
    const a = phantom();
    const b = phantom({ seed: 2 });
    for (const name of ['External', 'Heart', 'Lung_L', 'CTV_Breast_L']) {
      const d = dice(mask(a, name), mask(b, name));
      expect(d, name).toBeLessThan(0.95);
      expect(d, name).toBeGreaterThan(0.3);
    }
    const va = count(mask(a, 'Heart'));
    const vb = count(mask(b, 'Heart'));
    expect(va).not.toBe(vb);
  });

  it('uses catalogued TG-263 names, every structure non-empty and inside External', () => {
    const names = new Set(TG263_STRUCTURES.map((s) => s.tg263Name));
    for (const p of [phantom(), phantom({ seed: 5, laterality: 'right', surgery: 'mastectomy' })]) {
      expect(p.structures[0].tg263Name).toBe('External');
      const external = p.structures[0].mask;
      for (const s of p.structures) {
        expect(names.has(s.tg263Name), s.tg263Name).toBe(true);
        const c = count(s.mask);
        expect(c, s.tg263Name).toBeGreaterThan(0);
        expect(overlap(s.mask, external), s.tg263Name).toBe(c);
        let nonBinary = 0;
        for (let n = 0; n < s.mask.length; n++) if (s.mask[n] > 1) nonBinary++;
        expect(nonBinary, s.tg263Name).toBe(0);
      }
      // air outside the body, only there
      for (let n = 0; n < external.length; n += 97) expect(p.hu[n] === -1000 || external[n] === 1).toBe(true);
    }
  });

  it('lists the structures of the case', () => {
    const names = phantom().structures.map((s) => s.tg263Name);
    expect(names).toEqual([
      'External',
      'Lung_L',
      'Lung_R',
      'Heart',
      'A_LAD',
      'SpinalCanal',
      'SpinalCord',
      'Esophagus',
      'Sternum',
      'Breast_R',
      'CTV_Breast_L',
      'CTV_TumorBed_L',
      'CTVn_LN_Ax_L1_L',
      'CTVn_LN_Ax_L2_L',
      'CTVn_LN_Ax_L3_L',
      'CTVn_LN_Sclav_L',
      'CTVn_LN_IMN_L',
    ]);
    const plain = phantom({ tumourBed: 'none', nodal: false }).structures.map((s) => s.tg263Name);
    expect(plain).not.toContain('CTV_TumorBed_L');
    expect(plain.some((n) => n.startsWith('CTVn_'))).toBe(false);
  });

  it('keeps lungs, heart, LAD, sternum, oesophagus and spinal canal apart', () => {
    for (const p of [
      phantom(),
      phantom({ seed: 3, breathing: 1, size: 1.1 }),
      phantom({ seed: 4, breathing: 0 }),
    ]) {
      const exclusive = ['Lung_L', 'Lung_R', 'Heart', 'Sternum', 'Esophagus', 'SpinalCanal'];
      for (let a = 0; a < exclusive.length; a++) {
        for (let b = a + 1; b < exclusive.length; b++) {
          expect(
            overlap(mask(p, exclusive[a]), mask(p, exclusive[b])),
            `${exclusive[a]} ${exclusive[b]}`,
          ).toBe(0);
        }
      }
      expect(overlap(mask(p, 'A_LAD'), mask(p, 'Lung_L'))).toBe(0);
      expect(overlap(mask(p, 'SpinalCord'), mask(p, 'SpinalCanal'))).toBe(count(mask(p, 'SpinalCord')));
      expect(overlap(mask(p, 'CTV_Breast_L'), mask(p, 'Lung_L'))).toBe(0);
    }
  });

  it('mirrors the treated-side structures for right-sided cases', () => {
    const left = phantom();
    const right = phantom({ laterality: 'right' });
    expect(centroidX(mask(left, 'CTV_Breast_L'), GRID)).toBeGreaterThan(50);
    expect(centroidX(mask(right, 'CTV_Breast_R'), GRID)).toBeLessThan(-50);
    expect(centroidX(mask(left, 'Breast_R'), GRID)).toBeLessThan(-50);
    expect(centroidX(mask(right, 'Breast_L'), GRID)).toBeGreaterThan(50);
    for (const level of ['Ax_L1', 'Ax_L2', 'Ax_L3', 'Sclav', 'IMN']) {
      expect(centroidX(mask(left, `CTVn_LN_${level}_L`), GRID), level).toBeGreaterThan(15);
      expect(centroidX(mask(right, `CTVn_LN_${level}_R`), GRID), level).toBeLessThan(-15);
    }
    // the heart stays on the patient's left
    expect(centroidX(mask(right, 'Heart'), GRID)).toBeGreaterThan(0);
    expect(centroidX(mask(left, 'Lung_L'), GRID)).toBeGreaterThan(30);
    expect(centroidX(mask(left, 'Lung_R'), GRID)).toBeLessThan(-30);
  });

  it('replaces the breast CTV by a chest-wall CTV after mastectomy', () => {
    const p = phantom({ seed: 5, laterality: 'right', surgery: 'mastectomy' });
    const names = p.structures.map((s) => s.tg263Name);
    expect(names).toContain('CTV_Chestwall_R');
    expect(names).toContain('Breast_L');
    expect(names).not.toContain('CTV_Breast_R');
    expect(names).not.toContain('CTV_TumorBed_R');
    expect(centroidX(mask(p, 'CTV_Chestwall_R'), GRID)).toBeLessThan(-50);
    const cc = count(mask(p, 'CTV_Chestwall_R')) * VOXEL_CC;
    expect(cc).toBeGreaterThan(100);
    expect(cc).toBeLessThan(1000);
    // no breast bump on the treated side: the body is less deep there than on the contralateral side
    const conserved = phantom({ seed: 5, laterality: 'right' });
    expect(count(mask(p, 'External'))).toBeLessThan(count(mask(conserved, 'External')));
  });

  it('has plausible volumes across seeds, sizes and breathing', () => {
    const cases: Partial<PhantomSpec>[] = [
      {},
      { seed: 2, size: 0.9, breathing: 0 },
      { seed: 3, size: 1.1, breathing: 1 },
      { seed: 4, laterality: 'right', breathing: 0 },
    ];
    for (const c of cases) {
      const p = phantom(c);
      const side = (c.laterality ?? 'left') === 'left' ? 'L' : 'R';
      const cc = (name: string): number => count(mask(p, name)) * VOXEL_CC;
      const label = JSON.stringify(c);
      expect(cc('Heart'), label).toBeGreaterThan(400);
      expect(cc('Heart'), label).toBeLessThan(900);
      for (const lung of ['Lung_L', 'Lung_R']) {
        expect(cc(lung), label).toBeGreaterThan(1000);
        expect(cc(lung), label).toBeLessThan(3000);
      }
      expect(cc(`CTV_Breast_${side}`), label).toBeGreaterThan(200);
      expect(cc(`CTV_Breast_${side}`), label).toBeLessThan(1500);
      expect(cc(`CTV_TumorBed_${side}`), label).toBeGreaterThan(2);
      expect(cc(`CTV_TumorBed_${side}`), label).toBeLessThan(cc(`CTV_Breast_${side}`) / 5);
      expect(cc('A_LAD'), label).toBeGreaterThan(0.1);
      expect(cc('A_LAD'), label).toBeLessThan(5);
    }
  });

  it('inhalation enlarges the lungs and lowers the heart', () => {
    const exhale = phantom({ breathing: 0 });
    const inhale = phantom({ breathing: 1 });
    for (const lung of ['Lung_L', 'Lung_R']) {
      expect(count(mask(inhale, lung))).toBeGreaterThan(count(mask(exhale, lung)) * 1.1);
    }
    const zCentroid = (m: Uint8Array): number => {
      const plane = GRID.dims[0] * GRID.dims[1];
      let s = 0;
      let c = 0;
      for (let n = 0; n < m.length; n++) {
        if (m[n]) {
          s += Math.floor(n / plane);
          c++;
        }
      }
      return GRID.originLps[2] + (s / c) * GRID.spacingMm[2];
    };
    expect(zCentroid(mask(inhale, 'Heart'))).toBeLessThan(zCentroid(mask(exhale, 'Heart')) - 5);
  });

  it('puts the tumour bed inside the breast CTV with seroma HU, or clips in the CT only', () => {
    const seroma = phantom();
    const bed = mask(seroma, 'CTV_TumorBed_L');
    expect(overlap(bed, mask(seroma, 'CTV_Breast_L'))).toBe(count(bed));
    for (let n = 0; n < bed.length; n++) if (bed[n]) expect(seroma.hu[n]).toBe(15);

    const clipped = phantom({ tumourBed: 'clips' });
    const clipBed = mask(clipped, 'CTV_TumorBed_L');
    let clips = 0;
    for (let n = 0; n < clipped.hu.length; n++) {
      if (clipped.hu[n] === 2500) {
        clips++;
        expect(clipBed[n]).toBe(1);
      }
    }
    expect(clips).toBeGreaterThanOrEqual(3);
    expect(clips).toBeLessThanOrEqual(5);
    expect(clipped.structures.length).toBe(seroma.structures.length);
  });

  it('assigns the tissue HU values', () => {
    const p = phantom();
    const expectAll = (name: string, value: number): void => {
      const m = mask(p, name);
      for (let n = 0; n < m.length; n++)
        if (m[n] && p.hu[n] !== value) throw new Error(`${name} HU ${p.hu[n]}`);
    };
    expectAll('Lung_L', -850);
    expectAll('Lung_R', -850);
    expectAll('Heart', 45);
    expectAll('Sternum', 700);
    expectAll('SpinalCord', 40);
    expectAll('Breast_R', 20);
    const values = new Set(p.hu);
    for (const v of [-1000, -100, 40, 700]) expect(values.has(v), String(v)).toBe(true);
  });

  it('rejects invalid specs and grids', () => {
    expect(() => generatePhantom({ ...BASE, size: 3 }, GRID)).toThrow(/size/);
    expect(() => generatePhantom({ ...BASE, breathing: -0.1 }, GRID)).toThrow(/breathing/);
    expect(() => generatePhantom(BASE, { ...GRID, dims: [10, 10, 0] })).toThrow(/dims/);
  });
});

describe('renderCt', () => {
  function uniformPhantom(
    value: number,
    dims: [number, number, number],
    spacingMm: [number, number, number],
  ): Phantom {
    const hu = new Float32Array(dims[0] * dims[1] * dims[2]).fill(value);
    return { grid: { dims, spacingMm, originLps: [0, 0, 0] }, structures: [], hu };
  }

  it('adds Gaussian noise of the requested SD and the HU offset', () => {
    const flat = uniformPhantom(0, [64, 64, 16], [1, 1, 2]);
    const ct = renderCt(flat, { noiseHu: 25, blurMm: 0, huOffset: 30 }, 9);
    const { mean, sd } = meanSd(ct, () => true);
    expect(Math.abs(mean - 30)).toBeLessThan(1);
    expect(sd).toBeGreaterThan(25 * 0.8);
    expect(sd).toBeLessThan(25 * 1.2);
    expect(Math.abs(sd - 25)).toBeLessThan(1);
  });

  it('has the noise SD inside the phantom heart', () => {
    const p = phantom();
    const heart = mask(p, 'Heart');
    const ct = renderCt(p, { noiseHu: 12, blurMm: 0, huOffset: -5 }, 3);
    const { mean, sd, n } = meanSd(ct, (i) => heart[i] === 1 && p.hu[i] === 45);
    expect(n).toBeGreaterThan(10000);
    expect(Math.abs(mean - 40)).toBeLessThan(0.5);
    expect(sd).toBeGreaterThan(12 * 0.8);
    expect(sd).toBeLessThan(12 * 1.2);
  });

  it('is deterministic in its seed', () => {
    const flat = uniformPhantom(10, [16, 16, 4], [1, 1, 1]);
    const scanner = { noiseHu: 10, blurMm: 1, huOffset: 0 };
    expect(firstDifference(renderCt(flat, scanner, 1), renderCt(flat, scanner, 1))).toBe(-1);
    expect(firstDifference(renderCt(flat, scanner, 1), renderCt(flat, scanner, 2))).toBeGreaterThanOrEqual(0);
  });

  it('clamps to [-1024, 3071]', () => {
    const p = uniformPhantom(0, [4, 4, 2], [1, 1, 1]);
    p.hu.fill(5000, 0, 16);
    p.hu.fill(-3000, 16);
    const ct = renderCt(p, { noiseHu: 0, blurMm: 0, huOffset: 0 }, 1);
    expect(Array.from(ct.slice(0, 16)).every((v) => v === 3071)).toBe(true);
    expect(Array.from(ct.slice(16)).every((v) => v === -1024)).toBe(true);
    const shifted = renderCt(
      uniformPhantom(-1000, [4, 4, 2], [1, 1, 1]),
      { noiseHu: 0, blurMm: 0, huOffset: -100 },
      1,
    );
    expect(Array.from(shifted).every((v) => v === -1024)).toBe(true);
  });

  it('blurs with an anisotropic Gaussian of sigma blurMm (in voxels: blurMm / spacing)', () => {
    const dims: [number, number, number] = [33, 33, 17];
    const p = uniformPhantom(0, dims, [1, 1, 2]);
    const centre = 16 + 33 * (16 + 33 * 8);
    p.hu[centre] = 3000;
    const ct = renderCt(p, { noiseHu: 0, blurMm: 2, huOffset: 0 }, 1);
    let sum = 0;
    const m2 = [0, 0, 0];
    for (let n = 0; n < ct.length; n++) {
      if (ct[n] === 0) continue;
      const i = n % 33;
      const j = Math.floor(n / 33) % 33;
      const k = Math.floor(n / (33 * 33));
      sum += ct[n];
      m2[0] += ct[n] * (i - 16) ** 2;
      m2[1] += ct[n] * (j - 16) ** 2;
      m2[2] += ct[n] * (k - 8) ** 2;
    }
    expect(Math.abs(sum - 3000)).toBeLessThan(150);
    // variance in voxels²: sigma_x = sigma_y = 2 voxels, sigma_z = 1 voxel
    expect(m2[0] / sum).toBeCloseTo(4, 0);
    expect(m2[1] / sum).toBeCloseTo(4, 0);
    expect(m2[2] / sum).toBeCloseTo(1, 0);
    expect(ct[centre]).toBeLessThan(100);
  });
});
