import { expect } from 'chai';
import { Redis } from 'ioredis';
import { reserveSlot, reserveSlots, sleep, waitForSlot, type PaceBudget } from '../../../src/actions/pacing.js';
import { RetryableActionError } from '../../../src/errors.js';
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

  describe('a budget that fills gaps (shared by many keys: Slack\'s workspace)', () => {
    /** One channel's budget (the next free instant) and the workspace's (the set of reserved instants). */
    const budgetsOf = (channel: string, channelIntervalMs: number, workspaceIntervalMs: number): PaceBudget[] => [
      { key: `${testRedis.keyPrefix}:pace:${channel}`, intervalMs: channelIntervalMs },
      { key: `${testRedis.keyPrefix}:pace:workspace`, intervalMs: workspaceIntervalMs, fillsGaps: true },
    ];
    const reserve = (channel: string, now: number, channelIntervalMs = 1000, workspaceIntervalMs = 250) =>
      reserveSlots(testRedis.redis, { budgets: budgetsOf(channel, channelIntervalMs, workspaceIntervalMs), maxWaitMs: 10_000, now });

    it("lets an idle channel's message take a free workspace slot before another channel's backlog", async () => {
      const now = 3_000_000;
      // Four messages to #a: its own budget spaces them a second apart.
      const backlog = [];
      for (let index = 0; index < 4; index += 1) backlog.push((await reserve('a', now)).waitMs);
      expect(backlog).to.deep.equal([0, 1000, 2000, 3000]);
      // #b is idle: its message goes at the first workspace slot free (250 ms after #a's first),
      // not after #a's last reserved slot as a single "next free instant" for the workspace did.
      expect(await reserve('b', now)).to.deep.equal({ isReserved: true, waitMs: 250, heldMs: 0 });
      expect(await reserve('c', now)).to.deep.equal({ isReserved: true, waitMs: 500, heldMs: 0 });
      // A gap too narrow for the interval is skipped: #d goes 250 ms after #c.
      expect(await reserve('d', now)).to.deep.equal({ isReserved: true, waitMs: 750, heldMs: 0 });
      // The next free instant: 250 ms after #a's second (1000), as 1250 ms.
      expect(await reserve('e', now)).to.deep.equal({ isReserved: true, waitMs: 1250, heldMs: 0 });
    });

    it('keeps any two reserved instants at least the interval apart, however many connections reserve at once', async () => {
      const now = 4_000_000;
      const reservations = await Promise.all(
        Array.from({ length: 60 }, (_, index) =>
          reserveSlots(index % 2 === 0 ? testRedis.redis : other, { budgets: budgetsOf(`ch${index % 7}`, 100, 30, ), maxWaitMs: 100_000, now: now + (index % 5) * 7 }),
        ),
      );
      expect(reservations.every((reservation) => reservation.isReserved)).to.equal(true);
      const instants = await testRedis.redis.zrange(`${testRedis.keyPrefix}:pace:workspace`, 0, -1, 'WITHSCORES');
      const scores = instants.filter((_, index) => index % 2 === 1).map(Number).sort((a, b) => a - b);
      expect(scores).to.have.length(60);
      for (let index = 1; index < scores.length; index += 1) expect(scores[index] - scores[index - 1], `${scores[index - 1]} → ${scores[index]}`).to.be.at.least(30);
      // Each channel's own budget still spaces its calls by its interval.
      const byChannel = new Map<number, number[]>();
      reservations.forEach((reservation, index) => byChannel.set(index % 7, [...(byChannel.get(index % 7) ?? []), now + (index % 5) * 7 + reservation.waitMs]));
      for (const [channel, times] of byChannel) {
        times.sort((a, b) => a - b);
        for (let index = 1; index < times.length; index += 1) expect(times[index] - times[index - 1], `channel ${channel}`).to.be.at.least(99);
      }
    });

    it('forgets instants that can no longer be near a slot, and expires after its last one', async () => {
      const now = 6_000_000;
      await reserve('a', now);
      await reserve('b', now);
      const key = `${testRedis.keyPrefix}:pace:workspace`;
      expect(await testRedis.redis.zcard(key)).to.equal(2);
      const ttl = await testRedis.redis.pttl(key);
      expect(ttl).to.be.within(1, 250 + 250 + 1_000);
      await reserve('c', now + 10_000);
      expect(await testRedis.redis.zrange(key, 0, -1)).to.deep.equal([(now + 10_000).toFixed(3)]);
    });

    it('refuses a slot further than maxWaitMs and records nothing', async () => {
      const now = 7_000_000;
      const budgets = budgetsOf('a', 10, 1000);
      for (let index = 0; index < 3; index += 1) await reserveSlots(testRedis.redis, { budgets: budgetsOf(`x${index}`, 10, 1000), maxWaitMs: 10_000, now });
      expect(await reserveSlots(testRedis.redis, { budgets, maxWaitMs: 2_500, now })).to.deep.equal({ isReserved: false, waitMs: 3000, heldMs: 0 });
      expect(await testRedis.redis.zcard(`${testRedis.keyPrefix}:pace:workspace`)).to.equal(3);
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
