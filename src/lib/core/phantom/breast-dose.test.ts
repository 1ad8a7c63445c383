import { describe, expect, it } from 'vitest';
import { CONVENTIONAL, generateBreastDose, HYPOFRACTIONATED, type BreastDose } from './breast-dose';
import { defaultPhantomGrid, generatePhantom, type Phantom, type PhantomSpec } from './breast-phantom';

const GRID = defaultPhantomGrid([2, 2, 3], 460);

const LEFT_BREAST: PhantomSpec = {
  seed: 1234,
  laterality: 'left',
  surgery: 'breast_conserving',
  tumourBed: 'clips',
  nodal: false,
  size: 1,
  breathing: 0.5,
};
const LEFT_CHESTWALL_NODAL: PhantomSpec = {
  ...LEFT_BREAST,
  seed: 98765,
  surgery: 'mastectomy',
  tumourBed: 'none',
  nodal: true,
  size: 0.95,
};
const RIGHT_BREAST: PhantomSpec = { ...LEFT_BREAST, seed: 4242, laterality: 'right', breathing: 0.2 };

const cache = new Map<PhantomSpec, { phantom: Phantom; plan: BreastDose }>();
function planned(spec: PhantomSpec, prescription = HYPOFRACTIONATED) {
  let entry = cache.get(spec);
  if (!entry) {
    const phantom = generatePhantom(spec, GRID);
    entry = { phantom, plan: generateBreastDose(phantom, spec, prescription) };
    cache.set(spec, entry);
  }
  return entry;
}

/** Trilinear dose (Gy) at a point in LPS mm; 0 beyond the dose grid. */
function doseAt(plan: BreastDose, x: number, y: number, z: number): number {
  const { dims, spacingMm, originLps } = plan.grid;
  const f = [
    (x - originLps[0]) / spacingMm[0],
    (y - originLps[1]) / spacingMm[1],
    (z - originLps[2]) / spacingMm[2],
  ];
  const base = f.map(Math.floor);
  let value = 0;
  for (let c = 0; c < 8; c++) {
    const corner = [base[0] + (c & 1), base[1] + ((c >> 1) & 1), base[2] + ((c >> 2) & 1)];
    if (corner.some((v, a) => v < 0 || v >= dims[a])) continue;
    const weight = corner.reduce((w, v, a) => w * (1 - Math.abs(f[a] - v)), 1);
    value += weight * plan.dose.data[corner[0] + dims[0] * (corner[1] + dims[1] * corner[2])];
  }
  return value;
}

/** Dose at the centre of every voxel of a structure, ascending. */
function structureDoses(phantom: Phantom, plan: BreastDose, name: string): Float64Array {
  const structure = phantom.structures.find((s) => s.tg263Name === name);
  if (!structure) throw new Error(`no ${name}`);
  const { dims, spacingMm, originLps } = phantom.grid;
  const values: number[] = [];
  for (let n = 0; n < structure.mask.length; n++) {
    if (structure.mask[n] === 0) continue;
    const i = n % dims[0];
    const j = Math.floor(n / dims[0]) % dims[1];
    const k = Math.floor(n / (dims[0] * dims[1]));
    values.push(
      doseAt(
        plan,
        originLps[0] + i * spacingMm[0],
        originLps[1] + j * spacingMm[1],
        originLps[2] + k * spacingMm[2],
      ),
    );
  }
  return Float64Array.from(values).sort();
}

/** D_v: the smallest dose of the hottest v % of the volume. */
const dAt = (sorted: Float64Array, percent: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((1 - percent / 100) * sorted.length))];
const mean = (values: Float64Array) => values.reduce((a, b) => a + b, 0) / values.length;
const volumeAbove = (values: Float64Array, gy: number) =>
  (100 * values.filter((v) => v >= gy).length) / values.length;

describe('generateBreastDose', () => {
  it('covers a left breast CTV within 95-108 % and keeps the heart, lungs and other breast low', () => {
    const { phantom, plan } = planned(LEFT_BREAST);
    const rx = plan.prescriptionGy;
    const ctv = structureDoses(phantom, plan, 'CTV_Breast_L');
    expect(dAt(ctv, 95) / rx).toBeGreaterThanOrEqual(0.95);
    expect(dAt(ctv, 2) / rx).toBeLessThanOrEqual(1.08);
    const heart = mean(structureDoses(phantom, plan, 'Heart'));
    expect(heart).toBeGreaterThanOrEqual(0.5);
    expect(heart).toBeLessThanOrEqual(5);
    expect(mean(structureDoses(phantom, plan, 'Breast_R')) / rx).toBeLessThan(0.03);
    expect(mean(structureDoses(phantom, plan, 'Lung_R')) / rx).toBeLessThan(0.03);
    expect(volumeAbove(structureDoses(phantom, plan, 'Lung_L'), 20)).toBeLessThan(20);
    expect(plan.beams.map((b) => b.name)).toEqual(['Tangent medial', 'Tangent lateral']);
    expect(plan.junctionZMm).toBeNull();
  });

  it('aims the tangents from the medial and lateral side of the treated breast (IEC gantry angles)', () => {
    const left = planned(LEFT_BREAST).plan.beams;
    expect(left[0].gantryDeg).toBeGreaterThan(280);
    expect(left[0].gantryDeg).toBeLessThan(340);
    expect((left[0].gantryDeg - left[1].gantryDeg + 360) % 360).toBeCloseTo(180, 5);
    const right = planned(RIGHT_BREAST).plan.beams;
    expect(right[0].gantryDeg).toBeGreaterThan(20);
    expect(right[0].gantryDeg).toBeLessThan(80);
  });

  it('spares the heart of a right-sided case and covers its CTV', () => {
    const { phantom, plan } = planned(RIGHT_BREAST);
    const ctv = structureDoses(phantom, plan, 'CTV_Breast_R');
    expect(dAt(ctv, 95) / plan.prescriptionGy).toBeGreaterThanOrEqual(0.95);
    expect(dAt(ctv, 2) / plan.prescriptionGy).toBeLessThanOrEqual(1.08);
    expect(mean(structureDoses(phantom, plan, 'Heart'))).toBeLessThan(1.5);
    expect(mean(structureDoses(phantom, plan, 'Breast_L')) / plan.prescriptionGy).toBeLessThan(0.03);
  });

  it('adds a matched anterior nodal field for a nodal chest-wall case', () => {
    const { phantom, plan } = planned(LEFT_CHESTWALL_NODAL);
    const rx = plan.prescriptionGy;
    expect(plan.beams.map((b) => b.name)).toEqual(['Tangent medial', 'Tangent lateral', 'Nodal anterior']);
    // angled 15 degrees away from the spinal cord: gantry 345 for a left-sided field
    expect(plan.beams[2].gantryDeg).toBeCloseTo(345, 5);
    expect(plan.junctionZMm).not.toBeNull();
    const ctv = structureDoses(phantom, plan, 'CTV_Chestwall_L');
    expect(dAt(ctv, 95) / rx).toBeGreaterThanOrEqual(0.95);
    expect(dAt(ctv, 2) / rx).toBeLessThanOrEqual(1.08);
    for (const level of ['Ax_L2', 'Ax_L3']) {
      const nodes = structureDoses(phantom, plan, `CTVn_LN_${level}_L`);
      expect(dAt(nodes, 50) / rx, level).toBeGreaterThan(0.95);
      expect(dAt(nodes, 50) / rx, level).toBeLessThan(1.15);
    }
    // the junction is matched: no band of over- or underdose across it inside the body
    expect(plan.dose.data.reduce((a, b) => Math.max(a, b), 0) / rx).toBeLessThan(1.2);
    const heart = mean(structureDoses(phantom, plan, 'Heart'));
    expect(heart).toBeGreaterThanOrEqual(0.5);
    expect(heart).toBeLessThanOrEqual(5);
    // a low mean with a high-dose tail: the part of the heart behind the chest wall that stays in the field
    expect(dAt(structureDoses(phantom, plan, 'Heart'), 2)).toBeGreaterThan(3 * heart);
  });

  it('puts no dose outside External', () => {
    const { phantom, plan } = planned(LEFT_CHESTWALL_NODAL);
    const external = phantom.structures.find((s) => s.tg263Name === 'External')!.mask;
    const ct = phantom.grid;
    const { dims, spacingMm, originLps } = plan.grid;
    let outside = 0;
    let nonZero = 0;
    for (let k = 0; k < dims[2]; k++) {
      for (let j = 0; j < dims[1]; j++) {
        for (let i = 0; i < dims[0]; i++) {
          const c = [i, j, k].map((v, a) =>
            Math.round((originLps[a] + v * spacingMm[a] - ct.originLps[a]) / ct.spacingMm[a]),
          );
          const inside =
            c.every((v, a) => v >= 0 && v < ct.dims[a]) &&
            external[c[0] + ct.dims[0] * (c[1] + ct.dims[1] * c[2])] !== 0;
          if (inside) continue;
          outside++;
          if (plan.dose.data[i + dims[0] * (j + dims[1] * k)] !== 0) nonZero++;
        }
      }
    }
    expect(outside).toBeGreaterThan(1000);
    expect(nonZero).toBe(0);
  });

  it('builds up under the skin where a tangent enters', () => {
    const { phantom, plan } = planned(LEFT_BREAST);
    const { dims, spacingMm, originLps } = plan.grid;
    const ctv = phantom.structures.find((s) => s.tg263Name === 'CTV_Breast_L')!.mask;
    const ct = phantom.grid;
    // the CTV's centroid, then back along the medial beam to where its ray enters the body
    const centroid = [0, 0, 0];
    let count = 0;
    for (let n = 0; n < ctv.length; n++) {
      if (ctv[n] === 0) continue;
      const ijk = [
        n % ct.dims[0],
        Math.floor(n / ct.dims[0]) % ct.dims[1],
        Math.floor(n / (ct.dims[0] * ct.dims[1])),
      ];
      ijk.forEach((v, a) => (centroid[a] += ct.originLps[a] + v * ct.spacingMm[a]));
      count++;
    }
    const start = centroid.map((v) => v / count);
    const u = plan.beams[0].directionLps;
    const doseOnRay = (depthMm: number) => {
      const p = start.map((v, a) => v + depthMm * u[a]);
      const index = p.map((v, a) => Math.round((v - originLps[a]) / spacingMm[a]));
      return plan.dose.data[index[0] + dims[0] * (index[1] + dims[1] * index[2])];
    };
    let entry = 0;
    while (doseOnRay(entry - 0.5) > 0) entry -= 0.5;
    const along = Array.from({ length: 60 }, (_, m) => doseOnRay(entry + m * 0.5));
    const peak = Math.max(...along);
    expect(along[0] / peak).toBeGreaterThan(0.4);
    expect(along[0] / peak).toBeLessThan(0.85);
    // at 15 mm and beyond (samples 30 on) the dose is built up
    expect(Math.min(...along.slice(30)) / peak).toBeGreaterThan(0.95);
  });

  it('is deterministic in the case seed and scales with the prescription', () => {
    const phantom = planned(LEFT_BREAST).phantom;
    const a = generateBreastDose(phantom, LEFT_BREAST, HYPOFRACTIONATED);
    const b = generateBreastDose(phantom, LEFT_BREAST, HYPOFRACTIONATED);
    expect(Buffer.from(a.dose.data.buffer).equals(Buffer.from(b.dose.data.buffer))).toBe(true);
    const other = generateBreastDose(
      phantom,
      { ...LEFT_BREAST, seed: LEFT_BREAST.seed + 1 },
      HYPOFRACTIONATED,
    );
    expect(Buffer.from(other.dose.data.buffer).equals(Buffer.from(a.dose.data.buffer))).toBe(false);
    const conventional = generateBreastDose(phantom, LEFT_BREAST, CONVENTIONAL);
    expect(conventional).toMatchObject({ prescriptionGy: 50, fractions: 25 });
    const n = a.dose.data.findIndex((v) => v > 30);
    expect(conventional.dose.data[n] / a.dose.data[n]).toBeCloseTo(50 / 40.05, 4);
  });

  it('refuses a missing target or a meaningless prescription', () => {
    const phantom = planned(LEFT_BREAST).phantom;
    expect(() => generateBreastDose(phantom, LEFT_BREAST, { prescriptionGy: 0, fractions: 15 })).toThrow(
      /prescription/,
    );
    expect(() => generateBreastDose(phantom, LEFT_BREAST, { prescriptionGy: 40, fractions: 1.5 })).toThrow(
      /fractions/,
    );
    expect(() =>
      generateBreastDose(phantom, { ...LEFT_BREAST, laterality: 'right' }, HYPOFRACTIONATED),
    ).toThrow(/CTV_Breast_R/);
    expect(() =>
      generateBreastDose(phantom, LEFT_BREAST, HYPOFRACTIONATED, { spacingMm: [2.5, 0, 2.5] }),
    ).toThrow(/spacing/);
  });
});
