import { isRoleName, type RoleName, roleNames, siteScope } from '../../core/access/permissions';
import { AppError } from '../../core/errors';
import { hashPassword, passwordProblem, UNUSABLE_HASH, verifyPassword } from '../auth/password';
import { newSecret, secretDigest } from '../auth/secret';
import type { Db } from '../db/connection';
import { insertAuditEvent } from '../repositories/audit.repository';
import {
  countFailedLogins,
  deleteExpiredSessions,
  deleteSession,
  deleteUserSessions,
  findPasswordHash,
  findSessionUser,
  findTokenUser,
  findUser,
  findUserById,
  insertApiToken,
  insertLoginAttempt,
  insertSession,
  insertUser,
  listApiTokens,
  listUsers,
  markTokenUsed,
  revokeApiToken,
  setSiteAccess,
  touchSession,
  updateUser,
  type ApiTokenRow,
  type UserRow,
} from '../repositories/user.repository';

/** Who is asking: a signed-in user (session) or a script (API token), with the sites they may see. */
export interface Principal {
  userId: number;
  email: string;
  displayName: string;
  role: RoleName;
  /** Site codes this user sees, or null for every site. */
  sites: string[] | null;
  via: 'session' | 'token';
}

/** The CLI acts with the machine's own authority: whoever runs it can reach the database directly. */
export interface Actor {
  userId: number | null;
  ip?: string | null;
  /** Shown in the audit trail when there is no user, e.g. "cli:root". */
  label?: string;
}

export function actorOf(principal: Principal | null | undefined, ip?: string | null): Actor {
  return { userId: principal?.userId ?? null, ip: ip ?? null };
}

/** Appends to the audit trail; details never hold a patient identifier, only pseudonymous ids. */
export interface AuditEvent {
  action: string;
  objectType: string;
  objectId?: string | number | null;
  siteId?: number | null;
  details?: Record<string, unknown>;
}

export async function audit(db: Db, actor: Actor, event: AuditEvent): Promise<void> {
  await insertAuditEvent(db, {
    userId: actor.userId,
    ip: actor.ip ?? null,
    action: event.action,
    objectType: event.objectType,
    objectId: event.objectId === undefined || event.objectId === null ? null : String(event.objectId),
    siteId: event.siteId ?? null,
    details: { ...(actor.label && { actor: actor.label }), ...event.details },
  });
}

function principalOf(row: UserRow, via: Principal['via']): Principal {
  return {
    userId: row.id,
    email: row.email,
    displayName: row.displayName,
    role: row.role,
    sites: siteScope(row.role, row.siteCodes),
    via,
  };
}

export function requirePrincipal(principal: Principal | null | undefined): Principal {
  if (!principal) throw new AppError('UNAUTHENTICATED', 'sign in first');
  return principal;
}

/** Throws FORBIDDEN unless the principal sees this site. */
export function requireSite(principal: Principal, siteCode: string): void {
  if (principal.sites !== null && !principal.sites.includes(siteCode))
    throw new AppError('FORBIDDEN', `${principal.email} has no access to site ${siteCode}`);
}

/**
 * The sites a query may cover: the requested ones (each must be visible to the principal), or all the
 * principal's sites when none were requested (undefined: no restriction).
 */
export function scopeSites(
  principal: Principal,
  requested: readonly string[] | undefined,
): string[] | undefined {
  if (principal.sites === null) return requested?.length ? [...requested] : undefined;
  if (!requested?.length) return principal.sites.length ? principal.sites : ['\u0000no site'];
  for (const site of requested) requireSite(principal, site);
  return [...requested];
}

// accounts

const SESSION_IDLE_MS = 2 * 60 * 60 * 1000;
const SESSION_MAX_MS = 12 * 60 * 60 * 1000;
const RATE_WINDOW_MS = 15 * 60 * 1000;
export const MAX_FAILURES_PER_EMAIL = 5;
export const MAX_FAILURES_PER_IP = 30;

export const SESSION_COOKIE = 'contourbench_session';
export const SESSION_IDLE_SECONDS = SESSION_IDLE_MS / 1000;

function normaliseEmail(email: string): string {
  const trimmed = email.trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(trimmed) || trimmed.length > 320)
    throw new AppError('INVALID_ARGUMENT', `"${email}" is not an email address`);
  return trimmed.toLowerCase();
}

function roleOf(role: string): RoleName {
  if (!isRoleName(role))
    throw new AppError('INVALID_ARGUMENT', `unknown role "${role}": one of ${roleNames.join(', ')}`);
  return role;
}

async function grantSites(db: Db, userId: number, role: RoleName, sites: string[]): Promise<void> {
  if (role === 'physician' && sites.length === 0)
    throw new AppError('INVALID_ARGUMENT', 'a physician needs a site: give --site CODE');
  const unknown = await setSiteAccess(db, userId, sites);
  if (unknown.length) throw new AppError('NOT_FOUND', `no site with code ${unknown.join(', ')}`);
}

export interface NewUser {
  email: string;
  role: string;
  sites?: string[];
  displayName?: string;
  /** Without one the account can only sign in through single sign-on until a password is set. */
  password?: string;
}

export async function createUser(db: Db, input: NewUser, actor: Actor): Promise<UserRow> {
  const email = normaliseEmail(input.email);
  const role = roleOf(input.role);
  const passwordHash = input.password === undefined ? null : await hashPassword(input.password, email);
  return db.transaction().execute(async (tx) => {
    if (await findUser(tx, email)) throw new AppError('CONFLICT', `a user ${email} already exists`);
    const id = await insertUser(tx, {
      email,
      role,
      displayName: input.displayName?.trim() || email.split('@')[0],
      passwordHash,
    });
    await grantSites(tx, id, role, input.sites ?? []);
    await audit(tx, actor, {
      action: 'user.create',
      objectType: 'app_user',
      objectId: id,
      details: { email, role, sites: input.sites ?? [] },
    });
    return (await findUserById(tx, id))!;
  });
}

/** Changes role, site grants or active state; every change is audited and ends the user's sessions. */
export async function updateAccess(
  db: Db,
  email: string,
  change: { role?: string; sites?: string[]; active?: boolean },
  actor: Actor,
): Promise<UserRow> {
  return db.transaction().execute(async (tx) => {
    const user = await findUser(tx, email);
    if (!user) throw new AppError('NOT_FOUND', `no user ${email}`);
    const role = change.role === undefined ? user.role : roleOf(change.role);
    if (user.id === actor.userId && (role !== 'admin' || change.active === false))
      throw new AppError('CONFLICT', 'an admin cannot remove their own admin role or account');
    await updateUser(tx, user.id, { role, isActive: change.active });
    if (change.sites !== undefined || role !== user.role)
      await grantSites(tx, user.id, role, change.sites ?? user.siteCodes);
    await deleteUserSessions(tx, user.id);
    const after = (await findUserById(tx, user.id))!;
    await audit(tx, actor, {
      action: 'user.access_change',
      objectType: 'app_user',
      objectId: user.id,
      details: {
        email: user.email,
        before: { role: user.role, sites: user.siteCodes, active: user.isActive },
        after: { role: after.role, sites: after.siteCodes, active: after.isActive },
      },
    });
    return after;
  });
}

export async function users(db: Db): Promise<UserRow[]> {
  return listUsers(db);
}

/** Sets a user's password (an admin's reset from the CLI); ends their sessions. */
export async function setPassword(db: Db, email: string, password: string, actor: Actor): Promise<void> {
  const user = await findUser(db, email);
  if (!user) throw new AppError('NOT_FOUND', `no user ${email}`);
  const passwordHash = await hashPassword(password, user.email);
  await db.transaction().execute(async (tx) => {
    await updateUser(tx, user.id, { passwordHash });
    await deleteUserSessions(tx, user.id);
    await audit(tx, actor, { action: 'user.password_reset', objectType: 'app_user', objectId: user.id });
  });
}

// sign-in

export interface SignedIn {
  principal: Principal;
  sessionToken: string;
  expiresAt: Date;
}

function minutesUntil(oldest: Date | null, now: number): number {
  return oldest ? Math.max(1, Math.ceil((oldest.getTime() + RATE_WINDOW_MS - now) / 60_000)) : 15;
}

/**
 * Signs in with email and password. Refuses (without checking the password) after 5 failures for the
 * account or 30 from the address within 15 minutes. Unknown accounts cost the same time as known ones.
 */
export async function signIn(
  db: Db,
  credentials: { email: string; password: string },
  client: { ip: string | null; userAgent: string | null },
): Promise<SignedIn> {
  const email = credentials.email.trim().toLowerCase().slice(0, 320);
  const now = Date.now();
  const failures = await countFailedLogins(db, email, client.ip, new Date(now - RATE_WINDOW_MS));
  if (failures.byEmail >= MAX_FAILURES_PER_EMAIL || failures.byIp >= MAX_FAILURES_PER_IP) {
    const wait =
      failures.byEmail >= MAX_FAILURES_PER_EMAIL
        ? minutesUntil(failures.oldestByEmail, now)
        : minutesUntil(failures.oldestByIp, now);
    await audit(
      db,
      { userId: null, ip: client.ip },
      {
        action: 'user.login_refused',
        objectType: 'app_user',
        details: { email, reason: 'too many failed sign-ins' },
      },
    );
    throw new AppError(
      'TOO_MANY_REQUESTS',
      `too many failed sign-ins: try again in ${wait} minute${wait === 1 ? '' : 's'}`,
    );
  }
  const account = await findPasswordHash(db, email);
  const matches = await verifyPassword(credentials.password, account?.passwordHash ?? UNUSABLE_HASH);
  if (!account || !matches || !account.isActive || !account.passwordHash) {
    await insertLoginAttempt(db, { email, ip: client.ip, succeeded: false });
    await audit(
      db,
      { userId: account?.id ?? null, ip: client.ip },
      {
        action: 'user.login_failed',
        objectType: 'app_user',
        objectId: account?.id ?? null,
        details: { email },
      },
    );
    throw new AppError('UNAUTHENTICATED', 'the email or password is not right');
  }
  return startSession(db, account.id, email, client, 'password');
}

/**
 * Opens a session for a user who has proved who they are (a password, or single sign-on), recording the
 * successful sign-in.
 */
export async function startSession(
  db: Db,
  userId: number,
  email: string,
  client: { ip: string | null; userAgent: string | null },
  method: 'password' | 'oidc',
): Promise<SignedIn> {
  const sessionToken = newSecret('');
  const expiresAt = new Date(Date.now() + SESSION_IDLE_MS);
  await db.transaction().execute(async (tx) => {
    await insertLoginAttempt(tx, { email, ip: client.ip, succeeded: true });
    await insertSession(tx, {
      digest: secretDigest(sessionToken),
      userId,
      expiresAt,
      ip: client.ip,
      userAgent: client.userAgent,
    });
    await audit(
      tx,
      { userId, ip: client.ip },
      { action: 'user.login', objectType: 'app_user', objectId: userId, details: { method } },
    );
  });
  await deleteExpiredSessions(db);
  const principal = await principalOfSession(db, sessionToken);
  return { principal: principal!.principal, sessionToken, expiresAt };
}

/**
 * The user of a session token, sliding its idle expiry forward (at most once a minute, and never past
 * 12 hours after sign-in); undefined when the session is unknown or expired.
 */
export async function principalOfSession(
  db: Db,
  sessionToken: string,
): Promise<{ principal: Principal; expiresAt: Date } | undefined> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(sessionToken)) return undefined;
  const digest = secretDigest(sessionToken);
  const row = await findSessionUser(db, digest);
  if (!row) return undefined;
  let expiresAt = row.expiresAt;
  const now = Date.now();
  if (now - row.lastSeenAt.getTime() > 60_000) {
    expiresAt = new Date(Math.min(now + SESSION_IDLE_MS, row.createdAt.getTime() + SESSION_MAX_MS));
    await touchSession(db, digest, expiresAt);
  }
  return { principal: principalOf(row, 'session'), expiresAt };
}

export async function signOut(db: Db, sessionToken: string, ip: string | null): Promise<void> {
  const userId = await deleteSession(db, secretDigest(sessionToken));
  if (userId !== undefined)
    await audit(db, { userId, ip }, { action: 'user.logout', objectType: 'app_user', objectId: userId });
}

/** Changes the signed-in user's own password after checking the current one; ends their other sessions. */
export async function changePassword(
  db: Db,
  principal: Principal,
  change: { current: string; next: string; sessionToken?: string },
  ip: string | null,
): Promise<void> {
  const account = await findPasswordHash(db, principal.email);
  if (!account?.passwordHash || !(await verifyPassword(change.current, account.passwordHash)))
    throw new AppError('INVALID_ARGUMENT', 'the current password is not right');
  const problem = passwordProblem(change.next, principal.email);
  if (problem) throw new AppError('INVALID_ARGUMENT', problem);
  if (change.next === change.current)
    throw new AppError('INVALID_ARGUMENT', 'the new password is the current one');
  const passwordHash = await hashPassword(change.next, principal.email);
  await db.transaction().execute(async (tx) => {
    await updateUser(tx, principal.userId, { passwordHash });
    await deleteUserSessions(tx, principal.userId, change.sessionToken && secretDigest(change.sessionToken));
    await audit(
      tx,
      { userId: principal.userId, ip },
      {
        action: 'user.password_change',
        objectType: 'app_user',
        objectId: principal.userId,
      },
    );
  });
}

// API tokens

const TOKEN_PREFIX = 'cbt_';

export async function createApiToken(
  db: Db,
  input: { email: string; name: string; expiresInDays?: number },
  actor: Actor,
): Promise<{ id: number; token: string; user: UserRow; expiresAt: Date | null }> {
  const user = await findUser(db, input.email);
  if (!user) throw new AppError('NOT_FOUND', `no user ${input.email}`);
  if (!user.isActive) throw new AppError('CONFLICT', `${user.email} is deactivated`);
  const name = input.name.trim();
  if (!name || name.length > 200)
    throw new AppError('INVALID_ARGUMENT', 'a token name of 1 to 200 characters');
  const token = newSecret(TOKEN_PREFIX);
  const expiresAt = input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null;
  const id = await db.transaction().execute(async (tx) => {
    const tokenId = await insertApiToken(tx, {
      userId: user.id,
      name,
      digest: secretDigest(token),
      prefix: token.slice(0, TOKEN_PREFIX.length + 6),
      expiresAt,
    });
    await audit(tx, actor, {
      action: 'token.create',
      objectType: 'api_token',
      objectId: tokenId,
      details: { email: user.email, name, expiresAt },
    });
    return tokenId;
  });
  return { id, token, user, expiresAt };
}

export async function apiTokens(db: Db, email?: string): Promise<ApiTokenRow[]> {
  if (email === undefined) return listApiTokens(db);
  const user = await findUser(db, email);
  if (!user) throw new AppError('NOT_FOUND', `no user ${email}`);
  return listApiTokens(db, user.id);
}

/** Revokes a token; with `ownerId`, only one of that user's own. */
export async function revokeToken(db: Db, tokenId: number, actor: Actor, ownerId?: number): Promise<void> {
  const revoked = await revokeApiToken(db, tokenId, ownerId);
  if (!revoked) throw new AppError('NOT_FOUND', `no active API token ${tokenId}`);
  await audit(db, actor, { action: 'token.revoke', objectType: 'api_token', objectId: tokenId });
}

/** The user of a bearer token; undefined for an unknown, revoked or expired token. */
export async function principalOfToken(db: Db, token: string): Promise<Principal | undefined> {
  if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return undefined;
  const row = await findTokenUser(db, secretDigest(token));
  if (!row) return undefined;
  // the time of last use is kept to the minute, as a session's last sight is
  if (row.lastUsedAt === null || Date.now() - row.lastUsedAt.getTime() > 60_000)
    await markTokenUsed(db, row.tokenId);
  return principalOf(row, 'token');
}
