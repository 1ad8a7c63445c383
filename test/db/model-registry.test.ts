import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { net2d, unet3d } from '../../scripts/onnx/family-models';
import { getModelVersion, registerModel } from '../../src/lib/server/services/model-registry.service';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { createTestDatabase, type TestDatabase } from './test-database';

let database: TestDatabase;
let blobDir: string;
let blobs: FileBlobStore;
const sources = { onnx: 'unet.onnx', card: 'unet.json' };

async function counts() {
  const db = database.db;
  const count = async (table: 'model' | 'model_version' | 'blob') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return { models: await count('model'), versions: await count('model_version'), blobs: await count('blob') };
}

beforeAll(async () => {
  database = await createTestDatabase();
  blobDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-models-'));
  blobs = new FileBlobStore(blobDir);
});

afterAll(async () => {
  await database?.destroy();
  if (blobDir) await rm(blobDir, { recursive: true, force: true });
});

describe('model registry', () => {
  const model = unet3d(11);

  it('registers a model with its card, file stored by sha256', async () => {
    const result = await registerModel(database.db, blobs, model.bytes, model.card, sources);
    expect(result).toMatchObject({ reference: 'family-unet3d@seed11', created: true });
    expect(result.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Buffer.from(await blobs.get(result.sha256)).equals(Buffer.from(model.bytes))).toBe(true);
    const stored = await getModelVersion(database.db, 'family-unet3d', 'seed11');
    expect(stored.onnxSha256).toBe(result.sha256);
    expect(stored.parsedCard.input.overlap).toBe(0.5);
    expect(await counts()).toEqual({ models: 1, versions: 1, blobs: 1 });
  });

  it('adding the same bytes and card again changes nothing', async () => {
    const again = await registerModel(database.db, blobs, model.bytes, model.card, sources);
    expect(again.created).toBe(false);
    expect(await counts()).toEqual({ models: 1, versions: 1, blobs: 1 });
  });

  it('refuses another file or another card under a registered version', async () => {
    const other = unet3d(12);
    await expect(registerModel(database.db, blobs, other.bytes, model.card, sources)).rejects.toThrow(
      /family-unet3d@seed11 is already registered with another file .*give the new file a new version/,
    );
    await expect(
      registerModel(database.db, blobs, model.bytes, { ...model.card, description: 'changed' }, sources),
    ).rejects.toThrow(/already registered with a different card than unet\.json/);
    await expect(
      registerModel(database.db, blobs, model.bytes, { ...model.card, version: '2.0.0' }, sources),
    ).rejects.toThrow(/these bytes .* are already registered as family-unet3d@seed11/);
    expect(await counts()).toEqual({ models: 1, versions: 1, blobs: 1 });
  });

  it('refuses a graph that does not fit its card, and stores nothing', async () => {
    const flat = net2d(1);
    const card = { ...flat.card, input: { ...flat.card.input, axisOrder: 'NCHW' as const } };
    await expect(
      registerModel(database.db, blobs, flat.bytes, card, { onnx: 'n.onnx', card: 'n.json' }),
    ).rejects.toThrow(
      'n.onnx does not fit n.json:\n  input "slice" axis W is fixed at 1; the card\'s patchSize gives 64',
    );
    await expect(
      registerModel(database.db, blobs, flat.bytes, { ...flat.card, licence: '' }, sources),
    ).rejects.toThrow(/^unet\.json: invalid model card\n {2}licence: /);
    expect(await counts()).toEqual({ models: 1, versions: 1, blobs: 1 });
  });

  it('names what is registered when a version is not', async () => {
    await expect(getModelVersion(database.db, 'family-unet3d', '9')).rejects.toThrow(
      'family-unet3d@9 is not registered; versions of family-unet3d: seed11',
    );
    await expect(getModelVersion(database.db, 'nope', '1')).rejects.toThrow(
      'no model named "nope" is registered',
    );
  });
});
