import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../core/errors';

/**
 * Checks `Authorization: Bearer <token>` against the configured API token, in constant time. Without a
 * configured token every call is refused: the API holds patient data and is never open by default.
 */
export function requireApiToken(authorization: string | null, configuredToken: string | undefined): void {
  if (!configuredToken) {
    throw new AppError(
      'UNAUTHENTICATED',
      'the JSON API is disabled: set CONTOURBENCH_API_TOKEN on the server',
    );
  }
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!match) throw new AppError('UNAUTHENTICATED', 'send Authorization: Bearer <token>');
  const given = createHash('sha256').update(match[1]).digest();
  const expected = createHash('sha256').update(configuredToken).digest();
  if (!timingSafeEqual(given, expected)) throw new AppError('UNAUTHENTICATED', 'the API token is not valid');
}
