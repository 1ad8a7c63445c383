import type { Handle, HandleServerError, ServerInit } from '@sveltejs/kit';
import { isAppError } from '$lib/core/errors';
import { sharedRuntime } from '$lib/server/runtime';

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

export const handle: Handle = async ({ event, resolve }) => {
  const response = await resolve(event);
  for (const [name, value] of Object.entries(securityHeaders))
    if (!response.headers.has(name)) response.headers.set(name, value);
  return response;
};

export const handleError: HandleServerError = async ({ error, event, status, message }) => {
  if (isAppError(error)) return { message: error.message, code: error.code };
  const runtime = await sharedRuntime().catch(() => undefined);
  runtime?.logger.error({ err: error, path: event.url.pathname, status }, 'request failed');
  return { message };
};
