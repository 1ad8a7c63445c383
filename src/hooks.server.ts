import { type Handle, type HandleServerError, type RequestEvent, type ServerInit } from '@sveltejs/kit';
import { sequence } from '@sveltejs/kit/hooks';
import { can } from '$lib/core/access/permissions';
import { AppError, isAppError } from '$lib/core/errors';
import { requiredAccess } from '$lib/server/auth/route-policy';
import { setSessionCookie } from '$lib/server/auth/session-cookie';
import { errorResponse } from '$lib/server/http';
import { sharedRuntime } from '$lib/server/runtime';
import {
  principalOfSession,
  principalOfToken,
  SESSION_COOKIE,
  SESSION_IDLE_SECONDS,
} from '$lib/server/services/account.service';

// Fail at start-up, not on the first request, when the database cannot be reached or migrated.
export const init: ServerInit = async () => {
  await sharedRuntime();
};

/** Headers every answer carries, pages and API alike (the pages' CSP comes from svelte.config.js). */
const securityHeaders: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // not no-referrer: browsers then send Origin: null with form posts, which the CSRF check refuses
  'referrer-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  'cross-origin-opener-policy': 'same-origin',
};

const isApi = (event: RequestEvent) => event.url.pathname.startsWith('/api/');

/** Who is asking: a bearer token (scripts) or the session cookie (browsers). */
const authenticate: Handle = async ({ event, resolve }) => {
  event.locals.principal = null;
  event.locals.sessionToken = null;
  const authorization = event.request.headers.get('authorization');
  const db = (await sharedRuntime()).database.db;
  if (authorization !== null) {
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization);
    const principal = bearer ? await principalOfToken(db, bearer[1]) : undefined;
    if (!principal)
      return errorResponse(
        new AppError(
          'UNAUTHENTICATED',
          bearer ? 'the API token is not valid, revoked or expired' : 'send Authorization: Bearer <token>',
        ),
      );
    event.locals.principal = principal;
    return resolve(event);
  }
  const cookie = event.cookies.get(SESSION_COOKIE);
  if (cookie) {
    const session = await principalOfSession(db, cookie);
    if (session) {
      event.locals.principal = session.principal;
      event.locals.sessionToken = cookie;
      if (session.expiresAt.getTime() - Date.now() > SESSION_IDLE_SECONDS * 1000 - 120_000)
        setSessionCookie(event, cookie, session.expiresAt);
    } else event.cookies.delete(SESSION_COOKIE, { path: '/' });
  }
  return resolve(event);
};

/** Every route checks the role before anything else runs; routes without a rule are refused. */
const authorize: Handle = async ({ event, resolve }) => {
  const routeId = event.route.id;
  if (routeId === null) return resolve(event); // no such route: SvelteKit answers 404
  const access = requiredAccess(routeId, event.request.method, event.url);
  const principal = event.locals.principal;
  const refuse = (code: 'UNAUTHENTICATED' | 'FORBIDDEN', message: string): Response => {
    if (isApi(event)) return errorResponse(new AppError(code, message));
    if (code === 'UNAUTHENTICATED' && event.request.method === 'GET') {
      const next = event.url.pathname + event.url.search;
      return new Response(null, {
        status: 303,
        headers: { location: `/login?next=${encodeURIComponent(next)}` },
      });
    }
    return refusalPage(code === 'UNAUTHENTICATED' ? 401 : 403, message, principal?.email);
  };
  if (access === undefined)
    return refuse('FORBIDDEN', `${event.request.method} ${event.url.pathname} is not allowed`);
  if (access === 'public') return resolve(event);
  if (!principal)
    return refuse('UNAUTHENTICATED', isApi(event) ? 'send Authorization: Bearer <token>' : 'sign in first');
  if (access !== 'signed_in' && !can(principal.role, access))
    return refuse('FORBIDDEN', `the ${principal.role} role has no access to ${event.url.pathname}`);
  return resolve(event);
};

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A page refused before any route code runs: plain HTML, no script. */
function refusalPage(status: 401 | 403, message: string, email: string | undefined): Response {
  const title = status === 401 ? 'Sign in first' : 'Not allowed';
  const who = email ? `<p>Signed in as ${escapeHtml(email)}.</p>` : '';
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title} · ContourBench</title>
<style>body{font:16px system-ui,sans-serif;margin:4rem auto;max-width:36rem;color:#222}a{color:#0b57d0}</style></head>
<body><h1>${status} · ${title}</h1><p>${escapeHtml(message)}.</p>${who}<p><a href="/">Overview</a> · <a href="/login">Sign in as someone else</a></p></body></html>`;
  return new Response(body, {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    },
  });
}

const headers: Handle = async ({ event, resolve }) => {
  const response = await resolve(event);
  for (const [name, value] of Object.entries(securityHeaders))
    if (!response.headers.has(name)) response.headers.set(name, value);
  return response;
};

export const handle: Handle = sequence(headers, authenticate, authorize);

export const handleError: HandleServerError = async ({ error, event, status, message }) => {
  if (isAppError(error)) return { message: error.message, code: error.code };
  const runtime = await sharedRuntime().catch(() => undefined);
  runtime?.logger.error({ err: error, path: event.url.pathname, status }, 'request failed');
  return { message };
};
