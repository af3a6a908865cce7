import { expect } from 'chai';
import { Redis } from 'ioredis';
import { EntityLedger, reconcileKeys } from '../../../src/reconcile/ledger.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL } from '../../support/redis.js';

describe('entity ledger: one claim script per event (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let ledger: EntityLedger;

  beforeEach(() => {
    redis = new Redis(SHARED_REDIS_URL);
    prefix = randomPrefix('ledger');
    ledger = new EntityLedger({ redis, prefix, ttlMs: 60_000 });
  });

  afterEach(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('records the first event of a milestone with the object\'s state and time; a later event keeps the holder and moves the state', async () => {
    const key = reconcileKeys(prefix).ledgerObject('firstpromoter', 'referral', '42');
    const first = await ledger.claim('firstpromoter', { kind: 'referral', objectId: '42', state: 'created' }, { id: 'firstpromoter-1', origin: 'webhook' }, 1_000);
    expect(first).to.deep.equal({ isFirst: true, heldBy: { eventId: 'firstpromoter-1', origin: 'webhook' } });
    expect(await redis.hgetall(key)).to.deep.equal({ 'm.created': 'webhook firstpromoter-1', state: 'created', seenAt: '1000' });
    expect(await redis.pttl(key)).to.be.within(1, 60_000);

    const again = await ledger.claim('firstpromoter', { kind: 'referral', objectId: '42', state: 'created' }, { id: 'firstpromoter-reconciled.x', origin: 'reconciled' }, 2_000);
    expect(again).to.deep.equal({ isFirst: false, heldBy: { eventId: 'firstpromoter-1', origin: 'webhook' } });
    await ledger.claim('firstpromoter', { kind: 'referral', objectId: '42', state: 'converted' }, { id: 'firstpromoter-2', origin: 'webhook' }, 3_000);
    expect(await redis.hgetall(key)).to.deep.equal({ 'm.created': 'webhook firstpromoter-1', 'm.converted': 'webhook firstpromoter-2', state: 'converted', seenAt: '3000' });
  });
});
