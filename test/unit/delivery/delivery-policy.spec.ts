import { expect } from 'chai';
import { actionRegistry } from '../../../src/actions/registry.js';
import { loadConfig } from '../../../src/config/config.js';
import type { BridgeEvent } from '../../../src/events/event.js';
import {
  COMPLETED_ACTION_JOBS_KEPT,
  FAILED_JOBS_KEPT_SECONDS,
  jobRetention,
  ACTION_JOB_LOGS_KEPT,
  ACTION_BACKOFF_TYPE,
  DEFAULT_ACTIONS_CONCURRENCY,
  DEFAULT_EVENTS_CONCURRENCY,
  DEFAULT_RETRY_POLICY,
  buildActionJobOptions,
  computeRetryDelay,
  createActionBackoffStrategy,
  decideEventDisposition,
  fastRetriesForTests,
  planUnlessQuarantined,
  resolveActionRetry,
  resolveRetryPolicy,
  twelveAttemptsOverEightHours,
} from '../../../src/delivery/delivery-policy.js';
import { loadRules } from '../../../src/rules/load-rules.js';
import { planActions } from '../../../src/rules/plan.js';
import type { RuleSet } from '../../../src/rules/rule-set.js';
import { eventFromFixture } from '../rules/fixture-events.js';

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

describe('delivery policy: which policy runs', () => {
  it('runs the named default policy when the environment sets nothing (the config takes its defaults from it)', () => {
    const config = loadConfig({});
    expect(DEFAULT_RETRY_POLICY).to.equal(twelveAttemptsOverEightHours);
    expect(resolveRetryPolicy(config)).to.deep.equal(twelveAttemptsOverEightHours);
    expect([config.eventsConcurrency, config.actionsConcurrency]).to.deep.equal([DEFAULT_EVENTS_CONCURRENCY, DEFAULT_ACTIONS_CONCURRENCY]);
  });

  it('applies ACTION_ATTEMPTS and ACTION_BACKOFF_BASE over it, keeping its cap', () => {
    const policy = resolveRetryPolicy(loadConfig({ ACTION_ATTEMPTS: '3', ACTION_BACKOFF_BASE: '2s' }));
    expect(policy).to.deep.equal({ attempts: 3, baseDelayMs: 2_000, maxDelayMs: twelveAttemptsOverEightHours.maxDelayMs });
  });

  it("applies a rule's retry: override per action, and builds the job's BullMQ options from it", () => {
    expect(resolveActionRetry(fastRetriesForTests, undefined)).to.deep.equal({ attempts: 4, baseDelayMs: 50 });
    const retry = resolveActionRetry(fastRetriesForTests, { attempts: 7, backoffMs: 90_000 });
    expect(retry).to.deep.equal({ attempts: 7, baseDelayMs: 90_000 });
    expect(buildActionJobOptions('e.r.0', retry)).to.deep.equal({ jobId: 'e.r.0', attempts: 7, backoff: { type: ACTION_BACKOFF_TYPE }, keepLogs: ACTION_JOB_LOGS_KEPT });
  });

  it("backs off from each job's own base, capped by the policy, never under the remote side's Retry-After", () => {
    const strategy = createActionBackoffStrategy({ attempts: 5, baseDelayMs: 1000, maxDelayMs: 3000 }, (error) => (error?.message === 'slow down' ? 10_000 : undefined), () => 1);
    const job = (backoffBaseMs?: number) => ({ data: backoffBaseMs === undefined ? {} : { backoffBaseMs } }) as unknown as Parameters<typeof strategy>[3];
    expect(strategy(1, ACTION_BACKOFF_TYPE, undefined, job(200))).to.equal(200);
    expect(strategy(1, ACTION_BACKOFF_TYPE, undefined, job())).to.equal(1000);
    expect(strategy(5, ACTION_BACKOFF_TYPE, undefined, job(200))).to.equal(3000);
    expect(strategy(1, ACTION_BACKOFF_TYPE, new Error('slow down'), job(200))).to.equal(10_000);
  });
});

describe('delivery policy: plan or quarantine', () => {
  let ruleSet: RuleSet;
  before(async () => {
    const result = await loadRules('test/fixtures/rules/match', { actions: actionRegistry });
    if (!result.ok) throw new Error('the match rules do not load');
    ruleSet = result.ruleSet;
  });
  const lead = eventFromFixture('firstpromoter/lead_signup.json');
  const suspiciousLead: BridgeEvent = { ...lead, data: { ...lead.data, suspicion: 'self_referral' } };
  const plan = (event: BridgeEvent) => planActions(ruleSet, event);

  // Moved from the rules/plan matching table: the decision left planActions.
  it('a quarantined event plans nothing', () => {
    const { plan: result } = planUnlessQuarantined({ ...suspiciousLead, status: 'quarantined', validationErrors: ['data.email must be a string'] }, 'first', plan);
    expect(result.failures).to.deep.equal([]);
    expect(result.matched.map((rule) => rule.ruleId)).to.deep.equal([]);
    expect(result.actions.map((action) => action.action)).to.deep.equal([]);
  });

  it('plans a quarantined event only when asked (replay after a fix)', () => {
    const quarantined: BridgeEvent = { ...suspiciousLead, status: 'quarantined' };
    expect(planUnlessQuarantined(quarantined, 'first', plan).plan.warnings).to.deep.equal([
      'event firstpromoter-22736304 is quarantined, so no rules ran: replay it once its schema problem is fixed',
    ]);
    expect(planUnlessQuarantined(quarantined, 'replay', plan).plan.matched.map((rule) => rule.ruleId)).to.include('suspicious-lead');
  });

  it('decides once: quarantine only a quarantined first delivery', () => {
    expect(decideEventDisposition(suspiciousLead, 'first')).to.deep.equal({ kind: 'plan' });
    expect(decideEventDisposition({ ...suspiciousLead, status: 'quarantined' }, 'replay')).to.deep.equal({ kind: 'plan' });
    expect(decideEventDisposition({ ...suspiciousLead, status: 'quarantined' }, 'first').kind).to.equal('quarantine');
    expect(planUnlessQuarantined(suspiciousLead, 'first', plan).isQuarantined).to.equal(false);
  });
});

describe('delivery policy: how long finished jobs stay (issue 14, point 9)', () => {
  it('removes a completed event job at once (its trace is the record) and keeps failed ones 30 days', () => {
    expect(jobRetention('events', { completedMs: 7 * 24 * 3600 * 1000 })).to.deep.equal({ removeOnComplete: { count: 0 }, removeOnFail: { age: FAILED_JOBS_KEPT_SECONDS } });
    expect(FAILED_JOBS_KEPT_SECONDS).to.equal(30 * 24 * 3600);
  });

  it('keeps completed action jobs for the dedup window, at most COMPLETED_ACTIONS_KEPT of them; FAILED_JOBS_TTL for failed ones', () => {
    expect(jobRetention('actions', { completedMs: 3_600_000 })).to.deep.equal({
      removeOnComplete: { age: 3600, count: COMPLETED_ACTION_JOBS_KEPT },
      removeOnFail: { age: FAILED_JOBS_KEPT_SECONDS },
    });
    expect(COMPLETED_ACTION_JOBS_KEPT).to.equal(100_000);
    expect(jobRetention('actions', { completedMs: 3_600_000, failedMs: 86_400_000, completedActionsKept: 500 })).to.deep.equal({
      removeOnComplete: { age: 3600, count: 500 },
      removeOnFail: { age: 86_400 },
    });
  });
});
