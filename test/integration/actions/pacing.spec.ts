import { expect } from 'chai';
import { Redis } from 'ioredis';
import { reserveSlot, reserveSlots, sleep, waitForSlot } from '../../../src/actions/pacing.js';
import { slackChannelIntervalMs, slackWorkspaceBudget } from '../../../src/actions/slack/pace-budgets.js';
import { RetryableActionError } from '../../../src/errors.js';
import { mostInAnyWindow } from '../../support/rolling-window.js';
import { openTestRedis, rejectionOf, TEST_REDIS_URL, type TestRedis } from './support.js';

describe('actions/pacing', () => {
  let testRedis: TestRedis;
  let other: Redis;

  beforeEach(async () => {
    testRedis = await openTestRedis();
    other = new Redis(TEST_REDIS_URL);
  });

  afterEach(async () => {
    await other.quit();
    await testRedis.cleanup();
  });

  it('hands out consecutive slots one interval apart', async () => {
    const key = `${testRedis.keyPrefix}:pace:test`;
    const now = 1_000_000;
    const waits = [];
    for (let index = 0; index < 4; index += 1) waits.push(await reserveSlot(testRedis.redis, key, 250, 10_000, now));
    expect(waits).to.deep.equal([
      { isReserved: true, waitMs: 0 },
      { isReserved: true, waitMs: 250 },
      { isReserved: true, waitMs: 500 },
      { isReserved: true, waitMs: 750 },
    ]);
  });

  it('never gives the same slot to two connections reserving concurrently', async () => {
    const key = `${testRedis.keyPrefix}:pace:shared`;
    const now = 5_000_000;
    const reservations = await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        reserveSlot(index % 2 === 0 ? testRedis.redis : other, key, 100, 100_000, now),
      ),
    );
    const waits = reservations.map((reservation) => reservation.waitMs).sort((a, b) => a - b);
    expect(reservations.every((reservation) => reservation.isReserved)).to.equal(true);
    expect(new Set(waits).size).to.equal(40);
    expect(waits).to.deep.equal(Array.from({ length: 40 }, (_, index) => index * 100));
  });

  it('keeps fractional intervals exact (1000/3 ms)', async () => {
    const key = `${testRedis.keyPrefix}:pace:fraction`;
    const now = 1_732_000_000_000;
    let last = { isReserved: false, waitMs: 0 };
    for (let index = 0; index < 4; index += 1) last = await reserveSlot(testRedis.redis, key, 1000 / 3, 10_000, now);
    expect(last).to.deep.equal({ isReserved: true, waitMs: 1000 });
  });

  it('refuses a slot further than maxWaitMs, reserves nothing and says how far it is', async () => {
    const key = `${testRedis.keyPrefix}:pace:far`;
    const now = 2_000_000;
    await reserveSlot(testRedis.redis, key, 1000, 5000, now);
    for (let index = 0; index < 5; index += 1) await reserveSlot(testRedis.redis, key, 1000, 5000, now);
    const refused = await reserveSlot(testRedis.redis, key, 1000, 5000, now);
    expect(refused).to.deep.equal({ isReserved: false, waitMs: 6000 });
    // Nothing was reserved: the same request is refused with the same distance.
    expect(await reserveSlot(testRedis.redis, key, 1000, 5000, now)).to.deep.equal({ isReserved: false, waitMs: 6000 });
    // Later, when the slot is near enough, it is handed out.
    expect(await reserveSlot(testRedis.redis, key, 1000, 5000, now + 1000)).to.deep.equal({ isReserved: true, waitMs: 5000 });
  });

  it('frees the slot after time passes', async () => {
    const key = `${testRedis.keyPrefix}:pace:later`;
    await reserveSlot(testRedis.redis, key, 1000, 5000, 10_000);
    expect(await reserveSlot(testRedis.redis, key, 1000, 5000, 20_000)).to.deep.equal({ isReserved: true, waitMs: 0 });
  });

  it('lets pacing keys expire soon after their last slot', async () => {
    const key = `${testRedis.keyPrefix}:pace:ttl`;
    await reserveSlot(testRedis.redis, key, 200, 5000, Date.now());
    const ttl = await testRedis.redis.pttl(key);
    expect(ttl).to.be.greaterThan(0);
    expect(ttl).to.be.at.most(200 + 1000);
    await sleep(1300);
    expect(await testRedis.redis.exists(key)).to.equal(0);
  });

  describe('a budget with a tolerance (the Slack workspace budget)', () => {
    it('lets a burst of tolerance / interval + 1 calls leave at once, then spaces by the interval', async () => {
      const key = `${testRedis.keyPrefix}:pace:burst`;
      const now = 7_000_000;
      const budgets = [{ key, intervalMs: 100, toleranceMs: 450 }];
      const waits: number[] = [];
      for (let index = 0; index < 8; index += 1) waits.push((await reserveSlots(testRedis.redis, { budgets, maxWaitMs: 10_000, now })).waitMs);
      // 450 / 100 → 4 calls ahead of the spacing, 5 at once; then one per interval.
      expect(waits).to.deep.equal([0, 0, 0, 0, 0, 50, 150, 250]);
    });

    it('with the shipped defaults (120 a minute), no rolling minute ever holds more than 120 posts, whatever the traffic', async () => {
      const key = `${testRedis.keyPrefix}:pace:minute`;
      const budget = { key, ...slackWorkspaceBudget(120, slackChannelIntervalMs(1)) };
      const start = 1_732_000_000_000;
      const slots: number[] = [];
      // A quiet spell, then a crowd, then 3 minutes of more than the limit (one call every 100 ms),
      // with a pause in the middle: every call waits for its slot (it is not refused).
      const calls = [...Array.from({ length: 40 }, () => start), ...Array.from({ length: 1800 }, (_, index) => start + 1 + index * 100 + (index > 900 ? 20_000 : 0))];
      let clock = start;
      for (const at of calls) {
        clock = Math.max(clock, at);
        const reservation = await reserveSlots(testRedis.redis, { budgets: [budget], maxWaitMs: Number.MAX_SAFE_INTEGER, now: clock });
        expect(reservation.isReserved).to.equal(true);
        slots.push(clock + reservation.waitMs);
        // A caller sleeps until its slot before the next one comes (as one worker does).
        clock += reservation.waitMs;
      }
      const most = mostInAnyWindow(slots, 60_000);
      expect(most).to.be.at.most(120);
      // The burst the tolerance allows (5 channel intervals ahead) went out at once, and the budget
      // was nearly all used: at least 110 posts in the busiest minute.
      expect(slots.filter((slot) => slot === start)).to.have.length(10);
      expect(most).to.be.at.least(110);
    });
  });

  describe('waitForSlot', () => {
    it('sleeps the short wait before returning', async () => {
      const key = `${testRedis.keyPrefix}:pace:wait`;
      const options = { redis: testRedis.redis, key, intervalMs: 150, now: () => Date.now() };
      await waitForSlot(options);
      const started = Date.now();
      await waitForSlot(options);
      expect(Date.now() - started).to.be.within(100, 400);
    });

    it('throws paced (rate limit with retryAfterMs) beyond the default 5 intervals', async () => {
      const key = `${testRedis.keyPrefix}:pace:default`;
      const now = () => 3_000_000;
      const options = { redis: testRedis.redis, key, intervalMs: 10, now };
      // Slots at 0, 10, ..., 50 ms fit within 5 × 10 ms; the seventh is 60 ms away.
      for (let index = 0; index < 6; index += 1) await waitForSlot(options);
      const error = await rejectionOf(waitForSlot(options));
      expect(error).to.be.instanceOf(RetryableActionError);
      expect(error).to.include({ code: 'paced', isRateLimit: true, retryAfterMs: 60 });
    });

    it('sleeps through a crowd of calls reserving at once when the limit is far above the rate: none is handed back', async () => {
      // 10,000 messages/s (0.1 ms apart): 5 intervals would be 0.5 ms, and the sixth call of the
      // same millisecond was refused and delayed by the worker although the traffic was far under it.
      const key = `${testRedis.keyPrefix}:pace:crowd`;
      const now = () => 4_000_000;
      const options = { redis: testRedis.redis, key, intervalMs: 0.1, now };
      const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => waitForSlot(options)));
      expect(outcomes.filter((outcome) => outcome.status === 'rejected')).to.deep.equal([]);
      // The limit still holds: the 50 slots took 50 consecutive intervals.
      expect(Number(await testRedis.redis.get(key))).to.be.closeTo(4_000_000 + 50 * 0.1, 0.001);
    });

    it('hands a call back once its slot is further than the default floor of 50 ms, however short the interval', async () => {
      const key = `${testRedis.keyPrefix}:pace:floor`;
      const now = () => 5_000_000;
      const options = { redis: testRedis.redis, key, intervalMs: 1, now };
      // Slots at 0, 1, ..., 50 ms are within the 50 ms floor; the 52nd is 51 ms away.
      await Promise.all(Array.from({ length: 51 }, () => waitForSlot(options)));
      const error = await rejectionOf(waitForSlot(options));
      expect(error).to.include({ code: 'paced', isRateLimit: true, retryAfterMs: 51 });
    });

    it('stops waiting when the signal aborts, with a retryable timeout', async () => {
      const key = `${testRedis.keyPrefix}:pace:abort`;
      const options = { redis: testRedis.redis, key, intervalMs: 5_000, now: () => Date.now() };
      await waitForSlot(options);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      const started = Date.now();
      const error = await rejectionOf(waitForSlot({ ...options, signal: controller.signal }));
      expect(error).to.be.instanceOf(RetryableActionError);
      expect(error).to.include({ code: 'timeout' });
      expect(Date.now() - started).to.be.lessThan(1000);
    });
  });
});
