import { type ActionFailure, fail, json } from '@sveltejs/kit';
import { errorMessage, isAppError, type AppErrorCode } from '../core/errors';
import { checkContentLength, isBodyTooLarge, limitBody } from './io/body-limit';

/** The HTTP status each error code maps to. */
export const httpStatus: Record<AppErrorCode, number> = {
  CONFIG_INVALID: 500,
  INVALID_ARGUMENT: 400,
  INVALID_INPUT: 422,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  TOO_MANY_REQUESTS: 429,
  STORAGE_FULL: 507,
  DATABASE_UNAVAILABLE: 503,
  MIGRATION_FAILED: 500,
  BUILD_FAILED: 500,
  WORKER_FAILED: 503,
  INTERNAL: 500,
};

/**
 * An API error as JSON `{ error: { code, message } }` with the status of its code; a body over the size
 * limit (ours, or adapter-node's BODY_SIZE_LIMIT met while reading it) is 413.
 */
export function errorResponse(error: unknown): Response {
  if (isAppError(error)) {
    const status = isBodyTooLarge(error) ? 413 : httpStatus[error.code];
    return json({ error: { code: error.code, message: error.message } }, { status });
  }
  if ((error as { status?: unknown } | null)?.status === 413) {
    return json({ error: { code: 'INVALID_INPUT', message: errorMessage(error) } }, { status: 413 });
  }
  return json({ error: { code: 'INTERNAL', message: errorMessage(error) } }, { status: 500 });
}

/** The client's address as the server sees it (ADDRESS_HEADER behind a proxy), or null when unknown. */
export function clientAddress(event: { getClientAddress: () => string }): string | null {
  try {
    return event.getClientAddress();
  } catch {
    return null;
  }
}

/**
 * The request body, refused with 413 (BodyTooLargeError) when its Content-Length is over `maxBytes`
 * before anything is read, or as soon as more than `maxBytes` have arrived; null when there is no body.
 */
export function limitedRequestBody(request: Request, maxBytes: number): ReadableStream<Uint8Array> | null {
  checkContentLength(request.headers.get('content-length'), maxBytes);
  return request.body === null ? null : limitBody(request.body, maxBytes);
}

/**
 * Runs a form action's work: its answer merged into `echo` (what the form shows again), or, for an
 * AppError, a failure with the error's status and message beside `echo`.
 */
export async function formAction<E extends object, T extends object>(
  echo: E,
  work: () => Promise<T>,
): Promise<(E & T) | ActionFailure<E & { error: string }>> {
  try {
    return { ...echo, ...(await work()) };
  } catch (problem) {
    if (!isAppError(problem)) throw problem;
    return fail(httpStatus[problem.code], { ...echo, error: errorMessage(problem) });
  }
}
