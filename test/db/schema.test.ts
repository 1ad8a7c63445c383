import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, schemaColumns } from '../../src/lib/server/db/schema';
import { createTestDatabase, type TestDatabase } from './test-database';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database?.destroy();
});

const sha = (c: string) => c.repeat(64);

/** A site, case, structure, observer, blob and a physician contour set to hang rows on. */
async function seed(db: TestDatabase['db']) {
  const site = await db
    .insertInto('site')
    .values({ code: 'SITE-A', name: 'Site A' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const patientCase = await db
    .insertInto('patient_case')
    .values({ site_id: site.id, pseudonym: 'A-0001', acquisition_date: '2026-03-14', laterality: 'left' })
    .returning(['id', 'acquisition_date'])
    .executeTakeFirstOrThrow();
  const structure = await db
    .insertInto('structure')
    .values({ tg263_name: 'Heart', category: 'OAR' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const observer = await db
    .insertInto('observer')
    .values({ site_id: site.id, code: 'RO1', display_name: 'Radiation oncologist 1' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('blob')
    .values({
      sha256: sha('a'),
      size_bytes: 10,
      stored_size_bytes: 10,
      media_type: 'application/octet-stream',
    })
    .execute();
  const set = await db
    .insertInto('contour_set')
    .values({ case_id: patientCase.id, source: 'physician', observer_id: observer.id })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { site, patientCase, structure, observer, set };
}

describe('schema', () => {
  it('matches the table types column for column, with the same nullability', async () => {
    const result = await sql<{ table_name: string; column_name: string; is_nullable: 'YES' | 'NO' }>`
      select table_name, column_name, is_nullable from information_schema.columns
      where table_schema = 'public' and table_name not like 'kysely_%'`.execute(database.db);
    const actual: Record<string, Record<string, boolean>> = {};
    for (const row of result.rows) {
      (actual[row.table_name] ??= {})[row.column_name] = row.is_nullable === 'YES';
    }
    expect(actual).toEqual(schemaColumns);
    expect(Object.keys(actual).sort()).toEqual(
      Object.keys(schemaColumns satisfies Record<keyof Database, unknown>).sort(),
    );
  });

  it('seeds the four roles', async () => {
    const roles = await database.db.selectFrom('role').select('name').orderBy('name').execute();
    expect(roles.map((r) => r.name)).toEqual(['admin', 'auditor', 'physician', 'physicist']);
  });

  it('keeps calendar dates as strings and stores infinite distances', async () => {
    const { patientCase, structure, set } = await seed(database.db);
    expect(patientCase.acquisition_date).toBe('2026-03-14');
    const model = await database.db
      .insertInto('model')
      .values({ name: 'breast-unet' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await database.db
      .insertInto('blob')
      .values({ sha256: sha('b'), size_bytes: 5, stored_size_bytes: 5, media_type: 'application/onnx' })
      .execute();
    const version = await database.db
      .insertInto('model_version')
      .values({ model_id: model.id, version: '1.0.0', onnx_sha256: sha('b'), card: { name: 'breast-unet' } })
      .returning('id')
      .executeTakeFirstOrThrow();
    const modelSet = await database.db
      .insertInto('contour_set')
      .values({ case_id: patientCase.id, source: 'model', model_version_id: version.id })
      .returning('id')
      .executeTakeFirstOrThrow();
    const metric = await database.db
      .insertInto('metric')
      .values({
        case_id: patientCase.id,
        reference_set_id: set.id,
        test_set_id: modelSet.id,
        structure_id: structure.id,
        definition_version: 'test',
        parameters: {},
        reference_empty: false,
        test_empty: true,
        detected: false,
        reference_volume_cc: 612.5,
        test_volume_cc: 0,
        intersection_volume_cc: 0,
        volume_diff_cc: -612.5,
        volume_diff_pct: -100,
        dice: 0,
        sensitivity: 0,
        precision: null,
        hd95_mm: Infinity,
        surface_area_ref_mm2: 3211.9,
        surface_area_test_mm2: 0,
        surface_dice: { '1': 0, '2': 0 },
      })
      .returning(['hd95_mm', 'precision', 'surface_dice'])
      .executeTakeFirstOrThrow();
    expect(metric.hd95_mm).toBe(Infinity);
    expect(metric.precision).toBeNull();
    expect(metric.surface_dice).toEqual({ '1': 0, '2': 0 });
  });

  it('refuses a second contour set under the same natural key, null keys included', async () => {
    const site = await database.db
      .insertInto('site')
      .values({ code: 'SITE-B', name: 'Site B' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const patientCase = await database.db
      .insertInto('patient_case')
      .values({ site_id: site.id, pseudonym: 'B-0001' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const consensus = { case_id: patientCase.id, source: 'consensus' as const, variant: 'staple' };
    await database.db.insertInto('contour_set').values(consensus).execute();
    await expect(database.db.insertInto('contour_set').values(consensus).execute()).rejects.toThrow(
      /contour_set_natural_key/,
    );
    const upserted = await database.db
      .insertInto('contour_set')
      .values({ ...consensus, label: 'STAPLE v2' })
      .onConflict((oc) => oc.constraint('contour_set_natural_key').doUpdateSet({ label: 'STAPLE v2' }))
      .returning('label')
      .executeTakeFirstOrThrow();
    expect(upserted.label).toBe('STAPLE v2');
  });

  it('refuses contour sets whose fields contradict their source', async () => {
    const patientCase = await database.db
      .selectFrom('patient_case')
      .select('id')
      .where('pseudonym', '=', 'B-0001')
      .executeTakeFirstOrThrow();
    await expect(
      database.db
        .insertInto('contour_set')
        .values({ case_id: patientCase.id, source: 'physician' })
        .execute(),
    ).rejects.toThrow(/contour_set_source_fields/);
  });

  it('maps a site alias once per site and once globally', async () => {
    const structure = await database.db
      .insertInto('structure')
      .values({ tg263_name: 'Lung_L', category: 'OAR', laterality: 'left' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const alias = {
      site_id: null,
      alias: 'Lt Lung',
      alias_normalised: 'lt lung',
      structure_id: structure.id,
    };
    await database.db.insertInto('structure_alias').values(alias).execute();
    await expect(database.db.insertInto('structure_alias').values(alias).execute()).rejects.toThrow(
      /structure_alias_key/,
    );
  });

  it('keeps the audit trail append-only', async () => {
    await database.db
      .insertInto('audit_event')
      .values({ action: 'import', object_type: 'case', object_id: '1', details: { files: 99 } })
      .execute();
    await expect(database.db.updateTable('audit_event').set({ action: 'nothing' }).execute()).rejects.toThrow(
      /append-only \(UPDATE refused\)/,
    );
    await expect(database.db.deleteFrom('audit_event').execute()).rejects.toThrow(
      /append-only \(DELETE refused\)/,
    );
    const count = await database.db
      .selectFrom('audit_event')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(count.n).toBe(1);
  });

  it('has the indexes the dashboards filter by', async () => {
    const result = await sql<{ indexdef: string }>`
      select indexdef from pg_indexes where schemaname = 'public'`.execute(database.db);
    const definitions = result.rows.map((row) => row.indexdef);
    for (const [table, column] of [
      ['contour_set', 'model_version_id'],
      ['metric', 'structure_id'],
      ['patient_case', 'site_id'],
      ['contour_set', 'observer_id'],
      ['patient_case', 'acquisition_date'],
    ]) {
      expect(definitions.some((d) => d.includes(`ON public.${table} USING btree (${column}`))).toBe(true);
    }
  });
});
