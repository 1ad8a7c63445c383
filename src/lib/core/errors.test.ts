import { describe, expect, it } from 'vitest';
import { AppError, errorMessage, isAppError } from './errors';

describe('AppError', () => {
  it('keeps code, message and cause', () => {
    const cause = new Error('socket closed');
    const error = new AppError('DATABASE_UNAVAILABLE', 'cannot reach 127.0.0.1:5432', { cause });
    expect(error.code).toBe('DATABASE_UNAVAILABLE');
    expect(error.message).toBe('cannot reach 127.0.0.1:5432');
    expect(error.cause).toBe(cause);
    expect(isAppError(error)).toBe(true);
    expect(isAppError(cause)).toBe(false);
  });

  it('formats any thrown value', () => {
    expect(errorMessage(new RangeError('tolerance must be >= 0'))).toBe('tolerance must be >= 0');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(42)).toBe('42');
  });
});
