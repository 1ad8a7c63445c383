import { createHmac, randomBytes } from 'node:crypto';

/** A new site secret for pseudonyms: 32 random bytes, hex. */
export function newPseudonymKey(): string {
  return randomBytes(32).toString('hex');
}

function hmac(key: string, value: string): Buffer {
  return createHmac('sha256', Buffer.from(key, 'hex')).update(value).digest();
}

/**
 * The stable pseudonym of a patient at a site: the same patient id always gives the same pseudonym, and
 * without the site's key it cannot be traced back. `SITE-` followed by 10 base-32 characters.
 */
export function patientPseudonym(key: string, siteCode: string, patientId: string): string {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const digest = hmac(key, `patient:${patientId}`);
  let text = '';
  for (let n = 0; n < 10; n++) text += alphabet[digest[n] & 31];
  return `${siteCode}-${text}`;
}

/** A salted hash of the patient id, for finding duplicate cases without keeping the id. */
export function patientKey(key: string, patientId: string): string {
  return hmac(key, `patient-key:${patientId}`).toString('hex');
}

/**
 * The pseudonymous UID of an original UID: '2.25.' and the decimal of 128 bits of its HMAC, so every
 * reference to the same object is remapped to the same new UID (DICOM PS3.15 E.3.9 "Retain UIDs" off).
 */
export function pseudonymousUid(key: string, uid: string): string {
  const digest = hmac(key, `uid:${uid}`).subarray(0, 16);
  return `2.25.${BigInt(`0x${digest.toString('hex')}`).toString(10)}`;
}
