import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReferencePolicy } from '../../src/lib/core/cohorts/reference-policy';
import {
  changeCohortCases,
  checkCohort,
  cohortVersions,
  decideFinding,
  createCohort,
  freezeCohort,
  stratification,
} from '../../src/lib/server/services/cohort.service';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { createTestDatabase, type TestDatabase } from './test-database';

let database: TestDatabase;
let blobDir: string;
const deps = () => ({ db: database.db, blobs: new FileBlobStore(blobDir) });
const actor = { userId: null, label: 'test' };
const sha = (n: number) => n.toString(16).padStart(64, '0');
let blobCounter = 0;

/** Two sites, six cases; each case has EXPERT's and RO2's Heart and Lung_L and a STAPLE set (not on case 6). */
beforeAll(async () => {
  database = await createTestDatabase();
  blobDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-cohorts-'));
  const db = database.db;
  const structures = new Map<string, number>();
  for (const name of ['Heart', 'Lung_L'])
    structures.set(
      name,
      (
        await db
          .insertInto('structure')
          .values({ tg263_name: name, category: 'OAR' })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id,
    );
  const cases: Array<[string, string, 'left' | 'right', 'breast_conserving' | 'mastectomy', string, string]> =
    [
      ['A', 'A-1', 'left', 'breast_conserving', 'ESTRO', '2025-01-10'],
      ['A', 'A-2', 'right', 'breast_conserving', 'ESTRO', '2025-03-10'],
      ['A', 'A-3', 'left', 'mastectomy', 'RTOG', '2025-06-10'],
      ['B', 'B-1', 'left', 'breast_conserving', 'ESTRO', '2025-02-10'],
      ['B', 'B-2', 'left', 'mastectomy', 'ESTRO', '2025-08-10'],
      ['B', 'B-3', 'right', 'breast_conserving', 'RTOG', '2025-09-10'],
    ];
  const sites = new Map<string, number>();
  const observers = new Map<string, number>();
  for (const code of ['A', 'B']) {
    const site = await db
      .insertInto('site')
      .values({ code, name: code })
      .returning('id')
      .executeTakeFirstOrThrow();
    sites.set(code, site.id);
    for (const o of ['EXPERT', 'RO2'])
      observers.set(
        `${code}/${o}`,
        (
          await db
            .insertInto('observer')
            .values({ site_id: site.id, code: o, display_name: o })
            .returning('id')
            .executeTakeFirstOrThrow()
        ).id,
      );
  }
  for (const [i, [site, pseudonym, laterality, surgery, protocol, day]] of cases.entries()) {
    const c = await db
      .insertInto('patient_case')
      .values({
        site_id: sites.get(site)!,
        pseudonym,
        laterality,
        surgery_type: surgery,
        protocol,
        acquisition_date: day,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const sets: Array<{ source: 'physician' | 'consensus'; observer: string | null }> = [
      { source: 'physician', observer: 'EXPERT' },
      { source: 'physician', observer: 'RO2' },
      ...(i === 5 ? [] : [{ source: 'consensus' as const, observer: null }]),
    ];
    for (const s of sets) {
      const set = await db
        .insertInto('contour_set')
        .values({
          case_id: c.id,
          source: s.source,
          observer_id: s.observer === null ? null : observers.get(`${site}/${s.observer}`)!,
          variant: s.source === 'consensus' ? 'staple' : '',
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      for (const structureId of structures.values()) {
        const blob = sha(++blobCounter);
        await db
          .insertInto('blob')
          .values({
            sha256: blob,
            size_bytes: 1,
            stored_size_bytes: 1,
            media_type: 'application/octet-stream',
          })
          .execute();
        await db
          .insertInto('contour')
          .values({
            contour_set_id: set.id,
            structure_id: structureId,
            mask_blob_sha256: blob,
            volume_cc: 1,
            voxel_count: 1,
          })
          .execute();
      }
    }
  }
});

afterAll(async () => {
  await database?.destroy();
  if (blobDir) await rm(blobDir, { recursive: true, force: true });
});

describe('cohorts', () => {
  it('builds a cohort from a selection and summarises its strata and references', async () => {
    const created = await createCohort(
      database.db,
      { name: 'left ESTRO', selection: { laterality: 'left', protocol: 'estro', structures: ['Heart'] } },
      actor,
    );
    expect(created.cases).toBe(3); // A-1, B-1, B-2
    await expect(
      createCohort(database.db, { name: 'left ESTRO', selection: {} }, actor),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await expect(
      createCohort(database.db, { name: 'nothing', selection: { sites: ['Z'] } }, actor),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });

    const summary = await stratification(database.db, 'left ESTRO', ['*=staple', 'Lung_L=observer:EXPERT']);
    expect(summary.cases).toBe(3);
    expect(summary.strata).toEqual([
      { site: 'A', laterality: 'left', surgery: 'breast_conserving', protocol: 'ESTRO', cases: 1 },
      { site: 'B', laterality: 'left', surgery: 'breast_conserving', protocol: 'ESTRO', cases: 1 },
      { site: 'B', laterality: 'left', surgery: 'mastectomy', protocol: 'ESTRO', cases: 1 },
    ]);
    expect(summary.structures).toEqual([
      { structure: 'Heart', rule: 'the STAPLE consensus', contoured: 3, withReference: 3 },
      { structure: 'Lung_L', rule: 'observer EXPERT', contoured: 3, withReference: 3 },
    ]);
  });

  it('freezes an immutable version whose hash names its content, and the same content again gives it back', async () => {
    const all = await createCohort(database.db, { name: 'all', selection: {} }, actor);
    expect(all.cases).toBe(6);
    const policy = ['*=staple', 'Lung_L=observer:EXPERT'];
    const first = await freezeCohort(deps(), 'all', { reference: policy, note: 'commissioning' }, actor);
    // B-3 has no STAPLE set: its Heart has no reference, its Lung_L has EXPERT's
    expect(first).toMatchObject({ version: 1, cases: 6, references: 11, created: true });
    expect(first.contentSha256).toMatch(/^[0-9a-f]{64}$/);
    const again = await freezeCohort(deps(), 'all', { reference: [...policy].reverse() }, actor);
    expect(again).toMatchObject({ version: 1, created: false, contentSha256: first.contentSha256 });

    const references = await database.db
      .selectFrom('cohort_version_reference as r')
      .innerJoin('contour_set as cs', 'cs.id', 'r.contour_set_id')
      .innerJoin('structure as st', 'st.id', 'r.structure_id')
      .select(['st.tg263_name as structure', 'cs.source'])
      .where('r.cohort_version_id', '=', first.versionId)
      .execute();
    expect(references.filter((r) => r.structure === 'Heart').every((r) => r.source === 'consensus')).toBe(
      true,
    );
    expect(references.filter((r) => r.structure === 'Lung_L').every((r) => r.source === 'physician')).toBe(
      true,
    );

    // a frozen version cannot be changed, whatever happens to the cohort afterwards
    await expect(sql`update cohort_version set note = 'x'`.execute(database.db)).rejects.toThrow(/frozen/);
    await expect(sql`delete from cohort_version_case`.execute(database.db)).rejects.toThrow(/frozen/);
    await changeCohortCases(database.db, 'all', { remove: ['B-3'], reason: 'no STAPLE consensus' }, actor);
    const second = await freezeCohort(deps(), 'all', { reference: policy }, actor);
    expect(second).toMatchObject({ version: 2, cases: 5, references: 10, created: true });
    expect(second.contentSha256).not.toBe(first.contentSha256);
    const versions = await cohortVersions(database.db, 'all');
    expect(versions.map((v) => [v.version, v.caseCount, v.note])).toEqual([
      [1, 6, 'commissioning'],
      [2, 5, ''],
    ]);
    const events = await database.db
      .selectFrom('audit_event')
      .select('action')
      .where('action', 'like', 'cohort.%')
      .orderBy('id')
      .execute();
    expect(events.map((e) => e.action)).toEqual([
      'cohort.create',
      'cohort.create',
      'cohort.freeze',
      'cohort.change',
      'cohort.freeze',
    ]);
  });

  it('selects by scanner fields, each "contains" with the text taken literally', async () => {
    await database.db
      .updateTable('patient_case')
      .set({ manufacturer: 'SIEMENS', scanner_model: 'SOMATOM go.Open Pro', convolution_kernel: 'Br40' })
      .where('pseudonym', 'in', ['A-3', 'B-3'])
      .execute();
    const created = await createCohort(
      database.db,
      {
        name: 'siemens br4',
        selection: { manufacturer: 'siemens', scannerModel: 'open pro', kernel: 'br4' },
      },
      actor,
    );
    expect(created.cases).toBe(2);
    await expect(
      createCohort(database.db, { name: 'wildcard', selection: { kernel: '%' } }, actor),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses unknown cases, a policy without a rule for every structure and changes without a reason', async () => {
    await expect(changeCohortCases(database.db, 'all', { add: ['Z-9'], reason: 'x' }, actor)).rejects.toThrow(
      /no case with pseudonym Z-9/,
    );
    await expect(changeCohortCases(database.db, 'all', { add: ['A-1'], reason: ' ' }, actor)).rejects.toThrow(
      /reason/,
    );
    await expect(freezeCohort(deps(), 'all', { reference: ['Heart=staple'] }, actor)).rejects.toThrow(
      /rule for every structure/,
    );
    await expect(freezeCohort(deps(), 'nope', { reference: ['*=staple'] }, actor)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(() => parseReferencePolicy(['*=vote'])).toThrow(/expected staple, majority or observer:CODE/);
    expect(parseReferencePolicy(['*=majority']).default).toEqual({ kind: 'majority' });
  });

  it('checks the cases of a cohort from the database: a patient imported twice is found', async () => {
    expect((await checkCohort(deps(), 'all')).findings).toEqual([]);
    await sql`update patient_case set patient_key_sha256 = ${'f'.repeat(64)}
      where pseudonym in ('A-1', 'B-2')`.execute(database.db);
    const checked = await checkCohort(deps(), 'all');
    expect(checked.cases).toBe(5);
    expect(checked.findings.map((f) => [f.check, f.message])).toEqual([
      ['duplicate_case', 'B-2 is the same patient as A-1: keep one, or say why both belong'],
    ]);
    // no version while a finding is undecided
    await expect(freezeCohort(deps(), 'all', { reference: ['*=staple'] }, actor)).rejects.toThrow(
      /1 undecided finding.*\n {2}duplicate_case: B-2 is the same patient as A-1/s,
    );
    await expect(
      decideFinding(
        deps(),
        'all',
        { pseudonym: 'A-1', check: 'duplicate_case', decision: 'accepted', note: 'x' },
        actor,
      ),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await decideFinding(
      deps(),
      'all',
      { pseudonym: 'B-2', check: 'duplicate_case', decision: 'accepted', note: 'second course, other side' },
      actor,
    );
    expect((await checkCohort(deps(), 'all')).findings[0]!.decision).toEqual({
      decision: 'accepted',
      note: 'second course, other side',
    });
    const frozen = await freezeCohort(
      deps(),
      'all',
      { reference: ['*=staple', 'Lung_L=observer:EXPERT'] },
      actor,
    );
    expect(frozen).toMatchObject({ version: 2, created: false });
    // excluding instead takes the case out of the cohort
    await decideFinding(
      deps(),
      'all',
      { pseudonym: 'B-2', check: 'duplicate_case', decision: 'excluded', note: 'duplicate import' },
      actor,
    );
    const after = await checkCohort(deps(), 'all');
    expect(after.cases).toBe(4);
    expect(after.findings).toEqual([]);
  });
});
