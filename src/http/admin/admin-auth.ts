import type { IncomingHttpHeaders } from 'node:http';
import { isSameSecret, type Secret } from '../../secret.js';

/** The dashboard's session cookie. Scoped to `/admin`, so webhooks and /metrics never see it. */
export const ADMIN_COOKIE_NAME = 'bridge_admin';

/**
 * The header the dashboard's own `fetch` calls set on every POST. A cross-site page cannot send it:
 * a form cannot set headers, and a cross-origin `fetch` with a custom header needs a CORS
 * preflight that the bridge never approves.
 */
export const ADMIN_REQUEST_HEADER = 'x-bridge-admin';

/** How long the browser keeps the session cookie, in seconds: the server-side session's lifetime (12 h). */
export const ADMIN_COOKIE_MAX_AGE_SECONDS = 12 * 3600;

/**
 * How a request proved who it is, or why it could not. A `cookie` carries a session id that still
 * has to be looked up (admin-sessions.ts): this pure step only reads it.
 */
export type AdminCredential =
  | { readonly kind: 'bearer' }
  | { readonly kind: 'cookie'; readonly sessionId: string }
  | { readonly kind: 'none' }
  | { readonly kind: 'invalid'; readonly reason: 'bearer_mismatch' | 'cookie_mismatch' };

/** Reads one cookie from a `Cookie` header; `undefined` when absent. */
export function readCookie(cookieHeader: string | undefined, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const separator = part.indexOf('=');
    if (separator < 0) continue;
    if (part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim();
  }
  return undefined;
}

/**
 * Decides how a request is authenticated. A bearer header, when present, decides alone: a wrong
 * one is refused even if a valid cookie rides along, so a script with a stale token fails loudly.
 * The bearer token is compared here, in constant time; a cookie's session is looked up by the caller.
 */
export function identifyAdminRequest(headers: IncomingHttpHeaders, adminToken: Secret): AdminCredential {
  // 1. Bearer header: scripts and curl.
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization);
    if (match && isSameSecret(match[1].trim(), adminToken.reveal())) return { kind: 'bearer' };
    return { kind: 'invalid', reason: 'bearer_mismatch' };
  }
  // 2. Session cookie: the browser, after the login form. Its id is checked against the sessions
  //    in Redis by the caller (a random id, looked up by its hash: no secret to compare here).
  const cookie = readCookie(headers.cookie, ADMIN_COOKIE_NAME);
  if (cookie === undefined || cookie === '') return { kind: 'none' };
  return { kind: 'cookie', sessionId: cookie };
}

/**
 * Why a cookie-authenticated state-changing request does not look like it came from the
 * dashboard itself; `null` when it does.
 *
 * CSRF defence, in layers: the cookie is SameSite=Strict (a cross-site request does not carry it
 * in current browsers); the dashboard's `fetch` sets {@link ADMIN_REQUEST_HEADER}, which a
 * cross-site form cannot send and a cross-site `fetch` cannot send without a CORS preflight that
 * nobody answers; and when the browser says where the request came from (`Sec-Fetch-Site`), it
 * must say same-origin. The Origin header is not compared with Host: a reverse proxy that rewrites
 * Host would break the dashboard, and the custom header already proves the same thing. Bearer
 * requests need none of this: browsers never attach an Authorization header on their own.
 */
export function findCrossSiteReason(headers: IncomingHttpHeaders): string | null {
  if (headers[ADMIN_REQUEST_HEADER] !== '1') return `the ${ADMIN_REQUEST_HEADER} header is missing`;
  const fetchSite = headers['sec-fetch-site'];
  if (fetchSite !== undefined && fetchSite !== 'same-origin') return `Sec-Fetch-Site is ${fetchSite}, not same-origin`;
  return null;
}

/**
 * A safe place to go after logging in: only dashboard paths, so the login form cannot be turned
 * into an open redirect (`//evil.example`, `/\evil.example`, absolute URLs).
 */
export function pickRedirectAfterLogin(next: unknown): string {
  if (typeof next !== 'string') return '/admin';
  if (!/^\/admin(?:[/?#]|$)/.test(next) || next.includes('\\') || /[\r\n]/.test(next)) return '/admin';
  return next;
}

/**
 * The `Set-Cookie` value that logs a browser in: the session's random id, never the token.
 * `Secure` when the request came over HTTPS (or TRUST_PROXY says the proxy's did) or
 * ADMIN_COOKIE_SECURE is set.
 */
export function buildSessionCookie(sessionId: string, isSecure: boolean, maxAgeSeconds: number = ADMIN_COOKIE_MAX_AGE_SECONDS): string {
  return [
    `${ADMIN_COOKIE_NAME}=${sessionId}`,
    'Path=/admin',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${maxAgeSeconds}`,
    ...(isSecure ? ['Secure'] : []),
  ].join('; ');
}

/** The `Set-Cookie` value that logs a browser out. */
export function buildClearedSessionCookie(isSecure: boolean): string {
  return [`${ADMIN_COOKIE_NAME}=`, 'Path=/admin', 'HttpOnly', 'SameSite=Strict', 'Max-Age=0', ...(isSecure ? ['Secure'] : [])].join('; ');
}
