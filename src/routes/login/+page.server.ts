import { fail, redirect } from '@sveltejs/kit';
import { errorMessage, isAppError } from '$lib/core/errors';
import { setSessionCookie } from '$lib/server/auth/session-cookie';
import { clientAddress, httpStatus } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { signIn } from '$lib/server/services/account.service';
import type { Actions, PageServerLoad } from './$types';

/** Only a path on this server: never an absolute or protocol-relative URL (no open redirect). */
function safeNext(value: string | null): string {
  return value && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') ? value : '/';
}

export const load: PageServerLoad = async ({ url, locals }) => {
  const next = safeNext(url.searchParams.get('next'));
  if (locals.principal) redirect(303, next);
  const oidc = (await sharedRuntime()).config.oidc;
  return { next, singleSignOn: oidc ? { label: oidc.label } : null };
};

export const actions: Actions = {
  default: async (event) => {
    const form = await event.request.formData();
    const email = String(form.get('email') ?? '');
    const password = String(form.get('password') ?? '');
    const next = safeNext(String(form.get('next') ?? '/'));
    if (!email || !password) return fail(400, { email, error: 'write your email and password' });
    try {
      const db = (await sharedRuntime()).database.db;
      const signed = await signIn(
        db,
        { email, password },
        { ip: clientAddress(event), userAgent: event.request.headers.get('user-agent') },
      );
      setSessionCookie(event, signed.sessionToken, signed.expiresAt);
    } catch (problem) {
      if (!isAppError(problem)) throw problem;
      return fail(httpStatus[problem.code], { email, error: errorMessage(problem) });
    }
    redirect(303, next);
  },
};
