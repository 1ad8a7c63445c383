import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { sql } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../src/cli/web-server';
import { createLogger } from '../../src/lib/server/logger';
import { registerModelsInFolder } from '../../src/lib/server/services/demo-evaluation.service';
import { importDemoCohort } from '../../src/lib/server/services/demo-import.service';
import { generateDemoCohort, truthObserver } from '../../src/lib/server/services/demo.service';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { createTestDatabase, type TestDatabase } from '../db/test-database';
import { createAccount, signInCookie, type TestAccount } from '../helpers/accounts';
import { launchChromium } from '../helpers/browser';
import { serve, stop, type Served } from '../helpers/serve';

// A physicist curates a cohort through the pages over HTTP on a real server: builds it from a selection,
// changes its cases with reasons, reads its strata and references, decides its findings, freezes a
// version, evaluates a model on it and downloads it as an nnU-Net dataset. Other roles are refused.

const screenshots = path.resolve('test-results/screenshots');
const COHORT = 'Curated breast, both sides';
const encoded = encodeURIComponent(COHORT);
const EXPERT = `*=observer:${truthObserver}`;

let database: TestDatabase;
let dataDir: string;
let served: Served;
let sites: string[];
let pseudonyms: Array<{ pseudonym: string; site: string }>;
let model: string;
const who = {} as Record<
  'physicist' | 'physician' | 'auditor' | 'boundPhysicist',
  TestAccount & { cookie: string }
>;

beforeAll(async () => {
  await ensureWebBuild(createLogger('warn'));
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-cohorts-'));
  const blobs = new FileBlobStore(path.join(dataDir, 'blobs'));
  // two sites with generated cases, each contoured by three physicians (one the expert); the references
  // are the expert's, so no consensus needs computing
  const manifest = await generateDemoCohort(path.join(dataDir, 'demo'), {
    sites: 2,
    casesPerSite: 2,
    seed: 5,
  });
  await importDemoCohort(database.db, blobs, path.join(dataDir, 'demo'), manifest);
  const registered = await registerModelsInFolder(database.db, blobs, path.resolve('models'));
  model = registered[0]!.reference;
  const cases = await database.db
    .selectFrom('patient_case as c')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .select(['c.pseudonym', 's.code as site'])
    .orderBy('c.pseudonym')
    .execute();
  pseudonyms = cases;
  sites = [...new Set(cases.map((c) => c.site))].sort();
  // the same patient imported twice: a finding to decide before freezing
  await sql`update patient_case set patient_key_sha256 = ${'e'.repeat(64)}
    where pseudonym in (${cases[0]!.pseudonym}, ${cases[1]!.pseudonym})`.execute(database.db);
  served = await serve({
    DATABASE_URL: database.url,
    CONTOURBENCH_DATA_DIR: dataDir,
    // runs stay queued: this test reads what was queued, not what a model computes
    CONTOURBENCH_IN_PROCESS_WORKER: 'false',
  });
  for (const [key, role, bound] of [
    ['physicist', 'physicist', []],
    ['physician', 'physician', [sites[0]!]],
    ['auditor', 'auditor', []],
    ['boundPhysicist', 'physicist', [sites[0]!]],
  ] as const) {
    const account = await createAccount(database.db, role, [...bound]);
    who[key] = { ...account, cookie: await signInCookie(served.url, account.email) };
  }
}, 600_000);

afterAll(async () => {
  await browser?.close();
  if (served) await stop(served);
  await database?.destroy();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

let browser: Browser | undefined;

/** Opens a page in Chromium at 1280 px as the physicist, collecting console errors. */
async function openPage(route: string): Promise<{ page: Page; errors: string[] }> {
  browser ??= await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const [name, value] = who.physicist.cookie.split('=') as [string, string];
  await context.addCookies([{ name, value, url: served.url }]);
  await mkdir(screenshots, { recursive: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  const response = await page.goto(`${served.url}${route}`, { waitUntil: 'networkidle' });
  expect(response?.status(), route).toBe(200);
  return { page, errors };
}

/** Posts a form action as a browser without scripts does; answers status and page text. */
async function act(
  account: { cookie: string },
  pathAndAction: string,
  fields: Record<string, string | string[]>,
): Promise<{ status: number; text: string; location: string | null }> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(fields))
    for (const v of Array.isArray(value) ? value : [value]) body.append(name, v);
  const response = await fetch(`${served.url}${pathAndAction}`, {
    method: 'POST',
    headers: {
      cookie: account.cookie,
      origin: served.url,
      accept: 'text/html',
      'content-type': 'application/x-www-form-urlencoded',
    },
    body,
    redirect: 'manual',
  });
  return { status: response.status, text: await response.text(), location: response.headers.get('location') };
}

async function getPage(account: { cookie: string }, pathAndQuery: string) {
  const response = await fetch(`${served.url}${pathAndQuery}`, {
    headers: { cookie: account.cookie },
    redirect: 'manual',
  });
  return { status: response.status, text: await response.text() };
}

interface CohortAnswer {
  cohort: string;
  cases: Array<{ pseudonym: string; site: string; reason: string }>;
  versions: Array<{
    version: number;
    contentSha256: string;
    caseCount: number;
    note: string;
    reference: string[];
  }>;
  runs: Array<{ runId: number; model: string; cohortVersion: number | null; status: string }>;
  stratification: {
    strata: Array<{ site: string; cases: number }>;
    structures: Array<{ structure: string; contoured: number; withReference: number | null }>;
  };
  findings: Array<{
    check: string;
    pseudonym: string;
    structure: string | null;
    decision: { decision: string; note: string } | null;
  }>;
}

async function cohortApi(account: TestAccount, query = ''): Promise<CohortAnswer> {
  const response = await fetch(`${served.url}/api/v1/cohorts/${encoded}${query}`, {
    headers: account.authorization,
  });
  expect(response.status).toBe(200);
  return (await response.json()) as CohortAnswer;
}

describe('curating a cohort through the pages', () => {
  it('creates a cohort from a selection of the stored cases', async () => {
    const list = await getPage(who.physicist, '/cohorts');
    expect(list.status).toBe(200);
    expect(list.text).toContain('New cohort');
    // the selection offers the values the cases have
    for (const site of sites) expect(list.text).toContain(`<option value="${site}">`);
    expect(list.text).toContain('<option value="Heart">');

    const refused = await act(who.physicist, '/cohorts?/create', {
      name: COHORT,
      site: sites,
      from: '2030-01-01',
    });
    expect(refused.status).toBe(404);
    expect(refused.text).toContain('no case matches the selection');

    const created = await act(who.physicist, '/cohorts?/create', {
      name: COHORT,
      description: 'left and right, two sites',
      site: sites,
      structure: ['Heart'],
      reason: 'every case with a Heart contour',
    });
    expect(created.status).toBe(303);
    expect(created.location).toBe(`/cohorts/${encoded}?created=${pseudonyms.length}`);

    const again = await act(who.physicist, '/cohorts?/create', { name: COHORT });
    expect(again.status).toBe(409);
    expect(again.text).toContain('exists already');

    const after = await getPage(who.physicist, '/cohorts');
    // links are relative to the page (paths.relative)
    expect(after.text).toContain(`cohorts/${encoded}"`);
  });

  it('removes and adds a case, each with its reason', async () => {
    const [first] = pseudonyms;
    const noReason = await act(who.physicist, `/cohorts/${encoded}?/removeCase`, {
      pseudonym: first!.pseudonym,
      reason: '',
    });
    expect(noReason.status).toBe(400);
    expect(noReason.text).toContain('give the reason');

    const removed = await act(who.physicist, `/cohorts/${encoded}?/removeCase`, {
      pseudonym: first!.pseudonym,
      reason: 'contrast-enhanced CT',
    });
    expect(removed.status).toBe(200);
    expect(removed.text).toContain(`Removed ${first!.pseudonym}`);
    expect((await cohortApi(who.physicist)).cases.map((c) => c.pseudonym)).not.toContain(first!.pseudonym);

    const unknown = await act(who.physicist, `/cohorts/${encoded}?/addCases`, {
      pseudonyms: 'NOBODY-1',
      reason: 'x',
    });
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain('no case with pseudonym NOBODY-1');

    const added = await act(who.physicist, `/cohorts/${encoded}?/addCases`, {
      pseudonyms: first!.pseudonym,
      reason: 'non-contrast series found',
    });
    expect(added.status).toBe(200);
    expect(added.text).toContain('Added 1 case');
    const cases = (await cohortApi(who.physicist)).cases;
    expect(cases).toHaveLength(pseudonyms.length);
    expect(cases.find((c) => c.pseudonym === first!.pseudonym)?.reason).toBe('non-contrast series found');
  });

  it('shows the strata and the references per structure under the typed policy', async () => {
    const query = `?reference=${encodeURIComponent(EXPERT)}`;
    const page = await getPage(who.physicist, `/cohorts/${encoded}${query}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Strata');
    for (const site of sites) expect(page.text).toContain(`<td>${site}</td>`);
    expect(page.text).toContain(`observer ${truthObserver}`);

    const answer = await cohortApi(who.physicist, query);
    expect(answer.stratification.strata.reduce((n, s) => n + s.cases, 0)).toBe(pseudonyms.length);
    const heart = answer.stratification.structures.find((s) => s.structure === 'Heart');
    expect(heart).toEqual(
      expect.objectContaining({ contoured: pseudonyms.length, withReference: pseudonyms.length }),
    );
    // no consensus was computed: the default policy (STAPLE) finds no reference, and says so on the page
    const byDefault = await cohortApi(who.physicist);
    expect(byDefault.stratification.structures.every((s) => s.withReference === 0)).toBe(true);
    expect((await getPage(who.physicist, `/cohorts/${encoded}`)).text).toContain('without a reference');
    // a policy without "*" is refused on the page, which still shows the strata
    const bad = await getPage(who.physicist, `/cohorts/${encoded}?reference=Heart%3Dstaple`);
    expect(bad.status).toBe(200);
    expect(bad.text).toContain('rule for every structure');
    expect(bad.text).toContain('Strata');
  });

  it('refuses to freeze while a finding is open, then freezes once each is decided', async () => {
    const before = await cohortApi(who.physicist);
    const open = before.findings.filter((f) => f.decision === null);
    expect(open.some((f) => f.check === 'duplicate_case')).toBe(true);

    const refused = await act(who.physicist, `/cohorts/${encoded}?/freeze`, {
      reference: EXPERT,
      note: 'commissioning',
    });
    expect(refused.status).toBe(409);
    expect(refused.text).toContain(`${open.length} undecided finding`);
    // the same refusal in a browser, beside the freeze form, with the open findings listed above it
    const { page: shown, errors } = await openPage(`/cohorts/${encoded}`);
    await expect
      .poll(() => shown.locator('#findings-heading').textContent())
      .toContain(`${open.length} undecided of`);
    await shown.fill('form[action="?/freeze"] input[name="note"]', 'commissioning');
    await Promise.all([
      shown.waitForLoadState('networkidle'),
      shown.click('form[action="?/freeze"] button[type="submit"]'),
    ]);
    await expect
      .poll(() => shown.locator('p.refusal[role="alert"]').textContent())
      .toContain('undecided finding');
    await shown.screenshot({ path: path.join(screenshots, 'cohort-refused.png'), fullPage: true });
    expect(errors.filter((e) => !e.includes('409'))).toEqual([]);
    await shown.close();

    const noNote = await act(who.physicist, `/cohorts/${encoded}?/decide`, {
      pseudonym: open[0]!.pseudonym,
      check: open[0]!.check,
      structure: open[0]!.structure ?? '',
      decision: 'accepted',
      note: '',
    });
    expect(noNote.status).toBe(400);
    for (const finding of open) {
      const decided = await act(who.physicist, `/cohorts/${encoded}?/decide`, {
        pseudonym: finding.pseudonym,
        check: finding.check,
        structure: finding.structure ?? '',
        decision: 'accepted',
        note: 'checked: second course of the same patient',
      });
      expect(decided.status, decided.text.slice(0, 300)).toBe(200);
    }
    const after = await cohortApi(who.physicist);
    expect(after.findings.every((f) => f.decision?.decision === 'accepted')).toBe(true);

    const frozen = await act(who.physicist, `/cohorts/${encoded}?/freeze`, {
      reference: EXPERT,
      note: 'commissioning',
    });
    expect(frozen.status, frozen.text.slice(0, 300)).toBe(200);
    expect(frozen.text).toContain('Froze version 1');
    const { versions } = await cohortApi(who.physicist);
    expect(versions).toHaveLength(1);
    expect(versions[0]).toMatchObject({
      version: 1,
      caseCount: pseudonyms.length,
      note: 'commissioning',
      reference: [EXPERT],
    });
    expect(versions[0]!.contentSha256).toMatch(/^[0-9a-f]{64}$/);
    const page = await getPage(who.physicist, `/cohorts/${encoded}`);
    expect(page.text).toContain(`title="${versions[0]!.contentSha256}"`);
    expect(page.text).toContain(versions[0]!.contentSha256.slice(0, 16));
  });

  it('starts an evaluation run on the frozen version', async () => {
    const unknown = await act(who.physicist, `/cohorts/${encoded}?/evaluate`, { version: '7', model });
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain('has no version 7');

    const started = await act(who.physicist, `/cohorts/${encoded}?/evaluate`, { version: '1', model });
    expect(started.status, started.text.slice(0, 300)).toBe(200);
    expect(started.text).toMatch(/Run \d+ of/);
    const { runs } = await cohortApi(who.physicist);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ model, cohortVersion: 1, status: 'queued' });
    const page = await getPage(who.physicist, `/cohorts/${encoded}`);
    expect(page.text).toContain('<td>version 1</td>');
    expect(page.text).toContain(`reports/${runs[0]!.runId}">`);

    const list = (await (
      await fetch(`${served.url}/api/v1/cohorts`, { headers: who.auditor.authorization })
    ).json()) as {
      cohorts: Array<{
        name: string;
        versions: number;
        latestVersion: number;
        runs: number;
        sites: string[];
      }>;
    };
    expect(list.cohorts.find((c) => c.name === COHORT)).toMatchObject({
      versions: 1,
      latestVersion: 1,
      runs: 1,
      sites,
    });
  });

  it('downloads the frozen version as an nnU-Net dataset zip', async () => {
    const response = await fetch(
      `${served.url}/api/cohorts/${encoded}/versions/1/dataset?structure=Heart&external=0&datasetId=42`,
      { headers: { cookie: who.physicist.cookie } },
    );
    expect(response.status, response.status === 200 ? '' : await response.clone().text()).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/zip');
    expect(response.headers.get('content-disposition')).toMatch(
      /^attachment; filename="Dataset042_[^"]+\.zip"/,
    );
    const zip = new Uint8Array(await response.arrayBuffer());
    expect(Buffer.from(zip.subarray(0, 2)).toString()).toBe('PK');
    const files = unzipSync(zip);
    const datasetJson = Object.keys(files).find((name) => name.endsWith('/dataset.json'));
    expect(datasetJson).toMatch(/^Dataset042_[^/]+\/dataset\.json$/);
    const dataset = JSON.parse(new TextDecoder().decode(files[datasetJson!])) as {
      labels: Record<string, number>;
      numTraining: number;
    };
    expect(dataset.labels).toEqual({ background: 0, Heart: 1 });
    expect(dataset.numTraining).toBe(pseudonyms.length);
    expect(Object.keys(files).filter((name) => name.includes('/imagesTr/'))).toHaveLength(pseudonyms.length);

    const missing = await fetch(`${served.url}/api/cohorts/${encoded}/versions/9/dataset`, {
      headers: { cookie: who.physicist.cookie },
    });
    expect(missing.status).toBe(404);
    const exports = await database.db
      .selectFrom('audit_event')
      .select(['object_id'])
      .where('action', '=', 'export.nnunet_dataset')
      .execute();
    expect(exports).toEqual([{ object_id: `${COHORT}@1` }]);
  });
});

describe('who may curate', () => {
  it('shows auditors the cohort without any form, and refuses them and physicians every change', async () => {
    const page = await getPage(who.auditor, `/cohorts/${encoded}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Strata');
    expect(page.text).not.toContain('?/freeze');
    expect(page.text).not.toContain('?/evaluate');
    expect(page.text).not.toContain('/dataset');
    expect((await getPage(who.auditor, '/cohorts')).text).not.toContain('New cohort');

    expect((await getPage(who.physician, '/cohorts')).status).toBe(403);
    expect((await getPage(who.physician, `/cohorts/${encoded}`)).status).toBe(403);
    for (const account of [who.auditor, who.physician]) {
      expect((await act(account, '/cohorts?/create', { name: 'not allowed' })).status).toBe(403);
      for (const action of ['addCases', 'removeCase', 'decide', 'freeze', 'evaluate'])
        expect((await act(account, `/cohorts/${encoded}?/${action}`, { reason: 'x' })).status, action).toBe(
          403,
        );
      const dataset = await fetch(`${served.url}/api/cohorts/${encoded}/versions/1/dataset`, {
        headers: account.authorization,
      });
      expect(dataset.status).toBe(403);
    }
    const api = await fetch(`${served.url}/api/v1/cohorts`, { headers: who.physician.authorization });
    expect(api.status).toBe(403);
  });

  it("keeps a physicist bound to one site away from cohorts with other sites' cases", async () => {
    const bound = who.boundPhysicist;
    const list = (await (
      await fetch(`${served.url}/api/v1/cohorts`, { headers: bound.authorization })
    ).json()) as { cohorts: Array<{ name: string }> };
    expect(list.cohorts.map((c) => c.name)).not.toContain(COHORT);
    expect((await getPage(bound, `/cohorts/${encoded}`)).status).toBe(403);
    const freeze = await act(bound, `/cohorts/${encoded}?/freeze`, { reference: '*=staple' });
    expect(freeze.status).toBe(403);
    const dataset = await fetch(`${served.url}/api/cohorts/${encoded}/versions/1/dataset`, {
      headers: bound.authorization,
    });
    expect(dataset.status).toBe(403);
    // a cohort of their own site is theirs to build, and selects only that site's cases
    const created = await act(bound, '/cohorts?/create', { name: 'own site only' });
    expect(created.status).toBe(303);
    const own = await fetch(`${served.url}/api/v1/cohorts/${encodeURIComponent('own site only')}`, {
      headers: bound.authorization,
    });
    expect(own.status).toBe(200);
    const sitesOfOwn = new Set(((await own.json()) as CohortAnswer).cases.map((c) => c.site));
    expect([...sitesOfOwn]).toEqual([sites[0]]);
    const other = await act(bound, '/cohorts?/create', { name: 'other site', site: sites[1]! });
    expect(other.status).toBe(403);
    const foreign = pseudonyms.find((c) => c.site === sites[1])!.pseudonym;
    const add = await act(bound, `/cohorts/${encodeURIComponent('own site only')}?/addCases`, {
      pseudonyms: foreign,
      reason: 'x',
    });
    expect(add.status).toBe(403);
  });
});

describe('cohort pages in Chromium', () => {
  it('render without errors and fit 1280 px', async () => {
    for (const [route, file] of [
      ['/cohorts', 'cohorts.png'],
      [`/cohorts/${encoded}`, 'cohort.png'],
    ] as const) {
      const { page, errors } = await openPage(route);
      await page.screenshot({ path: path.join(screenshots, file), fullPage: true });
      expect(errors).toEqual([]);
      expect(await page.locator('h1').count()).toBe(1);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
      await page.close();
    }
  });
});
