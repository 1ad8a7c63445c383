import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretDigest } from '../../src/lib/server/auth/secret';
import {
  apiTokens,
  changePassword,
  createApiToken,
  createUser,
  MAX_FAILURES_PER_EMAIL,
  principalOfSession,
  principalOfToken,
  revokeToken,
  scopeSites,
  signIn,
  signOut,
  updateAccess,
} from '../../src/lib/server/services/account.service';
import { createTestDatabase, type TestDatabase } from './test-database';

let database: TestDatabase;
const operator = { userId: null, label: 'test' };
const client = { ip: '192.0.2.7', userAgent: 'vitest' };
const password = 'a long enough passphrase';

beforeAll(async () => {
  database = await createTestDatabase();
  for (const code of ['SITE-A', 'SITE-B'])
    await database.db.insertInto('site').values({ code, name: code }).execute();
});

afterAll(async () => {
  await database?.destroy();
});

const events = (action: string) =>
  database.db
    .selectFrom('audit_event')
    .select(['user_id', 'object_id', 'details', 'ip_address'])
    .where('action', '=', action)
    .orderBy('id')
    .execute();

describe('accounts', () => {
  it('creates users with scrypt hashes, checked roles and sites, one per email', async () => {
    const user = await createUser(
      database.db,
      { email: 'Ada@Example.org', role: 'physicist', password },
      operator,
    );
    expect(user).toMatchObject({ email: 'ada@example.org', role: 'physicist', siteCodes: [] });
    const row = await database.db
      .selectFrom('app_user')
      .select('password_hash')
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(row.password_hash).not.toContain(password);
    await expect(
      createUser(database.db, { email: 'ada@EXAMPLE.org', role: 'admin', password }, operator),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await expect(
      createUser(database.db, { email: 'x@example.org', role: 'owner' }, operator),
    ).rejects.toThrow(/unknown role "owner"/);
    await expect(
      createUser(database.db, { email: 'p@example.org', role: 'physician' }, operator),
    ).rejects.toThrow(/needs a site/);
    await expect(
      createUser(database.db, { email: 'p@example.org', role: 'physician', sites: ['SITE-Z'] }, operator),
    ).rejects.toThrow(/no site with code SITE-Z/);
    await expect(
      createUser(database.db, { email: 'short@example.org', role: 'admin', password: 'short' }, operator),
    ).rejects.toThrow(/at least 12 characters/);
    // nothing half-made by the refusals
    expect(await database.db.selectFrom('app_user').select('email').execute()).toEqual([
      { email: 'ada@example.org' },
    ]);
    expect((await events('user.create')).map((e) => e.details)).toEqual([
      { actor: 'test', email: 'ada@example.org', role: 'physicist', sites: [] },
    ]);
  });

  it('signs in with the right password only, and sessions end on sign-out or expiry', async () => {
    await expect(
      signIn(database.db, { email: 'ada@example.org', password: 'wrong password!' }, client),
    ).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    // an unknown account answers exactly like a wrong password
    await expect(signIn(database.db, { email: 'nobody@example.org', password }, client)).rejects.toThrow(
      'the email or password is not right',
    );
    const signed = await signIn(database.db, { email: 'ADA@example.org', password }, client);
    expect(signed.principal).toMatchObject({
      email: 'ada@example.org',
      role: 'physicist',
      sites: null,
      via: 'session',
    });
    const stored = await database.db.selectFrom('user_session').select('token_sha256').execute();
    expect(stored).toEqual([{ token_sha256: secretDigest(signed.sessionToken) }]);
    expect((await principalOfSession(database.db, signed.sessionToken))?.principal.email).toBe(
      'ada@example.org',
    );
    expect(await principalOfSession(database.db, 'x'.repeat(43))).toBeUndefined();
    const logins = await events('user.login');
    expect(logins.at(-1)).toMatchObject({ ip_address: '192.0.2.7' });
    expect(await events('user.login_failed')).toHaveLength(2);

    await signOut(database.db, signed.sessionToken, client.ip);
    expect(await principalOfSession(database.db, signed.sessionToken)).toBeUndefined();

    const again = await signIn(database.db, { email: 'ada@example.org', password }, client);
    await database.db
      .updateTable('user_session')
      .set({ expires_at: sql`now() - interval '1 second'` })
      .execute();
    expect(await principalOfSession(database.db, again.sessionToken)).toBeUndefined();
  });

  it('locks an account for 15 minutes after 5 failed sign-ins, whatever the password', async () => {
    await createUser(database.db, { email: 'grace@example.org', role: 'auditor', password }, operator);
    for (let i = 0; i < MAX_FAILURES_PER_EMAIL; i++)
      await expect(
        signIn(database.db, { email: 'grace@example.org', password: `guess number ${i}` }, client),
      ).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
      });
    await expect(signIn(database.db, { email: 'grace@example.org', password }, client)).rejects.toMatchObject(
      {
        code: 'TOO_MANY_REQUESTS',
        message: expect.stringMatching(/try again in 15 minutes/),
      },
    );
    // failures age out of the window
    await database.db
      .updateTable('login_attempt')
      .set({ attempted_at: sql`now() - interval '16 minutes'` })
      .execute();
    await expect(
      signIn(database.db, { email: 'grace@example.org', password }, client),
    ).resolves.toBeDefined();
  });

  it('changes a password only with the current one, and signs out the other sessions', async () => {
    const here = await signIn(database.db, { email: 'ada@example.org', password }, client);
    const elsewhere = await signIn(database.db, { email: 'ada@example.org', password }, client);
    const next = 'another long passphrase';
    await expect(
      changePassword(
        database.db,
        here.principal,
        { current: 'not it at all', next, sessionToken: here.sessionToken },
        null,
      ),
    ).rejects.toThrow(/current password/);
    await changePassword(
      database.db,
      here.principal,
      { current: password, next, sessionToken: here.sessionToken },
      null,
    );
    expect(await principalOfSession(database.db, here.sessionToken)).toBeDefined();
    expect(await principalOfSession(database.db, elsewhere.sessionToken)).toBeUndefined();
    await expect(signIn(database.db, { email: 'ada@example.org', password }, client)).rejects.toBeDefined();
    await expect(
      signIn(database.db, { email: 'ada@example.org', password: next }, client),
    ).resolves.toBeDefined();
  });

  it('changes roles and sites with an audit record, ending the sessions of the user', async () => {
    const carol = await createUser(
      database.db,
      { email: 'carol@example.org', role: 'physician', sites: ['SITE-A'], password },
      operator,
    );
    expect(carol.siteCodes).toEqual(['SITE-A']);
    const session = await signIn(database.db, { email: 'carol@example.org', password }, client);
    expect(session.principal.sites).toEqual(['SITE-A']);
    const after = await updateAccess(
      database.db,
      'carol@example.org',
      { role: 'physicist', sites: ['SITE-B'] },
      operator,
    );
    expect(after).toMatchObject({ role: 'physicist', siteCodes: ['SITE-B'] });
    expect(await principalOfSession(database.db, session.sessionToken)).toBeUndefined();
    expect((await events('user.access_change')).at(-1)!.details).toMatchObject({
      before: { role: 'physician', sites: ['SITE-A'] },
      after: { role: 'physicist', sites: ['SITE-B'] },
    });
    await updateAccess(database.db, 'carol@example.org', { active: false }, operator);
    await expect(signIn(database.db, { email: 'carol@example.org', password }, client)).rejects.toMatchObject(
      {
        code: 'UNAUTHENTICATED',
      },
    );
    const admin = await createUser(
      database.db,
      { email: 'root@example.org', role: 'admin', password },
      operator,
    );
    await expect(
      updateAccess(database.db, 'root@example.org', { role: 'auditor' }, { userId: admin.id }),
    ).rejects.toThrow(/own admin role/);
  });

  it('keeps API tokens as digests, scoped like their user, until revoked or expired', async () => {
    await createUser(
      database.db,
      { email: 'dora@example.org', role: 'physician', sites: ['SITE-B'], password },
      operator,
    );
    const created = await createApiToken(
      database.db,
      { email: 'dora@example.org', name: 'nightly' },
      operator,
    );
    expect(created.token).toMatch(/^cbt_[A-Za-z0-9_-]{43}$/);
    const rows = await database.db
      .selectFrom('api_token')
      .select(['token_sha256', 'prefix'])
      .where('id', '=', created.id)
      .execute();
    expect(rows).toEqual([{ token_sha256: secretDigest(created.token), prefix: created.token.slice(0, 10) }]);
    const principal = await principalOfToken(database.db, created.token);
    expect(principal).toMatchObject({
      email: 'dora@example.org',
      role: 'physician',
      sites: ['SITE-B'],
      via: 'token',
    });
    expect(scopeSites(principal!, undefined)).toEqual(['SITE-B']);
    expect(() => scopeSites(principal!, ['SITE-A'])).toThrow(/no access to site SITE-A/);
    expect((await apiTokens(database.db, 'dora@example.org'))[0]!.lastUsedAt).not.toBeNull();

    await revokeToken(database.db, created.id, operator);
    expect(await principalOfToken(database.db, created.token)).toBeUndefined();
    await expect(revokeToken(database.db, created.id, operator)).rejects.toMatchObject({ code: 'NOT_FOUND' });

    const expiring = await createApiToken(
      database.db,
      { email: 'dora@example.org', name: 'short', expiresInDays: 1 },
      operator,
    );
    expect(await principalOfToken(database.db, expiring.token)).toBeDefined();
    await database.db
      .updateTable('api_token')
      .set({ expires_at: sql`now() - interval '1 second'` })
      .where('id', '=', expiring.id)
      .execute();
    expect(await principalOfToken(database.db, expiring.token)).toBeUndefined();
    expect(await principalOfToken(database.db, 'cbt_not-a-token')).toBeUndefined();
    expect((await events('token.revoke')).map((e) => e.object_id)).toEqual([String(created.id)]);
  });

  it('keeps the audit trail append-only', async () => {
    await expect(sql`update audit_event set action = 'x'`.execute(database.db)).rejects.toThrow(
      /append-only/,
    );
    await expect(sql`delete from audit_event`.execute(database.db)).rejects.toThrow(/append-only/);
    expect((await events('user.create')).length).toBeGreaterThan(3);
  });
});
