/**
 * The single error type of ContourBench. `code` is stable and machine-readable (routes map it to an HTTP
 * status, the CLI to an exit message); `message` names the file, field or value and what was expected.
 */
export type AppErrorCode =
  | 'CONFIG_INVALID'
  | 'INVALID_ARGUMENT'
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'TOO_MANY_REQUESTS'
  | 'STORAGE_FULL'
  | 'DATABASE_UNAVAILABLE'
  | 'MIGRATION_FAILED'
  | 'BUILD_FAILED'
  | 'WORKER_FAILED'
  | 'INTERNAL';

export class AppError extends Error {
  readonly code: AppErrorCode;

  constructor(code: AppErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}

/** The message of any thrown value, for logs and CLI output. */
export function errorMessage(value: unknown): string {
  if (value instanceof Error) return value.message;
  return String(value);
}

/** A validation failure's issues as "path: message; ..." (`root` names a problem with the whole value). */
export function describeIssues(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
  root = 'value',
): string {
  return issues.map((i) => `${i.path.map(String).join('.') || root}: ${i.message}`).join('; ');
}
