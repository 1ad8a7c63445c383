import { AppError } from '../../core/errors';
import type { OidcIdentity } from '../auth/oidc';
import type { Db } from '../db/connection';
import {
  findUser,
  findUserByOidcSubject,
  linkOidcSubject,
  type UserRow,
} from '../repositories/user.repository';
import { audit, startSession, type SignedIn } from './account.service';

type Client = { ip: string | null; userAgent: string | null };

/**
 * Signs in the ContourBench user of a verified OpenID Connect identity. There is no self-registration:
 * the identity's subject must be linked to a user already, or its email (unless the issuer says it is
 * unverified) must be that of an active user with no linked subject, who is then linked. Refusals are
 * audited as failed sign-ins.
 */
export async function signInWithOidc(db: Db, identity: OidcIdentity, client: Client): Promise<SignedIn> {
  const refuse = async (reason: string, message: string, user?: UserRow): Promise<never> => {
    await audit(
      db,
      { userId: user?.id ?? null, ip: client.ip },
      {
        action: 'user.login_failed',
        objectType: 'app_user',
        objectId: user?.id ?? null,
        details: {
          email: user?.email ?? identity.email,
          method: 'oidc',
          issuer: identity.issuer,
          subject: identity.subject,
          reason,
        },
      },
    );
    throw new AppError('FORBIDDEN', message);
  };

  const linked = await findUserByOidcSubject(db, identity.subject);
  if (linked) {
    if (!linked.isActive)
      return refuse('deactivated', `the ContourBench account ${linked.email} is deactivated`, linked);
    return startSession(db, linked.id, linked.email, client, 'oidc');
  }

  const who = identity.email ?? `subject ${identity.subject} of ${identity.issuer}`;
  if (identity.email === null || identity.emailVerified === false) {
    const unverified = identity.email !== null;
    return refuse(
      unverified ? 'email not verified' : 'no email',
      `no ContourBench account for ${who}${unverified ? ' (the identity provider has not verified this email)' : ''}: ask an administrator`,
    );
  }
  const user = await findUser(db, identity.email);
  if (!user) return refuse('no account', `no ContourBench account for ${who}: ask an administrator`);
  if (!user.isActive)
    return refuse('deactivated', `the ContourBench account ${user.email} is deactivated`, user);

  const didLink = await db.transaction().execute(async (tx) => {
    if (!(await linkOidcSubject(tx, user.id, identity.subject))) return false;
    await audit(
      tx,
      { userId: user.id, ip: client.ip },
      {
        action: 'user.oidc_link',
        objectType: 'app_user',
        objectId: user.id,
        details: { email: user.email, issuer: identity.issuer, subject: identity.subject },
      },
    );
    return true;
  });
  if (!didLink)
    return refuse(
      'linked to another identity',
      `the ContourBench account ${user.email} is linked to another single sign-on identity: ask an administrator`,
      user,
    );
  return startSession(db, user.id, user.email, client, 'oidc');
}
