import { json } from '@sveltejs/kit';
import { errorMessage, isAppError, type AppErrorCode } from '../core/errors';

/** The HTTP status each error code maps to. */
export const httpStatus: Record<AppErrorCode, number> = {
  CONFIG_INVALID: 500,
  INVALID_ARGUMENT: 400,
  INVALID_INPUT: 422,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  DATABASE_UNAVAILABLE: 503,
  MIGRATION_FAILED: 500,
  BUILD_FAILED: 500,
  WORKER_FAILED: 503,
  INTERNAL: 500,
};

/** An API error as JSON `{ error: { code, message } }` with the status of its code. */
export function errorResponse(error: unknown): Response {
  if (isAppError(error)) {
    return json({ error: { code: error.code, message: error.message } }, { status: httpStatus[error.code] });
  }
  return json({ error: { code: 'INTERNAL', message: errorMessage(error) } }, { status: 500 });
}
