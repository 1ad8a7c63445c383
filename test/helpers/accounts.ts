import type { RoleName } from '../../src/lib/core/access/permissions';
import type { Db } from '../../src/lib/server/db/connection';
import { createApiToken, createUser } from '../../src/lib/server/services/account.service';

export const TEST_PASSWORD = 'correct horse battery staple';

export interface TestAccount {
  email: string;
  password: string;
  token: string;
  authorization: { authorization: string };
}

/** A user of this role (bound to these sites) with a password and an API token. */
export async function createAccount(
  db: Db,
  role: RoleName,
  sites: string[] = [],
  email = `${role}${sites.length ? `-${sites.join('-').toLowerCase()}` : ''}@test.contourbench`,
): Promise<TestAccount> {
  await createUser(db, { email, role, sites, password: TEST_PASSWORD }, { userId: null, label: 'test' });
  const { token } = await createApiToken(db, { email, name: 'test' }, { userId: null, label: 'test' });
  return { email, password: TEST_PASSWORD, token, authorization: { authorization: `Bearer ${token}` } };
}

/** Signs in through the login form as a browser would; returns the Cookie header of the session. */
export async function signInCookie(
  baseUrl: string,
  email: string,
  password = TEST_PASSWORD,
): Promise<string> {
  const response = await fetch(`${baseUrl}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: baseUrl, accept: 'text/html' },
    body: new URLSearchParams({ email, password, next: '/' }),
    redirect: 'manual',
  });
  const cookie = response.headers.get('set-cookie');
  if (response.status !== 303 || !cookie)
    throw new Error(`sign-in of ${email} answered ${response.status}: ${await response.text()}`);
  return cookie.split(';')[0]!;
}
