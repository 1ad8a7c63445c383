import { redirect } from '@sveltejs/kit';
import { isAppError } from '$lib/core/errors';
import { beginOidcSignIn, oidcProblemPage, safeNextPath } from '$lib/server/auth/oidc';
import { httpStatus } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import type { RequestHandler } from './$types';

/** Sends the browser to the identity provider to sign in. */
export const GET: RequestHandler = async (event) => {
  const runtime = await sharedRuntime();
  const oidc = runtime.config.oidc;
  if (!oidc)
    return oidcProblemPage(
      404,
      'single sign-on is not configured on this server (CONTOURBENCH_OIDC_ISSUER): sign in with your email and password',
    );
  let authorizationUrl: URL;
  try {
    authorizationUrl = await beginOidcSignIn(oidc, event, safeNextPath(event.url.searchParams.get('next')));
  } catch (problem) {
    if (!isAppError(problem)) throw problem;
    runtime.logger.warn({ err: problem.cause ?? problem }, 'single sign-on could not start');
    return oidcProblemPage(httpStatus[problem.code], problem.message);
  }
  redirect(303, authorizationUrl.href);
};
