import { AuthError } from '../../errors.js';
import { isSameSecret, type Secret } from '../../secret.js';
import type { BodylessDelivery, RawDelivery } from '../source.js';

/**
 * Checks that a FirstPromoter delivery carries the shared webhook token
 * (FIRSTPROMOTER_WEBHOOK_TOKEN). FirstPromoter does not sign classic webhooks, so the token travels
 * in the URL (`?token=`) or in a header configured on the subscription: `Authorization: Bearer
 * <token>`, or HTTP Basic with the token as password (any username). The body plays no part, so
 * the HTTP layer runs this before reading it (`verifyBeforeBody`).
 *
 * @throws AuthError `token_missing` when no token is presented, `authorization_malformed` when the
 *   Authorization header or the `token` parameter cannot be read, `token_mismatch` when no
 *   presented token equals the expected one.
 */
export function verifyFirstPromoterToken(delivery: BodylessDelivery, secret: Secret): void {
  // 1. Collect the presented tokens. A proxy may add its own Authorization header while
  //    FirstPromoter sends ?token=, so every place is read and any one may match.
  const presented = [readQueryToken(delivery.query), readAuthorizationToken(delivery.headers.authorization)].filter(
    (token): token is string => token !== null && token !== '',
  );
  if (presented.length === 0) {
    throw new AuthError('token_missing', 'No FirstPromoter token: expected ?token=, a Bearer token or Basic auth');
  }

  // 2. Compare SHA-256 digests in constant time. Digests have one length, so timingSafeEqual never
  //    throws on a token of another length and the comparison leaks neither content nor length.
  //    Every candidate is compared (no early exit), so timing does not tell which one matched.
  let matched = false;
  for (const token of presented) {
    matched = isSameSecret(token, secret.reveal()) || matched;
  }
  if (!matched) throw new AuthError('token_mismatch', 'The FirstPromoter token does not match');
}

function readQueryToken(query: RawDelivery['query']): string | null {
  const token = query.token;
  if (token === undefined) return null;
  // `?token=a&token=b` parses to an array: refuse it rather than guess which one counts.
  if (typeof token !== 'string') {
    throw new AuthError('authorization_malformed', 'The token query parameter must be given once, as a string');
  }
  return token;
}

/** The token from `Bearer <token>` or the password of `Basic base64(user:password)`. */
function readAuthorizationToken(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  if (typeof header !== 'string') {
    throw new AuthError('authorization_malformed', 'The Authorization header must be given once');
  }
  const match = /^([A-Za-z]+) +(\S+) *$/.exec(header);
  if (!match) throw new AuthError('authorization_malformed', 'The Authorization header must be "Bearer <token>" or "Basic <credentials>"');
  const [, scheme, credentials] = match as unknown as [string, string, string];
  // Auth scheme names are case-insensitive (RFC 9110, section 11.1).
  switch (scheme.toLowerCase()) {
    case 'bearer':
      return credentials;
    case 'basic':
      return readBasicPassword(credentials);
    default:
      throw new AuthError('authorization_malformed', 'The Authorization scheme must be Bearer or Basic');
  }
}

function readBasicPassword(credentials: string): string {
  // Buffer.from(…, 'base64') skips invalid characters silently; check the alphabet first so a
  // garbled header is reported as malformed rather than as a wrong token.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(credentials)) {
    throw new AuthError('authorization_malformed', 'The Basic credentials are not base64');
  }
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) throw new AuthError('authorization_malformed', 'The Basic credentials must be "user:password"');
  return decoded.slice(colon + 1);
}
