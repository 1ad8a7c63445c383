import { redirect } from '@sveltejs/kit';
import { isAppError } from '$lib/core/errors';
import { completeOidcSignIn, oidcProblemPage } from '$lib/server/auth/oidc';
import { setSessionCookie } from '$lib/server/auth/session-cookie';
import { clientAddress, httpStatus } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { signInWithOidc } from '$lib/server/services/oidc.service';
import type { RequestHandler } from './$types';

/** Where the identity provider sends the browser back: verify, find the user, open a session. */
export const GET: RequestHandler = async (event) => {
  const runtime = await sharedRuntime();
  const oidc = runtime.config.oidc;
  if (!oidc) return oidcProblemPage(404, 'single sign-on is not configured on this server');
  let next: string;
  try {
    const identity = await completeOidcSignIn(oidc, event);
    const signed = await signInWithOidc(runtime.database.db, identity, {
      ip: clientAddress(event),
      userAgent: event.request.headers.get('user-agent'),
    });
    setSessionCookie(event, signed.sessionToken, signed.expiresAt);
    next = identity.next;
  } catch (problem) {
    if (!isAppError(problem)) throw problem;
    if (problem.cause) runtime.logger.warn({ err: problem.cause }, 'single sign-on refused');
    return oidcProblemPage(httpStatus[problem.code], problem.message);
  }
  redirect(303, next);
};
