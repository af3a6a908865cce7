import { expect } from 'chai';
import { readRetryAfterMs } from '../../../src/reconcile/provider-api.js';

describe('readRetryAfterMs (when a provider says to come back)', () => {
  const now = Date.parse('2026-01-10T12:00:00Z');
  const table: ReadonlyArray<readonly [string, Record<string, string>, number | undefined]> = [
    ['Retry-After in seconds', { 'Retry-After': '7' }, 7_000],
    ['Retry-After as an HTTP date', { 'Retry-After': 'Sat, 10 Jan 2026 12:00:30 GMT' }, 30_000],
    ['Retry-After in the past', { 'Retry-After': 'Sat, 10 Jan 2026 11:00:00 GMT' }, 0],
    ['RateLimit-Reset (draft-polli-ratelimit-headers-02), as Rewardful sends', { 'RateLimit-Reset': '12' }, 12_000],
    ['Retry-After wins over RateLimit-Reset', { 'Retry-After': '3', 'RateLimit-Reset': '12' }, 3_000],
    ['nothing usable: the caller waits the provider\'s window', { 'Retry-After': 'soon' }, undefined],
    ['no header at all', {}, undefined],
  ];
  for (const [name, headers, expected] of table) {
    it(name, () => expect(readRetryAfterMs(new Headers(headers), now)).to.equal(expected));
  }
});
