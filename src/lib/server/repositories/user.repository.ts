import { sql, type Kysely, type Transaction } from 'kysely';
import type { RoleName } from '../db/schema';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface UserRow {
  id: number;
  email: string;
  displayName: string;
  role: RoleName;
  isActive: boolean;
  siteCodes: string[];
  lastLoginAt: Date | null;
}

const byEmail = (email: string) => sql<boolean>`lower(app_user.email) = lower(${email})`;

function userColumns(db: Db) {
  return db.selectFrom('app_user').select((eb) => [
    'app_user.id',
    'app_user.email',
    'app_user.display_name as displayName',
    'app_user.role',
    'app_user.is_active as isActive',
    'app_user.last_login_at as lastLoginAt',
    eb
      .selectFrom('site_access')
      .innerJoin('site', 'site.id', 'site_access.site_id')
      .whereRef('site_access.user_id', '=', 'app_user.id')
      .select(sql<string[]>`coalesce(array_agg(site.code order by site.code), '{}')`.as('codes'))
      .as('siteCodes'),
  ]);
}

function mapUser(row: {
  id: number;
  email: string;
  displayName: string;
  role: RoleName;
  isActive: boolean;
  lastLoginAt: Date | null;
  siteCodes: string[] | null;
}): UserRow {
  return { ...row, siteCodes: row.siteCodes ?? [] };
}

/** The id of the user with this email (case-insensitive). */
export async function findUserId(db: Db, email: string): Promise<number | undefined> {
  const row = await db.selectFrom('app_user').select('id').where(byEmail(email)).executeTakeFirst();
  return row?.id;
}

export async function findUser(db: Db, email: string): Promise<UserRow | undefined> {
  const row = await userColumns(db).where(byEmail(email)).executeTakeFirst();
  return row && mapUser(row);
}

export async function findUserById(db: Db, id: number): Promise<UserRow | undefined> {
  const row = await userColumns(db).where('app_user.id', '=', id).executeTakeFirst();
  return row && mapUser(row);
}

export async function listUsers(db: Db): Promise<UserRow[]> {
  const rows = await userColumns(db).orderBy('app_user.email').execute();
  return rows.map(mapUser);
}

export async function findPasswordHash(
  db: Db,
  email: string,
): Promise<{ id: number; passwordHash: string | null; isActive: boolean } | undefined> {
  return db
    .selectFrom('app_user')
    .select(['id', 'password_hash as passwordHash', 'is_active as isActive'])
    .where(byEmail(email))
    .executeTakeFirst();
}

export async function insertUser(
  db: Db,
  user: { email: string; displayName: string; role: RoleName; passwordHash: string | null },
): Promise<number> {
  const row = await db
    .insertInto('app_user')
    .values({
      email: user.email,
      display_name: user.displayName,
      role: user.role,
      password_hash: user.passwordHash,
      password_changed_at: user.passwordHash ? new Date() : null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function updateUser(
  db: Db,
  id: number,
  changes: { role?: RoleName; isActive?: boolean; passwordHash?: string; displayName?: string },
): Promise<void> {
  await db
    .updateTable('app_user')
    .set({
      ...(changes.role !== undefined && { role: changes.role }),
      ...(changes.isActive !== undefined && { is_active: changes.isActive }),
      ...(changes.displayName !== undefined && { display_name: changes.displayName }),
      ...(changes.passwordHash !== undefined && {
        password_hash: changes.passwordHash,
        password_changed_at: new Date(),
      }),
    })
    .where('id', '=', id)
    .execute();
}

/** Replaces the user's site grants by these sites; returns the codes that name no site. */
export async function setSiteAccess(db: Db, userId: number, siteCodes: string[]): Promise<string[]> {
  const sites = siteCodes.length
    ? await db.selectFrom('site').select(['id', 'code']).where('code', 'in', siteCodes).execute()
    : [];
  const unknown = siteCodes.filter((code) => !sites.some((s) => s.code === code));
  if (unknown.length) return unknown;
  await db.deleteFrom('site_access').where('user_id', '=', userId).execute();
  if (sites.length)
    await db
      .insertInto('site_access')
      .values(sites.map((s) => ({ user_id: userId, site_id: s.id })))
      .execute();
  return [];
}

// sessions

export async function insertSession(
  db: Db,
  session: { digest: string; userId: number; expiresAt: Date; ip: string | null; userAgent: string | null },
): Promise<void> {
  await db
    .insertInto('user_session')
    .values({
      token_sha256: session.digest,
      user_id: session.userId,
      expires_at: session.expiresAt,
      ip_address: session.ip,
      user_agent: session.userAgent?.slice(0, 500) ?? null,
    })
    .execute();
  await db
    .updateTable('app_user')
    .set({ last_login_at: new Date() })
    .where('id', '=', session.userId)
    .execute();
}

export interface SessionPrincipalRow extends UserRow {
  createdAt: Date;
  expiresAt: Date;
  lastSeenAt: Date;
}

/** The active user of an unexpired session. */
export async function findSessionUser(db: Db, digest: string): Promise<SessionPrincipalRow | undefined> {
  const row = await userColumns(db)
    .innerJoin('user_session', 'user_session.user_id', 'app_user.id')
    .select([
      'user_session.created_at as createdAt',
      'user_session.expires_at as expiresAt',
      'user_session.last_seen_at as lastSeenAt',
    ])
    .where('user_session.token_sha256', '=', digest)
    .where('user_session.expires_at', '>', new Date())
    .where('app_user.is_active', '=', true)
    .executeTakeFirst();
  return (
    row && { ...mapUser(row), createdAt: row.createdAt, expiresAt: row.expiresAt, lastSeenAt: row.lastSeenAt }
  );
}

export async function touchSession(db: Db, digest: string, expiresAt: Date): Promise<void> {
  await db
    .updateTable('user_session')
    .set({ last_seen_at: new Date(), expires_at: expiresAt })
    .where('token_sha256', '=', digest)
    .execute();
}

export async function deleteSession(db: Db, digest: string): Promise<number | undefined> {
  const row = await db
    .deleteFrom('user_session')
    .where('token_sha256', '=', digest)
    .returning('user_id')
    .executeTakeFirst();
  return row?.user_id;
}

/** Ends every session of the user except the one kept; returns how many ended. */
export async function deleteUserSessions(db: Db, userId: number, keepDigest?: string): Promise<number> {
  let query = db.deleteFrom('user_session').where('user_id', '=', userId);
  if (keepDigest) query = query.where('token_sha256', '!=', keepDigest);
  const result = await query.executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function deleteExpiredSessions(db: Db): Promise<number> {
  const result = await db.deleteFrom('user_session').where('expires_at', '<=', new Date()).executeTakeFirst();
  return Number(result.numDeletedRows);
}

// sign-in attempts

export async function insertLoginAttempt(
  db: Db,
  attempt: { email: string; ip: string | null; succeeded: boolean },
): Promise<void> {
  await db
    .insertInto('login_attempt')
    .values({ email: attempt.email.slice(0, 320), ip_address: attempt.ip, succeeded: attempt.succeeded })
    .execute();
}

/** Failed sign-ins since `since` for this email and from this address, and the oldest of them. */
export async function countFailedLogins(
  db: Db,
  email: string,
  ip: string | null,
  since: Date,
): Promise<{ byEmail: number; byIp: number; oldestByEmail: Date | null; oldestByIp: Date | null }> {
  const row = await db
    .selectFrom('login_attempt')
    .where('succeeded', '=', false)
    .where('attempted_at', '>', since)
    .select([
      sql<number>`count(*) filter (where lower(email) = lower(${email}))::int`.as('byEmail'),
      sql<number>`count(*) filter (where ip_address = ${ip}::inet)::int`.as('byIp'),
      sql<Date | null>`min(attempted_at) filter (where lower(email) = lower(${email}))`.as('oldestByEmail'),
      sql<Date | null>`min(attempted_at) filter (where ip_address = ${ip}::inet)`.as('oldestByIp'),
    ])
    .executeTakeFirstOrThrow();
  return row;
}

// API tokens

export interface ApiTokenRow {
  id: number;
  userEmail: string;
  name: string;
  prefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export async function insertApiToken(
  db: Db,
  token: { userId: number; name: string; digest: string; prefix: string; expiresAt: Date | null },
): Promise<number> {
  const row = await db
    .insertInto('api_token')
    .values({
      user_id: token.userId,
      name: token.name,
      token_sha256: token.digest,
      prefix: token.prefix,
      expires_at: token.expiresAt,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** The active user of a valid (unrevoked, unexpired) token, and the token's id. */
export async function findTokenUser(
  db: Db,
  digest: string,
): Promise<(UserRow & { tokenId: number; lastUsedAt: Date | null }) | undefined> {
  const row = await userColumns(db)
    .innerJoin('api_token', 'api_token.user_id', 'app_user.id')
    .select(['api_token.id as tokenId', 'api_token.last_used_at as tokenLastUsedAt'])
    .where('api_token.token_sha256', '=', digest)
    .where('api_token.revoked_at', 'is', null)
    .where((eb) =>
      eb.or([eb('api_token.expires_at', 'is', null), eb('api_token.expires_at', '>', new Date())]),
    )
    .where('app_user.is_active', '=', true)
    .executeTakeFirst();
  return row && { ...mapUser(row), tokenId: row.tokenId, lastUsedAt: row.tokenLastUsedAt };
}

export async function markTokenUsed(db: Db, tokenId: number): Promise<void> {
  await db.updateTable('api_token').set({ last_used_at: new Date() }).where('id', '=', tokenId).execute();
}

export async function listApiTokens(db: Db, userId?: number): Promise<ApiTokenRow[]> {
  let query = db
    .selectFrom('api_token')
    .innerJoin('app_user', 'app_user.id', 'api_token.user_id')
    .select([
      'api_token.id',
      'app_user.email as userEmail',
      'api_token.name',
      'api_token.prefix',
      'api_token.created_at as createdAt',
      'api_token.expires_at as expiresAt',
      'api_token.last_used_at as lastUsedAt',
      'api_token.revoked_at as revokedAt',
    ])
    .orderBy('api_token.id');
  if (userId !== undefined) query = query.where('api_token.user_id', '=', userId);
  return query.execute();
}

/** Revokes a token; returns its owner, or undefined when there is no such unrevoked token. */
export async function revokeApiToken(
  db: Db,
  tokenId: number,
  ownerId?: number,
): Promise<{ userId: number } | undefined> {
  let query = db
    .updateTable('api_token')
    .set({ revoked_at: new Date() })
    .where('id', '=', tokenId)
    .where('revoked_at', 'is', null);
  if (ownerId !== undefined) query = query.where('user_id', '=', ownerId);
  const row = await query.returning('user_id as userId').executeTakeFirst();
  return row;
}

// single sign-on

/** The user linked to this OpenID Connect subject (the ID token's `sub`), active or not. */
export async function findUserByOidcSubject(db: Db, subject: string): Promise<UserRow | undefined> {
  const row = await userColumns(db).where('app_user.oidc_subject', '=', subject).executeTakeFirst();
  return row && mapUser(row);
}

/**
 * Links an OpenID Connect subject to a user that has none yet; false when the user is already linked to
 * another subject (or does not exist).
 */
export async function linkOidcSubject(db: Db, userId: number, subject: string): Promise<boolean> {
  const result = await db
    .updateTable('app_user')
    .set({ oidc_subject: subject })
    .where('id', '=', userId)
    .where('oidc_subject', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
