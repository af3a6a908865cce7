import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { AuthError } from '../../../src/errors.js';
import { Secret } from '../../../src/secret.js';
import { verifyFirstPromoterToken } from '../../../src/sources/firstpromoter/auth.js';
import { verifyRewardfulSignature } from '../../../src/sources/rewardful/signature.js';
import type { RawDelivery } from '../../../src/sources/source.js';
import { catchError } from '../../support/catch-error.js';

/**
 * Every way a delivery is refused or accepted by the credential checks, with the exact code and
 * sentence (logged at debug, never sent back: STYLE §2). One delivery per row, one thing changed.
 */
const TOKEN = 'fp-token-0123456789abcdef';
const SIGNING_SECRET = 'rewardful-signing-secret-0123';
const BODY = Buffer.from('{"event":{"type":"referral.created"},"object":{"id":"r1"}}');
const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

function delivery(headers: RawDelivery['headers'] = {}, query: RawDelivery['query'] = {}): RawDelivery {
  return { rawBody: BODY, headers, query };
}

type Row = [name: string, delivery: RawDelivery, outcome: 'accepted' | readonly [code: string, message: string]];

function runTable(rows: readonly Row[], verify: (delivery: RawDelivery) => void): void {
  for (const [name, input, outcome] of rows) {
    it(`${name}: ${outcome === 'accepted' ? 'accepted' : outcome[0]}`, () => {
      if (outcome === 'accepted') {
        expect(() => verify(input)).not.to.throw();
        return;
      }
      const error = catchError(() => verify(input));
      expect(error).to.be.instanceOf(AuthError);
      expect({ code: (error as AuthError).code, message: (error as AuthError).message }).to.deep.equal({ code: outcome[0], message: outcome[1] });
    });
  }
}

describe('credential checks: every refusal, with its code and sentence', () => {
  describe('FirstPromoter token', () => {
    const secret = new Secret(TOKEN);
    const MALFORMED = 'authorization_malformed';
    runTable(
      [
        ['?token= right', delivery({}, { token: TOKEN }), 'accepted'],
        ['Bearer right', delivery({ authorization: `Bearer ${TOKEN}` }), 'accepted'],
        ['bearer (scheme in lower case, RFC 9110)', delivery({ authorization: `bearer ${TOKEN}` }), 'accepted'],
        ['Bearer with two spaces before the token', delivery({ authorization: `Bearer  ${TOKEN}` }), 'accepted'],
        ['Bearer with trailing spaces', delivery({ authorization: `Bearer ${TOKEN}  ` }), 'accepted'],
        ['Basic with the token as password, any user', delivery({ authorization: basic(`firstpromoter:${TOKEN}`) }), 'accepted'],
        ['Basic whose password holds a colon', delivery({ authorization: basic(`u:${TOKEN}:x`) }), ['token_mismatch', 'The FirstPromoter token does not match']],
        ['nothing presented', delivery(), ['token_missing', 'No FirstPromoter token: expected ?token=, a Bearer token or Basic auth']],
        ['an empty ?token= and no header', delivery({}, { token: '' }), ['token_missing', 'No FirstPromoter token: expected ?token=, a Bearer token or Basic auth']],
        ['a wrong token', delivery({}, { token: `${TOKEN}x` }), ['token_mismatch', 'The FirstPromoter token does not match']],
        ['?token= given twice', delivery({}, { token: [TOKEN, TOKEN] }), [MALFORMED, 'The token query parameter must be given once, as a string']],
        ['Authorization given twice', delivery({ authorization: [`Bearer ${TOKEN}`, `Bearer ${TOKEN}`] }), [MALFORMED, 'The Authorization header must be given once']],
        ['Authorization with a leading space', delivery({ authorization: ` Bearer ${TOKEN}` }), [MALFORMED, 'The Authorization header must be "Bearer <token>" or "Basic <credentials>"']],
        ['Authorization with a word after the token', delivery({ authorization: `Bearer ${TOKEN} extra` }), [MALFORMED, 'The Authorization header must be "Bearer <token>" or "Basic <credentials>"']],
        ['Authorization with no credentials', delivery({ authorization: 'Bearer' }), [MALFORMED, 'The Authorization header must be "Bearer <token>" or "Basic <credentials>"']],
        ['an unknown scheme', delivery({ authorization: `Digest ${TOKEN}` }), [MALFORMED, 'The Authorization scheme must be Bearer or Basic']],
        ['Basic credentials that are not base64 (junk before)', delivery({ authorization: `Basic !!${basic(`u:${TOKEN}`).slice(6)}` }), [MALFORMED, 'The Basic credentials are not base64']],
        ['Basic credentials that are not base64 (junk after)', delivery({ authorization: `${basic(`u:${TOKEN}`)}!!` }), [MALFORMED, 'The Basic credentials are not base64']],
        ['Basic credentials without a colon', delivery({ authorization: basic(TOKEN) }), [MALFORMED, 'The Basic credentials must be "user:password"']],
      ],
      (input) => verifyFirstPromoterToken(input, secret),
    );
  });

  describe('Rewardful signature', () => {
    const secret = new Secret(SIGNING_SECRET);
    const right = createHmac('sha256', SIGNING_SECRET).update(BODY).digest('hex');
    const header = (value: string | string[]) => delivery({ 'x-rewardful-signature': value });
    const MALFORMED: readonly [string, string] = ['signature_malformed', 'X-Rewardful-Signature must be 64 hex characters'];
    runTable(
      [
        ['the right signature', header(right), 'accepted'],
        ['the right signature in upper case (the same bytes)', header(right.toUpperCase()), 'accepted'],
        ['no header', delivery(), ['signature_missing', 'No X-Rewardful-Signature header']],
        ['an empty header', header(''), ['signature_missing', 'No X-Rewardful-Signature header']],
        ['63 hex characters', header(right.slice(1)), MALFORMED],
        ['65 hex characters', header(`${right}0`), MALFORMED],
        ['64 characters, not all hex', header(`${right.slice(0, 63)}g`), MALFORMED],
        ['the header given twice', header([right, right]), MALFORMED],
        ['the header given once, as a list', header([right]), MALFORMED],
        ['a signature of another body', header(createHmac('sha256', SIGNING_SECRET).update('{}').digest('hex')), ['signature_mismatch', 'X-Rewardful-Signature does not match the body']],
        ['a signature made with another secret', header(createHmac('sha256', 'another-secret').update(BODY).digest('hex')), ['signature_mismatch', 'X-Rewardful-Signature does not match the body']],
      ],
      (input) => verifyRewardfulSignature(input, secret),
    );
  });
});
