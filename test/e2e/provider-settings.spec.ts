import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { FirstPromoterSender } from '../fakes/firstpromoter-fake.js';
import { bridgeTestEnv } from '../support/bridge-env.js';
import { BridgeProcess } from '../support/bridge-process.js';
import { TEST_FIRSTPROMOTER_TOKEN } from '../support/intake-app.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL } from '../support/redis.js';

/**
 * A source's own settings reach the real process: FIRSTPROMOTER_FULFILMENT_ANSWER is declared by
 * the FirstPromoter descriptor, and only the composition root hands it to the HTTP layer. An app
 * test cannot see a setting that the process never passes on, so this one starts the binary.
 */
describe('provider settings in the real process', () => {
  const prefix = randomPrefix('e2e-settings');
  let bridge: BridgeProcess | undefined;
  let redis: Redis;

  before(() => {
    redis = new Redis(SHARED_REDIS_URL);
  });

  afterEach(async () => {
    await bridge?.stop();
    bridge = undefined;
  });

  after(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  const rewardData = async () => ({
    ...JSON.parse(await readFile(new URL('../fixtures/deliveries/firstpromoter/reward_created.json', import.meta.url), 'utf8')).data,
    status: 'pending',
    unit: 'free_months',
  });

  for (const [answer, status, state] of [
    ['pending', 202, 'pending'],
    ['fulfilled', 200, 'fulfilled'],
  ] as const) {
    it(`FIRSTPROMOTER_FULFILMENT_ANSWER=${answer}: fulfilment_pending is answered ${status}, so FirstPromoter marks the reward ${state}`, async () => {
      bridge = await BridgeProcess.start({
        env: bridgeTestEnv({ prefix: `${prefix}-${answer}`, rulesDir: 'rules', extra: { FIRSTPROMOTER_FULFILMENT_ANSWER: answer } }),
      });
      const sender = new FirstPromoterSender(`${bridge.baseUrl}/webhooks/firstpromoter?token=${TEST_FIRSTPROMOTER_TOKEN}`);
      const sent = await sender.sendFulfilmentPending(await rewardData());
      expect(sent.statuses).to.deep.equal([status]);
      expect(sent.state).to.equal(state);
    });
  }
});
