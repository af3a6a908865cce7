import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { expect } from 'chai';
import { isSameSecret, Secret } from '../../../src/secret.js';
import { verifyFirstPromoterToken } from '../../../src/sources/firstpromoter/auth.js';
import { verifyRewardfulSignature } from '../../../src/sources/rewardful/signature.js';
import type { RawDelivery } from '../../../src/sources/source.js';
import { catchError } from '../../support/catch-error.js';

/**
 * The README's claim "in constant time" cannot be seen in a result: `a === b` and an early length
 * check give the same true/false as `timingSafeEqual`. What can be seen is *how* the answer is
 * reached, so these tests record every call to Node's `crypto.timingSafeEqual` (the real function
 * still runs and decides) and assert that each verification is decided by one such comparison of
 * two equal-length buffers, for a wrong value of another length too. Replacing the compare with
 * `===`, `Buffer.equals` or a length check in front of it makes them fail.
 *
 * Node's built-in ES modules keep live bindings to the CommonJS exports: `syncBuiltinESMExports()`
 * makes `import { timingSafeEqual } from 'node:crypto'` in src see the recorder.
 */
interface Comparison {
  readonly lengths: readonly [number, number];
  readonly result: boolean;
}

const realTimingSafeEqual = crypto.timingSafeEqual;
let comparisons: Comparison[] = [];

function recordComparisons(): void {
  comparisons = [];
  crypto.timingSafeEqual = ((a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    const result = realTimingSafeEqual(a, b);
    comparisons.push({ lengths: [a.byteLength, b.byteLength], result });
    return result;
  }) as typeof crypto.timingSafeEqual;
  syncBuiltinESMExports();
}

function restoreComparisons(): void {
  crypto.timingSafeEqual = realTimingSafeEqual;
  syncBuiltinESMExports();
}

const TOKEN = 'fp-token-0123456789abcdef';
const SIGNING_SECRET = 'rewardful-signing-secret-0123';

function delivery(overrides: Partial<RawDelivery>): RawDelivery {
  return { rawBody: Buffer.from('{"event":{"type":"referral.created"},"object":{}}'), headers: {}, query: {}, ...overrides };
}

describe('constant-time credential checks (security notes: "in constant time")', () => {
  beforeEach(recordComparisons);
  afterEach(restoreComparisons);

  describe('isSameSecret', () => {
    const cases: Array<[string, string, boolean]> = [
      ['the same value', TOKEN, true],
      ['a value of the same length, last character changed', `${TOKEN.slice(0, -1)}x`, false],
      ['a shorter value (a prefix of the secret)', TOKEN.slice(0, 4), false],
      ['a longer value (the secret plus one character)', `${TOKEN}x`, false],
      ['an empty value', '', false],
    ];
    for (const [name, given, expected] of cases) {
      it(`${name}: decided by one timingSafeEqual of two 32-byte digests`, () => {
        expect(isSameSecret(given, TOKEN)).to.equal(expected);
        expect(comparisons).to.deep.equal([{ lengths: [32, 32], result: expected }]);
      });
    }

    it('answers alike for expected values whose digest is kept and for those past the cap, every time', () => {
      const expectedValues = Array.from({ length: 40 }, (_, n) => `secret-${n}-${'s'.repeat(n)}`);
      for (let round = 0; round < 2; round += 1) {
        for (const [n, expected] of expectedValues.entries()) {
          expect(isSameSecret(expected, expected), `${n}`).to.equal(true);
          expect(isSameSecret(expectedValues[(n + 1) % 40]!, expected), `${n}`).to.equal(false);
          expect(isSameSecret(TOKEN, expected), `${n}`).to.equal(false);
        }
      }
      expect(isSameSecret(TOKEN, TOKEN)).to.equal(true);
    });
  });

  describe('FirstPromoter token', () => {
    const secret = new Secret(TOKEN);
    it('compares every presented token in constant time, also one of another length', () => {
      const error = catchError(() =>
        verifyFirstPromoterToken(delivery({ query: { token: 'short' }, headers: { authorization: `Bearer ${TOKEN}extra` } }), secret),
      );
      expect(error).to.have.property('code', 'token_mismatch');
      expect(comparisons).to.deep.equal([
        { lengths: [32, 32], result: false },
        { lengths: [32, 32], result: false },
      ]);
    });

    it('keeps comparing after a match, so timing does not tell which place matched', () => {
      verifyFirstPromoterToken(delivery({ query: { token: TOKEN }, headers: { authorization: 'Bearer wrong' } }), secret);
      expect(comparisons.map((comparison) => comparison.result)).to.deep.equal([true, false]);
    });
  });

  describe('Rewardful signature', () => {
    const secret = new Secret(SIGNING_SECRET);
    const body = delivery({}).rawBody;
    const sign = (bytes: Buffer) => crypto.createHmac('sha256', SIGNING_SECRET).update(bytes).digest('hex');

    it('accepts the right signature through one timingSafeEqual of two 32-byte digests', () => {
      verifyRewardfulSignature(delivery({ headers: { 'x-rewardful-signature': sign(body) } }), secret);
      expect(comparisons).to.deep.equal([{ lengths: [32, 32], result: true }]);
    });

    it('refuses a signature that differs in its first byte and one that differs in its last, each by one comparison', () => {
      const right = sign(body);
      for (const wrong of [`${right[0] === '0' ? '1' : '0'}${right.slice(1)}`, `${right.slice(0, -1)}${right.at(-1) === '0' ? '1' : '0'}`]) {
        const error = catchError(() => verifyRewardfulSignature(delivery({ headers: { 'x-rewardful-signature': wrong } }), secret));
        expect(error).to.have.property('code', 'signature_mismatch');
      }
      expect(comparisons).to.deep.equal([
        { lengths: [32, 32], result: false },
        { lengths: [32, 32], result: false },
      ]);
    });
  });
});
