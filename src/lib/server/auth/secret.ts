import { createHash, randomBytes } from 'node:crypto';

/** A new secret: the prefix and 32 random bytes in base64url (256 bits). */
export function newSecret(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

/** The digest a secret is stored and looked up by; secrets are random, so a plain sha256 suffices. */
export function secretDigest(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
