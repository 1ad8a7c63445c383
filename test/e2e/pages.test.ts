import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../src/cli/web-server';
import { createLogger } from '../../src/lib/server/logger';
import { seedAnalytics } from '../../src/lib/server/services/analytics-seed.service';
import { refreshAlarms } from '../../src/lib/server/services/drift.service';
import { importDicom } from '../../src/lib/server/services/import.service';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { createTestDatabase, type TestDatabase } from '../db/test-database';
import { createAccount, signInCookie } from '../helpers/accounts';
import { launchChromium } from '../helpers/browser';
import { serve, stop, type Served } from '../helpers/serve';

// Every dashboard page in a real Chromium over a seeded database: it loads without console errors, fits
// 1280 px, names its charts, and its filters change what it shows. Screenshots land in
// test-results/screenshots for a person to look at.

const screenshots = path.resolve('test-results/screenshots');
const pages = [
  '/',
  '/commissioning',
  '/observers',
  '/sites',
  '/drift',
  '/editing',
  '/dose',
  '/reports',
  '/reports/1',
  '/cases',
  '/account',
  '/admin/users',
  '/admin/audit',
];
const series = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../shared/testdata/dicom/breast-dicompyler/series',
);

let database: TestDatabase;
let dataDir: string;
let served: Served;
let browser: Browser;
let context: BrowserContext;
let viewerCaseId: number;
/** the admin's session, for requests outside the browser */
let cookie: string;

beforeAll(async () => {
  await ensureWebBuild(createLogger('warn'));
  database = await createTestDatabase();
  await seedAnalytics(database.db, { cases: 120, seed: 3 });
  await refreshAlarms(database.db);
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-pages-'));
  // one real imported case (CT and RTSTRUCT) for the viewer; the seeded cases have metrics only
  const report = await importDicom(database.db, new FileBlobStore(path.join(dataDir, 'blobs')), series, {
    siteCode: 'SITE-V',
    observerCode: 'RO1',
    laterality: 'left',
  });
  viewerCaseId = report.studies[0]!.caseId;
  served = await serve({ DATABASE_URL: database.url, CONTOURBENCH_DATA_DIR: dataDir });
  const admin = await createAccount(database.db, 'admin', [], 'ada@example.org');
  browser = await launchChromium();
  // signing in through the page itself, as a person does
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const login = await context.newPage();
  await login.goto(`${served.url}/drift`);
  expect(new URL(login.url()).pathname).toBe('/login');
  await login.fill('input[name="email"]', admin.email);
  await login.fill('input[name="password"]', admin.password);
  await Promise.all([login.waitForURL(`${served.url}/drift`), login.click('button[type="submit"]')]);
  await login.close();
  cookie = await signInCookie(served.url, admin.email);
  await mkdir(screenshots, { recursive: true });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  if (served) await stop(served);
  await database?.destroy();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Opens a page at 1280 px and collects its console errors and uncaught exceptions. */
async function open(pathAndQuery: string): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  const response = await page.goto(`${served.url}${pathAndQuery}`, { waitUntil: 'networkidle' });
  expect(response?.status(), pathAndQuery).toBe(200);
  return { page, errors };
}

describe('dashboard pages in Chromium', () => {
  it.each(pages)('%s loads without errors, fits 1280 px and names its charts', async (route) => {
    const { page, errors } = await open(route);
    await page.screenshot({
      path: path.join(screenshots, `${route === '/' ? 'overview' : route.slice(1).replaceAll('/', '-')}.png`),
      fullPage: true,
    });
    expect(errors).toEqual([]);
    expect(await page.locator('h1').count()).toBe(1);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    // every chart has an accessible name
    const unnamed = await page.evaluate(
      () =>
        [...document.querySelectorAll('svg[role="img"]')].filter((svg) => {
          const ids = (svg.getAttribute('aria-labelledby') ?? '').split(' ').filter(Boolean);
          return !ids.some((id) => (document.getElementById(id)?.textContent ?? '').trim().length > 0);
        }).length,
    );
    expect(unnamed).toBe(0);
    await page.close();
  });

  it('sends a content security policy and the other security headers with every page and API answer', async () => {
    const page = await fetch(`${served.url}/drift`, { headers: { cookie } });
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    // SvelteKit's own inline scripts carry a per-response nonce; nothing else inline may run
    expect(csp).toMatch(/script-src 'self' 'nonce-[^']+'/);
    expect(csp.split(';').find((d) => d.trim().startsWith('script-src'))).not.toContain('unsafe-inline');
    for (const response of [page, await fetch(`${served.url}/api/v1/openapi.json`)]) {
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('referrer-policy')).toBe('same-origin');
    }
  });

  it('changes the drift charts with the filters, kept in the URL', async () => {
    const { page, errors } = await open('/drift?model=seed-net%401.1&structure=Heart');
    const titles = () => page.locator('section h2').allTextContents();
    expect((await titles()).some((t) => t.startsWith('Heart'))).toBe(true);
    await page.selectOption('select[name="structure"]', 'Lung_L');
    await Promise.all([page.waitForURL(/structure=Lung_L/), page.click('main button[type="submit"]')]);
    await page.waitForLoadState('networkidle');
    const after = await titles();
    expect(after.some((t) => t.startsWith('Lung_L'))).toBe(true);
    expect(after.some((t) => t.startsWith('Heart'))).toBe(false);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('acknowledges an alarm from the drift page', async () => {
    const { page, errors } = await open('/drift?model=seed-net%401.1&structure=Heart');
    const forms = page.locator('form.ack');
    const before = await forms.count();
    expect(before).toBeGreaterThan(0);
    const id = await forms.first().locator('input[name="id"]').inputValue();
    await forms.first().locator('input[name="note"]').fill('checked the scanner log');
    await Promise.all([page.waitForLoadState('networkidle'), forms.first().locator('button').click()]);
    await expect.poll(async () => page.locator(`form.ack input[name="id"][value="${id}"]`).count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('signs a report off into the audit trail and prints it to PDF', async () => {
    const { page, errors } = await open('/reports/2?compare=seed-net%401.0');
    await Promise.all([
      page.waitForLoadState('networkidle'),
      page.click('form.signoff button[type="submit"]'),
    ]);
    await expect
      .poll(async () => page.locator('td', { hasText: 'ada <ada@example.org>' }).count())
      .toBeGreaterThan(0);
    expect(errors).toEqual([]);
    await page.close();
    const audit = await database.db
      .selectFrom('audit_event')
      .select(['action', 'object_id', 'details'])
      .where('action', '=', 'report.sign_off')
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      object_id: '2',
      details: { name: 'ada', email: 'ada@example.org' },
    });
    const pdf = await fetch(`${served.url}/reports/2/pdf?compare=seed-net%401.0`, { headers: { cookie } });
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    const bytes = Buffer.from(await pdf.arrayBuffer());
    expect(bytes.subarray(0, 5).toString()).toBe('%PDF-');
    expect(bytes.toString('latin1').match(/\/Type\s*\/Page[^s]/g)?.length ?? 0).toBeGreaterThan(1);
  });

  it('shows a case in the viewer and toggles its overlays', async () => {
    const { page, errors } = await open(`/cases/${viewerCaseId}`);
    await page.screenshot({ path: path.join(screenshots, 'case-viewer.png'), fullPage: true });
    const canvas = page.locator('section[aria-label="CT viewer"] canvas').first();
    const pixels = () => canvas.evaluate((c: HTMLCanvasElement) => c.toDataURL());
    await expect.poll(pixels).not.toBe('data:,');
    await page.waitForTimeout(500);
    const withOverlays = await pixels();
    await page.locator('fieldset', { hasText: 'Contour sets' }).locator('label.all input').uncheck();
    await expect.poll(pixels).not.toBe(withOverlays);
    await page.locator('fieldset', { hasText: 'Contour sets' }).locator('label.all input').check();
    await expect.poll(pixels).toBe(withOverlays);
    expect(errors).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    await page.close();
  });
});
