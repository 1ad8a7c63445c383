import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../src/cli/web-server';
import { createLogger } from '../../src/lib/server/logger';
import { seedAnalytics } from '../../src/lib/server/services/analytics-seed.service';
import { refreshAlarms } from '../../src/lib/server/services/drift.service';
import { createTestDatabase, type TestDatabase } from '../db/test-database';
import { createAccount } from '../helpers/accounts';
import { serve, stop, type Served } from '../helpers/serve';

const routes = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/routes/api/v1');

let database: TestDatabase;
let dataDir: string;
let served: Served;
let auth: { authorization: string };

beforeAll(async () => {
  await ensureWebBuild(createLogger('warn'));
  database = await createTestDatabase();
  await seedAnalytics(database.db, { cases: 80, seed: 5 });
  await refreshAlarms(database.db);
  auth = (await createAccount(database.db, 'admin')).authorization;
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-api-v1-'));
  served = await serve({
    DATABASE_URL: database.url,
    CONTOURBENCH_DATA_DIR: dataDir,
  });
}, 300_000);

afterAll(async () => {
  if (served) await stop(served);
  await database?.destroy();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const get = (query: string, headers: Record<string, string> = auth) =>
  fetch(`${served.url}/api/v1/${query}`, { headers });

/** The API paths of the route files under src/routes/api/v1 ([id] as {id}). */
async function routePaths(folder = routes, prefix = '/api/v1'): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    if (entry.isFile() && entry.name === '+server.ts') found.push(prefix);
    if (entry.isDirectory())
      found.push(
        ...(await routePaths(
          path.join(folder, entry.name),
          `${prefix}/${entry.name.replace(/^\[(.+)\]$/, '{$1}')}`,
        )),
      );
  }
  return found;
}

describe('/api/v1 over the seeded analytics database', () => {
  it('documents every route in openapi.json, and only those', async () => {
    const response = await fetch(`${served.url}/api/v1/openapi.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { parameters: Array<{ name: string }>; responses: object }>>;
    };
    expect(document.openapi).toBe('3.1.0');
    const documented = Object.keys(document.paths).sort();
    const served_ = (await routePaths()).filter((p) => p !== '/api/v1/openapi.json').sort();
    expect(documented).toEqual(served_);
    const drift = document.paths['/api/v1/drift']!.get!;
    expect(drift.parameters.map((p) => p.name)).toEqual(
      expect.arrayContaining([
        'model',
        'structure',
        'site',
        'observer',
        'cohort',
        'from',
        'to',
        'baselinePoints',
      ]),
    );
  });

  it('refuses calls without the token', async () => {
    const response = await get('metrics', {});
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
  });

  it('answers every analysis endpoint with the metric definition and the test it used', async () => {
    const cases: Array<[string, (body: Record<string, unknown>) => void]> = [
      ['observers/agreement?structure=Heart', (b) => expect(JSON.stringify(b.tests)).toContain('Wilcoxon')],
      [
        'compare/models?model=seed-net@1.0&model=seed-net@1.1&structure=Heart',
        (b) => expect(b.test).toContain('Holm'),
      ],
      [
        'sites/shift?metric=hd95_mm&model=seed-net@1.1',
        (b) => expect(JSON.stringify(b)).toContain('Kruskal-Wallis'),
      ],
      ['drift?model=seed-net@1.1&structure=Heart', (b) => expect(b.method).toContain('Western Electric')],
      ['editing?structure=Lung_L', (b) => expect(JSON.stringify(b.tests)).toContain('least squares')],
      [
        'metrics?structure=Heart&limit=5',
        (b) => expect(b.definitionVersion).toBe('contourbench-metrics/1.0'),
      ],
    ];
    for (const [query, check] of cases) {
      const response = await get(query);
      expect(response.status, query).toBe(200);
      const body = (await response.json()) as Record<string, unknown>;
      expect(JSON.stringify(body), query).toMatch(/"definition(Version)?":"/);
      check(body);
    }
  });

  it('pages metric rows as JSON and exports them as CSV', async () => {
    const page = (await (await get('metrics?structure=Heart&site=SEED-A&limit=7&offset=3')).json()) as {
      total: number;
      rows: Array<{ structure: string; site: string; surfaceDice2mm: number }>;
    };
    expect(page.total).toBe(20 * 14);
    expect(page.rows).toHaveLength(7);
    expect(page.rows.every((r) => r.structure === 'Heart' && r.site === 'SEED-A')).toBe(true);
    const csv = await get('metrics?structure=Heart&site=SEED-A&limit=7&offset=3&format=csv');
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = (await csv.text()).trimEnd().split('\r\n');
    expect(lines).toHaveLength(8);
    const header = lines[0]!.split(',');
    expect(header).toEqual(
      expect.arrayContaining(['metricId', 'case', 'site', 'dice', 'hd95Mm', 'surfaceDice2mm']),
    );
    const first = lines[1]!.split(',');
    expect(Number(first[header.indexOf('surfaceDice2mm')])).toBeCloseTo(page.rows[0]!.surfaceDice2mm, 12);
  });

  it('serves a repeated question from the cache until the data change', async () => {
    const query = 'compare/models?model=seed-net@1.0&model=seed-net@1.1&structure=Lung_L';
    const first = await get(query);
    const again = await get(query);
    expect(again.headers.get('x-cache')).toBe('hit');
    expect(again.headers.get('x-analytics-version')).toBe(first.headers.get('x-analytics-version'));
    expect(await again.text()).toBe(await first.text());
    const bypass = await get(query, { ...auth, 'cache-control': 'no-cache' });
    expect(bypass.headers.get('x-cache')).toBe('bypass');
    // any committed change raises the version: the next answer is computed again
    const put = await fetch(`${served.url}/api/v1/acceptance-criteria`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'cache check',
        criteria: [{ structure: null, metric: 'dice', comparator: '>=', threshold: 0.5 }],
      }),
    });
    expect(put.status).toBe(200);
    const after = await get(query);
    expect(after.headers.get('x-cache')).toBe('miss');
    expect(Number(after.headers.get('x-analytics-version'))).toBe(
      Number(first.headers.get('x-analytics-version')) + 1,
    );
  });

  it('says which parameter is wrong', async () => {
    const misspelt = await get('drift?metrik=dice');
    expect(misspelt.status).toBe(400);
    expect(((await misspelt.json()) as { error: { message: string } }).error.message).toContain('metrik');
    const metric = await get('drift?metric=volume');
    expect(((await metric.json()) as { error: { message: string } }).error.message).toContain('metric');
    const oneModel = await get('compare/models?model=seed-net@1.1');
    expect(oneModel.status).toBe(400);
    const date = await get('sites/shift?from=2025-13-01');
    expect(date.status).toBe(400);
  });

  it('stores acceptance criteria and acknowledges alarms over HTTP', async () => {
    const put = await fetch(`${served.url}/api/v1/acceptance-criteria`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'api criteria',
        criteria: [
          { structure: 'Heart', metric: 'hd95_mm', comparator: '<=', threshold: 8, minPassRate: 0.9 },
        ],
      }),
    });
    expect(put.status).toBe(200);
    const compare = (await (
      await get(
        'compare/models?model=seed-net@1.0&model=seed-net@1.1&structure=Heart&criteria=api%20criteria',
      )
    ).json()) as { acceptance: { models: Array<{ results: Array<{ cases: number; criterion: string }> }> } };
    expect(compare, JSON.stringify(compare).slice(0, 300)).toHaveProperty('acceptance');
    expect(compare.acceptance.models[1]!.results[0]).toMatchObject({ cases: 80 });
    expect(compare.acceptance.models[1]!.results[0]!.criterion).toContain('hd95_mm <= 8 mm');

    const list = (await (await get('alarms')).json()) as {
      alarms: Array<{ id: number; description: string }>;
    };
    expect(list.alarms.length).toBeGreaterThan(0);
    const id = list.alarms[0]!.id;
    const ack = (note: unknown) =>
      fetch(`${served.url}/api/v1/alarms/${id}/acknowledge`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ note }),
      });
    expect((await ack('')).status).toBe(422);
    expect((await ack('checked the cases')).status).toBe(200);
    expect((await ack('twice')).status).toBe(409);
    const open = (await (await get('alarms')).json()) as { alarms: Array<{ id: number }> };
    expect(open.alarms.map((a) => a.id)).not.toContain(id);
  });
});
