/**
 * The worker side of the hostile-input fuzz test: builds each variant from its base file, mutation and
 * seed, runs the readers on it as an import or a metric run would, and answers how it ended. Runs in a
 * worker thread so the test can stop a hang and survive a crash.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { gunzipSync, gzipSync } from 'node:zlib';
import { rasteriseRoi } from '../../src/lib/core/contours/rasterise';
import { isAppError } from '../../src/lib/core/errors';
import { cross, dot, type ImageGrid } from '../../src/lib/core/geometry/image-grid';
import { gridAffine, toMask, type Vec3 } from '../../src/lib/core/volume/volume';
import { buildImageSeries, type ParsedDicom } from '../../src/lib/server/io/ct-series';
import {
  getUint16,
  parseDicom,
  requireNumbers,
  requireString,
  tags,
} from '../../src/lib/server/io/dicom/parser';
import { readNiftiFile } from '../../src/lib/server/io/nifti-file';
import { readStructureSet } from '../../src/lib/server/io/rtstruct';
import {
  dicomMutations,
  gzipCorruption,
  indexDicom,
  niftiMutations,
  type DicomIndex,
  type DicomMutationName,
  type Mutated,
  type NiftiMutationName,
} from './hostile-mutations';
import { mulberry32 } from './random';

/** A valid file the variants are made from, with what its reader needs around it. */
export interface HostileBase {
  name: string;
  kind: 'ct' | 'rtstruct' | 'nifti';
  path: string;
  /** ct: other slices of the same series; rtstruct: the slices of its CT series (for the grid). */
  series?: string[];
  /** rtstruct: rasterise on every `coarsen`-th voxel in-plane, to keep a 512 x 512 grid quick. */
  coarsen?: number;
}

export interface VariantSpec {
  id: number;
  base: string;
  mutation: string;
  seed: number;
}

export interface VariantResult {
  id: number;
  outcome: 'ok' | 'error' | 'crash';
  /** The file name the readers were given (errors must name it). */
  source: string;
  description: string;
  code?: string;
  message?: string;
  ms: number;
}

interface LoadedBase extends HostileBase {
  bytes: Uint8Array;
  index?: DicomIndex;
  siblings?: ParsedDicom[];
  grid?: ImageGrid;
  /** nifti: the uncompressed file and its gzip form */
  raw?: Uint8Array;
  gz?: Uint8Array;
}

const { bases, scratch } = workerData as { bases: HostileBase[]; scratch: string };
const loaded = new Map<string, LoadedBase>();

function parsed(filePath: string, bytes: Uint8Array): ParsedDicom {
  const file = parseDicom(bytes, filePath);
  return {
    path: filePath,
    file,
    modality: requireString(file.dataset, tags.modality, 'Modality'),
    sopInstanceUid: requireString(file.dataset, tags.sopInstanceUid, 'SOP Instance UID'),
  };
}

/** The grid of a CT series from its slice headers, optionally every `coarsen`-th voxel in-plane. */
function gridOf(paths: string[], coarsen: number): ImageGrid {
  const slices = paths.map((p) => parseDicom(readFileSync(p), p).dataset);
  const first = slices[0];
  const iop = requireNumbers(first, tags.imageOrientationPatient, 'IOP', 6);
  const rowLps: Vec3 = [iop[0], iop[1], iop[2]];
  const columnLps: Vec3 = [iop[3], iop[4], iop[5]];
  const normalLps = cross(rowLps, columnLps);
  const spacing = requireNumbers(first, tags.pixelSpacing, 'Pixel Spacing', 2);
  const positions = slices
    .map((s): Vec3 => {
      const [x, y, z] = requireNumbers(s, tags.imagePositionPatient, 'IPP', 3);
      return [x, y, z];
    })
    .sort((a, b) => dot(a, normalLps) - dot(b, normalLps));
  const slicePositionsMm = positions.map((p) => dot(p, normalLps));
  const step = slicePositionsMm.length > 1 ? slicePositionsMm[1] - slicePositionsMm[0] : 1;
  const spacingMm: Vec3 = [spacing[1] * coarsen, spacing[0] * coarsen, step];
  const dims: Vec3 = [
    Math.ceil(getUint16(first, tags.columns)! / coarsen),
    Math.ceil(getUint16(first, tags.rows)! / coarsen),
    positions.length,
  ];
  return {
    dims,
    spacingMm,
    rowLps,
    columnLps,
    normalLps,
    slicePositionLps: positions,
    slicePositionsMm,
    affineIjkToLps: gridAffine([...rowLps, ...columnLps, ...normalLps], spacingMm, positions[0]),
    frameOfReferenceUid: 'grid',
  };
}

function load(name: string): LoadedBase {
  const cached = loaded.get(name);
  if (cached) return cached;
  const base = bases.find((b) => b.name === name);
  if (!base) throw new Error(`no base ${name}`);
  const bytes = new Uint8Array(readFileSync(base.path));
  const entry: LoadedBase = { ...base, bytes };
  if (base.kind === 'ct' || base.kind === 'rtstruct') entry.index = indexDicom(bytes);
  if (base.kind === 'ct')
    entry.siblings = (base.series ?? []).map((p) => parsed(p, new Uint8Array(readFileSync(p))));
  if (base.kind === 'rtstruct') entry.grid = gridOf(base.series ?? [], base.coarsen ?? 1);
  if (base.kind === 'nifti') {
    const isGzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
    entry.raw = isGzip ? new Uint8Array(gunzipSync(bytes)) : bytes;
    entry.gz = isGzip ? bytes : new Uint8Array(gzipSync(bytes));
  }
  loaded.set(name, entry);
  return entry;
}

function mutate(base: LoadedBase, spec: VariantSpec): { mutated: Mutated; extension: string } {
  const random = mulberry32(spec.seed);
  if (base.kind === 'nifti') {
    if (spec.mutation === 'gzip') return { mutated: gzipCorruption(base.gz!, random), extension: '.nii.gz' };
    const mutated = niftiMutations[spec.mutation as NiftiMutationName](base.raw!, random);
    if (random() < 0.5) return { mutated, extension: '.nii' };
    return {
      mutated: {
        bytes: new Uint8Array(gzipSync(mutated.bytes)),
        description: `${mutated.description}, gzipped`,
      },
      extension: '.nii.gz',
    };
  }
  const mutation = dicomMutations[spec.mutation as DicomMutationName];
  return { mutated: mutation(base.bytes, random, base.index!), extension: '.dcm' };
}

/** A series that reads must have a consistent, finite geometry and a volume that fills it. */
function checkSeries(series: ReturnType<typeof buildImageSeries>): void {
  const { grid, volume } = series;
  const finite = (values: ArrayLike<number>) => Array.from(values).every(Number.isFinite);
  if (!grid.dims.every((d) => Number.isInteger(d) && d > 0)) throw new Error(`dims ${grid.dims.join('x')}`);
  if (!grid.spacingMm.every((v) => Number.isFinite(v) && v > 0))
    throw new Error(`spacing ${grid.spacingMm.join('x')} mm`);
  if (!finite(grid.affineIjkToLps) || !finite(grid.slicePositionsMm) || !finite(grid.slicePositionLps.flat()))
    throw new Error('non-finite geometry');
  if (volume.data.length !== grid.dims[0] * grid.dims[1] * grid.dims[2])
    throw new Error('the volume does not fill its grid');
  for (let n = 0; n < volume.data.length; n++)
    if (!Number.isFinite(volume.data[n])) throw new Error(`voxel ${n} is ${volume.data[n]}`);
}

async function run(spec: VariantSpec): Promise<VariantResult> {
  const base = load(spec.base);
  const { mutated, extension } = mutate(base, spec);
  const source = path.join(scratch, `${spec.base}~${spec.mutation}~${spec.seed}${extension}`);
  const result: VariantResult = {
    id: spec.id,
    outcome: 'ok',
    source,
    description: mutated.description,
    ms: 0,
  };
  const started = performance.now();
  try {
    if (base.kind === 'ct') {
      const slice = parsed(source, mutated.bytes);
      // the variant first (its header then defines the series), last, or alone
      const order = spec.seed % 3;
      const files =
        order === 0 ? [slice, ...base.siblings!] : order === 1 ? [...base.siblings!, slice] : [slice];
      checkSeries(buildImageSeries(files));
    } else if (base.kind === 'rtstruct') {
      const file = parseDicom(mutated.bytes, source);
      const structureSet = readStructureSet(file);
      const out = new Uint8Array(base.grid!.dims[0] * base.grid!.dims[1] * base.grid!.dims[2]);
      for (const roi of structureSet.rois) {
        for (const contour of roi.contours)
          if (!contour.pointsLps.every(Number.isFinite))
            throw new Error(`ROI ${roi.name}: non-finite points`);
        rasteriseRoi(roi, base.grid!, out);
      }
    } else {
      writeFileSync(source, mutated.bytes);
      try {
        const volume = await readNiftiFile(source);
        if (
          !volume.dims.every((d) => Number.isInteger(d) && d > 0) ||
          !volume.spacingMm.every((v) => Number.isFinite(v) && v > 0) ||
          !volume.affineIjkToLps.every(Number.isFinite) ||
          volume.data.length !== volume.dims[0] * volume.dims[1] * volume.dims[2]
        )
          throw new Error(
            `an inconsistent volume was read: ${volume.dims.join('x')}, ${volume.spacingMm.join('x')} mm`,
          );
        toMask(volume);
      } finally {
        rmSync(source, { force: true });
      }
    }
  } catch (error) {
    if (isAppError(error)) {
      result.outcome = 'error';
      result.code = error.code;
      result.message = error.message;
    } else {
      result.outcome = 'crash';
      result.message =
        error instanceof Error ? `${error.name}: ${error.message}\n${error.stack}` : String(error);
    }
  }
  result.ms = performance.now() - started;
  return result;
}

mkdirSync(scratch, { recursive: true });
parentPort!.on('message', (spec: VariantSpec) => {
  run(spec).then(
    (result) => parentPort!.postMessage(result),
    (error: unknown) =>
      parentPort!.postMessage({
        id: spec.id,
        outcome: 'crash',
        source: spec.base,
        description: `${spec.mutation} #${spec.seed} (building the variant failed)`,
        message: error instanceof Error ? `${error.name}: ${error.message}\n${error.stack}` : String(error),
        ms: 0,
      } satisfies VariantResult),
  );
});
parentPort!.postMessage({ ready: true });
