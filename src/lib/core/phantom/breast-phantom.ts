/**
 * A deterministic synthetic thorax phantom for post-operative breast radiotherapy: structure masks and a
 * noise-free HU image on an axial grid, plus a simple CT rendering (blur, noise, offset). Used to test the
 * QA pipeline end to end without patient data.
 *
 * Coordinates are DICOM LPS in mm (x to the patient's left, y posterior, z superior), patient supine and
 * head first. The anatomy is modelled in a reference frame (patient size 1, sternal notch at the origin,
 * body axis on x = y = 0) and every voxel centre is mapped into it by
 * `ref = (p - t) / size + d(p)`, where t is a small random translation and d a smooth random deformation
 * made of low-frequency sinusoids, each a function of one coordinate, so the map is separable and costs
 * nine table look-ups per voxel.
 */
import { AppError } from '../errors';
import type { Vec3 } from '../volume/volume';
import { mulberry32 } from './random';

/** What to generate. Every random choice derives from `seed`; the same spec always gives the same phantom. */
export interface PhantomSpec {
  /** everything random derives from it (mulberry32) */
  seed: number;
  /** treated side */
  laterality: 'left' | 'right';
  surgery: 'breast_conserving' | 'mastectomy';
  /** only meaningful for breast_conserving; 'none' gives no tumour-bed structure */
  tumourBed: 'none' | 'clips' | 'seroma';
  /** whether nodal CTVs are present (axillary L1-L3, supraclavicular, internal mammary) */
  nodal: boolean;
  /** patient size scale, about 0.85 .. 1.15 (1 = the reference anatomy) */
  size: number;
  /** breathing state 0 (exhale) .. 1 (inhale): lungs larger, diaphragm and heart lower */
  breathing: number;
}

/**
 * An axial, axis-aligned grid: LPS axes along i, j, k (k = superior), head-first supine. Voxel (i, j, k) has
 * its centre at `originLps + (i, j, k) * spacingMm` (mm) and index `i + nx * (j + ny * k)`.
 */
export interface PhantomGrid {
  dims: Vec3;
  spacingMm: Vec3;
  originLps: Vec3;
}

/** One structure: a TG-263 name (see TG263_STRUCTURES) and a 0/1 mask on the phantom grid, i fastest. */
export interface PhantomStructure {
  tg263Name: string;
  mask: Uint8Array;
}

/** A generated phantom: its grid, its structures (External first) and the HU image without noise or blur. */
export interface Phantom {
  grid: PhantomGrid;
  structures: PhantomStructure[];
  /** HU without noise or blur, same layout as the masks */
  hu: Float32Array;
}

/** HU values of the phantom's tissues. */
const HU_AIR = -1000;
const HU_LUNG = -850;
const HU_FAT = -100;
const HU_GLAND = 20;
const HU_SOFT = 40;
const HU_HEART = 45;
const HU_BONE = 700;
const HU_FLUID = 15;
const HU_CLIP = 2500;

/** Lowest and highest values a 12-bit CT stores (HU). */
const CT_MIN = -1024;
const CT_MAX = 3071;

/** Reference z of the sternal notch is 0; the default grid spans this range (mm, reference frame). */
const GRID_TOP_Z = 20;
const GRID_BOTTOM_Z = -245;

/** An axis-aligned ellipsoid in the reference frame (mm). */
interface Ellipsoid {
  cx: number;
  cy: number;
  cz: number;
  rx: number;
  ry: number;
  rz: number;
}

/** The patient's reference anatomy: every dimension in mm, drawn once from the seed. */
interface Anatomy {
  bodyA: number;
  bodyB: number;
  muscleA: number;
  muscleB: number;
  ribInA: number;
  ribInB: number;
  ribOutA: number;
  ribOutB: number;
  cavA: number;
  cavB: number;
  ribPeriod: number;
  ribWidth: number;
  ribPhase: number;
  treatedBreast: Ellipsoid;
  contraBreast: Ellipsoid;
  heart: Ellipsoid;
  heartCos: number;
  heartSin: number;
  lungL: Ellipsoid;
  lungR: Ellipsoid;
  vbY: number;
  vbR: number;
  canalY: number;
  canalR: number;
  cordR: number;
  postR: number;
  escX0: number;
  escSlope: number;
  escY: number;
  escR: number;
  trachY: number;
  trachR: number;
  trachBottom: number;
  sternY: number;
  sternHalfW: number;
  sternHalfT: number;
  sternTop: number;
  sternBottom: number;
  clavZ0: number;
  clavSlope: number;
  clavR: number;
  tumourBed: Ellipsoid;
  chestWall: Ellipsoid;
  ax1: Ellipsoid;
  ax2: Ellipsoid;
  ax3: Ellipsoid;
  sclav: Ellipsoid;
  imnX0: number;
  imnX1: number;
  imnY0: number;
  imnY1: number;
  imnZ0: number;
  imnZ1: number;
}

function drawAnatomy(spec: PhantomSpec, uniform: () => number): Anatomy {
  const u = (lo: number, hi: number): number => lo + (hi - lo) * uniform();
  const s = spec.laterality === 'left' ? 1 : -1;
  const b = spec.breathing;

  const cavA = 138 * u(0.94, 1.06);
  const cavB = 88 * u(0.93, 1.07);
  const muscleA = cavA + u(17, 23);
  const muscleB = cavB + u(17, 23);
  const fat = u(10, 24);
  const bodyA = muscleA + fat;
  const bodyB = muscleB + fat;

  const breast = (side: number, scale: number): Ellipsoid => {
    const x = side * u(92, 108);
    const rx = 75 * scale * u(0.9, 1.1);
    const ry = 55 * scale * u(0.8, 1.2);
    const rz = 65 * scale * u(0.9, 1.1);
    const surfaceY = -muscleB * Math.sqrt(Math.max(0, 1 - (x / muscleA) ** 2));
    return { cx: x + side * u(0, 8), cy: surfaceY + u(0, 6), cz: -130 + u(-10, 10), rx, ry, rz };
  };
  const size = u(0.88, 1.12);
  const treatedBreast = breast(s, size * (spec.surgery === 'breast_conserving' ? 0.95 : 1));
  const contraBreast = breast(-s, size * u(0.95, 1.05));

  const heartAngle = (u(28, 42) * Math.PI) / 180;
  // the heart grows with the square root of patient size (the frame scales everything by size)
  const heartScale = 1 / Math.sqrt(spec.size);
  const heart: Ellipsoid = {
    cx: 30 + u(-5, 5),
    cy: -38 + u(-4, 4),
    cz: -128 - 12 * b + u(-6, 6),
    rx: 60 * heartScale * u(0.95, 1.05),
    ry: 44 * heartScale * u(0.95, 1.05),
    rz: 54 * heartScale * u(0.95, 1.05),
  };

  const lung = (side: number): Ellipsoid => ({
    cx: side * 70 * (cavA / 138),
    cy: 5,
    // cz is the base of the upper half-ellipsoid, rz its height up to the apex
    cz: -178 - 15 * b + u(-6, 6),
    rx: (side > 0 ? 60 : 63) * (cavA / 138) * u(0.95, 1.05) + 4 * b,
    ry: 80 * (cavB / 88) * u(0.95, 1.05) + 4 * b,
    rz: 200 + 15 * b + u(-8, 8),
  });

  const tumourBed: Ellipsoid = {
    cx: treatedBreast.cx + s * u(-20, 20),
    cy: treatedBreast.cy - u(15, 30),
    cz: treatedBreast.cz + u(-18, 18),
    rx: u(10, 16),
    ry: u(8, 13),
    rz: u(10, 16),
  };

  return {
    bodyA,
    bodyB,
    muscleA,
    muscleB,
    ribInA: cavA + 3,
    ribInB: cavB + 3,
    ribOutA: cavA + 11,
    ribOutB: cavB + 11,
    cavA,
    cavB,
    ribPeriod: u(22, 26),
    ribWidth: u(8, 10),
    ribPhase: u(0, 20),
    treatedBreast,
    contraBreast,
    heart,
    heartCos: Math.cos(heartAngle),
    heartSin: Math.sin(heartAngle),
    lungL: lung(1),
    lungR: lung(-1),
    vbY: 50,
    vbR: 19 * u(0.92, 1.08),
    canalY: 82,
    canalR: 8,
    cordR: 5,
    postR: 15,
    escX0: 3 + u(-3, 3),
    escSlope: 0.06,
    escY: 18,
    escR: 6.5,
    trachY: -5,
    trachR: 9,
    trachBottom: -60 + u(-5, 5),
    sternY: -94,
    sternHalfW: 17 * u(0.9, 1.1),
    sternHalfT: 8,
    sternTop: 2,
    sternBottom: -172 + u(-8, 8),
    clavZ0: -8 + u(-3, 3),
    clavSlope: 0.1,
    clavR: 6,
    tumourBed,
    chestWall: { cx: treatedBreast.cx, cy: 0, cz: treatedBreast.cz, rx: 85, ry: 1, rz: 75 },
    ax1: { cx: s * 158, cy: -25 + u(-5, 5), cz: -80 + u(-6, 6), rx: 14, ry: 30, rz: 35 },
    ax2: { cx: s * 125, cy: -55 + u(-4, 4), cz: -45 + u(-5, 5), rx: 16, ry: 18, rz: 22 },
    ax3: { cx: s * 85, cy: -85, cz: -18 + u(-4, 4), rx: 22, ry: 12, rz: 14 },
    sclav: { cx: s * 55 + s * u(-5, 5), cy: -60, cz: 12, rx: 25, ry: 18, rz: 10 },
    imnX0: 22,
    imnX1: 35,
    imnY0: -92,
    imnY1: -80,
    imnZ0: -95,
    imnZ1: -5,
  };
}

/**
 * The tables of the voxel-to-reference map: reference coordinate c of voxel (i, j, k) is
 * `t[c][0][i] + t[c][1][j] + t[c][2][k]`. Each output axis gets two sinusoids per input axis (amplitude
 * 0.8-2.5 mm, wavelength 120-400 mm) from the seed.
 */
function referenceTables(grid: PhantomGrid, size: number, uniform: () => number): Float64Array[][] {
  const u = (lo: number, hi: number): number => lo + (hi - lo) * uniform();
  const shift = [u(-10, 10), u(-10, 10), u(-8, 8)];
  const tables: Float64Array[][] = [];
  for (let c = 0; c < 3; c++) {
    const row: Float64Array[] = [];
    for (let a = 0; a < 3; a++) {
      const n = grid.dims[a];
      const table = new Float64Array(n);
      const terms: number[] = [];
      for (let t = 0; t < 2; t++) terms.push(u(0.8, 2.5), (2 * Math.PI) / u(120, 400), u(0, 2 * Math.PI));
      for (let m = 0; m < n; m++) {
        const p = grid.originLps[a] + m * grid.spacingMm[a];
        let value = c === a ? (p - shift[a]) / size : 0;
        for (let t = 0; t < terms.length; t += 3)
          value += terms[t] * Math.sin(terms[t + 1] * p + terms[t + 2]);
        table[m] = value;
      }
      row.push(table);
    }
    tables.push(row);
  }
  return tables;
}

function sideSuffix(side: 'left' | 'right'): string {
  return side === 'left' ? 'L' : 'R';
}

function checkInputs(spec: PhantomSpec, grid: PhantomGrid): void {
  if (!Number.isFinite(spec.seed)) throw new AppError('INVALID_ARGUMENT', `phantom seed must be finite`);
  if (!(spec.size >= 0.5 && spec.size <= 1.5)) {
    throw new AppError('INVALID_ARGUMENT', `phantom size ${spec.size} is outside 0.5 .. 1.5`);
  }
  if (!(spec.breathing >= 0 && spec.breathing <= 1)) {
    throw new AppError('INVALID_ARGUMENT', `phantom breathing ${spec.breathing} is outside 0 .. 1`);
  }
  for (let a = 0; a < 3; a++) {
    if (!Number.isInteger(grid.dims[a]) || grid.dims[a] < 1) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `phantom grid dims ${grid.dims.join('x')} must be positive integers`,
      );
    }
    if (!(grid.spacingMm[a] > 0) || !Number.isFinite(grid.spacingMm[a])) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `phantom grid spacing ${grid.spacingMm.join(' x ')} mm must be > 0`,
      );
    }
    if (!Number.isFinite(grid.originLps[a])) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `phantom grid origin ${grid.originLps.join(', ')} must be finite`,
      );
    }
  }
}

/**
 * Generates the phantom of `spec` on `grid`: External, Lung_L, Lung_R, Heart, A_LAD, SpinalCanal,
 * SpinalCord, Esophagus, Sternum, the contralateral breast (Breast_L/R), the target CTV_Breast_<side> or
 * (mastectomy) CTV_Chestwall_<side>, CTV_TumorBed_<side> (breast conserving with clips or seroma) and, when
 * `nodal`, CTVn_LN_Ax_L1/L2/L3, CTVn_LN_Sclav and CTVn_LN_IMN of the treated side. Masks are 0/1 and every
 * structure lies inside External; lungs, heart, bones, spine and oesophagus never overlap. HU: air -1000,
 * lung -850, fat -100, glandular breast 20, soft tissue 40, heart 45, bone 700, seroma 15, clips 2500
 * (3-5 voxels on the tumour-bed surface, in `hu` only). Deterministic in `spec`; the heart stays on the
 * patient's left for either laterality (only treated-side structures mirror). Throws INVALID_ARGUMENT for
 * a non-finite seed, size outside 0.5-1.5, breathing outside 0-1 or a malformed grid.
 */
export function generatePhantom(spec: PhantomSpec, grid: PhantomGrid): Phantom {
  checkInputs(spec, grid);
  const uniform = mulberry32(spec.seed);
  const an = drawAnatomy(spec, uniform);
  const tables = referenceTables(grid, spec.size, uniform);
  const [nx, ny, nz] = grid.dims;
  const n = nx * ny * nz;
  const s = spec.laterality === 'left' ? 1 : -1;
  const side = sideSuffix(spec.laterality);
  const contraSide = sideSuffix(spec.laterality === 'left' ? 'right' : 'left');
  const mastectomy = spec.surgery === 'mastectomy';
  const hasBed = !mastectomy && spec.tumourBed !== 'none';
  const seroma = hasBed && spec.tumourBed === 'seroma';
  const nodal = spec.nodal;

  const hu = new Float32Array(n);
  const external = new Uint8Array(n);
  const lungL = new Uint8Array(n);
  const lungR = new Uint8Array(n);
  const heart = new Uint8Array(n);
  const lad = new Uint8Array(n);
  const canal = new Uint8Array(n);
  const cord = new Uint8Array(n);
  const eso = new Uint8Array(n);
  const sternum = new Uint8Array(n);
  const contraBreast = new Uint8Array(n);
  const target = new Uint8Array(n);
  const bed = new Uint8Array(hasBed ? n : 0);
  const ax1 = new Uint8Array(nodal ? n : 0);
  const ax2 = new Uint8Array(nodal ? n : 0);
  const ax3 = new Uint8Array(nodal ? n : 0);
  const sclav = new Uint8Array(nodal ? n : 0);
  const imn = new Uint8Array(nodal ? n : 0);

  const [xi, xj, xk] = tables[0];
  const [yi, yj, yk] = tables[1];
  const [zi, zj, zk] = tables[2];

  // squared reciprocals of the body-section ellipses
  const bodyA2 = 1 / (an.bodyA * an.bodyA);
  const bodyB2 = 1 / (an.bodyB * an.bodyB);
  const skinA2 = 1 / ((an.bodyA - 5) * (an.bodyA - 5));
  const skinB2 = 1 / ((an.bodyB - 5) * (an.bodyB - 5));
  const nodeSkinA2 = 1 / ((an.bodyA - 4) * (an.bodyA - 4));
  const nodeSkinB2 = 1 / ((an.bodyB - 4) * (an.bodyB - 4));
  const musA2 = 1 / (an.muscleA * an.muscleA);
  const musB2 = 1 / (an.muscleB * an.muscleB);
  const fasA2 = 1 / ((an.muscleA + 3) * (an.muscleA + 3));
  const fasB2 = 1 / ((an.muscleB + 3) * (an.muscleB + 3));
  const riA2 = 1 / (an.ribInA * an.ribInA);
  const riB2 = 1 / (an.ribInB * an.ribInB);
  const roA2 = 1 / (an.ribOutA * an.ribOutA);
  const roB2 = 1 / (an.ribOutB * an.ribOutB);
  const cavA2 = 1 / (an.cavA * an.cavA);
  const cavB2 = 1 / (an.cavB * an.cavB);
  const pleA2 = 1 / ((an.cavA - 2) * (an.cavA - 2));
  const pleB2 = 1 / ((an.cavB - 2) * (an.cavB - 2));

  const tb = an.treatedBreast;
  const cb = an.contraBreast;
  const tbx = tb.cx;
  const tby = tb.cy;
  const tbz = tb.cz;
  const tbRx = 1 / tb.rx;
  const tbRy = 1 / tb.ry;
  const tbRz = 1 / tb.rz;
  const tgRx = 1 / (tb.rx - 5);
  const tgRy = 1 / (tb.ry - 5);
  const tgRz = 1 / (tb.rz - 5);
  const cbx = cb.cx;
  const cby = cb.cy;
  const cbz = cb.cz;
  const cbRx = 1 / cb.rx;
  const cbRy = 1 / cb.ry;
  const cbRz = 1 / cb.rz;
  const cgRx = 1 / (cb.rx - 5);
  const cgRy = 1 / (cb.ry - 5);
  const cgRz = 1 / (cb.rz - 5);

  const h = an.heart;
  const hCos = an.heartCos;
  const hSin = an.heartSin;
  const hRu = 1 / h.rx;
  const hRv = 1 / h.ry;
  const hRw = 1 / h.rz;
  const heRu = 1 / (h.rx + 4);
  const heRv = 1 / (h.ry + 4);
  const heRw = 1 / (h.rz + 4);
  const ladR2 = 2.5 * 2.5;

  const vbR2 = an.vbR * an.vbR;
  const vbX2 = (an.vbR + 3) * (an.vbR + 3);
  const canalR2 = an.canalR * an.canalR;
  const cordR2 = an.cordR * an.cordR;
  const postR2 = an.postR * an.postR;
  const escR2 = an.escR * an.escR;
  const escX2 = (an.escR + 2) * (an.escR + 2);
  const trachR2 = an.trachR * an.trachR;
  const trachX2 = (an.trachR + 2) * (an.trachR + 2);
  const clavR2 = an.clavR * an.clavR;
  const stRx = 1 / an.sternHalfW;
  const stRy = 1 / an.sternHalfT;

  const lL = an.lungL;
  const lR = an.lungR;
  const DOME_UP = 20;
  const DOME_DROP = 45;
  const LUNG_FLOOR = 30;

  const bedE = an.tumourBed;
  const cw = an.chestWall;
  const a1 = an.ax1;
  const a2 = an.ax2;
  const a3 = an.ax3;
  const sc = an.sclav;

  const bedMin = [nx, ny, nz];
  const bedMax = [-1, -1, -1];

  for (let k = 0; k < nz; k++) {
    const xK = xk[k];
    const yK = yk[k];
    const zK = zk[k];
    for (let j = 0; j < ny; j++) {
      const xJK = xK + xj[j];
      const yJK = yK + yj[j];
      const zJK = zK + zj[j];
      const row = nx * (j + ny * k);
      for (let i = 0; i < nx; i++) {
        const idx = row + i;
        const x = xJK + xi[i];
        const y = yJK + yi[i];
        const z = zJK + zi[i];

        const eBody = x * x * bodyA2 + y * y * bodyB2;
        let qT = 2;
        let qC = 2;
        if (y < 0) {
          const dxT = (x - tbx) * tbRx;
          const dyT = (y - tby) * tbRy;
          const dzT = (z - tbz) * tbRz;
          if (!mastectomy) qT = dxT * dxT + dyT * dyT + dzT * dzT;
          const dxC = (x - cbx) * cbRx;
          const dyC = (y - cby) * cbRy;
          const dzC = (z - cbz) * cbRz;
          qC = dxC * dxC + dyC * dyC + dzC * dzC;
        }
        if (eBody > 1 && qT > 1 && qC > 1) {
          hu[idx] = HU_AIR;
          continue;
        }
        external[idx] = 1;
        let value = HU_FAT;

        const eMus = x * x * musA2 + y * y * musB2;
        const eCav = x * x * cavA2 + y * y * cavB2;
        const eRibOut = x * x * roA2 + y * y * roB2;
        const ax = x < 0 ? -x : x;
        if (eMus <= 1) value = HU_SOFT;
        // ribs: arcs between the inner and outer rib ellipses, periodic in z, lower anteriorly
        let rib = false;
        if (eRibOut <= 1 && x * x * riA2 + y * y * riB2 > 1 && ax > 25 && z < 10 && z > -235) {
          const phase = z - 0.3 * y + an.ribPhase;
          const r = phase - an.ribPeriod * Math.floor(phase / an.ribPeriod);
          if (r < an.ribWidth) {
            value = HU_BONE;
            rib = true;
          }
        }
        if (eCav <= 1) value = HU_SOFT;

        // solid organs, in priority order; `claimed` keeps the lungs out
        let claimed = false;
        let nearOrgan = false;
        const dVb = x * x + (y - an.vbY) * (y - an.vbY);
        const dCanal = x * x + (y - an.canalY) * (y - an.canalY);
        const escX = an.escX0 - an.escSlope * z;
        const dEsc = (x - escX) * (x - escX) + (y - an.escY) * (y - an.escY);
        const dTr = x * x + (y - an.trachY) * (y - an.trachY);
        if (dCanal <= canalR2) {
          canal[idx] = 1;
          claimed = true;
          if (dCanal <= cordR2) {
            cord[idx] = 1;
            value = HU_SOFT;
          } else {
            value = HU_FLUID;
          }
        } else if (dVb <= vbR2 || dCanal <= postR2 || (ax <= 8 && y >= an.vbY && y <= an.canalY)) {
          value = HU_BONE;
          claimed = true;
        } else if (z >= an.trachBottom && dTr <= trachR2) {
          value = HU_AIR;
          claimed = true;
        } else if (dEsc <= escR2) {
          eso[idx] = 1;
          value = HU_SOFT;
          claimed = true;
        } else if (z <= an.sternTop && z >= an.sternBottom) {
          const sx = x * stRx;
          const sy = (y - an.sternY) * stRy;
          if (sx * sx + sy * sy <= 1) {
            sternum[idx] = 1;
            value = HU_BONE;
            claimed = true;
          }
        }
        if (!claimed && z > -30 && ax > 15 && ax < 150) {
          const cz = an.clavZ0 + an.clavSlope * ax;
          const cyc = -an.muscleB * Math.sqrt(Math.max(0, 1 - ax * ax * musA2)) + 10;
          const dz = z - cz;
          const dy = y - cyc;
          if (dz * dz + dy * dy <= clavR2) {
            value = HU_BONE;
            claimed = true;
          }
        }
        if (rib) claimed = true;
        if (dVb <= vbX2 || dEsc <= escX2 || (z >= an.trachBottom - 2 && dTr <= trachX2)) nearOrgan = true;

        // heart and LAD, in the heart's rotated frame (u towards the apex, v left-posterior)
        const hx = x - h.cx;
        const hy = y - h.cy;
        const hu_ = hx * hCos - hy * hSin;
        const hv = hx * hSin + hy * hCos;
        const hw = z - h.cz;
        const eu = hu_ * heRu;
        const ev = hv * heRv;
        const ew = hw * heRw;
        if (eu * eu + ev * ev + ew * ew <= 1) {
          nearOrgan = true;
          if (!claimed && eCav <= 1) {
            const qu = hu_ * hRu;
            const qv = hv * hRv;
            const wn = hw * hRw;
            if (qu * qu + qv * qv + wn * wn <= 1) {
              heart[idx] = 1;
              value = HU_HEART;
            }
            if (wn >= -0.5 && wn <= 0.6) {
              const ucn = -0.1 + (0.9 * (0.6 - wn)) / 1.1;
              const arg = 1 - ucn * ucn - wn * wn;
              if (arg > 0) {
                const du = hu_ - ucn * h.rx;
                const dv = hv + h.ry * Math.sqrt(arg) - 0.5;
                if (du * du + dv * dv <= ladR2) {
                  lad[idx] = 1;
                  value = HU_HEART;
                }
              }
            }
            claimed = true;
          }
        }

        // internal mammary nodes: extrapleural, beside the sternum, before the lungs claim the space
        if (
          nodal &&
          !claimed &&
          s * x >= an.imnX0 &&
          s * x <= an.imnX1 &&
          y >= an.imnY0 &&
          y <= an.imnY1 &&
          z >= an.imnZ0 &&
          z <= an.imnZ1
        ) {
          imn[idx] = 1;
          claimed = true;
        }

        // lungs: upper half-ellipsoids inside the pleura, floored by a diaphragm dome
        if (!claimed && !nearOrgan && eCav <= 1 && x * x * pleA2 + y * y * pleB2 <= 1 && ax >= 12) {
          if (!(ax < 22 && y > 15)) {
            const L = x > 0 ? lL : lR;
            const rx = (x - L.cx) / L.rx;
            const ry = (y - L.cy) / L.ry;
            const rr = rx * rx + ry * ry;
            const dz = z - L.cz;
            const hz = dz > 0 ? L.rz : LUNG_FLOOR;
            if (rr + (dz * dz) / (hz * hz) <= 1 && z >= L.cz + DOME_UP - DOME_DROP * rr) {
              if (x > 0) lungL[idx] = 1;
              else lungR[idx] = 1;
              value = HU_LUNG;
              claimed = true;
            }
          }
        }

        // breasts: glandular volume 5 mm under the skin and off the pectoral fascia
        let inTarget = false;
        if (!claimed && y < 0 && x * x * fasA2 + y * y * fasB2 > 1) {
          if (!mastectomy && qT <= 1) {
            const gx = (x - tbx) * tgRx;
            const gy = (y - tby) * tgRy;
            const gz = (z - tbz) * tgRz;
            if (gx * gx + gy * gy + gz * gz <= 1) {
              target[idx] = 1;
              inTarget = true;
              value = HU_GLAND;
              if (hasBed) {
                const bx = (x - bedE.cx) / bedE.rx;
                const by = (y - bedE.cy) / bedE.ry;
                const bz = (z - bedE.cz) / bedE.rz;
                if (bx * bx + by * by + bz * bz <= 1) {
                  bed[idx] = 1;
                  if (seroma) value = HU_FLUID;
                  if (i < bedMin[0]) bedMin[0] = i;
                  if (j < bedMin[1]) bedMin[1] = j;
                  if (k < bedMin[2]) bedMin[2] = k;
                  if (i > bedMax[0]) bedMax[0] = i;
                  if (j > bedMax[1]) bedMax[1] = j;
                  if (k > bedMax[2]) bedMax[2] = k;
                }
              }
            }
          }
          if (qC <= 1) {
            const gx = (x - cbx) * cgRx;
            const gy = (y - cby) * cgRy;
            const gz = (z - cbz) * cgRz;
            if (gx * gx + gy * gy + gz * gz <= 1) {
              contraBreast[idx] = 1;
              value = HU_GLAND;
            }
          }
        }
        // chest wall target: soft tissue over the ribs under the removed breast
        if (mastectomy && !claimed && y < 0 && eRibOut > 1 && x * x * skinA2 + y * y * skinB2 <= 1) {
          const fx = (x - cw.cx) / cw.rx;
          const fz = (z - cw.cz) / cw.rz;
          if (fx * fx + fz * fz <= 1) {
            target[idx] = 1;
            inTarget = true;
          }
        }

        // axillary nodes outside the rib cage, supraclavicular above the clavicle; first one wins
        if (nodal && !claimed && !inTarget && s * x > 0 && x * x * nodeSkinA2 + y * y * nodeSkinB2 <= 1) {
          if (eRibOut > 1) {
            const e1x = (x - a1.cx) / a1.rx;
            const e1y = (y - a1.cy) / a1.ry;
            const e1z = (z - a1.cz) / a1.rz;
            const e2x = (x - a2.cx) / a2.rx;
            const e2y = (y - a2.cy) / a2.ry;
            const e2z = (z - a2.cz) / a2.rz;
            const e3x = (x - a3.cx) / a3.rx;
            const e3y = (y - a3.cy) / a3.ry;
            const e3z = (z - a3.cz) / a3.rz;
            if (e1x * e1x + e1y * e1y + e1z * e1z <= 1) ax1[idx] = 1;
            else if (e2x * e2x + e2y * e2y + e2z * e2z <= 1) ax2[idx] = 1;
            else if (e3x * e3x + e3y * e3y + e3z * e3z <= 1) ax3[idx] = 1;
          }
          if (ax1[idx] === 0 && ax2[idx] === 0 && ax3[idx] === 0) {
            const e4x = (x - sc.cx) / sc.rx;
            const e4y = (y - sc.cy) / sc.ry;
            const e4z = (z - sc.cz) / sc.rz;
            if (e4x * e4x + e4y * e4y + e4z * e4z <= 1) sclav[idx] = 1;
          }
        }
        hu[idx] = value;
      }
    }
  }

  if (hasBed && spec.tumourBed === 'clips' && bedMax[0] >= 0) {
    placeClips(bed, hu, grid.dims, bedMin, bedMax, uniform);
  }

  const structures: PhantomStructure[] = [
    { tg263Name: 'External', mask: external },
    { tg263Name: 'Lung_L', mask: lungL },
    { tg263Name: 'Lung_R', mask: lungR },
    { tg263Name: 'Heart', mask: heart },
    { tg263Name: 'A_LAD', mask: lad },
    { tg263Name: 'SpinalCanal', mask: canal },
    { tg263Name: 'SpinalCord', mask: cord },
    { tg263Name: 'Esophagus', mask: eso },
    { tg263Name: 'Sternum', mask: sternum },
    { tg263Name: `Breast_${contraSide}`, mask: contraBreast },
    { tg263Name: mastectomy ? `CTV_Chestwall_${side}` : `CTV_Breast_${side}`, mask: target },
  ];
  if (hasBed) structures.push({ tg263Name: `CTV_TumorBed_${side}`, mask: bed });
  if (nodal) {
    structures.push(
      { tg263Name: `CTVn_LN_Ax_L1_${side}`, mask: ax1 },
      { tg263Name: `CTVn_LN_Ax_L2_${side}`, mask: ax2 },
      { tg263Name: `CTVn_LN_Ax_L3_${side}`, mask: ax3 },
      { tg263Name: `CTVn_LN_Sclav_${side}`, mask: sclav },
      { tg263Name: `CTVn_LN_IMN_${side}`, mask: imn },
    );
  }
  return { grid: { dims: grid.dims, spacingMm: grid.spacingMm, originLps: grid.originLps }, structures, hu };
}

/** 3-5 clip voxels (HU 2500) on the tumour bed's surface (a bed voxel with a 6-neighbour outside it). */
function placeClips(
  bed: Uint8Array,
  hu: Float32Array,
  dims: Vec3,
  lo: number[],
  hi: number[],
  uniform: () => number,
): void {
  const [nx, ny, nz] = dims;
  const surface: number[] = [];
  for (let k = lo[2]; k <= hi[2]; k++) {
    for (let j = lo[1]; j <= hi[1]; j++) {
      for (let i = lo[0]; i <= hi[0]; i++) {
        const idx = i + nx * (j + ny * k);
        if (bed[idx] === 0) continue;
        const edge =
          i === 0 ||
          i === nx - 1 ||
          j === 0 ||
          j === ny - 1 ||
          k === 0 ||
          k === nz - 1 ||
          bed[idx - 1] === 0 ||
          bed[idx + 1] === 0 ||
          bed[idx - nx] === 0 ||
          bed[idx + nx] === 0 ||
          bed[idx - nx * ny] === 0 ||
          bed[idx + nx * ny] === 0;
        if (edge) surface.push(idx);
      }
    }
  }
  const count = Math.min(surface.length, 3 + Math.floor(uniform() * 3));
  // distinct picks: a partial Fisher-Yates shuffle of the surface list
  for (let c = 0; c < count; c++) {
    const pick = c + Math.floor(uniform() * (surface.length - c));
    const chosen = surface[pick];
    surface[pick] = surface[c];
    surface[c] = chosen;
    hu[chosen] = HU_CLIP;
  }
}

/**
 * A simulated CT of `phantom` (HU, Int16): the noise-free `hu` blurred by a separable Gaussian of
 * standard deviation `blurMm` (mm, so anisotropic in voxels: sigma_axis = blurMm / spacing_axis, kernel
 * radius ceil(3 sigma), edges replicated, an axis skipped when its sigma is below 0.1 voxel), plus white
 * Gaussian noise of SD `noiseHu` (Box-Muller on mulberry32(`seed`), one uniform pair per two voxels), plus `huOffset`, rounded and clamped
 * to [-1024, 3071]. Deterministic in `seed`. Throws INVALID_ARGUMENT for a negative or non-finite
 * noiseHu / blurMm or a non-finite huOffset.
 */
export function renderCt(
  phantom: Phantom,
  scanner: { noiseHu: number; blurMm: number; huOffset: number },
  seed: number,
): Int16Array {
  const { noiseHu, blurMm, huOffset } = scanner;
  if (!(noiseHu >= 0 && Number.isFinite(noiseHu)) || !(blurMm >= 0 && Number.isFinite(blurMm))) {
    throw new AppError('INVALID_ARGUMENT', `scanner noise ${noiseHu} HU and blur ${blurMm} mm must be >= 0`);
  }
  if (!Number.isFinite(huOffset)) throw new AppError('INVALID_ARGUMENT', `scanner HU offset must be finite`);
  const { dims, spacingMm } = phantom.grid;
  const n = dims[0] * dims[1] * dims[2];
  if (phantom.hu.length !== n) {
    throw new AppError('INVALID_ARGUMENT', `phantom HU has ${phantom.hu.length} voxels, grid has ${n}`);
  }
  let image = Float32Array.from(phantom.hu);
  if (blurMm > 0) {
    let scratch = new Float32Array(n);
    for (let axis = 0; axis < 3; axis++) {
      const sigma = blurMm / spacingMm[axis];
      if (sigma < 0.1 || dims[axis] < 2) continue;
      blurAxis(image, scratch, dims, axis, gaussianKernel(sigma));
      const swap = image;
      image = scratch;
      scratch = swap;
    }
  }
  const out = new Int16Array(n);
  const uniform = mulberry32(seed);
  const twoPi = 2 * Math.PI;
  for (let idx = 0; idx < n; idx += 2) {
    // Box-Muller: one pair of uniforms gives two independent normals
    let z0 = 0;
    let z1 = 0;
    if (noiseHu > 0) {
      const r = noiseHu * Math.sqrt(-2 * Math.log(1 - uniform()));
      const phi = twoPi * uniform();
      z0 = r * Math.cos(phi);
      z1 = r * Math.sin(phi);
    }
    out[idx] = clampHu(Math.round(image[idx] + huOffset + z0));
    if (idx + 1 < n) out[idx + 1] = clampHu(Math.round(image[idx + 1] + huOffset + z1));
  }
  return out;
}

function clampHu(v: number): number {
  return v < CT_MIN ? CT_MIN : v > CT_MAX ? CT_MAX : v;
}

/** Normalised Gaussian taps for offsets -r .. r, r = ceil(3 sigma). */
function gaussianKernel(sigma: number): Float64Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const taps = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let t = -radius; t <= radius; t++) {
    const w = Math.exp((-0.5 * t * t) / (sigma * sigma));
    taps[t + radius] = w;
    sum += w;
  }
  for (let t = 0; t < taps.length; t++) taps[t] /= sum;
  return taps;
}

/**
 * Convolves every line of `src` along `axis` with `taps` into `dst`, edges replicated. Along i a padded
 * copy of each line; along j and k whole rows or planes are accumulated, so memory is read contiguously.
 */
function blurAxis(src: Float32Array, dst: Float32Array, dims: Vec3, axis: number, taps: Float64Array): void {
  const [nx, ny, nz] = dims;
  const radius = (taps.length - 1) / 2;
  const ntaps = taps.length;
  if (axis === 0) {
    const line = new Float64Array(nx + 2 * radius);
    for (let start = 0; start < nx * ny * nz; start += nx) {
      for (let m = 0; m < nx; m++) line[m + radius] = src[start + m];
      const first = line[radius];
      const last = line[radius + nx - 1];
      for (let m = 0; m < radius; m++) {
        line[m] = first;
        line[radius + nx + m] = last;
      }
      for (let m = 0; m < nx; m++) {
        let acc = 0;
        for (let t = 0; t < ntaps; t++) acc += taps[t] * line[m + t];
        dst[start + m] = acc;
      }
    }
    return;
  }
  const block = axis === 1 ? nx : nx * ny;
  const len = dims[axis];
  const outer = axis === 1 ? nz : 1;
  for (let o = 0; o < outer; o++) {
    const base = o * block * len;
    for (let m = 0; m < len; m++) {
      const out = base + m * block;
      for (let t = 0; t < ntaps; t++) {
        let source = m + t - radius;
        if (source < 0) source = 0;
        else if (source >= len) source = len - 1;
        const from = base + source * block;
        const w = taps[t];
        if (t === 0) for (let q = 0; q < block; q++) dst[out + q] = w * src[from + q];
        else for (let q = 0; q < block; q++) dst[out + q] += w * src[from + q];
      }
    }
  }
}

/**
 * The default phantom grid: axial, LPS along i, j, k, a field of view of `fovMm` in x and y centred on the
 * body axis (x = y = 0), and z from 2 cm above the sternal notch to 5 cm below the breast fold (265 mm,
 * reference patient). dims = round(extent / spacing) (at least 1), voxel centres symmetric about the
 * centre of each extent. Throws INVALID_ARGUMENT for non-positive spacing or field of view.
 */
export function defaultPhantomGrid(spacingMm: Vec3, fovMm: number): PhantomGrid {
  if (!(fovMm > 0) || !Number.isFinite(fovMm) || spacingMm.some((v) => !(v > 0) || !Number.isFinite(v))) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `grid spacing ${spacingMm.join(' x ')} mm and fov ${fovMm} mm must be > 0`,
    );
  }
  const extents = [fovMm, fovMm, GRID_TOP_Z - GRID_BOTTOM_Z];
  const centres = [0, 0, (GRID_TOP_Z + GRID_BOTTOM_Z) / 2];
  const dims = extents.map((e, a) => Math.max(1, Math.round(e / spacingMm[a])));
  const origin = centres.map((c, a) => c - ((dims[a] - 1) * spacingMm[a]) / 2);
  return {
    dims: [dims[0], dims[1], dims[2]],
    spacingMm: [spacingMm[0], spacingMm[1], spacingMm[2]],
    originLps: [origin[0], origin[1], origin[2]],
  };
}
