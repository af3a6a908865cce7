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
} from './admin-auth.js';
import { loadEventDetail, loadOverview, loadRecentEvents } from './admin-data.js';
import { renderDashboardPage, renderLoginPage } from './admin-pages.js';

export interface AdminRouterOptions {
  /** ADMIN_TOKEN. The dashboard is off when it is unset: the composition root does not mount this router. */
  readonly adminToken: Secret;
  /** What the dashboard and its API read and do: failed actions, quarantined events, traces, retries and replays. */
  readonly operations: BridgeOperations;
  /** Where logins, refused requests and operator actions are logged (never the token or the cookie). */
  readonly logger: Logger;
  /** The integrations whose pause state the overview shows (`slack`, `hubspot`). @defaultValue none */
  readonly integrations?: readonly string[];
  /** @defaultValue () => new Date() */
  readonly now?: () => Date;
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

/** The recent-events list on the page: enough to find what just happened. */
const RECENT_EVENTS_SHOWN = 25;

/**
 * The operator dashboard and its JSON API, at /admin (mount it with `app.use(router)`):
 *
 * - `GET /admin` the page (`?event=<id>` adds that event's trace); `GET /admin/login`,
 *   `POST /admin/login` (form field `token`), `POST /admin/logout`; `GET /admin/assets/*`.
 * - `GET /admin/api/overview | failed | quarantined | events/recent | events/:eventId`,
 *   `POST /admin/api/failed/:jobId/retry | failed/retry-all | events/:eventId/replay`,
 *   `GET /admin/api/failed-events`, `POST /admin/api/failed-events/:jobId/retry | failed-events/retry-all`.
 *
 * Authentication: `Authorization: Bearer <ADMIN_TOKEN>`, or the session cookie the login form
 * sets. Unauthenticated page requests are sent to the login form; API requests get 401 JSON.
 * Cookie-authenticated POSTs must also prove they come from the page (see `findCrossSiteReason`).
 * Neither the token nor the cookie is ever logged.
 */
export function createAdminRouter(options: AdminRouterOptions): Router {
  const { adminToken, operations, logger } = options;
  const now = options.now ?? (() => new Date());
  const admin = Router();

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

  admin.get('/login', (request, response) => {
    const next = pickRedirectAfterLogin(request.query.next);
    if (identifyAdminRequest(request.headers, adminToken).kind === 'cookie') {
      response.redirect(303, next);
      return;
    }
    response.type('html').send(renderLoginPage({ next }));
  });

  admin.post('/login', express.urlencoded({ extended: false, limit: '4kb' }), (request: Request, response: Response) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const next = pickRedirectAfterLogin(body.next);
    const token = typeof body.token === 'string' ? body.token : '';
    if (!isSameSecret(token, adminToken.reveal())) {
      // Who tried, not what they typed: a near-miss token in a log line is almost the token.
      logger.warn({ ip: request.ip }, 'admin: login refused (wrong token)');
      response.status(401).type('html').send(renderLoginPage({ error: 'That is not the admin token.', next }));
      return;
    }
    logger.info({ ip: request.ip }, 'admin: logged in');
    response.set('Set-Cookie', buildSessionCookie(adminToken, request.secure)).redirect(303, next);
  });

  // Logging out needs no proof of origin: the worst a forged logout does is ask for the token again.
  admin.post('/logout', (request, response) => {
    response.set('Set-Cookie', buildClearedSessionCookie(request.secure)).redirect(303, '/admin/login');
  });

  admin.use((request: Request, response: Response, next: NextFunction) => {
    const isApi = request.path.startsWith('/api/') || request.path === '/api';
    const isReadOnly = request.method === 'GET' || request.method === 'HEAD';
    // 1. Who is asking: bearer header or session cookie, compared in constant time.
    const credential = identifyAdminRequest(request.headers, adminToken);
    if (credential.kind === 'none' || credential.kind === 'invalid') {
      logger.debug({ reason: credential.kind === 'invalid' ? credential.reason : 'no_credentials', path: request.path }, 'admin: unauthenticated request');
      if (isApi || !isReadOnly || (credential.kind === 'invalid' && credential.reason === 'bearer_mismatch')) {
        response.status(401).set('WWW-Authenticate', 'Bearer realm="affiliate-bridge admin"').json({ error: 'Unauthorized: send Authorization: Bearer <ADMIN_TOKEN>, or log in at /admin/login' });
        return;
      }
      if (credential.kind === 'invalid') response.set('Set-Cookie', buildClearedSessionCookie(request.secure));
      response.redirect(303, `/admin/login?next=${encodeURIComponent(request.originalUrl)}`);
      return;
    }
    // 2. A cookie rides along with any request the browser makes: state changes must come from the page.
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

  admin.use('/api', createAdminApiRouter({ operations, logger, now, integrations: options.integrations }));

  admin.get('/', async (request, response) => {
    const asked = typeof request.query.event === 'string' ? request.query.event.trim() : '';
    const [overview, failed, failedEvents, quarantined, recent, detail] = await Promise.all([
      loadOverview(operations, now(), options.integrations),
      operations.listFailedActions(100),
      operations.listFailedEvents(100),
      operations.listQuarantinedEvents(100),
      loadRecentEvents(operations, RECENT_EVENTS_SHOWN),
      asked === '' ? Promise.resolve(null) : loadEventDetail(operations, asked),
    ]);
    const lookup = asked === '' ? null : { eventId: asked, detail };
    response.type('html').send(renderDashboardPage({ overview, failed, failedEvents, quarantined, recent, lookup }));
  });

  const router = Router();
  router.use('/admin', admin);
  return router;
}
