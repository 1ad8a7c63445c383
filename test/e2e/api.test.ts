import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../src/cli/web-server';
import { thresholdModel } from '../../scripts/onnx/family-models';
import { createLogger } from '../../src/lib/server/logger';
import type { ImportReport } from '../../src/lib/server/services/import.service';
import { parseDicom } from '../../src/lib/server/io/dicom/parser';
import { readStructureSet } from '../../src/lib/server/io/rtstruct';
import { createTestDatabase, type TestDatabase } from '../db/test-database';
import { createAccount } from '../helpers/accounts';
import { serve, stop, type Served } from '../helpers/serve';

const series = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../shared/testdata/dicom/breast-dicompyler/series',
);
let token: string;

let database: TestDatabase;
let dataDir: string;
let served: Served;
let zip: Uint8Array;

beforeAll(async () => {
  await ensureWebBuild(createLogger('warn'));
  database = await createTestDatabase();
  token = (await createAccount(database.db, 'admin')).token;
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-api-'));
  served = await serve({
    DATABASE_URL: database.url,
    CONTOURBENCH_DATA_DIR: dataDir,
  });
  const entries: Record<string, [Uint8Array, { level: 0 }]> = {};
  for (const file of await readdir(series))
    entries[file] = [await readFile(path.join(series, file)), { level: 0 }];
  zip = zipSync(entries);
}, 300_000);

afterAll(async () => {
  if (served) await stop(served);
  await database?.destroy();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const post = (
  body: BodyInit,
  headers: Record<string, string>,
  query = 'site=SITE-API&laterality=left&cohort=api',
) =>
  fetch(`${served.url}/api/import?${query}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/zip', ...headers },
  });

describe('JSON API: import upload and RTSTRUCT export', () => {
  it('refuses calls without the token or with a wrong one', async () => {
    const none = await post(zip as Uint8Array<ArrayBuffer>, {});
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { message: string } }).error.message).toContain(
      'Authorization: Bearer',
    );
    const wrong = await post(zip as Uint8Array<ArrayBuffer>, { authorization: 'Bearer not-the-token' });
    expect(wrong.status).toBe(401);
    const exportWithout = await fetch(`${served.url}/api/contour-sets/1/rtstruct`);
    expect(exportWithout.status).toBe(401);
  });

  it('refuses a body that is not a zip, and bad parameters', async () => {
    const text = await post('hello', { authorization: `Bearer ${token}` });
    expect(text.status).toBe(422);
    expect(((await text.json()) as { error: { message: string } }).error.message).toBe(
      'the upload is not a zip archive',
    );
    const badSite = await post(
      zip as Uint8Array<ArrayBuffer>,
      { authorization: `Bearer ${token}` },
      'site=no%20spaces',
    );
    expect(badSite.status).toBe(400);
  });

  it('imports an uploaded zip and exports its contour set as an RTSTRUCT', async () => {
    const response = await post(zip as Uint8Array<ArrayBuffer>, { authorization: `Bearer ${token}` });
    expect(response.status).toBe(200);
    const report = (await response.json()) as ImportReport;
    expect(report.studies).toHaveLength(1);
    const [set] = report.studies[0].structureSets;
    expect(set.file).toBe('upload.zip/rtss.dcm');
    expect(set.rois.map((r) => r.tg263Name)).toEqual([
      'External',
      'CTV_Breast_L',
      'Heart',
      'Lung_L',
      'CTV_TumorBed_L',
    ]);

    const exported = await fetch(`${served.url}/api/contour-sets/${set.contourSetId}/rtstruct`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-type')).toBe('application/dicom');
    const structureSet = readStructureSet(
      parseDicom(new Uint8Array(await exported.arrayBuffer()), 'export.dcm'),
    );
    expect(structureSet.rois.map((r) => r.name)).toEqual([
      'External',
      'CTV_Breast_L',
      'Heart',
      'Lung_L',
      'CTV_TumorBed_L',
    ]);
    const missing = await fetch(`${served.url}/api/contour-sets/999/rtstruct`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(missing.status).toBe(404);
  });
});

describe('JSON API: models and evaluation runs', () => {
  const auth = { authorization: '' };
  beforeAll(() => {
    auth.authorization = `Bearer ${token}`;
  });
  const model = thresholdModel();
  // coarse grid so the 512x512x98 breast CT takes a few hundred windows
  const card = {
    ...model.card,
    version: 'api',
    input: { ...model.card.input, spacingMm: [4, 4, 4], patchSize: [16, 32, 32] },
  };
  const upload = (cardJson: string) =>
    fetch(`${served.url}/api/models`, {
      method: 'POST',
      body: model.bytes as Uint8Array<ArrayBuffer>,
      headers: {
        ...auth,
        'content-type': 'application/octet-stream',
        'model-card': Buffer.from(cardJson).toString('base64'),
      },
    });

  it('registers a model (file as the body, card in a header), once, and lists it', async () => {
    const first = await upload(JSON.stringify(card));
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({ reference: 'threshold@api', created: true });
    const again = await upload(JSON.stringify(card));
    expect(again.status).toBe(200);
    const bad = await upload('{"name": 1}');
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(
      /^Model-Card header: invalid model card/,
    );
    const list = (await (await fetch(`${served.url}/api/models`, { headers: auth })).json()) as Array<{
      name: string;
      version: string;
    }>;
    expect(list.map((m) => `${m.name}@${m.version}`)).toContain('threshold@api');
    expect((await fetch(`${served.url}/api/models`)).status).toBe(401);
  });

  it('runs an evaluation over the imported cohort and streams its progress as server-sent events', async () => {
    const created = await fetch(`${served.url}/api/evaluations`, {
      method: 'POST',
      body: JSON.stringify({ model: 'threshold@api', cohort: 'api' }),
      headers: { ...auth, 'content-type': 'application/json' },
    });
    expect(created.status).toBe(201);
    const { runId, cases } = (await created.json()) as { runId: number; cases: number };
    expect(cases).toBe(1);
    const events = await fetch(`${served.url}/api/evaluations/${runId}/events`, { headers: auth });
    expect(events.headers.get('content-type')).toBe('text/event-stream');
    const text = await events.text();
    expect(text).toMatch(/event: progress\ndata: \{"runId":\d+/);
    expect(text).toContain('event: end\ndata: {"status":"succeeded"}');
    const progress = await (await fetch(`${served.url}/api/evaluations/${runId}`, { headers: auth })).json();
    expect(progress).toMatchObject({ status: 'succeeded', total: 1, succeeded: 1, failed: 0 });
    const cancel = await fetch(`${served.url}/api/evaluations/${runId}/cancel`, {
      method: 'POST',
      headers: auth,
    });
    expect(cancel.status).toBe(409);
    const retry = await fetch(`${served.url}/api/evaluations/${runId}/retry`, {
      method: 'POST',
      headers: auth,
    });
    expect(await retry.json()).toEqual({ runId, retried: [] });
    expect((await fetch(`${served.url}/api/evaluations/${runId}/retry`, { method: 'POST' })).status).toBe(
      401,
    );
    const missing = await fetch(`${served.url}/api/evaluations`, {
      method: 'POST',
      body: JSON.stringify({ model: 'threshold@api', cohort: 'nope' }),
      headers: { ...auth, 'content-type': 'application/json' },
    });
    expect(missing.status).toBe(404);
    expect((await fetch(`${served.url}/api/evaluations/abc`, { headers: auth })).status).toBe(400);
  }, 120_000);
});
