import { expect } from 'chai';
import { Queue, type Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { actionRegistry } from '../../../src/actions/registry.js';
import { loadConfig } from '../../../src/config/config.js';
import { BridgeMetrics } from '../../../src/observability/metrics.js';
import type { ActionJobData } from '../../../src/queue/action-job.js';
import { EventIntake, type EventsQueueJobData } from '../../../src/queue/event-intake.js';
import { startEventsWorker } from '../../../src/queue/events-worker.js';
import { ACTIONS_QUEUE, EVENTS_QUEUE } from '../../../src/queue/names.js';
import { readEventTrace } from '../../../src/queue/trace.js';
import { EntityLedger, reconcileKeys } from '../../../src/reconcile/ledger.js';
import { PermanentProviderApiError, RetryableProviderApiError } from '../../../src/reconcile/provider-api.js';
import { ReconcileBusyError, ReconcileRequestError, Reconciler, recordMilestoneWith } from '../../../src/reconcile/reconciler.js';
import { compileRuleFiles } from '../../../src/rules/compile-rules.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../../support/redis.js';
import { FirstPromoterApiFake, fakeFirstPromoterCommission, fakeFirstPromoterReferral } from '../../fakes/firstpromoter-fake.js';
import { RewardfulApiFake, fakeRewardfulReferral } from '../../fakes/rewardful-fake.js';
import { eventsWorkerOptionsForTests } from '../../support/events-stack.js';

const FP_KEY = 'fp-api-key-0123456789abcdef';
const FP_ACCOUNT = '4711';
const RW_SECRET = 'rw-api-secret-0123456789abcdef';

// One action per referral or commission milestone: "processed once" is "one action job".
const RULES = `rules:
  - id: every-milestone
    on: [firstpromoter.referral.*, firstpromoter.commission.*, rewardful.referral.*]
    do:
      - slack.post_message: { channel: "#affiliate-ops", text: "{{ event.type }} {{ data.id }}" }
`;

const HOUR = 3_600_000;

/** What `promise` rejects with; fails the test when it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('reconciliation (real Redis, real events worker, fake provider APIs)', function () {
  this.timeout(30_000);
  let prefix: string;
  let redis: Redis;
  let workerConnection: Redis;
  let events: Queue<EventsQueueJobData>;
  let actions: Queue<ActionJobData>;
  let worker: Worker;
  let fp: FirstPromoterApiFake;
  let rw: RewardfulApiFake;
  let metrics: BridgeMetrics;
  let intake: EventIntake;
  let ledger: EntityLedger;
  /** Every wait the API clients asked for (the tests' sleep returns at once). */
  let sleeps: number[];
  const loaded = compileRuleFiles([{ file: 'rules/ops.yaml', content: RULES }], { actions: actionRegistry });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));

  const reconcilerWith = (env: Record<string, string> = {}) => {
    const config = loadConfig({
      FIRSTPROMOTER_API_KEY: FP_KEY,
      FIRSTPROMOTER_ACCOUNT_ID: FP_ACCOUNT,
      FIRSTPROMOTER_API_URL: fp.url,
      REWARDFUL_API_SECRET: RW_SECRET,
      REWARDFUL_API_URL: rw.url,
      ...env,
    });
    return new Reconciler({
      redis,
      prefix,
      sources: sourceRegistry,
      integrations: config.integrations,
      ledger,
      horizonMs: 7 * 24 * HOUR,
      windowMs: 48 * HOUR,
      intake,
      strippedFields: config.strippedFields,
      secretScrubber: null,
      logger: pino({ level: 'silent' }),
      metrics,
      runtime: {
        now: Date.now,
        sleep: async (ms) => void sleeps.push(ms),
        timeoutMs: 5_000,
        retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 40 },
      },
    });
  };

  /** What a webhook that reached the bridge does: normalized and stored through the intake. */
  const receiveWebhook = async (source: 'firstpromoter' | 'rewardful', body: Record<string, unknown>) => {
    const event = sourceRegistry[source].normalize(body, { receivedAt: new Date(), strippedFields: [] });
    await intake.store(event);
    return event;
  };
  const fpWebhook = (type: string, object: Record<string, unknown>) =>
    receiveWebhook('firstpromoter', { event_id: crypto.randomUUID(), event_type: type, action: 'created', entity_type: type.split('.')[0], entity_id: object.id, changes: {}, data: object, timestamp: new Date().toISOString() });

  const settled = async () => {
    await waitFor(async () => {
      const counts = await events.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return Object.values(counts).every((count) => count === 0);
    });
  };
  const actionJobIds = async () => (await actions.getJobs(['waiting', 'delayed', 'failed'])).map((job) => job.id!).sort();

  beforeEach(async () => {
    prefix = randomPrefix('reconcile');
    sleeps = [];
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    workerConnection = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    events = new Queue(EVENTS_QUEUE, { connection: redis, prefix });
    actions = new Queue(ACTIONS_QUEUE, { connection: redis, prefix });
    metrics = new BridgeMetrics();
    intake = new EventIntake({ queue: events, dedupTtlMs: 60_000 });
    ledger = new EntityLedger({ redis, prefix, ttlMs: 7 * 24 * HOUR });
    fp = await FirstPromoterApiFake.start({ apiKey: FP_KEY, accountId: FP_ACCOUNT });
    rw = await RewardfulApiFake.start({ apiSecret: RW_SECRET });
    worker = startEventsWorker(
      eventsWorkerOptionsForTests(
        { connection: workerConnection, state: redis, prefix, actionsQueue: actions, ruleSet: loaded.ruleSet },
        { recordMilestone: recordMilestoneWith(ledger, sourceRegistry, Date.now), metrics },
      ),
    );
  });

  afterEach(async () => {
    await worker.close();
    await Promise.all([events.close(), actions.close(), fp.close(), rw.close()]);
    await deleteKeys(redis, prefix);
    redis.disconnect();
    workerConnection.disconnect();
  });

  it('synthesizes exactly the events whose webhooks were lost, and each milestone runs its actions once', async () => {
    const delivered = fp.add('referrals', fakeFirstPromoterReferral());
    const lost = fp.add('referrals', fakeFirstPromoterReferral());
    const converted = fp.add('referrals', fakeFirstPromoterReferral({ customer_since: new Date().toISOString(), state: 'active' }));
    await fpWebhook('referral.created', delivered);
    await fpWebhook('referral.created', converted);
    await settled();

    const report = await reconcilerWith().run('firstpromoter', { since: new Date(Date.now() - 24 * HOUR) });
    expect(report).to.deep.equal({
      source: 'firstpromoter',
      checked: 3,
      missing: 2,
      synthesized: [
        { eventId: `firstpromoter-reconciled.referral.${String(lost.id)}.created`, type: 'firstpromoter.referral.created', objectId: String(lost.id) },
        { eventId: `firstpromoter-reconciled.referral.${String(converted.id)}.converted`, type: 'firstpromoter.referral.converted', objectId: String(converted.id) },
      ],
    });
    await settled();
    const trace = await readEventTrace(redis, prefix, `firstpromoter-reconciled.referral.${String(lost.id)}.created`);
    expect(trace?.event.origin).to.equal('reconciled');
    // One action per milestone: two delivered, two recovered.
    expect(await actionJobIds()).to.have.length(4);
    expect(await metrics.registry.getSingleMetricAsString('bridge_reconciled_events_total')).to.contain('bridge_reconciled_events_total{source="firstpromoter",type="firstpromoter.referral.created"} 1');

    // Reconciling again finds nothing missing: the ledger holds the recovered milestones.
    const again = await reconcilerWith().run('firstpromoter', { since: new Date(Date.now() - 24 * HOUR) });
    expect(again).to.deep.include({ checked: 3, missing: 0, synthesized: [] });
    await settled();
    expect(await actionJobIds()).to.have.length(4);
  });

  it('a run that repeats before the first run\'s events are processed stores nothing twice (same ids, intake dedup)', async () => {
    await worker.pause();
    fp.add('commissions', fakeFirstPromoterCommission({ status: 'approved' }));
    const first = await reconcilerWith().run('firstpromoter', { since: new Date(Date.now() - HOUR) });
    const second = await reconcilerWith().run('firstpromoter', { since: new Date(Date.now() - HOUR) });
    expect(first.synthesized.map((event) => event.type)).to.deep.equal(['firstpromoter.commission.created', 'firstpromoter.commission.approved']);
    expect(second).to.deep.include({ missing: 2, synthesized: [] });
    worker.resume();
    await settled();
    expect(await actionJobIds()).to.have.length(2);
  });

  it('a webhook that arrives after reconciliation recovered its event is not planned again', async () => {
    const referral = fp.add('referrals', fakeFirstPromoterReferral());
    await reconcilerWith().run('firstpromoter', { since: new Date(Date.now() - HOUR) });
    await settled();
    const late = await fpWebhook('referral.created', referral);
    await settled();
    expect(await actionJobIds()).to.deep.equal([`firstpromoter-reconciled.referral.${String(referral.id)}.created.every-milestone.0`]);
    const trace = await readEventTrace(redis, prefix, late.id);
    expect(trace?.runs[0]?.duplicateOf).to.equal(`firstpromoter-reconciled.referral.${String(referral.id)}.created`);
  });

  it('--dry-run lists what is missing and stores nothing', async () => {
    fp.add('referrals', fakeFirstPromoterReferral());
    const report = await reconcilerWith().run('firstpromoter', { since: new Date(Date.now() - HOUR), dryRun: true });
    expect(report.synthesized).to.have.length(1);
    expect(await events.count()).to.equal(0);
    expect(await redis.get(reconcileKeys(prefix).lastSuccess('firstpromoter'))).to.equal(null);
  });

  it('Rewardful: reads newest-first pages with Basic auth and stops at the window', async () => {
    const old = fakeRewardfulReferral({ created_at: new Date(Date.now() - 72 * HOUR).toISOString() });
    rw.add('referrals', old);
    for (let i = 0; i < 120; i += 1) rw.add('referrals', fakeRewardfulReferral({ created_at: new Date(Date.now() - i * 1000).toISOString() }));
    const report = await reconcilerWith().run('rewardful', { since: new Date(Date.now() - 24 * HOUR) });
    expect(report).to.deep.include({ checked: 120, missing: 120 });
    expect(rw.requests.map((request) => request.url)).to.deep.equal(['/v1/referrals?page=1&limit=100&expand%5B%5D=affiliate', '/v1/referrals?page=2&limit=100&expand%5B%5D=affiliate', '/v1/commissions?page=1&limit=100&expand%5B%5D=sale&expand%5B%5D=campaign', '/v1/affiliates?page=1&limit=100', '/v1/payouts?page=1&limit=100']);
  });

  describe('faults', () => {
    it('429 and 5xx: waits (the 429\'s whole window when it names no time), retries, and completes the run', async () => {
      fp.add('referrals', fakeFirstPromoterReferral());
      fp.failNext(429, 503);
      const report = await reconcilerWith().run('firstpromoter', { since: new Date(Date.now() - HOUR) });
      expect(report.synthesized).to.have.length(1);
      expect(fp.requests.slice(0, 3).map((request) => request.status)).to.deep.equal([429, 503, 200]);
      // FirstPromoter documents no Retry-After: the 429 waits its minute; the 503 the first backoff step.
      expect(sleeps.slice(0, 2)).to.deep.equal([60_000, 20]);
    });

    it('Rewardful\'s 429 is waited out by its RateLimit-Reset', async () => {
      rw.add('referrals', fakeRewardfulReferral());
      rw.failNext(429);
      await reconcilerWith().run('rewardful', { since: new Date(Date.now() - HOUR) });
      expect(sleeps[0]).to.equal(1_000);
    });

    it('an outage that outlasts the retries fails the run; the watermark stays and the next run covers the span again', async () => {
      const reconciler = reconcilerWith();
      // The first scheduled run records what the API lists as seen and synthesizes nothing.
      fp.add('referrals', fakeFirstPromoterReferral());
      const baseline = await reconciler.run('firstpromoter', {});
      expect(baseline).to.deep.include({ missing: 1, synthesized: [] });
      const watermark = await redis.get(reconcileKeys(prefix).watermark('firstpromoter'));
      expect(Number(watermark)).to.be.closeTo(Date.now(), 5_000);

      const missed = fp.add('referrals', fakeFirstPromoterReferral());
      fp.failNext(503, 503, 503, 503);
      const error = await rejectionOf(reconciler.run('firstpromoter', {}));
      expect(error).to.be.instanceOf(RetryableProviderApiError);
      expect((error as Error).message).to.equal('FirstPromoter API answered 503 to GET /referrals');
      expect(await redis.get(reconcileKeys(prefix).watermark('firstpromoter'))).to.equal(watermark);

      const next = await reconciler.run('firstpromoter', {});
      expect(next.synthesized.map((event) => event.objectId)).to.deep.equal([String(missed.id)]);
      const runs = await metrics.registry.getSingleMetricAsString('bridge_reconcile_runs_total');
      expect(runs).to.contain('bridge_reconcile_runs_total{source="firstpromoter",outcome="failed"} 1');
      expect(runs).to.contain('bridge_reconcile_runs_total{source="firstpromoter",outcome="succeeded"} 2');
    });

    it('a refused API key fails at once, without the key in the error', async () => {
      const error = await rejectionOf(reconcilerWith({ FIRSTPROMOTER_API_KEY: 'wrong-key-123456' }).run('firstpromoter', { since: new Date(Date.now() - HOUR) }));
      expect(error).to.be.instanceOf(PermanentProviderApiError);
      expect((error as Error).message).to.equal('FirstPromoter API answered 401 to GET /referrals: check its API credentials');
      expect(JSON.stringify(error) + String((error as Error).stack)).to.not.contain('wrong-key-123456');
      expect(fp.requests).to.have.length(1);
    });

    it('one run at a time per source, across processes (a held lock refuses the second)', async () => {
      await redis.set(reconcileKeys(prefix).runLock('firstpromoter'), 'another-process', 'PX', 10_000);
      const error = await rejectionOf(reconcilerWith().run('firstpromoter', { since: new Date(Date.now() - HOUR) }));
      expect(error).to.be.instanceOf(ReconcileBusyError);
      expect(fp.requests).to.have.length(0);
    });

    it('refuses a source without credentials, and a --since past the ledger\'s horizon', async () => {
      const unset = await rejectionOf(reconcilerWith({ REWARDFUL_API_SECRET: '' }).run('rewardful', { since: new Date(Date.now() - HOUR) }));
      expect(unset).to.be.instanceOf(ReconcileRequestError);
      expect((unset as Error).message).to.equal('Rewardful cannot be reconciled: set REWARDFUL_API_SECRET');
      const tooFar = await rejectionOf(reconcilerWith().run('firstpromoter', { since: new Date(Date.now() - 8 * 24 * HOUR) }));
      expect((tooFar as Error).message).to.equal('--since reaches back further than the entity ledger remembers (168h): older events cannot be told from missed ones');
    });
  });
});
