import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../src/cli/web-server';
import type { RoleName } from '../../src/lib/core/access/permissions';
import { createLogger } from '../../src/lib/server/logger';
import { SEEDED_COHORT_NAME, seedAnalytics } from '../../src/lib/server/services/analytics-seed.service';
import { refreshAlarms } from '../../src/lib/server/services/drift.service';
import { createTestDatabase, type TestDatabase } from '../db/test-database';
import { createAccount, signInCookie, type TestAccount } from '../helpers/accounts';
import { serve, stop, type Served } from '../helpers/serve';

// Every role against every route, over HTTP on a real server: what each may open, what each is refused,
// and that a physician bound to one site sees that site only.

let database: TestDatabase;
let dataDir: string;
let served: Served;
const accounts = {} as Record<RoleName, TestAccount & { cookie: string }>;
let ids: { caseA: number; caseB: number; run: number; set: number };

beforeAll(async () => {
  await ensureWebBuild(createLogger('warn'));
  database = await createTestDatabase();
  await seedAnalytics(database.db, { cases: 24, seed: 9 });
  await refreshAlarms(database.db);
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-access-'));
  served = await serve({ DATABASE_URL: database.url, CONTOURBENCH_DATA_DIR: dataDir });
  for (const role of ['admin', 'physicist', 'physician', 'auditor'] as const) {
    const account = await createAccount(database.db, role, role === 'physician' ? ['SEED-A'] : []);
    accounts[role] = { ...account, cookie: await signInCookie(served.url, account.email) };
  }
  const caseAt = async (site: string) =>
    (
      await sql<{ id: number }>`select c.id from patient_case c join site s on s.id = c.site_id
        where s.code = ${site} order by c.id limit 1`.execute(database.db)
    ).rows[0]!.id;
  const run = await database.db
    .selectFrom('evaluation_run')
    .select('id')
    .orderBy('id')
    .executeTakeFirstOrThrow();
  const set = (
    await sql<{ id: number }>`select cs.id from contour_set cs join patient_case c on c.id = cs.case_id
      join site s on s.id = c.site_id where s.code = 'SEED-A' order by cs.id limit 1`.execute(database.db)
  ).rows[0]!.id;
  ids = { caseA: await caseAt('SEED-A'), caseB: await caseAt('SEED-B'), run: run.id, set };
}, 300_000);

afterAll(async () => {
  if (served) await stop(served);
  await database?.destroy();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

type Who = RoleName | 'anonymous';
const roles: RoleName[] = ['admin', 'physicist', 'physician', 'auditor'];
const everyone = roles;
const analysts: RoleName[] = ['admin', 'physicist', 'auditor'];
const imaging: RoleName[] = ['admin', 'physicist', 'physician'];
const operators: RoleName[] = ['admin', 'physicist'];

interface Probe {
  method: 'GET' | 'POST' | 'PUT';
  path: () => string;
  allowed: RoleName[];
  /** form action (sent as a browser form with the session cookie) */
  form?: Record<string, string>;
  body?: string;
}

const page = (p: () => string, allowed: RoleName[]): Probe => ({ method: 'GET', path: p, allowed });
const seededCohort = encodeURIComponent(SEEDED_COHORT_NAME);
const probes: Probe[] = [
  page(() => '/', everyone),
  page(() => '/account', everyone),
  page(() => '/commissioning', everyone),
  page(() => '/observers', everyone),
  page(() => '/drift', everyone),
  page(() => '/editing', everyone),
  page(() => '/dose', everyone),
  page(() => '/dose?scatter=Heart&toleranceGy=1', everyone),
  page(() => '/sites', analysts),
  page(() => '/cases', imaging),
  page(() => `/cases/${ids.caseA}`, imaging),
  page(() => `/cases/${ids.caseA}/contours?index=0`, imaging),
  page(() => `/cases/${ids.caseA}/slice?index=0`, imaging),
  page(() => `/cases/${ids.caseA}/disagreement?structure=1&a=1&b=2`, imaging),
  page(() => `/cases/${ids.caseA}/dvh?structure=1`, imaging),
  page(() => '/reports', ['admin', 'physicist', 'auditor']),
  page(() => `/reports/${ids.run}`, ['admin', 'physicist', 'auditor']),
  page(() => '/cohorts', analysts),
  page(() => `/cohorts/${seededCohort}`, analysts),
  page(() => '/admin/users', ['admin']),
  page(() => '/admin/audit', ['admin']),
  page(() => '/api/models', analysts),
  page(() => `/api/evaluations/${ids.run}`, analysts),
  page(() => `/api/contour-sets/${ids.set}/rtstruct`, imaging),
  page(() => '/api/v1/metrics?limit=5', everyone),
  page(() => '/api/v1/compare/models?model=seed-net@1.0&model=seed-net@1.1&structure=Heart', everyone),
  page(() => '/api/v1/sites/shift?model=seed-net@1.1&structure=Heart', analysts),
  page(() => '/api/v1/drift?structure=Heart', everyone),
  page(() => '/api/v1/observers/agreement?structure=Heart', everyone),
  page(() => '/api/v1/editing?structure=Heart', everyone),
  page(() => '/api/v1/alarms', everyone),
  page(() => '/api/v1/acceptance-criteria', everyone),
  page(() => '/api/v1/cohorts', analysts),
  page(() => `/api/v1/cohorts/${seededCohort}`, analysts),
  // no such version: 404 for those allowed to export
  page(() => `/api/cohorts/${seededCohort}/versions/999/dataset`, operators),
  { method: 'POST', path: () => '/api/evaluations', allowed: operators, body: '{}' },
  { method: 'POST', path: () => '/api/evaluations/999999/cancel', allowed: operators },
  { method: 'POST', path: () => '/api/evaluations/999999/retry', allowed: operators },
  { method: 'POST', path: () => '/api/import', allowed: operators },
  { method: 'POST', path: () => '/api/models', allowed: operators },
  { method: 'POST', path: () => '/api/v1/alarms/999999/acknowledge', allowed: operators, body: '{}' },
  { method: 'PUT', path: () => '/api/v1/acceptance-criteria', allowed: operators, body: '{}' },
  { method: 'POST', path: () => '/drift?/acknowledge', allowed: operators, form: { id: '999999', note: '' } },
  { method: 'POST', path: () => `/reports/${ids.run}?/signoff`, allowed: operators, form: { role: 'x' } },
  { method: 'POST', path: () => `/cases/${ids.caseA}?/review`, allowed: imaging, form: { grade: '9' } },
  { method: 'POST', path: () => '/admin/users?/access', allowed: ['admin'], form: { email: 'nobody@x.org' } },
  // each refused by its own validation when allowed, so the seeded cohort stays as it is
  { method: 'POST', path: () => '/cohorts?/create', allowed: operators, form: { name: '' } },
  {
    method: 'POST',
    path: () => `/cohorts/${seededCohort}?/addCases`,
    allowed: operators,
    form: { pseudonyms: '', reason: '' },
  },
  {
    method: 'POST',
    path: () => `/cohorts/${seededCohort}?/removeCase`,
    allowed: operators,
    form: { pseudonym: 'nobody', reason: '' },
  },
  { method: 'POST', path: () => `/cohorts/${seededCohort}?/decide`, allowed: operators, form: { note: '' } },
  {
    method: 'POST',
    path: () => `/cohorts/${seededCohort}?/freeze`,
    allowed: operators,
    form: { reference: 'nonsense' },
  },
  {
    method: 'POST',
    path: () => `/cohorts/${seededCohort}?/evaluate`,
    allowed: operators,
    form: { model: '', version: '1' },
  },
];

async function call(probe: Probe, who: Who): Promise<Response> {
  const url = `${served.url}${probe.path()}`;
  const headers: Record<string, string> = {};
  const account = who === 'anonymous' ? undefined : accounts[who];
  // pages and forms as a browser (session cookie), API as a script (bearer token)
  if (account && (probe.form || !probe.path().startsWith('/api/'))) headers.cookie = account.cookie;
  else if (account) Object.assign(headers, account.authorization);
  if (probe.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers.origin = served.url;
    headers.accept = 'text/html';
  } else if (probe.body !== undefined) headers['content-type'] = 'application/json';
  return fetch(url, {
    method: probe.method,
    headers,
    body: probe.form ? new URLSearchParams(probe.form) : probe.body,
    redirect: 'manual',
  });
}

describe('access by role', () => {
  it('refuses each role exactly the routes it may not use, and lets it use the others', async () => {
    const wrong: string[] = [];
    for (const probe of probes)
      for (const role of roles) {
        const response = await call(probe, role);
        await response.arrayBuffer();
        const refused = response.status === 401 || response.status === 403;
        const expected = !probe.allowed.includes(role);
        if (refused !== expected || response.status >= 500)
          wrong.push(`${role} ${probe.method} ${probe.path()}: ${response.status}`);
      }
    expect(wrong).toEqual([]);
  }, 120_000);

  it('sends anonymous browsers to sign in and anonymous scripts away with 401', async () => {
    for (const probe of probes) {
      const response = await call(probe, 'anonymous');
      await response.arrayBuffer();
      const api = probe.path().startsWith('/api/');
      if (api) expect(response.status, probe.path()).toBe(401);
      else if (probe.method === 'GET') {
        expect(response.status, probe.path()).toBe(303);
        expect(response.headers.get('location')).toMatch(/^\/login\?next=/);
      } else expect([401, 403], probe.path()).toContain(response.status);
    }
    for (const open of ['/login', '/api/health', '/api/v1/openapi.json'])
      expect((await fetch(`${served.url}${open}`)).status, open).toBe(200);
  }, 60_000);

  it("keeps a physician to their own site's cases and numbers", async () => {
    const physician = accounts.physician;
    const other = await fetch(`${served.url}/cases/${ids.caseB}`, { headers: { cookie: physician.cookie } });
    expect(other.status).toBe(403);
    const slice = await fetch(`${served.url}/cases/${ids.caseB}/slice?index=0`, {
      headers: { cookie: physician.cookie },
    });
    expect(slice.status).toBe(403);
    const rows = (await (
      await fetch(`${served.url}/api/v1/metrics?limit=1000`, { headers: physician.authorization })
    ).json()) as { rows: Array<{ site: string }> };
    expect(rows.rows.length).toBeGreaterThan(0);
    expect(new Set(rows.rows.map((r) => r.site))).toEqual(new Set(['SEED-A']));
    const asked = await fetch(`${served.url}/api/v1/metrics?site=SEED-B`, {
      headers: physician.authorization,
    });
    expect(asked.status).toBe(403);
    expect(await asked.text()).toContain('SEED-B');
    // the admin's answer to the same question covers every site (and is not served from the physician's cache)
    const all = (await (
      await fetch(`${served.url}/api/v1/metrics?limit=1000`, { headers: accounts.admin.authorization })
    ).json()) as { rows: Array<{ site: string }> };
    expect(new Set(all.rows.map((r) => r.site)).size).toBe(4);
    const list = await (await fetch(`${served.url}/cases`, { headers: { cookie: physician.cookie } })).text();
    expect(list).toContain('SEED-A');
    expect(list).not.toMatch(/SEED-[BCD]-/);
  });

  it('records every opening of case images in the audit trail', async () => {
    const before = await database.db
      .selectFrom('audit_event')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('action', '=', 'case.view_images')
      .executeTakeFirstOrThrow();
    await (
      await fetch(`${served.url}/cases/${ids.caseA}`, { headers: { cookie: accounts.physician.cookie } })
    ).text();
    const events = await database.db
      .selectFrom('audit_event')
      .innerJoin('app_user', 'app_user.id', 'audit_event.user_id')
      .select(['app_user.email', 'audit_event.object_id', 'audit_event.ip_address'])
      .where('action', '=', 'case.view_images')
      .orderBy('audit_event.id', 'desc')
      .execute();
    expect(events.length).toBe(Number(before.n) + 1);
    expect(events[0]).toMatchObject({ email: accounts.physician.email, object_id: String(ids.caseA) });
    expect(events[0]!.ip_address).toBeTruthy();
  });
});
