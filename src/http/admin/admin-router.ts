import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { BridgeOperations } from '../../queue/operations.js';
import { isSameSecret, type Secret } from '../../secret.js';
import { createAdminApiRouter } from './admin-api.js';
import { DASHBOARD_ICON, DASHBOARD_SCRIPT, DASHBOARD_STYLE } from './admin-assets.js';
import {
  buildClearedSessionCookie,
  buildSessionCookie,
  findCrossSiteReason,
  identifyAdminRequest,
  pickRedirectAfterLogin,
  type AdminCredential,
} from './admin-auth.js';
import type { AdminSessions, AdminThrottle } from './admin-sessions.js';
import { loadEventDetail, loadLiveView } from './admin-data.js';
import { renderDashboardPage, renderLoginPage, type EventSearchView } from './admin-pages.js';
import { compileEventSearch, EVENT_SEARCH_FIELDS, isEmptySearch, SEARCH_RESULTS_CAP } from '../../queue/event-search.js';

export interface AdminRouterOptions {
  /** ADMIN_TOKEN. The dashboard is off when it is unset: the composition root does not mount this router. */
  readonly adminToken: Secret;
  /** What the dashboard and its API read and do: failed actions, quarantined events, traces, retries and replays. */
  readonly operations: BridgeOperations;
  /** Where logins, refused requests and operator actions are logged (never the token or the cookie). */
  readonly logger: Logger;
  /** The integrations whose pause state the overview shows (`slack`, `hubspot`). @defaultValue none */
  readonly integrations?: readonly string[];
  /** The sources reconciled from their APIs (credentials set), whose last success the overview shows. @defaultValue none */
  readonly reconciledSources?: readonly string[];
  /** @defaultValue () => new Date() */
  readonly now?: () => Date;
  /** The dashboard's sessions (in Redis): opened at login, looked up per request, closed at logout. */
  readonly sessions: AdminSessions;
  /** Failed logins and bearer attempts per client address (in Redis, shared by every process). */
  readonly throttle: AdminThrottle;
  /**
   * Mark the session cookie `Secure` on every login (ADMIN_COOKIE_SECURE), not only for requests
   * Express sees as HTTPS (directly, or through a proxy TRUST_PROXY trusts).
   * @defaultValue false
   */
  readonly cookieSecure?: boolean;
}

/**
 * Everything the page may load comes from the bridge itself; no inline script or style, so an
 * escaped-but-missed payload could still not run.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

/**
 * The operator dashboard and its JSON API, at /admin (mount it with `app.use(router)`):
 *
 * - `GET /admin` the page (`?event=<id>` adds that event's trace); `GET /admin/login`,
 *   `POST /admin/login` (form field `token`), `POST /admin/logout`; `GET /admin/assets/*`.
 * - `GET /admin/api/overview | live | failed | quarantined | events/recent | events/search | events/:eventId`,
 *   `POST /admin/api/failed/:jobId/retry | failed/retry-all | events/:eventId/replay`,
 *   `GET /admin/api/failed-events`, `POST /admin/api/failed-events/:jobId/retry | failed-events/retry-all`.
 *
 * Authentication: `Authorization: Bearer <ADMIN_TOKEN>`, or the session cookie the login form
 * sets (a random id of a session kept in Redis for 12 h, ended by logout). Unauthenticated page
 * requests are sent to the login form; API requests get 401 JSON. Ten failed logins or bearer
 * attempts from one address within 15 minutes get 429 with Retry-After until the window ends.
 * Cookie-authenticated POSTs must also prove they come from the page (see `findCrossSiteReason`).
 * Neither the token nor the cookie is ever logged.
 */
export function createAdminRouter(options: AdminRouterOptions): Router {
  const { adminToken, operations, logger, sessions, throttle } = options;
  const now = options.now ?? (() => new Date());
  const admin = Router();
  const isSecure = (request: Request) => request.secure || options.cookieSecure === true;
  // request.ip follows TRUST_PROXY: behind a trusted proxy, the client's address, not the proxy's.
  const clientAddressOf = (request: Request) => request.ip ?? request.socket.remoteAddress ?? 'unknown';

  /**
   * Answers 429 with Retry-After when this client has failed too often; true when it did. Checked
   * before the credential is compared, so a blocked client learns nothing from its next guess.
   */
  async function refuseWhenThrottled(request: Request, response: Response, answer: 'html' | 'json'): Promise<boolean> {
    const decision = await throttle.check(clientAddressOf(request));
    if (decision.isAllowed) return false;
    logger.warn({ ip: clientAddressOf(request), retryAfterSeconds: decision.retryAfterSeconds }, 'admin: too many failed attempts from this address; refused');
    const message = `Too many failed attempts: try again in ${decision.retryAfterSeconds} s`;
    response.status(429).set('Retry-After', String(decision.retryAfterSeconds));
    if (answer === 'html') response.type('html').send(renderLoginPage({ error: message, next: '/admin' }));
    else response.json({ error: message });
    return true;
  }

  /** The request's credential, with a cookie's session looked up: an expired or closed one is invalid. */
  async function authenticate(request: Request): Promise<AdminCredential> {
    const credential = identifyAdminRequest(request.headers, adminToken);
    if (credential.kind !== 'cookie') return credential;
    return (await sessions.isOpen(credential.sessionId)) ? credential : { kind: 'invalid', reason: 'cookie_mismatch' };
  }

  admin.use((_request, response, next) => {
    response.set({
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      // Queue state and payloads must not linger in shared or browser caches.
      'Cache-Control': 'no-store',
    });
    next();
  });

  // Assets hold no data: served without authentication so the login page is styled too.
  admin.get('/assets/dashboard.css', (_request, response) => {
    response.type('text/css').set('Cache-Control', 'no-cache').send(DASHBOARD_STYLE);
  });
  admin.get('/assets/dashboard.js', (_request, response) => {
    response.type('text/javascript').set('Cache-Control', 'no-cache').send(DASHBOARD_SCRIPT);
  });
  admin.get('/assets/icon.svg', (_request, response) => {
    response.type('image/svg+xml').set('Cache-Control', 'no-cache').send(DASHBOARD_ICON);
  });

  admin.get('/login', async (request, response) => {
    const next = pickRedirectAfterLogin(request.query.next);
    const credential = identifyAdminRequest(request.headers, adminToken);
    if (credential.kind === 'cookie' && (await sessions.isOpen(credential.sessionId))) {
      response.redirect(303, next);
      return;
    }
    response.type('html').send(renderLoginPage({ next }));
  });

  admin.post('/login', express.urlencoded({ extended: false, limit: '4kb' }), async (request: Request, response: Response) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const next = pickRedirectAfterLogin(body.next);
    // 1. A client that failed too often is refused before its token is even compared.
    if (await refuseWhenThrottled(request, response, 'html')) return;
    // 2. The token, in constant time.
    const token = typeof body.token === 'string' ? body.token : '';
    if (!isSameSecret(token, adminToken.reveal())) {
      await throttle.recordFailure(clientAddressOf(request));
      // Who tried, not what they typed: a near-miss token in a log line is almost the token.
      logger.warn({ ip: clientAddressOf(request) }, 'admin: login refused (wrong token)');
      response.status(401).type('html').send(renderLoginPage({ error: 'That is not the admin token.', next }));
      return;
    }
    // 3. A fresh random session, kept in Redis; the cookie holds only its id.
    const sessionId = await sessions.open();
    logger.info({ ip: clientAddressOf(request) }, 'admin: logged in');
    const maxAgeSeconds = Math.floor(sessions.ttlMs / 1000);
    response.set('Set-Cookie', buildSessionCookie(sessionId, isSecure(request), maxAgeSeconds)).redirect(303, next);
  });

  // Logging out needs no proof of origin: the worst a forged logout does is ask for the token again.
  // The session ends in Redis, not only in this browser: a copied cookie stops working too.
  admin.post('/logout', async (request, response) => {
    const credential = identifyAdminRequest(request.headers, adminToken);
    if (credential.kind === 'cookie') await sessions.close(credential.sessionId);
    response.set('Set-Cookie', buildClearedSessionCookie(isSecure(request))).redirect(303, '/admin/login');
  });

  admin.use(async (request: Request, response: Response, next: NextFunction) => {
    const isApi = request.path.startsWith('/api/') || request.path === '/api';
    const isReadOnly = request.method === 'GET' || request.method === 'HEAD';
    // 1. A bearer attempt from a client that failed too often is refused before it is compared.
    if (request.headers.authorization !== undefined && (await refuseWhenThrottled(request, response, 'json'))) return;
    // 2. Who is asking: bearer header (compared in constant time) or session cookie (looked up).
    const credential = await authenticate(request);
    if (credential.kind === 'invalid' && credential.reason === 'bearer_mismatch') await throttle.recordFailure(clientAddressOf(request));
    if (credential.kind === 'none' || credential.kind === 'invalid') {
      logger.debug({ reason: credential.kind === 'invalid' ? credential.reason : 'no_credentials', path: request.path }, 'admin: unauthenticated request');
      if (isApi || !isReadOnly || (credential.kind === 'invalid' && credential.reason === 'bearer_mismatch')) {
        response.status(401).set('WWW-Authenticate', 'Bearer realm="affiliate-bridge admin"').json({ error: 'Unauthorized: send Authorization: Bearer <ADMIN_TOKEN>, or log in at /admin/login' });
        return;
      }
      if (credential.kind === 'invalid') response.set('Set-Cookie', buildClearedSessionCookie(isSecure(request)));
      response.redirect(303, `/admin/login?next=${encodeURIComponent(request.originalUrl)}`);
      return;
    }
    // 3. A cookie rides along with any request the browser makes: state changes must come from the page.
    if (credential.kind === 'cookie' && !isReadOnly) {
      const reason = findCrossSiteReason(request.headers);
      if (reason !== null) {
        logger.warn({ path: request.path, reason }, 'admin: cross-site request refused');
        response.status(403).json({ error: `Refused: not sent by the dashboard page (${reason})` });
        return;
      }
    }
    next();
  });

  const liveViewOptions = () => ({ now: now(), integrations: options.integrations, reconciledSources: options.reconciledSources });
  admin.use('/api', createAdminApiRouter({ operations, logger, now, integrations: options.integrations, reconciledSources: options.reconciledSources }));

  admin.get('/', async (request, response) => {
    const asked = typeof request.query.event === 'string' ? request.query.event.trim() : '';
    const [live, quarantined, ruleErrors, detail, search] = await Promise.all([
      loadLiveView(operations, liveViewOptions()),
      operations.listQuarantinedEvents(100),
      operations.listRuleErrors(100),
      asked === '' ? Promise.resolve(null) : loadEventDetail(operations, asked),
      runPageSearch(request.query as Record<string, unknown>),
    ]);
    const lookup = asked === '' ? null : { eventId: asked, detail };
    response.type('html').send(renderDashboardPage({ ...live, quarantined, ruleErrors, lookup, search }));
  });

  /** The events search of the page's query (`?email=…`), or null when it asks for none. */
  async function runPageSearch(query: Record<string, unknown>): Promise<EventSearchView | null> {
    const terms = Object.fromEntries(EVENT_SEARCH_FIELDS.flatMap((field) => (typeof query[field] === 'string' && query[field] !== '' ? [[field, query[field]]] : [])));
    const compiled = compileEventSearch(terms);
    if ('error' in compiled) return { terms, outcome: { error: compiled.error } };
    if (isEmptySearch(compiled.search)) return null;
    return { terms, outcome: { result: await operations.searchEvents(compiled, SEARCH_RESULTS_CAP), cap: SEARCH_RESULTS_CAP } };
  }

  const router = Router();
  router.use('/admin', admin);
  return router;
}
