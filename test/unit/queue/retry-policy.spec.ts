import { expect } from 'chai';
import { computeRetryDelay, twelveAttemptsOverEightHours } from '../../../src/queue/retry-policy.js';

describe('retry policy', () => {
  const policy = { baseDelayMs: 1000, maxDelayMs: 60_000 };

  it('doubles the wait per attempt, with half of it jittered', () => {
    expect(computeRetryDelay(policy, 1, () => 0)).to.equal(500);
    expect(computeRetryDelay(policy, 1, () => 1)).to.equal(1000);
    expect(computeRetryDelay(policy, 3, () => 0)).to.equal(2000);
    expect(computeRetryDelay(policy, 3, () => 1)).to.equal(4000);
  });

  it('caps the wait at maxDelayMs', () => {
    expect(computeRetryDelay(policy, 20, () => 1)).to.equal(60_000);
  });

  it("never waits less than the remote side's Retry-After", () => {
    expect(computeRetryDelay(policy, 1, () => 0, 30_000)).to.equal(30_000);
  });

  it('spreads the default policy over a multi-hour outage (about 4 to 8.5 hours in all)', () => {
    const total = (random: () => number) =>
      Array.from({ length: twelveAttemptsOverEightHours.attempts - 1 }, (_, index) => computeRetryDelay(twelveAttemptsOverEightHours, index + 1, random)).reduce((a, b) => a + b, 0);
    const hours = (ms: number) => ms / 3_600_000;
    expect(hours(total(() => 0))).to.be.within(4, 4.5);
    expect(hours(total(() => 1))).to.be.within(8, 8.6);
  });
});
