import type { HandleServerError, ServerInit } from '@sveltejs/kit';
import { isAppError } from '$lib/core/errors';
import { sharedRuntime } from '$lib/server/runtime';

// Fail at start-up, not on the first request, when the database cannot be reached or migrated.
export const init: ServerInit = async () => {
  await sharedRuntime();
};

export const handleError: HandleServerError = async ({ error, event, status, message }) => {
  if (isAppError(error)) return { message: error.message, code: error.code };
  const runtime = await sharedRuntime().catch(() => undefined);
  runtime?.logger.error({ err: error, path: event.url.pathname, status }, 'request failed');
  return { message };
};
