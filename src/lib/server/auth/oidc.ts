import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Cookies } from '@sveltejs/kit';
import * as client from 'openid-client';
import { z } from 'zod';
import { AppError, errorMessage } from '../../core/errors';
import type { OidcConfig } from '../config';

/**
 * OpenID Connect sign-in (authorization code flow with PKCE S256, state and nonce) against the configured
 * issuer. What the browser must bring back (state, nonce, PKCE verifier, where to go next) travels in a
 * short-lived cookie sealed with AES-256-GCM under a key derived from the client secret, so that any
 * server of the deployment can open it and nobody else can read or alter it.
 */

export const OIDC_COOKIE = 'contourbench_oidc';
export const OIDC_START_PATH = '/login/oidc';
export const OIDC_CALLBACK_PATH = '/login/oidc/callback';

const SIGN_IN_SECONDS = 10 * 60;
const DISCOVERY_TTL_MS = 60 * 60 * 1000;
const REQUEST_TIMEOUT_SECONDS = 10;
const MAX_NEXT_LENGTH = 2000;

/** Who the issuer says signed in; `email` and `emailVerified` are null when the issuer did not say. */
export interface OidcIdentity {
  issuer: string;
  subject: string;
  email: string | null;
  emailVerified: boolean | null;
  /** The path on this server to go to after signing in. */
  next: string;
}

/** Only a path on this server: never an absolute or protocol-relative URL (no open redirect). */
export function safeNextPath(value: string | null | undefined): string {
  return value &&
    value.length <= MAX_NEXT_LENGTH &&
    value.startsWith('/') &&
    !value.startsWith('//') &&
    !value.startsWith('/\\')
    ? value
    : '/';
}

// discovery

const discovered = new Map<string, { at: number; configuration: Promise<client.Configuration> }>();

async function discover(config: OidcConfig): Promise<client.Configuration> {
  const issuer = new URL(config.issuer);
  // http is only accepted for an issuer on this machine (checked with the configuration)
  const insecure = issuer.protocol === 'http:';
  const extensions = [client.enableNonRepudiationChecks, ...(insecure ? [client.allowInsecureRequests] : [])];
  let configuration: client.Configuration;
  try {
    configuration = await client.discovery(
      issuer,
      config.clientId,
      config.clientSecret,
      client.ClientSecretBasic(config.clientSecret),
      { execute: extensions, timeout: REQUEST_TIMEOUT_SECONDS },
    );
  } catch (cause) {
    throw new AppError(
      'INTERNAL',
      `the identity provider ${config.issuer} did not answer its discovery document ` +
        `(${config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration): ${errorMessage(cause)}`,
      { cause },
    );
  }
  const methods = configuration.serverMetadata().token_endpoint_auth_methods_supported;
  // client_secret_basic is the default when the issuer lists no methods
  if (methods && !methods.includes('client_secret_basic')) {
    if (!methods.includes('client_secret_post'))
      throw new AppError(
        'INTERNAL',
        `the identity provider ${config.issuer} accepts neither client_secret_basic nor client_secret_post ` +
          `at its token endpoint (it lists ${methods.join(', ')})`,
      );
    configuration = new client.Configuration(
      configuration.serverMetadata(),
      config.clientId,
      config.clientSecret,
      client.ClientSecretPost(config.clientSecret),
    );
    for (const extension of extensions) extension(configuration);
  }
  configuration.timeout = REQUEST_TIMEOUT_SECONDS;
  return configuration;
}

/** The issuer's metadata, discovered once an hour at most; a failed discovery is retried on the next call. */
function configurationOf(config: OidcConfig): Promise<client.Configuration> {
  const key = `${config.issuer} ${config.clientId}`;
  const cached = discovered.get(key);
  if (cached && Date.now() - cached.at < DISCOVERY_TTL_MS) return cached.configuration;
  const configuration = discover(config);
  discovered.set(key, { at: Date.now(), configuration });
  configuration.catch(() => discovered.delete(key));
  return configuration;
}

// the sealed sign-in cookie

const pendingSchema = z.object({
  state: z.string().min(1),
  nonce: z.string().min(1),
  verifier: z.string().min(43),
  next: z.string(),
  expiresAt: z.number(),
});
type Pending = z.infer<typeof pendingSchema>;

function cookieKey(config: OidcConfig): Buffer {
  return Buffer.from(
    hkdfSync('sha256', config.clientSecret, config.issuer, `contourbench oidc ${config.clientId}`, 32),
  );
}

function seal(pending: Pending, key: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(pending), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** The pending sign-in, or undefined when the cookie was altered, sealed by another key or expired. */
function unseal(value: string, key: Buffer): Pending | undefined {
  const raw = Buffer.from(value, 'base64url');
  if (raw.length < 12 + 16 + 2) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    const parsed = pendingSchema.safeParse(JSON.parse(text));
    return parsed.success && parsed.data.expiresAt > Date.now() ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function setPendingCookie(event: { cookies: Cookies; url: URL }, sealed: string): void {
  event.cookies.set(OIDC_COOKIE, sealed, {
    path: OIDC_START_PATH,
    httpOnly: true,
    sameSite: 'lax',
    secure: event.url.protocol === 'https:',
    maxAge: SIGN_IN_SECONDS,
  });
}

function clearPendingCookie(event: { cookies: Cookies; url: URL }): void {
  event.cookies.delete(OIDC_COOKIE, { path: OIDC_START_PATH, secure: event.url.protocol === 'https:' });
}

const sameText = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

// the flow

/**
 * Starts a sign-in: remembers state, nonce and PKCE verifier in the sealed cookie and returns the
 * issuer's authorization URL to send the browser to. The redirect URI is this server's
 * /login/oidc/callback as the browser reached it.
 */
export async function beginOidcSignIn(
  config: OidcConfig,
  event: { cookies: Cookies; url: URL },
  next: string,
): Promise<URL> {
  const configuration = await configurationOf(config);
  const pending: Pending = {
    state: client.randomState(),
    nonce: client.randomNonce(),
    verifier: client.randomPKCECodeVerifier(),
    next: safeNextPath(next),
    expiresAt: Date.now() + SIGN_IN_SECONDS * 1000,
  };
  const authorizationUrl = client.buildAuthorizationUrl(configuration, {
    redirect_uri: new URL(OIDC_CALLBACK_PATH, event.url.origin).href,
    scope: config.scopes,
    response_type: 'code',
    code_challenge: await client.calculatePKCECodeChallenge(pending.verifier),
    code_challenge_method: 'S256',
    state: pending.state,
    nonce: pending.nonce,
  });
  setPendingCookie(event, seal(pending, cookieKey(config)));
  return authorizationUrl;
}

/**
 * Finishes a sign-in at the callback: checks the sealed cookie and the state, exchanges the code (with
 * the PKCE verifier) at the token endpoint and verifies the ID token (signature against the issuer's
 * JWKS, iss, aud, exp, nonce). The email comes from the ID token, or from the userinfo endpoint when the
 * ID token carries none. The cookie is spent either way.
 */
export async function completeOidcSignIn(
  config: OidcConfig,
  event: { cookies: Cookies; url: URL },
): Promise<OidcIdentity> {
  const sealed = event.cookies.get(OIDC_COOKIE);
  clearPendingCookie(event);
  const pending = sealed ? unseal(sealed, cookieKey(config)) : undefined;
  if (!pending)
    throw new AppError(
      'INVALID_ARGUMENT',
      'this sign-in was not started in this browser, took longer than 10 minutes or its cookie was altered: start again from the sign-in page',
    );
  const params = event.url.searchParams;
  const state = params.get('state');
  if (state === null || !sameText(state, pending.state))
    throw new AppError(
      'INVALID_ARGUMENT',
      "the state in the identity provider's answer does not match the sign-in this browser started: start again from the sign-in page",
    );
  const refusal = params.get('error');
  if (refusal !== null) {
    const description = params.get('error_description');
    throw new AppError(
      'UNAUTHENTICATED',
      `the identity provider did not sign you in (${refusal}${description ? `: ${description}` : ''})`,
    );
  }
  const configuration = await configurationOf(config);
  const callbackUrl = new URL(OIDC_CALLBACK_PATH, event.url.origin);
  callbackUrl.search = event.url.search;
  try {
    const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error('the token endpoint returned no ID token');
    let email: unknown = claims.email;
    let emailVerified: unknown = claims.email_verified;
    if (typeof email !== 'string' && tokens.access_token) {
      const userInfo = await client.fetchUserInfo(configuration, tokens.access_token, claims.sub);
      email = userInfo.email;
      emailVerified = userInfo.email_verified;
    }
    return {
      issuer: claims.iss,
      subject: claims.sub,
      email: typeof email === 'string' && email.trim() ? email.trim().toLowerCase() : null,
      // some issuers send the flag as a string
      emailVerified:
        emailVerified === undefined || emailVerified === null
          ? null
          : emailVerified !== false && emailVerified !== 'false',
      next: pending.next,
    };
  } catch (cause) {
    if (cause instanceof AppError) throw cause;
    throw new AppError(
      'UNAUTHENTICATED',
      `the identity provider's answer could not be verified: ${errorMessage(cause)}`,
      { cause },
    );
  }
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A plain page (no script) explaining why single sign-on did not sign the browser in. */
export function oidcProblemPage(status: number, message: string): Response {
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in refused · ContourBench</title>
<style>body{font:16px system-ui,sans-serif;margin:4rem auto;max-width:36rem;color:#222}a{color:#0b57d0}</style></head>
<body><h1>${status} · Sign-in refused</h1><p role="alert">${escapeHtml(message)}.</p><p><a href="/login">Back to the sign-in page</a></p></body></html>`;
  return new Response(body, {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    },
  });
}
