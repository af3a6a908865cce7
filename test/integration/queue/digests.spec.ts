import { expect } from 'chai';
import { Redis } from 'ioredis';
import { closeDigest, joinDigest, type DigestJoinRequest } from '../../../src/queue/digests.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL } from '../../support/redis.js';

/** The Redis half of digests (issue 12, points 6-7) on the real Redis: atomic joins and closes. */
describe('queue/digests: groups in Redis (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  const TTL_MS = 60_000;
  const request = (n: number, overrides: Partial<DigestJoinRequest> = {}): DigestJoinRequest => ({
    memberId: `firstpromoter-${n}.leads.0.0`,
    groupId: 'leads.0.abc',
    ruleId: 'leads',
    actionIndex: 0,
    item: { event: { id: `firstpromoter-${n}` }, data: { n }, text: `lead ${n}` },
    waitMs: 30_000,
    max: 5,
    ...overrides,
  });

  beforeEach(() => {
    prefix = randomPrefix('digests');
    redis = new Redis(SHARED_REDIS_URL);
  });
  afterEach(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('20 concurrent joins at max 5: four digests of five, each message in exactly one, ids never reused', async () => {
    const memberships = await Promise.all(Array.from({ length: 20 }, (_, n) => joinDigest(redis, prefix, request(n), 1_000 + n, TTL_MS)));
    const byDigest = new Map<string, number[]>();
    memberships.forEach((membership, n) => byDigest.set(membership.digestId, [...(byDigest.get(membership.digestId) ?? []), n]));
    expect([...byDigest.keys()].sort()).to.deep.equal(['digest.leads.0.1', 'digest.leads.0.2', 'digest.leads.0.3', 'digest.leads.0.4']);
    for (const [digestId, members] of byDigest) {
      expect(members).to.have.length(5);
      const items = await closeDigest(redis, prefix, digestId, 'leads.0.abc');
      expect(items.map((item) => item.text)).to.deep.equal(members.map((n) => `lead ${n}`));
    }
    // The first of each digest opened it: its time is the digest's.
    expect(memberships[0]).to.deep.include({ digestId: 'digest.leads.0.1', openedAtMs: 1_000, count: 1, isRerun: false });
  });

  it('a re-run of an event job finds the digest it joined: nothing appended, even after the digest closed', async () => {
    const first = await joinDigest(redis, prefix, request(1), 1_000, TTL_MS);
    await joinDigest(redis, prefix, request(2), 1_500, TTL_MS);
    expect(await joinDigest(redis, prefix, request(1), 9_000, TTL_MS)).to.deep.equal({ ...first, count: 2, isRerun: true });
    expect((await closeDigest(redis, prefix, first.digestId, 'leads.0.abc')).map((item) => item.text)).to.deep.equal(['lead 1', 'lead 2']);
    expect(await joinDigest(redis, prefix, request(2), 9_500, TTL_MS)).to.deep.include({ digestId: first.digestId, isRerun: true });
    // A new message after the close opens the next digest.
    expect(await joinDigest(redis, prefix, request(3), 10_000, TTL_MS)).to.deep.equal({ digestId: 'digest.leads.0.2', openedAtMs: 10_000, count: 1, isRerun: false });
    // Closing again (a retried digest job) reads the same items.
    expect(await closeDigest(redis, prefix, first.digestId, 'leads.0.abc')).to.have.length(2);
  });

  it('groups are apart per group id; every key sits under the prefix', async () => {
    const a = await joinDigest(redis, prefix, request(1), 1_000, TTL_MS);
    const b = await joinDigest(redis, prefix, request(2, { groupId: 'leads.0.def' }), 1_000, TTL_MS);
    expect(a.digestId).not.to.equal(b.digestId);
    // The open pointer lives for the wait plus a minute (a held-up digest job does not capture later
    // messages for days); the items and memberships for the dedup window.
    expect(await redis.pttl(`${prefix}:digest-open:leads.0.abc`)).to.be.within(85_000, 90_000);
    expect(await redis.pttl(`${prefix}:digest:${a.digestId}:items`)).to.be.within(TTL_MS - 5_000, TTL_MS);
    expect((await redis.keys(`${prefix}:*`)).map((key) => key.slice(prefix.length)).sort()).to.deep.equal([
      ':digest-member:firstpromoter-1.leads.0.0',
      ':digest-member:firstpromoter-2.leads.0.0',
      ':digest-open:leads.0.abc',
      ':digest-open:leads.0.def',
      ':digest-seq',
      `:digest:${a.digestId}`,
      `:digest:${a.digestId}:items`,
      `:digest:${b.digestId}`,
      `:digest:${b.digestId}:items`,
    ].sort());
  });
});
