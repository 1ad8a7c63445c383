import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryMaskSummary, boxToIjk } from '../../src/lib/core/volume/crop';
import type { Vec3 } from '../../src/lib/core/volume/volume';
import { maskFindings } from '../../src/lib/server/services/cohort-mask-checks.service';
import { FileBlobStore, type BlobStore } from '../../src/lib/server/storage/blob-store';
import { createTestDatabase, type TestDatabase } from './test-database';

/**
 * Five cases on a 44 x 32 x 20 grid of 2 x 2 x 2.5 mm voxels (0.01 cc each), every mask made of boxes so
 * that each expected number can be counted by hand. Each case has the sets of observers DR1 and DR2
 * (External, Lung_L, Heart, CTV_Breast_L, SpinalCanal) and a STAPLE consensus without an External.
 *   A-1 clean; A-2 another patient (every box one voxel further along i) whose masks are damaged on purpose;
 *   A-3 a copy of A-1 with one voxel added to each heart; A-4 the A-1 patient on a longer grid (24 slices);
 *   A-5 with sets recorded on no series (they lie on the case's CT), DR1's heart with a one-voxel speck.
 * Boxes hold slice indices k from 0; the messages name axial slices from 1, as the case viewer does.
 */
const dims: Vec3 = [44, 32, 20];
type Box = [number, number, number, number, number, number]; // i0, i1, j0, j1, k0, k1 inclusive

function maskOf(grid: Vec3, add: readonly Box[], remove: readonly Box[] = []): Uint8Array {
  const data = new Uint8Array(grid[0] * grid[1] * grid[2]);
  const paint = ([i0, i1, j0, j1, k0, k1]: Box, value: number) => {
    for (let k = k0; k <= k1; k++)
      for (let j = j0; j <= j1; j++)
        for (let i = i0; i <= i1; i++) data[i + grid[0] * (j + grid[1] * k)] = value;
  };
  for (const b of add) paint(b, 1);
  for (const b of remove) paint(b, 0);
  return data;
}

/** A patient's structures as boxes, `di` voxels along i from the first patient's. */
function patient(di: number) {
  return {
    External: [2 + di, 37 + di, 2, 29, 0, 19] as Box,
    Lung_L: [22 + di, 31 + di, 8, 20, 3, 14] as Box,
    Heart: [12 + di, 20 + di, 10, 18, 4, 11] as Box,
    // DR2 draws the heart one voxel wider
    HeartWide: [12 + di, 21 + di, 10, 18, 4, 11] as Box,
    CTV_Breast_L: [24 + di, 33 + di, 22, 27, 5, 12] as Box,
    SpinalCanal: [18 + di, 20 + di, 24, 26, 0, 19] as Box,
  };
}

type Sets = Record<'DR1' | 'DR2' | 'consensus', Record<string, Uint8Array>>;

function cleanSets(di: number, grid: Vec3 = dims): Sets {
  const p = patient(di);
  const full = (box: Box): Box =>
    grid[2] === dims[2] ? box : [box[0], box[1], box[2], box[3], box[4], grid[2] - 1];
  const common = {
    External: maskOf(grid, [full(p.External)]),
    Lung_L: maskOf(grid, [p.Lung_L]),
    CTV_Breast_L: maskOf(grid, [p.CTV_Breast_L]),
    SpinalCanal: maskOf(grid, [full(p.SpinalCanal)]),
  };
  return {
    DR1: { ...common, Heart: maskOf(grid, [p.Heart]) },
    DR2: { ...common, Heart: maskOf(grid, [p.HeartWide]) },
    consensus: { Lung_L: common.Lung_L, CTV_Breast_L: common.CTV_Breast_L, Heart: maskOf(grid, [p.Heart]) },
  };
}

function damagedSets(): Sets {
  const p = patient(1);
  const sets = cleanSets(1);
  // DR1 skipped slice 8 of the heart (9 x 9 voxels), and left a 2 x 2 x 2 hole in the breast CTV
  sets.DR1.Heart = maskOf(dims, [p.Heart], [[13, 21, 10, 18, 8, 8]]);
  sets.DR1.CTV_Breast_L = maskOf(dims, [p.CTV_Breast_L], [[29, 30, 24, 25, 8, 9]]);
  // DR2 left a 3 x 2 x 2 island far below the heart, and drew a lung bar across the body outline (i 33-40;
  // the External ends at i 38: i 39 is the tolerated rim, i 40 is outside)
  sets.DR2.Heart = maskOf(dims, [p.HeartWide, [36, 38, 4, 5, 16, 17]]);
  sets.DR2.Lung_L = maskOf(dims, [p.Lung_L, [33, 40, 10, 11, 6, 6]]);
  // the consensus too, three rows wide; it has no External of its own
  sets.consensus.Lung_L = maskOf(dims, [p.Lung_L, [33, 40, 10, 12, 6, 6]]);
  return sets;
}

function nearCopySets(): Sets {
  const p = patient(0);
  const sets = cleanSets(0);
  sets.DR1.Heart = maskOf(dims, [p.Heart, [21, 21, 14, 14, 8, 8]]);
  sets.DR2.Heart = maskOf(dims, [p.HeartWide, [22, 22, 14, 14, 8, 8]]);
  sets.consensus.Heart = sets.DR1.Heart;
  return sets;
}

function speckSets(): Sets {
  const sets = cleanSets(5);
  sets.DR1.Heart = maskOf(dims, [patient(5).Heart, [35, 35, 5, 5, 6, 6]]);
  return sets;
}

let database: TestDatabase;
let dir: string;
let store: FileBlobStore;
let cohortId: number;
const caseIds = new Map<string, number>();
let reads = 0;
const blobs: BlobStore = {
  put: (bytes) => store.put(bytes),
  get: (sha256) => {
    reads++;
    return store.get(sha256);
  },
};

beforeAll(async () => {
  database = await createTestDatabase();
  dir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-mask-checks-'));
  store = new FileBlobStore(dir);
  const db = database.db;
  const site = await db
    .insertInto('site')
    .values({ code: 'A', name: 'Site A' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const observers = new Map<string, number>();
  for (const code of ['DR1', 'DR2'])
    observers.set(
      code,
      (
        await db
          .insertInto('observer')
          .values({ site_id: site.id, code, display_name: code })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id,
    );
  const structures = new Map<string, number>();
  for (const [name, category] of [
    ['External', 'external'],
    ['Lung_L', 'OAR'],
    ['Heart', 'OAR'],
    ['CTV_Breast_L', 'CTV'],
    ['SpinalCanal', 'OAR'],
  ] as const)
    structures.set(
      name,
      (
        await db
          .insertInto('structure')
          .values({ tg263_name: name, category })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id,
    );
  cohortId = (
    await db.insertInto('cohort').values({ name: 'mask checks' }).returning('id').executeTakeFirstOrThrow()
  ).id;

  const cases: Array<[string, Sets, Vec3, boolean]> = [
    ['A-1', cleanSets(0), dims, true],
    ['A-2', damagedSets(), dims, true],
    ['A-3', nearCopySets(), dims, true],
    ['A-4', cleanSets(0, [44, 32, 24]), [44, 32, 24], true],
    ['A-5', speckSets(), dims, false],
  ];
  for (const [pseudonym, sets, grid, ownSeries] of cases) {
    const c = await db
      .insertInto('patient_case')
      .values({ site_id: site.id, pseudonym, laterality: 'left', acquisition_date: '2026-01-05' })
      .returning('id')
      .executeTakeFirstOrThrow();
    caseIds.set(pseudonym, c.id);
    await db.insertInto('cohort_case').values({ cohort_id: cohortId, case_id: c.id }).execute();
    const series = await db
      .insertInto('image_series')
      .values({
        case_id: c.id,
        series_instance_uid: `1.2.3.${c.id}`,
        frame_of_reference_uid: `1.2.4.${c.id}`,
        dim_x: grid[0],
        dim_y: grid[1],
        dim_z: grid[2],
        spacing_x_mm: 2,
        spacing_y_mm: 2,
        spacing_z_mm: 2.5,
        origin_lps_mm: [0, 0, 0],
        direction_lps: [1, 0, 0, 0, 1, 0, 0, 0, 1],
        slice_positions_mm: Array.from({ length: grid[2] }, (_, k) => 2.5 * k),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (const [label, masks] of Object.entries(sets)) {
      const consensus = label === 'consensus';
      const set = await db
        .insertInto('contour_set')
        .values({
          case_id: c.id,
          source: consensus ? 'consensus' : 'physician',
          observer_id: consensus ? null : observers.get(label)!,
          variant: consensus ? 'staple' : '',
          image_series_id: ownSeries ? series.id : null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      for (const [structure, data] of Object.entries(masks)) {
        const stored = await store.put(data);
        await db
          .insertInto('blob')
          .values({
            sha256: stored.sha256,
            size_bytes: stored.sizeBytes,
            stored_size_bytes: stored.storedSizeBytes,
            compression: 'gzip',
            media_type: 'application/x-contourbench-mask',
          })
          .onConflict((oc) => oc.column('sha256').doNothing())
          .execute();
        const { voxels, box } = binaryMaskSummary(data, grid);
        await db
          .insertInto('contour')
          .values({
            contour_set_id: set.id,
            structure_id: structures.get(structure)!,
            mask_blob_sha256: stored.sha256,
            volume_cc: voxels * 0.01,
            voxel_count: voxels,
            bbox_ijk: boxToIjk(box),
          })
          .execute();
      }
    }
  }
}, 60_000);

afterAll(async () => {
  await database?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const fixes = {
  fragmented: 'Remove stray islands, or join pieces a missed slice has split',
  holes: 'Fill them, or look for an inner contour drawn by mistake (an inner contour on a slice is a hole)',
  skipped: 'Draw the missed slice, or check the structure set for a contour on a wrong slice',
  outside: "Crop it to the body, or check the External and the structure's slices",
};

describe('mask-based case checks', () => {
  it('finds each damage with its numbers, the near copy, and nothing on clean cases', async () => {
    reads = 0;
    const findings = await maskFindings({ db: database.db, blobs }, cohortId);
    const a2 = caseIds.get('A-2')!;
    expect(findings).toEqual([
      {
        check: 'fragmented',
        caseId: a2,
        structure: 'Heart',
        message:
          'A-2 Heart should be one piece (26-connected, every piece counts however small): observer DR1 has 2 ' +
          'pieces; the one besides the largest holds 2.43 cc on axial slices 10-12; observer DR2 has 2 pieces; ' +
          `the one besides the largest holds 0.12 cc on axial slices 17-18. ${fixes.fragmented}`,
      },
      {
        check: 'holes',
        caseId: a2,
        structure: 'CTV_Breast_L',
        message:
          'A-2 CTV_Breast_L should have no holes: observer DR1 leaves 0.08 cc of holes on axial slices 9-10 ' +
          `(0.08 cc of it closed in 3-D). ${fixes.holes}`,
      },
      {
        check: 'outside_body',
        caseId: a2,
        structure: 'Lung_L',
        message:
          "A-2 Lung_L reaches outside the body (more than 1 voxel beyond the External's outline in its " +
          'slice; holes of the outline count as inside): observer DR2 has 0.02 cc (0.13 %) outside the ' +
          'External of its own set, on axial slice 7; consensus has 0.03 cc (0.19 %) outside the External of ' +
          `observer DR1, on axial slice 7. ${fixes.outside}`,
      },
      {
        check: 'skipped_slices',
        caseId: a2,
        structure: 'Heart',
        message:
          'A-2 Heart has slices left out: observer DR1 has no contour on 1 axial slice (9) inside its extent; ' +
          `observer DR2 has no contour on 4 axial slices (13-16) inside its extent. ${fixes.skipped}`,
      },
      {
        check: 'near_duplicate_case',
        caseId: caseIds.get('A-3')!,
        structure: null,
        message:
          'A-3 looks like the same scan as A-1 (all 5 shared structures overlap, lowest Dice 0.999 for ' +
          'Heart): same 44x32x20 grid at 2 x 2 x 2.5 mm, and for every shared structure some physician or ' +
          'consensus contour of each case overlaps voxel for voxel with Dice >= 0.98 (at least 3 shared ' +
          'structures needed). Keep one, or say why both belong',
      },
      {
        check: 'fragmented',
        caseId: caseIds.get('A-5')!,
        structure: 'Heart',
        message:
          'A-5 Heart should be one piece (26-connected, every piece counts however small): observer DR1 has 2 ' +
          `pieces; the one besides the largest holds 0.01 cc on axial slice 7 (a speck of 1 voxel). ${fixes.fragmented}`,
      },
    ]);
    expect(reads).toBeGreaterThan(20);
  });

  it('reads no mask when the cohort is checked again', async () => {
    const first = await maskFindings({ db: database.db, blobs }, cohortId);
    reads = 0;
    expect(await maskFindings({ db: database.db, blobs }, cohortId)).toEqual(first);
    expect(reads).toBe(0);
    const kept = await database.db
      .selectFrom('mask_check_result')
      .select(['check_name', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('check_name')
      .orderBy('check_name')
      .execute();
    expect(kept.map((k) => k.check_name)).toEqual(['dice', 'outside_body', 'shape']);
  });

  it('gives an empty cohort no finding', async () => {
    const empty = await database.db
      .insertInto('cohort')
      .values({ name: 'no cases' })
      .returning('id')
      .executeTakeFirstOrThrow();
    expect(await maskFindings({ db: database.db, blobs }, empty.id)).toEqual([]);
  });
});
