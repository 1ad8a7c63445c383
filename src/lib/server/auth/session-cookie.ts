import type { Cookies } from '@sveltejs/kit';
import { SESSION_COOKIE } from '../services/account.service';

/** The session cookie: httpOnly, SameSite=Lax, Secure when the page was served over https. */
export function setSessionCookie(
  event: { cookies: Cookies; url: URL },
  token: string,
  expiresAt: Date,
): void {
  event.cookies.set(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: event.url.protocol === 'https:',
    expires: expiresAt,
  });
}

export function clearSessionCookie(cookies: Cookies): void {
  cookies.delete(SESSION_COOKIE, { path: '/' });
}
