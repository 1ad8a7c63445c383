import { AppError } from '$lib/core/errors';

/** The run id of the path, or INVALID_ARGUMENT. */
export function runIdParam(value: string): number {
  const id = Number(value);
  if (!Number.isInteger(id) || id < 1)
    throw new AppError('INVALID_ARGUMENT', `run id "${value}" is not a positive integer`);
  return id;
}
