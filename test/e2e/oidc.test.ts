import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild } from '../../src/cli/web-server';
import { isAppError } from '../../src/lib/core/errors';
import { loadConfig } from '../../src/lib/server/config';
import { createLogger } from '../../src/lib/server/logger';
import { createUser, updateAccess } from '../../src/lib/server/services/account.service';
import { createTestDatabase, type TestDatabase } from '../db/test-database';
import { freePort } from '../helpers/free-port';
import { serve, stop, type Served } from '../helpers/serve';

// Single sign-on against a real OpenID provider (oidc-provider, with its development login and consent
// forms) running in this process; ContourBench runs as `contourbench serve` pointed at it.

const CLIENT_ID = 'contourbench';
const CLIENT_SECRET = randomBytes(24).toString('base64url');

/** The provider's accounts, by the login typed into its form (which is also the subject). */
const idpAccounts: Record<string, { email: string; email_verified: boolean }> = {
  'ana-7f3c': { email: 'Ana@Hospital.test', email_verified: true },
  'stranger-19ab': { email: 'stranger@elsewhere.test', email_verified: true },
  'retired-5d21': { email: 'retired@hospital.test', email_verified: true },
  'bob-unverified': { email: 'bob@hospital.test', email_verified: false },
};

let database: TestDatabase;
const dataDirs: string[] = [];
let served: Served;
let unconfigured: Served;
let issuer: string;
let idp: Server;
/** Requests the provider answered, by path. */
const idpRequests = new Map<string, number>();

beforeAll(async () => {
  await ensureWebBuild(createLogger('warn'));
  database = await createTestDatabase();
  const actor = { userId: null, label: 'test' };
  await createUser(database.db, { email: 'ana@hospital.test', role: 'physicist' }, actor);
  await createUser(database.db, { email: 'bob@hospital.test', role: 'physicist' }, actor);
  await createUser(database.db, { email: 'retired@hospital.test', role: 'auditor' }, actor);
  await updateAccess(database.db, 'retired@hospital.test', { active: false }, actor);

  const issuerPort = await freePort();
  issuer = `http://127.0.0.1:${issuerPort}`;
  const dataDir = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-oidc-'));
    dataDirs.push(dir);
    return dir;
  };
  [served, unconfigured] = await Promise.all([
    serve({
      DATABASE_URL: database.url,
      CONTOURBENCH_DATA_DIR: await dataDir(),
      CONTOURBENCH_IN_PROCESS_WORKER: 'false',
      CONTOURBENCH_OIDC_ISSUER: issuer,
      CONTOURBENCH_OIDC_CLIENT_ID: CLIENT_ID,
      CONTOURBENCH_OIDC_CLIENT_SECRET: CLIENT_SECRET,
      CONTOURBENCH_OIDC_LABEL: 'Hospital sign-in',
    }),
    serve({
      DATABASE_URL: database.url,
      CONTOURBENCH_DATA_DIR: await dataDir(),
      CONTOURBENCH_IN_PROCESS_WORKER: 'false',
    }),
  ]);

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${served.url}/login/oidc/callback`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: {
      keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', use: 'sig', alg: 'RS256' }],
    },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      Grant: 3600,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
    },
    findAccount: (_context, accountId) => {
      const account = idpAccounts[accountId];
      if (!account) return undefined;
      return { accountId, claims: () => ({ sub: accountId, name: accountId, ...account }) };
    },
  });
  provider.use(async (context, next) => {
    idpRequests.set(context.path, (idpRequests.get(context.path) ?? 0) + 1);
    await next();
  });
  idp = provider.listen(issuerPort, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    idp.once('listening', resolve);
    idp.once('error', reject);
  });
}, 300_000);

afterAll(async () => {
  await Promise.all([served && stop(served), unconfigured && stop(unconfigured)]);
  if (idp) await new Promise((resolve) => idp.close(resolve));
  await database?.destroy();
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
});

/** Cookies of one origin, as a browser keeps them (paths and expiry beyond deletion ignored). */
class CookieJar {
  private readonly cookies = new Map<string, string>();

  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const deleted = attributes.some((a) => /^\s*max-age=0$/i.test(a) || /expires=.*1970/i.test(a));
      if (deleted) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(at + 1).trim());
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  set(name: string, value: string): void {
    this.cookies.set(name, value);
  }

  header(): Record<string, string> {
    return this.cookies.size
      ? { cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ') }
      : {};
  }
}

interface Browser {
  contourbench: CookieJar;
  provider: CookieJar;
}

const newBrowser = (): Browser => ({ contourbench: new CookieJar(), provider: new CookieJar() });

/** A form of the provider's page: where it posts and its fields, with the login typed in. */
function formOf(html: string, pageUrl: string, login: string): { action: string; fields: URLSearchParams } {
  const form = /<form[^>]*action="([^"]+)"[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) throw new Error(`no form on the provider's page ${pageUrl}:\n${html.slice(0, 500)}`);
  const fields = new URLSearchParams();
  for (const input of form[2].matchAll(/<input\b([^>]*)>/gi)) {
    const name = /name="([^"]*)"/.exec(input[1])?.[1];
    if (!name) continue;
    const value = /value="([^"]*)"/.exec(input[1])?.[1] ?? '';
    fields.set(name, name === 'login' ? login : name === 'password' ? 'any password' : value);
  }
  return { action: new URL(form[1].replaceAll('&amp;', '&'), pageUrl).href, fields };
}

/**
 * Starts single sign-on at ContourBench and walks the provider's login and consent forms as `login`,
 * following every redirect by hand; stops at ContourBench's callback URL, not yet requested.
 */
async function throughProvider(
  browser: Browser,
  login: string,
  next = '/',
): Promise<{ authorizationUrl: URL; callbackUrl: URL }> {
  const start = await fetch(`${served.url}/login/oidc?next=${encodeURIComponent(next)}`, {
    redirect: 'manual',
  });
  expect(start.status, await start.clone().text()).toBe(303);
  browser.contourbench.take(start);
  const authorizationUrl = new URL(start.headers.get('location')!);
  let url = authorizationUrl.href;
  let request: RequestInit = { method: 'GET' };
  for (let step = 0; step < 20; step++) {
    const response = await fetch(url, {
      ...request,
      headers: { ...browser.provider.header(), ...(request.headers as Record<string, string>) },
      redirect: 'manual',
    });
    browser.provider.take(response);
    if (response.status >= 300 && response.status < 400) {
      const location = new URL(response.headers.get('location')!, url);
      if (location.origin === served.url) return { authorizationUrl, callbackUrl: location };
      url = location.href;
      request = { method: 'GET' };
      continue;
    }
    const html = await response.text();
    if (response.status !== 200)
      throw new Error(`the provider answered ${response.status} at ${url}:\n${html}`);
    const form = formOf(html, url, login);
    url = form.action;
    request = {
      method: 'POST',
      body: form.fields,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    };
  }
  throw new Error('the provider never sent the browser back to ContourBench');
}

async function callback(browser: Browser, callbackUrl: URL): Promise<Response> {
  const response = await fetch(callbackUrl, {
    headers: { ...browser.contourbench.header(), accept: 'text/html' },
    redirect: 'manual',
  });
  browser.contourbench.take(response);
  return response;
}

async function signInAs(login: string, next = '/'): Promise<{ browser: Browser; response: Response }> {
  const browser = newBrowser();
  const { callbackUrl } = await throughProvider(browser, login, next);
  return { browser, response: await callback(browser, callbackUrl) };
}

async function auditEvents(action: string, email: string) {
  const rows = await database.db
    .selectFrom('audit_event')
    .select(['user_id', 'details'])
    .where('action', '=', action)
    .orderBy('id')
    .execute();
  return rows.filter((row) => (row.details as { email?: string }).email === email);
}

describe('single sign-on (OpenID Connect)', () => {
  it('offers the sign-in link on the sign-in page', async () => {
    const page = await (await fetch(`${served.url}/login?next=%2Fcases`)).text();
    expect(page).toContain('Sign in with Hospital sign-in');
    expect(page).toMatch(/href="\.?\/login\/oidc\?next=%2Fcases"/);
  });

  it('signs in a user by verified email, links the subject and opens a working session', async () => {
    const browser = newBrowser();
    const { authorizationUrl, callbackUrl } = await throughProvider(browser, 'ana-7f3c', '/commissioning');
    expect(authorizationUrl.origin).toBe(issuer);
    const asked = authorizationUrl.searchParams;
    expect(asked.get('client_id')).toBe(CLIENT_ID);
    expect(asked.get('response_type')).toBe('code');
    expect(asked.get('code_challenge_method')).toBe('S256');
    expect(asked.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(asked.get('state')).toBeTruthy();
    expect(asked.get('nonce')).toBeTruthy();
    expect(asked.get('scope')).toBe('openid email profile');
    expect(asked.get('redirect_uri')).toBe(`${served.url}/login/oidc/callback`);
    expect(callbackUrl.searchParams.get('code')).toBeTruthy();

    const response = await callback(browser, callbackUrl);
    expect(response.status, await response.text()).toBe(303);
    expect(response.headers.get('location')).toBe('/commissioning');
    const cookie = browser.contourbench.get('contourbench_session');
    expect(cookie).toBeTruthy();
    expect(browser.contourbench.get('contourbench_oidc')).toBeUndefined();
    const overview = await fetch(`${served.url}/`, {
      headers: { cookie: `contourbench_session=${cookie}` },
      redirect: 'manual',
    });
    expect(overview.status).toBe(200);
    expect(await overview.text()).toContain('ana@hospital.test');

    const user = await database.db
      .selectFrom('app_user')
      .select(['id', 'oidc_subject'])
      .where('email', '=', 'ana@hospital.test')
      .executeTakeFirstOrThrow();
    expect(user.oidc_subject).toBe('ana-7f3c');
    const links = await auditEvents('user.oidc_link', 'ana@hospital.test');
    expect(links).toHaveLength(1);
    expect(links[0]).toMatchObject({
      user_id: user.id,
      details: { issuer, subject: 'ana-7f3c' },
    });
    const logins = await database.db
      .selectFrom('audit_event')
      .select(['details'])
      .where('action', '=', 'user.login')
      .where('user_id', '=', user.id)
      .execute();
    expect(logins.map((row) => row.details)).toEqual([{ method: 'oidc' }]);
    // the ID token's signature was checked against the provider's keys; its email (not in an ID token
    // issued beside an access token, by this provider's default) came from the userinfo endpoint
    expect(idpRequests.get('/jwks')).toBeGreaterThanOrEqual(1);
    expect(idpRequests.get('/me')).toBeGreaterThanOrEqual(1);
    expect(idpRequests.get('/token')).toBe(1);
  });

  it('signs a linked user in again by subject, without linking again', async () => {
    const { browser, response } = await signInAs('ana-7f3c');
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/');
    expect(browser.contourbench.get('contourbench_session')).toBeTruthy();
    expect(await auditEvents('user.oidc_link', 'ana@hospital.test')).toHaveLength(1);
  });

  it('refuses an identity with no ContourBench account, clearly, and records it', async () => {
    const { browser, response } = await signInAs('stranger-19ab');
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(await response.text()).toContain(
      'no ContourBench account for stranger@elsewhere.test: ask an administrator',
    );
    expect(browser.contourbench.get('contourbench_session')).toBeUndefined();
    const failed = await auditEvents('user.login_failed', 'stranger@elsewhere.test');
    expect(failed).toHaveLength(1);
    expect(failed[0].details).toMatchObject({
      method: 'oidc',
      subject: 'stranger-19ab',
      reason: 'no account',
    });
  });

  it('refuses an email the provider has not verified, and a deactivated user', async () => {
    const unverified = await signInAs('bob-unverified');
    expect(unverified.response.status).toBe(403);
    expect(await unverified.response.text()).toContain('has not verified this email');
    const bob = await database.db
      .selectFrom('app_user')
      .select('oidc_subject')
      .where('email', '=', 'bob@hospital.test')
      .executeTakeFirstOrThrow();
    expect(bob.oidc_subject).toBeNull();

    const retired = await signInAs('retired-5d21');
    expect(retired.response.status).toBe(403);
    expect(await retired.response.text()).toContain(
      'the ContourBench account retired@hospital.test is deactivated',
    );
    expect(retired.browser.contourbench.get('contourbench_session')).toBeUndefined();
    expect(await auditEvents('user.login_failed', 'retired@hospital.test')).toHaveLength(1);
  });

  it('refuses a tampered state and an altered or missing sign-in cookie with 400', async () => {
    const browser = newBrowser();
    const { callbackUrl } = await throughProvider(browser, 'ana-7f3c');
    const pending = browser.contourbench.get('contourbench_oidc')!;
    expect(pending).toBeTruthy();

    const tampered = new URL(callbackUrl);
    tampered.searchParams.set('state', `${callbackUrl.searchParams.get('state')}x`);
    const refused = await callback(browser, tampered);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain(
      'the state in the identity provider&#39;s answer does not match the sign-in this browser started',
    );
    expect(browser.contourbench.get('contourbench_session')).toBeUndefined();

    // the first answer spent the cookie: the genuine callback cannot be replayed without it
    const replayed = await callback(browser, callbackUrl);
    expect(replayed.status).toBe(400);
    expect(await replayed.text()).toContain('this sign-in was not started in this browser');

    const altered = Buffer.from(pending, 'base64url');
    altered[altered.length - 1] ^= 1;
    browser.contourbench.set('contourbench_oidc', altered.toString('base64url'));
    const forged = await callback(browser, callbackUrl);
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain('its cookie was altered');
    expect(browser.contourbench.get('contourbench_session')).toBeUndefined();
  });

  it('goes on only to paths on this server', async () => {
    const { response } = await signInAs('ana-7f3c', '//evil.example/phish');
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/');
  });

  it('answers 404 with a message, and offers no link, when single sign-on is not configured', async () => {
    const response = await fetch(`${unconfigured.url}/login/oidc`, { redirect: 'manual' });
    expect(response.status).toBe(404);
    expect(await response.text()).toContain('single sign-on is not configured on this server');
    const page = await (await fetch(`${unconfigured.url}/login`)).text();
    expect(page).toContain('Sign in');
    expect(page).not.toContain('/login/oidc');
  });

  it('refuses a partial configuration, naming what is missing', () => {
    let problem: unknown;
    try {
      loadConfig({ CONTOURBENCH_OIDC_ISSUER: issuer, CONTOURBENCH_OIDC_CLIENT_ID: CLIENT_ID });
    } catch (error) {
      problem = error;
    }
    expect(isAppError(problem) && problem.code).toBe('CONFIG_INVALID');
    expect((problem as Error).message).toContain('CONTOURBENCH_OIDC_CLIENT_SECRET is missing');
    expect((problem as Error).message).not.toContain('CONTOURBENCH_OIDC_CLIENT_ID is missing');
  });
});
