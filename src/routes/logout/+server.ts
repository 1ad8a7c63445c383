import { redirect } from '@sveltejs/kit';
import { clearSessionCookie } from '$lib/server/auth/session-cookie';
import { clientAddress } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import { signOut } from '$lib/server/services/account.service';
import type { RequestHandler } from './$types';

/** Ends the session (a form POST, so that a link or an image cannot sign anyone out). */
export const POST: RequestHandler = async (event) => {
  if (event.locals.sessionToken)
    await signOut((await sharedRuntime()).database.db, event.locals.sessionToken, clientAddress(event));
  clearSessionCookie(event.cookies);
  redirect(303, '/login');
};
