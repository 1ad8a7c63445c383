/**
 * A plausible planned dose for a breast phantom (breast-phantom.ts): the 3D-conformal technique of
 * post-operative breast radiotherapy, modelled simply enough to compute in well under a second and
 * realistically enough that contour differences change DVHs the way they do clinically.
 *
 * - Two opposed tangential fields on the breast or chest-wall CTV. Their posterior edge is one plane
 *   (parallel opposed beams, no divergence), 12-17 mm behind the target (a 5-10 mm PTV margin and the
 *   95 % isodose inside the field edge): of the planes that keep the whole target in front of them, the one
 *   whose angle leaves the least lung and heart (heart weighted 4x) inside the field. It rests on the
 *   target's deep medial and lateral edges, so a slab of lung is irradiated, as clinically, and for
 *   left-sided cases the anterior heart and the LAD when they reach the plane.
 * - Heart block: rays of the tangents (beam's-eye view, per slice) that cross the heart and no target are
 *   closed by the MLC (1.5 % transmission, 2 % scatter underneath); the heart behind the target stays in
 *   the field, which gives the high-dose tail of the LAD near the field edge.
 * - Depth dose per beam along the ray, in radiological depth (density from the phantom's HU):
 *   `pdd(d) = (1 - (1 - s0) exp(-d / λ)) exp(-μ d)`: surface dose s0 = 55 %, build-up to 99 % within
 *   15 mm (λ = 4 mm), effective attenuation μ = 0.04 /cm (6 MV, inverse square folded in).
 * - Compensation: each ray's fluence is scaled so that the opposed pair gives the same dose at the ray's
 *   radiological midpoint, what a wedge pair with field-in-field segments or an electronic compensator
 *   approximates (`1 / pdd(L / 2)`, L the ray's radiological length, at least 20 mm).
 * - Field edges: error-function penumbra, 3.5 mm 80-20 % (σ = 2.08 mm), at the posterior plane, at an
 *   anterior edge 20 mm beyond the target (flash over the skin) and at the superior and inferior edges.
 * - Nodal cases: an anterior field on the axillary and supraclavicular CTVs above the junction, angled
 *   15° so that its medial edge diverges from the spinal cord, its inferior edge matched to the tangents'
 *   superior edge at the junction plane, 5 mm above the breast or chest-wall CTV (half-beam blocks: the
 *   two error functions sum to one); normalised so those nodes' median dose is the prescription. Nodes
 *   below the junction are part of the tangents' target. The internal mammary nodes get what the tangents
 *   give: their coverage is not enforced.
 * - Scatter outside the fields: 6 % at the field edge, falling by e every 45 mm (AAPM TG-36 magnitudes),
 *   inside External only. Outside External the dose is 0.
 * - The tangents are normalised so that the breast or chest-wall CTV's median dose is the prescription.
 *
 * Deterministic: the margins derive from the case seed; everything else from the phantom.
 */
import { AppError } from '../errors';
import { axisAlignedAffine, type Vec3, type Volume } from '../volume/volume';
import type { Phantom, PhantomGrid, PhantomSpec } from './breast-phantom';
import { mulberry32 } from './random';

/** A prescription: total dose to the target (Gy) in this many fractions. */
export interface Prescription {
  prescriptionGy: number;
  fractions: number;
}

/** Moderate hypofractionation (START B, UK and ESTRO standard): 40.05 Gy in 15 fractions. */
export const HYPOFRACTIONATED: Prescription = { prescriptionGy: 40.05, fractions: 15 };
/** Conventional fractionation: 50 Gy in 25 fractions. */
export const CONVENTIONAL: Prescription = { prescriptionGy: 50, fractions: 25 };

/** One treatment field, with its gantry angle in IEC 61217 for a head-first supine patient. */
export interface TreatmentBeam {
  name: string;
  /** gantry angle in degrees, 0 = from anterior, 90 = from the patient's left */
  gantryDeg: number;
  /** unit vector from the source into the patient, LPS */
  directionLps: Vec3;
}

export interface BreastDose {
  /** dose in Gy on `grid`, i fastest; 0 outside External */
  dose: Volume<Float32Array>;
  /** the dose grid: axis-aligned like the CT, covering External with one voxel to spare */
  grid: PhantomGrid;
  prescriptionGy: number;
  fractions: number;
  beams: TreatmentBeam[];
  /** z (mm, LPS) of the junction plane between tangents and the nodal field; null without one */
  junctionZMm: number | null;
}

export interface BreastDoseOptions {
  /** dose grid spacing in mm; default 2.5 mm on every axis */
  spacingMm?: Vec3;
}

const SURFACE_DOSE = 0.55;
const BUILDUP_MM = 4;
const MU_PER_MM = 0.004;
/** σ of the penumbra: 80-20 % width 3.5 mm = 2 x 0.8416 σ */
const PENUMBRA_SIGMA_MM = 3.5 / (2 * 0.8416);
const FLASH_MM = 20;
const SCATTER_AT_EDGE = 0.06;
const SCATTER_FALL_MM = 45;
const MIN_RAY_MM = 20;
const NODAL_FIELD_ANGLE_DEG = 15;
const NODAL_LATERAL_MARGIN_MM = 7;
const NODAL_SUPERIOR_MARGIN_MM = 10;
/** junction above the top of the breast or chest-wall target, so its top slice is fully covered */
const JUNCTION_ABOVE_TARGET_MM = 5;
/** relative weight of heart voxels against lung voxels when choosing the tangent angle */
const HEART_WEIGHT = 4;
/** the heart block leaves this much around every ray that crosses the tangent target */
const HEART_BLOCK_MARGIN_MM = 0;
/** fluence through closed MLC leaves */
const MLC_TRANSMISSION = 0.015;
/** scatter from the open field under the heart block */
const SCATTER_UNDER_BLOCK = 0.02;

/** Depth dose of one beam at radiological depth `dMm` (relative to 1 at the build-up maximum, unattenuated). */
function pdd(dMm: number): number {
  return (1 - (1 - SURFACE_DOSE) * Math.exp(-dMm / BUILDUP_MM)) * Math.exp(-MU_PER_MM * dMm);
}

/** erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7). */
function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = x < 0 ? -x : x;
  const t = 1 / (1 + 0.3275911 * a);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-a * a);
  return sign * y;
}

/** Fraction of the open-field fluence at signed distance `insideMm` inside a field edge. */
function edge(insideMm: number): number {
  const x = insideMm / (PENUMBRA_SIGMA_MM * Math.SQRT2);
  if (x > 4) return 1;
  if (x < -4) return 0;
  return 0.5 * (1 + erf(x));
}

/** IEC gantry angle (degrees, [0, 360)) of a beam travelling along `direction` (LPS, patient HFS). */
function gantryDeg(direction: Vec3): number {
  const degrees = (Math.atan2(-direction[0], direction[1]) * 180) / Math.PI;
  return Math.round((((degrees % 360) + 360) % 360) * 10) / 10;
}

function structureMask(phantom: Phantom, name: string): Uint8Array | null {
  return phantom.structures.find((s) => s.tg263Name === name)?.mask ?? null;
}

/**
 * Generates the planned dose of a breast phantom (see the file comment for the model). `spec` gives the
 * treated side, whether the case is nodal and the seed of the per-case variations (posterior margin
 * 12-17 mm, superior and inferior margins 8-12 mm). The dose grid is axis-aligned, `spacingMm` (default
 * 2.5 mm), covering the External of the phantom with one voxel to spare; a dose voxel is in the body
 * when its nearest phantom voxel is.
 *
 * Errors: AppError('INVALID_ARGUMENT') when the prescription is not positive, the phantom has no External
 * or no breast or chest-wall CTV on the treated side, or the spacing is not positive.
 */
export function generateBreastDose(
  phantom: Phantom,
  spec: Pick<PhantomSpec, 'seed' | 'laterality' | 'nodal'>,
  prescription: Prescription,
  options: BreastDoseOptions = {},
): BreastDose {
  const { prescriptionGy, fractions } = prescription;
  if (
    !(prescriptionGy > 0) ||
    !Number.isFinite(prescriptionGy) ||
    !(Number.isInteger(fractions) && fractions > 0)
  ) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `prescription ${prescriptionGy} Gy in ${fractions} fractions: expected a positive dose and a positive whole number of fractions`,
    );
  }
  const spacingMm = options.spacingMm ?? [2.5, 2.5, 2.5];
  if (spacingMm.some((v) => !(v > 0) || !Number.isFinite(v))) {
    throw new AppError('INVALID_ARGUMENT', `dose grid spacing ${spacingMm.join(' x ')} mm must be > 0`);
  }
  const s = spec.laterality === 'left' ? 1 : -1;
  const side = spec.laterality === 'left' ? 'L' : 'R';
  const ct = phantom.grid;
  const external = structureMask(phantom, 'External');
  const target =
    structureMask(phantom, `CTV_Breast_${side}`) ?? structureMask(phantom, `CTV_Chestwall_${side}`);
  if (!external || !target) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `the phantom needs External and CTV_Breast_${side} or CTV_Chestwall_${side} to plan a dose`,
    );
  }
  const nodes = spec.nodal
    ? ['Ax_L1', 'Ax_L2', 'Ax_L3', 'Sclav']
        .map((level) => structureMask(phantom, `CTVn_LN_${level}_${side}`))
        .filter((mask): mask is Uint8Array => mask !== null)
    : [];
  const oars: Array<{ mask: Uint8Array; weight: number }> = [];
  for (const [name, weight] of [
    ['Lung_L', 1],
    ['Lung_R', 1],
    ['Heart', HEART_WEIGHT],
  ] as const) {
    const mask = structureMask(phantom, name);
    if (mask) oars.push({ mask, weight });
  }

  const uniform = mulberry32((spec.seed ^ 0x2d05e) >>> 0);
  const posteriorMarginMm = 12 + 5 * uniform();
  const supInfMarginMm = 8 + 4 * uniform();

  const [nx, ny, nz] = ct.dims;
  const [sx, sy, sz] = ct.spacingMm;
  const [ox, oy, oz] = ct.originLps;
  const xOf = (i: number) => ox + i * sx;
  const yOf = (j: number) => oy + j * sy;
  const zOf = (k: number) => oz + k * sz;

  // the main target's z extent, and the junction plane
  let targetKMin = nz;
  let targetKMax = -1;
  for (let k = 0; k < nz; k++) {
    const base = k * nx * ny;
    for (let n = 0; n < nx * ny; n++) {
      if (target[base + n] !== 0) {
        if (k < targetKMin) targetKMin = k;
        targetKMax = k;
        break;
      }
    }
  }
  if (targetKMax < 0) {
    throw new AppError('INVALID_ARGUMENT', `the treated side's CTV of the phantom is empty`);
  }
  const junctionZMm = nodes.length > 0 ? zOf(targetKMax) + sz / 2 + JUNCTION_ABOVE_TARGET_MM : null;

  // tangent target columns (x, y of every CT column holding target), nodal target voxels above the junction
  const tangentColumns = new Uint8Array(nx * ny);
  let tangentZMin = zOf(targetKMin) - sz / 2;
  const tangentZMax = zOf(targetKMax) + sz / 2;
  const nodalVoxels: number[] = [];
  for (let k = 0; k < nz; k++) {
    const z = zOf(k);
    const base = k * nx * ny;
    for (let n = 0; n < nx * ny; n++) {
      const idx = base + n;
      if (target[idx] !== 0) {
        tangentColumns[n] = 1;
        continue;
      }
      for (const node of nodes) {
        if (node[idx] === 0) continue;
        if (junctionZMm !== null && z >= junctionZMm) {
          nodalVoxels.push(idx);
        } else {
          tangentColumns[n] = 1;
          if (z - sz / 2 < tangentZMin) tangentZMin = z - sz / 2;
        }
        break;
      }
    }
  }
  const tangentSupMm = junctionZMm ?? tangentZMax + supInfMarginMm;
  const tangentInfMm = tangentZMin - supInfMarginMm;

  // lung and heart per column within the tangents' z range, for the choice of angle
  const oarWeight = new Float64Array(nx * ny);
  for (let k = 0; k < nz; k++) {
    const z = zOf(k);
    if (z < tangentInfMm || z > tangentSupMm) continue;
    const base = k * nx * ny;
    for (const { mask, weight } of oars) {
      for (let n = 0; n < nx * ny; n++) if (mask[base + n] !== 0) oarWeight[n] += weight;
    }
  }
  const targetXy: number[] = [];
  const oarXyw: number[] = [];
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      const n = i + nx * j;
      if (tangentColumns[n]) targetXy.push(xOf(i), yOf(j));
      if (oarWeight[n] > 0) oarXyw.push(xOf(i), yOf(j), oarWeight[n]);
    }
  }
  // the angle of the posterior plane: normal (s sin α, -cos α) points from the chest towards the target
  let best = { cost: Infinity, alpha: 0, c: 0 };
  for (let step = 0; step <= 170; step++) {
    const alpha = (step * 0.5 * Math.PI) / 180;
    const nxv = s * Math.sin(alpha);
    const nyv = -Math.cos(alpha);
    let c = Infinity;
    for (let m = 0; m < targetXy.length; m += 2) {
      const d = nxv * targetXy[m] + nyv * targetXy[m + 1];
      if (d < c) c = d;
    }
    const plane = c - posteriorMarginMm;
    let cost = 0;
    for (let m = 0; m < oarXyw.length; m += 3) {
      if (nxv * oarXyw[m] + nyv * oarXyw[m + 1] >= plane) cost += oarXyw[m + 2];
    }
    if (cost < best.cost) best = { cost, alpha, c };
  }
  const normal: [number, number] = [s * Math.sin(best.alpha), -Math.cos(best.alpha)];
  let targetSMax = -Infinity;
  for (let m = 0; m < targetXy.length; m += 2) {
    targetSMax = Math.max(targetSMax, normal[0] * targetXy[m] + normal[1] * targetXy[m + 1]);
  }
  const posteriorEdge = best.c - posteriorMarginMm;
  const anteriorEdge = targetSMax + FLASH_MM;
  // the medial beam travels from the midline side towards the treated side and posteriorly
  const medial: Vec3 = [s * Math.cos(best.alpha), Math.sin(best.alpha), 0];
  const beams: TreatmentBeam[] = [
    { name: 'Tangent medial', gantryDeg: gantryDeg(medial), directionLps: medial },
    {
      name: 'Tangent lateral',
      gantryDeg: gantryDeg([-medial[0], -medial[1], 0]),
      directionLps: [-medial[0], -medial[1], 0],
    },
  ];

  // the dose grid, covering External
  const box = [nx, ny, nz, -1, -1, -1];
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const row = nx * (j + ny * k);
      for (let i = 0; i < nx; i++) {
        if (external[row + i] === 0) continue;
        if (i < box[0]) box[0] = i;
        if (j < box[1]) box[1] = j;
        if (k < box[2]) box[2] = k;
        if (i > box[3]) box[3] = i;
        if (j > box[4]) box[4] = j;
        if (k > box[5]) box[5] = k;
      }
    }
  }
  if (box[3] < 0) throw new AppError('INVALID_ARGUMENT', 'the phantom External is empty');
  const ctOrigin = [ox, oy, oz];
  const ctSpacing = [sx, sy, sz];
  const doseOrigin: [number, number, number] = [0, 0, 0];
  const doseDims: [number, number, number] = [0, 0, 0];
  for (let a = 0; a < 3; a++) {
    const lo = ctOrigin[a] + (box[a] - 0.5) * ctSpacing[a] - spacingMm[a];
    const hi = ctOrigin[a] + (box[a + 3] + 0.5) * ctSpacing[a] + spacingMm[a];
    doseDims[a] = Math.max(1, Math.ceil((hi - lo) / spacingMm[a]) + 1);
    doseOrigin[a] = lo;
  }
  const [dx, dy, dz] = doseDims;
  // nearest CT voxel of each dose-grid coordinate (-1 outside the CT grid)
  const nearest = [0, 1, 2].map((a) => {
    const map = new Int32Array(doseDims[a]);
    for (let m = 0; m < doseDims[a]; m++) {
      const index = Math.round((doseOrigin[a] + m * spacingMm[a] - ctOrigin[a]) / ctSpacing[a]);
      map[m] = index >= 0 && index < ct.dims[a] ? index : -1;
    }
    return map;
  });
  const doseCount = dx * dy * dz;
  const inBody = new Uint8Array(doseCount);
  const density = new Float32Array(doseCount);
  // 1: the main CTV, 2: other tangent target (nodes below the junction), 3: nodes above it
  const role = new Uint8Array(doseCount);
  const inHeart = new Uint8Array(doseCount);
  const heart = structureMask(phantom, 'Heart');
  for (let k = 0; k < dz; k++) {
    const ck = nearest[2][k];
    const aboveJunction = junctionZMm !== null && ck >= 0 && zOf(ck) >= junctionZMm;
    for (let j = 0; j < dy; j++) {
      const cj = nearest[1][j];
      for (let i = 0; i < dx; i++) {
        const ci = nearest[0][i];
        if (ci < 0 || cj < 0 || ck < 0) continue;
        const c = ci + nx * (cj + ny * ck);
        if (external[c] === 0) continue;
        const d = i + dx * (j + dy * k);
        inBody[d] = 1;
        density[d] = Math.min(2, Math.max(0, 1 + phantom.hu[c] / 1000));
        if (target[c] !== 0) role[d] = 1;
        else if (nodes.some((node) => node[c] !== 0)) role[d] = aboveJunction ? 3 : 2;
        if (heart && heart[c] !== 0) inHeart[d] = 1;
      }
    }
  }
  const xd = (i: number) => doseOrigin[0] + i * spacingMm[0];
  const yd = (j: number) => doseOrigin[1] + j * spacingMm[1];
  const zd = (k: number) => doseOrigin[2] + k * spacingMm[2];

  // the tangents' beam's-eye view: which rays of which slice cross the heart and the target
  const rays = new RayGrid(doseDims, spacingMm, doseOrigin, medial);
  const open = heartBlock(
    rays,
    dz,
    spacingMm[2],
    (k) => edge(tangentSupMm - zd(k)) * edge(zd(k) - tangentInfMm) > 0,
    inHeart,
    role,
  );

  const tangent = new Float32Array(doseCount);
  const depthIn = new Float32Array(dx * dy);
  const depthOut = new Float32Array(dx * dy);
  for (let k = 0; k < dz; k++) {
    const z = zd(k);
    const zFactor = edge(tangentSupMm - z) * edge(z - tangentInfMm);
    const zOutside = Math.max(0, z - tangentSupMm, tangentInfMm - z);
    if (zFactor > 0) rays.depth(k, density, depthIn, depthOut);
    for (let j = 0; j < dy; j++) {
      const y = yd(j);
      for (let i = 0; i < dx; i++) {
        const d = i + dx * (j + dy * k);
        if (inBody[d] === 0) continue;
        const x = xd(i);
        const across = normal[0] * x + normal[1] * y;
        const sOutside = Math.max(0, posteriorEdge - across, across - anteriorEdge);
        const box = zFactor * edge(across - posteriorEdge) * edge(anteriorEdge - across);
        let scatter =
          (1 - box) * SCATTER_AT_EDGE * Math.exp(-Math.hypot(sOutside, zOutside) / SCATTER_FALL_MM);
        let primary = 0;
        if (box > 0) {
          const unblocked = open ? open.at(rays.position(x, y).ray, k) : 1;
          scatter += box * (1 - unblocked) * SCATTER_UNDER_BLOCK;
          const d1 = depthIn[i + dx * j];
          const d2 = depthOut[i + dx * j];
          const compensation = 1 / pdd(Math.max(MIN_RAY_MM, d1 + d2) / 2);
          const fluence = box * (MLC_TRANSMISSION + (1 - MLC_TRANSMISSION) * unblocked);
          primary = (fluence * compensation * (pdd(d1) + pdd(d2))) / 2;
        }
        tangent[d] = primary + scatter;
      }
    }
  }
  const median = medianWhere(tangent, role, 1);
  const dose = new Float32Array(doseCount);
  for (let d = 0; d < doseCount; d++) dose[d] = (tangent[d] / median) * prescriptionGy;

  if (junctionZMm !== null && nodalVoxels.length > 0) {
    const beta = (NODAL_FIELD_ANGLE_DEG * Math.PI) / 180;
    // travelling posteriorly and towards the treated side: the medial edge diverges from the cord
    const direction: Vec3 = [s * Math.sin(beta), Math.cos(beta), 0];
    const across: [number, number] = [Math.cos(beta), -s * Math.sin(beta)];
    let vMin = Infinity;
    let vMax = -Infinity;
    let zTop = -Infinity;
    for (const idx of nodalVoxels) {
      const i = idx % nx;
      const j = Math.floor(idx / nx) % ny;
      const v = across[0] * xOf(i) + across[1] * yOf(j);
      vMin = Math.min(vMin, v);
      vMax = Math.max(vMax, v);
      zTop = Math.max(zTop, zOf(Math.floor(idx / (nx * ny))) + sz / 2);
    }
    vMin -= NODAL_LATERAL_MARGIN_MM;
    vMax += NODAL_LATERAL_MARGIN_MM;
    zTop += NODAL_SUPERIOR_MARGIN_MM;
    const nodalRays = new RayGrid(doseDims, spacingMm, doseOrigin, direction);
    const primary = new Float32Array(doseCount);
    // everything but the nodal field's primary: its scatter, then the tangents' dose too
    const others = new Float32Array(doseCount);
    for (let k = 0; k < dz; k++) {
      const z = zd(k);
      const zFactor = edge(zTop - z) * edge(z - junctionZMm);
      const zOutside = Math.max(0, z - zTop, junctionZMm - z);
      if (zFactor > 0) nodalRays.depth(k, density, depthIn, depthOut);
      for (let j = 0; j < dy; j++) {
        const y = yd(j);
        for (let i = 0; i < dx; i++) {
          const d = i + dx * (j + dy * k);
          if (inBody[d] === 0) continue;
          const v = across[0] * xd(i) + across[1] * y;
          const vOutside = Math.max(0, vMin - v, v - vMax);
          const profile = zFactor * edge(v - vMin) * edge(vMax - v);
          others[d] =
            (1 - profile) * SCATTER_AT_EDGE * Math.exp(-Math.hypot(vOutside, zOutside) / SCATTER_FALL_MM);
          if (profile > 0) primary[d] = profile * pdd(depthIn[i + dx * j]);
        }
      }
    }
    // normalised so that the nodes above the junction, with the tangents' scatter, get the
    // prescription at their median
    for (let d = 0; d < doseCount; d++) others[d] += dose[d] / prescriptionGy;
    const weight = Math.max(0, 1 - medianWhere(others, role, 3)) / medianWhere(primary, role, 3);
    for (let d = 0; d < doseCount; d++) dose[d] = (primary[d] * weight + others[d]) * prescriptionGy;
    beams.push({ name: 'Nodal anterior', gantryDeg: gantryDeg(direction), directionLps: direction });
  }

  const grid: PhantomGrid = { dims: doseDims, spacingMm: [...spacingMm], originLps: doseOrigin };
  return {
    dose: {
      data: dose,
      dims: doseDims,
      spacingMm: [...spacingMm],
      affineIjkToLps: axisAlignedAffine(spacingMm, doseOrigin),
    },
    grid,
    prescriptionGy,
    fractions,
    beams,
    junctionZMm,
  };
}

/** Median of `values` where `labels` equals `label`; 1 when there is none (nothing to normalise). */
function medianWhere(values: Float32Array, labels: Uint8Array, label: number): number {
  const selected: number[] = [];
  for (let n = 0; n < values.length; n++) if (labels[n] === label) selected.push(values[n]);
  if (selected.length === 0) return 1;
  selected.sort((a, b) => a - b);
  const median = selected[selected.length >> 1];
  return median > 0 ? median : 1;
}

/** A beam's-eye-view map over rays x slices, read with linear interpolation across rays. */
class RayMap {
  constructor(
    readonly values: Float32Array,
    readonly rays: number,
  ) {}

  at(ray: number, k: number): number {
    const r0 = Math.max(0, Math.min(this.rays - 2, Math.floor(ray)));
    const a = Math.max(0, Math.min(1, ray - r0));
    const row = k * this.rays;
    return (1 - a) * this.values[row + r0] + a * this.values[row + r0 + 1];
  }
}

/**
 * The tangents' heart block, as an MLC shapes it: the rays (in the beam's eye view, rays x slices) that
 * cross the heart but pass farther than HEART_BLOCK_MARGIN_MM from every ray crossing the tangent target
 * are closed, and the open/closed map is blurred by the penumbra. Returns the open fraction of each ray,
 * or null when no ray crosses the heart (nothing to block).
 */
function heartBlock(
  rays: RayGrid,
  slices: number,
  sliceMm: number,
  inField: (k: number) => boolean,
  inHeart: Uint8Array,
  role: Uint8Array,
): RayMap | null {
  const count = rays.rays;
  const heartOnRay = new Uint8Array(count * slices);
  const targetOnRay = new Uint8Array(count * slices);
  const tangentTarget = new Uint8Array(role.length);
  for (let n = 0; n < role.length; n++) tangentTarget[n] = role[n] === 1 || role[n] === 2 ? 1 : 0;
  const hits = new Uint8Array(count);
  let anyHeart = false;
  for (let k = 0; k < slices; k++) {
    if (!inField(k)) continue;
    rays.hits(k, inHeart, hits);
    heartOnRay.set(hits, k * count);
    if (hits.includes(1)) anyHeart = true;
    rays.hits(k, tangentTarget, hits);
    targetOnRay.set(hits, k * count);
  }
  if (!anyHeart) return null;
  const marginRays = Math.ceil(HEART_BLOCK_MARGIN_MM / rays.step);
  const marginSlices = Math.ceil(HEART_BLOCK_MARGIN_MM / sliceMm);
  const open = new Float32Array(count * slices).fill(1);
  for (let k = 0; k < slices; k++) {
    for (let r = 0; r < count; r++) {
      if (heartOnRay[k * count + r] === 0) continue;
      let nearTarget = false;
      for (
        let kk = Math.max(0, k - marginSlices);
        kk <= Math.min(slices - 1, k + marginSlices) && !nearTarget;
        kk++
      ) {
        for (let rr = Math.max(0, r - marginRays); rr <= Math.min(count - 1, r + marginRays); rr++) {
          if (targetOnRay[kk * count + rr] !== 0) {
            nearTarget = true;
            break;
          }
        }
      }
      if (!nearTarget) open[k * count + r] = 0;
    }
  }
  blur(open, count, slices, PENUMBRA_SIGMA_MM / rays.step, PENUMBRA_SIGMA_MM / sliceMm);
  return new RayMap(open, count);
}

/** Separable Gaussian blur of a rays x slices map (σ in samples per axis), edges replicated. */
function blur(map: Float32Array, width: number, height: number, sigmaX: number, sigmaY: number): void {
  const line = new Float32Array(Math.max(width, height));
  const pass = (count: number, length: number, stride: number, next: number, sigma: number) => {
    if (sigma < 0.1) return;
    const radius = Math.ceil(3 * sigma);
    const taps: number[] = [];
    let sum = 0;
    for (let t = -radius; t <= radius; t++) {
      taps.push(Math.exp((-0.5 * t * t) / (sigma * sigma)));
      sum += taps[taps.length - 1];
    }
    for (let c = 0; c < count; c++) {
      const start = c * next;
      for (let m = 0; m < length; m++) line[m] = map[start + m * stride];
      for (let m = 0; m < length; m++) {
        let acc = 0;
        for (let t = -radius; t <= radius; t++) {
          const source = Math.max(0, Math.min(length - 1, m + t));
          acc += taps[t + radius] * line[source];
        }
        map[start + m * stride] = acc / sum;
      }
    }
  };
  pass(height, width, 1, width, sigmaX);
  pass(width, height, width, 1, sigmaY);
}

/**
 * Parallel rays in the axial planes of a grid, along one in-plane direction u: ray r of a slice is the
 * line at offset (r - half) x step across u through the slice's centre, sampled every step along u
 * (step = the smallest in-plane spacing). The same rays in every slice, so a ray index and a slice index
 * are a beam's-eye-view coordinate. Buffers are allocated once.
 */
class RayGrid {
  readonly step: number;
  readonly rays: number;
  private readonly half: number;
  private readonly forward: Float32Array;
  private readonly total: Float32Array;
  private readonly centre: [number, number];
  private readonly ux: number;
  private readonly uy: number;

  constructor(
    private readonly dims: Vec3,
    private readonly spacingMm: Vec3,
    private readonly originLps: Vec3,
    direction: Vec3,
  ) {
    this.step = Math.min(spacingMm[0], spacingMm[1]);
    const diagonal = Math.hypot(dims[0] * spacingMm[0], dims[1] * spacingMm[1]) + 2 * this.step;
    this.rays = Math.ceil(diagonal / this.step) + 1;
    this.half = (this.rays - 1) / 2;
    this.forward = new Float32Array(this.rays * this.rays);
    this.total = new Float32Array(this.rays);
    this.centre = [
      originLps[0] + ((dims[0] - 1) * spacingMm[0]) / 2,
      originLps[1] + ((dims[1] - 1) * spacingMm[1]) / 2,
    ];
    const length = Math.hypot(direction[0], direction[1]);
    this.ux = direction[0] / length;
    this.uy = direction[1] / length;
  }

  /** Index (into a slice) of the voxel nearest to sample t of ray r, or -1 outside the grid. */
  private voxel(r: number, t: number): number {
    const offW = (r - this.half) * this.step;
    const offT = (t - this.half) * this.step;
    const x = this.centre[0] + offT * this.ux - offW * this.uy;
    const y = this.centre[1] + offT * this.uy + offW * this.ux;
    const i = Math.round((x - this.originLps[0]) / this.spacingMm[0]);
    const j = Math.round((y - this.originLps[1]) / this.spacingMm[1]);
    return i >= 0 && i < this.dims[0] && j >= 0 && j < this.dims[1] ? i + this.dims[0] * j : -1;
  }

  /** The fractional ray index through the point (x, y), and its fractional sample index along the ray. */
  position(x: number, y: number): { ray: number; sample: number } {
    const dx = x - this.centre[0];
    const dy = y - this.centre[1];
    return {
      ray: (-dx * this.uy + dy * this.ux) / this.step + this.half,
      sample: (dx * this.ux + dy * this.uy) / this.step + this.half,
    };
  }

  /**
   * Radiological depth (mm of water) of every voxel of slice k: `into[n]` from where its ray enters the
   * grid travelling along u, `outOf[n]` from it to where the ray leaves. `density` is relative to water.
   */
  depth(k: number, density: Float32Array, into: Float32Array, outOf: Float32Array): void {
    const [nx, ny] = this.dims;
    const base = k * nx * ny;
    const step = this.step;
    for (let r = 0; r < this.rays; r++) {
      let sum = 0;
      const row = r * this.rays;
      for (let t = 0; t < this.rays; t++) {
        const v = this.voxel(r, t);
        const rho = v >= 0 ? density[base + v] : 0;
        // depth at the sample's centre: everything upstream plus half the sample itself
        this.forward[row + t] = sum + (rho * step) / 2;
        sum += rho * step;
      }
      this.total[r] = sum;
    }
    const last = this.rays - 2;
    for (let j = 0; j < ny; j++) {
      const y = this.originLps[1] + j * this.spacingMm[1];
      for (let i = 0; i < nx; i++) {
        const { ray, sample } = this.position(this.originLps[0] + i * this.spacingMm[0], y);
        const t0 = Math.max(0, Math.min(last, Math.floor(sample)));
        const r0 = Math.max(0, Math.min(last, Math.floor(ray)));
        const a = sample - t0;
        const b = ray - r0;
        const row0 = r0 * this.rays + t0;
        const row1 = row0 + this.rays;
        const depth =
          (1 - b) * ((1 - a) * this.forward[row0] + a * this.forward[row0 + 1]) +
          b * ((1 - a) * this.forward[row1] + a * this.forward[row1 + 1]);
        const total = (1 - b) * this.total[r0] + b * this.total[r0 + 1];
        const n = i + nx * j;
        into[n] = depth;
        outOf[n] = Math.max(0, total - depth);
      }
    }
  }

  /** Marks in `out` (one byte per ray) the rays of slice k that cross a voxel of `mask`. */
  hits(k: number, mask: Uint8Array, out: Uint8Array): void {
    const base = k * this.dims[0] * this.dims[1];
    for (let r = 0; r < this.rays; r++) {
      let hit = 0;
      for (let t = 0; t < this.rays && hit === 0; t++) {
        const v = this.voxel(r, t);
        if (v >= 0 && mask[base + v] !== 0) hit = 1;
      }
      out[r] = hit;
    }
  }
}
