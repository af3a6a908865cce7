import { expect } from 'chai';
import type { ActionRunner } from '../../../src/actions/action.js';
import { hubspotPaceKey } from '../../../src/actions/hubspot/upsert-contact.js';
import { slackPaceKey } from '../../../src/actions/slack/post-message.js';
import { actionRegistry } from '../../../src/actions/registry.js';
import { IntegrationPausedError, PermanentActionError, RetryableActionError } from '../../../src/errors.js';
import { Secret } from '../../../src/secret.js';
import { startHubspotFake, type HubspotFake } from '../../fakes/hubspot-fake.js';
import { startSlackFake, type SlackFake } from '../../fakes/slack-fake.js';
import {
  captureLogger,
  openTestRedis,
  rejectionOf,
  renderErrorChain,
  testConfig,
  type TestConfigOverrides,
  testContext,
  testDeps,
  type TestRedis,
} from './support.js';

/**
 * The one suite every action in the registry must pass: the retry decision for each failure its
 * API can produce, success, dry-run, timeouts, network errors, and no token in any error or log.
 * Adding an integration means adding its harness below; the first test fails until it exists.
 */

/** 2024-10-03T13:45:20Z: a fixed clock, so waits until midnight UTC are exact. */
const FIXED_NOW = Date.UTC(2024, 9, 3, 13, 45, 20);
const MS_TO_MIDNIGHT = Date.UTC(2024, 9, 4) - FIXED_NOW;
/** The job id of the dry-run case: a Slack request names its job in its metadata. */
const DRY_RUN_JOB_ID = 'firstpromoter-22736304.self-referral-alert.0';

interface ExpectedError {
  /** `paused`: the token is refused, the worker pauses the integration (IntegrationPausedError). */
  readonly type: 'permanent' | 'retryable' | 'paused';
  readonly code: string;
  readonly isRateLimit?: boolean;
  readonly retryAfterMs?: number;
}

interface FailureCase {
  readonly name: string;
  script(fake: unknown): void;
  readonly expected: ExpectedError;
}

interface RunningFake {
  readonly fake: unknown;
  /** Config pointing the action at the fake with `token`. */
  configFor(token: string | null): TestConfigOverrides;
  /** How many actions the fake accepted (messages posted, contacts written). */
  accepted(): number;
  /** How many requests reached the fake at all. */
  requests(): number;
  close(): Promise<void>;
}

interface Harness {
  /** A token string distinctive enough to grep for. */
  readonly token: string;
  readonly params: Record<string, unknown>;
  start(token: string): Promise<RunningFake>;
  /** Makes the next call take `ms` before answering. */
  delay(fake: unknown, ms: number): void;
  readonly failures: readonly FailureCase[];
  /** The Redis pacing key `params` use. */
  paceKey(keyPrefix: string): string;
  /** The dry-run request for `params`. */
  dryRunRequest(fake: RunningFake): Record<string, unknown>;
  /** What the action notes on a dry run, as on a real send (none when absent). */
  readonly dryRunDetail?: Record<string, unknown>;
}

const SLACK_PERMANENT_CODES = [
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_blocks',
  'invalid_blocks_format',
  'msg_too_long',
  'no_text',
  'too_many_attachments',
  'restricted_action',
  'some_code_slack_adds_next_year',
];
const SLACK_RETRYABLE_CODES = ['internal_error', 'service_unavailable', 'fatal_error', 'request_timeout'];
/** The token itself is refused: every job would fail alike, so the integration pauses (point 9). */
const SLACK_PAUSING_CODES = ['invalid_auth', 'token_revoked', 'token_expired', 'account_inactive', 'missing_scope', 'not_authed'];

const slackHarness: Harness = {
  token: 'xoxb-CONFORMANCE-7f3a9c1e-SLACK-TOKEN',
  params: { channel: '#affiliate-fraud', text: 'Possible self-referral: lead@example.com' },
  async start(token) {
    const fake = await startSlackFake({ token });
    return {
      fake,
      configFor: (t) => ({ integrations: { SLACK_API_URL: fake.url, SLACK_BOT_TOKEN: t === null ? null : new Secret(t) } }),
      accepted: () => fake.received.length,
      requests: () => fake.requests.length,
      close: () => fake.close(),
    };
  },
  delay: (fake, ms) => (fake as SlackFake).script({ kind: 'delay', ms }),
  paceKey: (keyPrefix) => slackPaceKey(keyPrefix, '#affiliate-fraud'),
  failures: [
    ...SLACK_PERMANENT_CODES.map<FailureCase>((code) => ({
      name: `ok:false ${code}`,
      script: (fake) => (fake as SlackFake).script({ kind: 'error', error: code }),
      expected: { type: 'permanent', code },
    })),
    ...SLACK_RETRYABLE_CODES.map<FailureCase>((code) => ({
      name: `ok:false ${code}`,
      script: (fake) => (fake as SlackFake).script({ kind: 'error', error: code }),
      expected: { type: 'retryable', code, isRateLimit: false },
    })),
    ...SLACK_PAUSING_CODES.map<FailureCase>((code) => ({
      name: `ok:false ${code} (pauses the integration)`,
      script: (fake) => (fake as SlackFake).script({ kind: 'error', error: code }),
      expected: { type: 'paused', code },
    })),
    {
      // An enterprise migration: temporary, but for minutes to hours.
      name: 'ok:false org_login_required (retry after a long wait)',
      script: (fake) => (fake as SlackFake).script({ kind: 'error', error: 'org_login_required' }),
      expected: { type: 'retryable', code: 'org_login_required', isRateLimit: false, retryAfterMs: 600_000 },
    },
    {
      name: 'HTTP 429 with Retry-After: 7',
      script: (fake) => (fake as SlackFake).script({ kind: 'rate_limit', retryAfterSeconds: 7 }),
      expected: { type: 'retryable', code: 'ratelimited', isRateLimit: true, retryAfterMs: 7000 },
    },
    {
      name: 'HTTP 429 without Retry-After',
      script: (fake) => (fake as SlackFake).script({ kind: 'rate_limit', retryAfterSeconds: null }),
      expected: { type: 'retryable', code: 'ratelimited', isRateLimit: true, retryAfterMs: 1000 },
    },
    ...[500, 502, 503, 504].map<FailureCase>((status) => ({
      name: `HTTP ${status}`,
      script: (fake) => (fake as SlackFake).script({ kind: 'http_status', status }),
      expected: { type: 'retryable', code: `http_${status}`, isRateLimit: false },
    })),
    {
      name: 'connection dropped without an answer',
      script: (fake) => (fake as SlackFake).script({ kind: 'drop_connection' }),
      expected: { type: 'retryable', code: 'network_error', isRateLimit: false },
    },
  ],
  dryRunRequest: () => ({
    method: 'POST',
    path: '/api/chat.postMessage',
    contentType: 'application/x-www-form-urlencoded',
    // Every post carries metadata naming its job (exactly once, issue 12).
    body: {
      channel: '#affiliate-fraud',
      text: 'Possible self-referral: lead@example.com',
      metadata: { event_type: 'affiliate_bridge', event_payload: { job_id: DRY_RUN_JOB_ID } },
    },
  }),
};

const hubspotHarness: Harness = {
  token: 'pat-na1-CONFORMANCE-1b2c3d4e-HUBSPOT-TOKEN',
  params: { email: 'Lead@Example.com', properties: { affiliate_suspicion: 'same_ip', affiliate_score: 7 } },
  async start(token) {
    const fake = await startHubspotFake({ token, properties: ['affiliate_suspicion', 'affiliate_score'] });
    return {
      fake,
      configFor: (t) => ({ integrations: { HUBSPOT_BASE_URL: fake.url, HUBSPOT_ACCESS_TOKEN: t === null ? null : new Secret(t) } }),
      accepted: () => fake.contacts.size,
      requests: () => fake.calls.length,
      close: () => fake.close(),
    };
  },
  delay: (fake, ms) => (fake as HubspotFake).script({ kind: 'delay', ms }),
  paceKey: (keyPrefix) => hubspotPaceKey(keyPrefix),
  failures: [
    {
      name: '400 PROPERTY_DOESNT_EXIST',
      script: (fake) => (fake as HubspotFake).properties.delete('affiliate_score'),
      expected: { type: 'permanent', code: 'PROPERTY_DOESNT_EXIST' },
    },
    {
      name: '400 generic VALIDATION_ERROR',
      script: (fake) => (fake as HubspotFake).script({ kind: 'http_status', status: 400 }),
      expected: { type: 'permanent', code: 'VALIDATION_ERROR' },
    },
    {
      name: '409 CONFLICT (contact already exists)',
      script: (fake) => (fake as HubspotFake).script({ kind: 'http_status', status: 409 }),
      expected: { type: 'permanent', code: 'conflict' },
    },
    {
      name: '401 (token revoked): pauses the integration',
      script: (fake) => (fake as HubspotFake).script({ kind: 'http_status', status: 401 }),
      expected: { type: 'paused', code: 'unauthorized' },
    },
    {
      name: '403 missing scopes: pauses the integration',
      script: (fake) => (fake as HubspotFake).script({ kind: 'http_status', status: 403 }),
      expected: { type: 'paused', code: 'forbidden' },
    },
    {
      name: '404',
      script: (fake) => (fake as HubspotFake).script({ kind: 'http_status', status: 404 }),
      expected: { type: 'permanent', code: 'not_found' },
    },
    {
      name: '429 TEN_SECONDLY_ROLLING with Retry-After: 3',
      script: (fake) => (fake as HubspotFake).script({ kind: 'rate_limit', policy: 'TEN_SECONDLY_ROLLING', retryAfterSeconds: 3 }),
      expected: { type: 'retryable', code: 'rate_limit_ten_secondly', isRateLimit: true, retryAfterMs: 3000 },
    },
    {
      name: '429 TEN_SECONDLY_ROLLING without Retry-After: the whole window (X-HubSpot-RateLimit-Interval-Milliseconds)',
      script: (fake) => (fake as HubspotFake).script({ kind: 'rate_limit', policy: 'TEN_SECONDLY_ROLLING' }),
      expected: { type: 'retryable', code: 'rate_limit_ten_secondly', isRateLimit: true, retryAfterMs: 10_000 },
    },
    {
      name: '429 DAILY: wait until midnight UTC',
      script: (fake) => (fake as HubspotFake).script({ kind: 'rate_limit', policy: 'DAILY' }),
      expected: { type: 'retryable', code: 'rate_limit_daily', isRateLimit: true, retryAfterMs: MS_TO_MIDNIGHT },
    },
    ...[500, 502, 503, 504].map<FailureCase>((status) => ({
      name: `HTTP ${status}`,
      script: (fake) => (fake as HubspotFake).script({ kind: 'http_status', status }),
      expected: { type: 'retryable', code: `http_${status}`, isRateLimit: false },
    })),
    {
      name: 'HTTP 502 with an HTML page',
      script: (fake) =>
        (fake as HubspotFake).script({ kind: 'http_status', status: 502, contentType: 'text/html', body: '<html>Bad gateway</html>' }),
      expected: { type: 'retryable', code: 'http_502', isRateLimit: false },
    },
    {
      name: 'connection dropped without an answer',
      script: (fake) => (fake as HubspotFake).script({ kind: 'drop_connection' }),
      expected: { type: 'retryable', code: 'network_error', isRateLimit: false },
    },
  ],
  dryRunRequest: () => ({
    method: 'POST',
    path: '/crm/v3/objects/contacts/batch/upsert',
    body: {
      inputs: [
        // The email trimmed and lower-cased: HubSpot does not promise a case-insensitive match.
        { id: 'lead@example.com', idProperty: 'email', objectWriteTraceId: 't1', properties: { affiliate_suspicion: 'same_ip', affiliate_score: '7' } },
      ],
    },
  }),
  dryRunDetail: { notes: ['email sent as lead@example.com (trimmed, lower-cased; rendered "Lead@Example.com")'] },
};

const harnesses: Record<string, Harness> = {
  'slack.post_message': slackHarness,
  'hubspot.upsert_contact': hubspotHarness,
};

function expectActionError(error: unknown, expected: ExpectedError): void {
  if (expected.type === 'permanent') {
    expect(error, renderErrorChain(error)).to.be.instanceOf(PermanentActionError);
  } else if (expected.type === 'paused') {
    expect(error, renderErrorChain(error)).to.be.instanceOf(IntegrationPausedError);
  } else {
    expect(error, renderErrorChain(error)).to.be.instanceOf(RetryableActionError);
  }
  const actionError = error as PermanentActionError | RetryableActionError | IntegrationPausedError;
  expect(actionError.code).to.equal(expected.code);
  if (actionError instanceof RetryableActionError) {
    if (expected.isRateLimit !== undefined) expect(actionError.isRateLimit).to.equal(expected.isRateLimit);
    if (expected.retryAfterMs !== undefined) expect(actionError.retryAfterMs).to.equal(expected.retryAfterMs);
  }
}

describe('action conformance', () => {
  it('has a harness for every action in the registry', () => {
    expect(Object.keys(harnesses).sort()).to.deep.equal(Object.keys(actionRegistry).sort());
  });

  for (const [name, action] of Object.entries(actionRegistry)) {
    const harness = harnesses[name];
    if (!harness) continue;

    describe(name, () => {
      let testRedis: TestRedis;
      let running: RunningFake;
      let runner: ActionRunner<unknown> | undefined;
      let captured: ReturnType<typeof captureLogger>;

      beforeEach(async () => {
        testRedis = await openTestRedis();
        running = await harness.start(harness.token);
        captured = captureLogger();
        runner = undefined;
      });

      afterEach(async () => {
        await runner?.close?.();
        await running.close();
        await testRedis.cleanup();
        const leaks = captured.lines.filter((line) => line.includes(harness.token));
        expect(leaks, 'log lines holding the token').to.deep.equal([]);
      });

      function connect(overrides: TestConfigOverrides = {}, tokenOverride?: string | null): ActionRunner<unknown> {
        const forFake = running.configFor(tokenOverride === undefined ? harness.token : tokenOverride);
        const config = testConfig({
          actionTimeoutMs: 2_000,
          ...overrides,
          integrations: {
            ...forFake.integrations,
            SLACK_MESSAGES_PER_SECOND: 1_000,
            SLACK_MESSAGES_PER_MINUTE: 60_000,
            HUBSPOT_REQUESTS_PER_10_SECONDS: 10_000,
            ...overrides.integrations,
          },
        });
        runner = action.connect(
          testDeps({ config, redis: testRedis.redis, keyPrefix: testRedis.keyPrefix, logger: captured.logger, now: () => FIXED_NOW }),
        );
        return runner;
      }

      function expectNoTokenIn(error: unknown): void {
        expect(renderErrorChain(error)).not.to.include(harness.token);
      }

      it('validates its example params', () => {
        expect(() => action.params.validateSync(harness.params)).not.to.throw();
      });

      it('succeeds against the fake', async () => {
        const result = await connect().execute(harness.params, testContext(captured.logger));
        expect(result.outcome).to.equal('succeeded');
        expect(running.accepted()).to.equal(1);
      });

      it('runs as dry-run without credentials: the exact request, nothing sent', async () => {
        const result = await connect({}, null).execute(harness.params, testContext(captured.logger, { jobId: DRY_RUN_JOB_ID }));
        expect(result).to.deep.equal({
          outcome: 'dry_run',
          request: harness.dryRunRequest(running),
          ...(harness.dryRunDetail ? { detail: harness.dryRunDetail } : {}),
        });
        expect(running.requests()).to.equal(0);
      });

      it('declares a probe: it resolves with a working token and throws IntegrationPausedError for a refused one, no token in the error', async () => {
        const good = connect();
        expect(good.probe, 'the runner has a probe').to.be.a('function');
        await good.probe!(AbortSignal.timeout(2_000));
        await good.close?.();
        const refused = connect({}, 'a-token-the-fake-refuses-0000');
        const error = await rejectionOf(refused.probe!(AbortSignal.timeout(2_000)));
        expect(error, renderErrorChain(error)).to.be.instanceOf(IntegrationPausedError);
        expect(renderErrorChain(error)).not.to.include('a-token-the-fake-refuses-0000');
        expect(running.accepted()).to.equal(0);
      });

      for (const failure of harness.failures) {
        it(`maps ${failure.name} to ${failure.expected.type} ${failure.expected.code}`, async () => {
          failure.script(running.fake);
          const error = await rejectionOf(connect().execute(harness.params, testContext(captured.logger)));
          expectActionError(error, failure.expected);
          expectNoTokenIn(error);
          expect(running.accepted()).to.equal(0);
        });
      }

      it('maps its own timeout to retryable timeout', async () => {
        harness.delay(running.fake, 1_500);
        const started = Date.now();
        const error = await rejectionOf(
          connect({ actionTimeoutMs: 200 }).execute(harness.params, testContext(captured.logger)),
        );
        expectActionError(error, { type: 'retryable', code: 'timeout', isRateLimit: false });
        expect(Date.now() - started).to.be.lessThan(1_200);
        expectNoTokenIn(error);
      });

      it('honours ctx.signal: an abort mid-call is a retryable timeout', async () => {
        harness.delay(running.fake, 1_500);
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 150);
        const started = Date.now();
        const error = await rejectionOf(
          connect().execute(harness.params, testContext(captured.logger, { signal: controller.signal })),
        );
        expectActionError(error, { type: 'retryable', code: 'timeout', isRateLimit: false });
        expect(Date.now() - started).to.be.lessThan(1_200);
      });

      it('maps a refused connection (fake closed) to retryable network_error', async () => {
        const activeRunner = connect();
        await running.close();
        const error = await rejectionOf(activeRunner.execute(harness.params, testContext(captured.logger)));
        expectActionError(error, { type: 'retryable', code: 'network_error', isRateLimit: false });
        expectNoTokenIn(error);
      });

      it('hands back a far-away pacing slot as paced (rate limit, retryAfterMs), sending nothing', async () => {
        // Another worker has booked the pacing key a minute ahead: nothing is free within maxWait.
        await testRedis.redis.set(harness.paceKey(testRedis.keyPrefix), String(FIXED_NOW + 60_000), 'PX', 120_000);
        const error = await rejectionOf(
          connect({ integrations: { SLACK_MESSAGES_PER_SECOND: 1, HUBSPOT_REQUESTS_PER_10_SECONDS: 10 } }).execute(
            harness.params,
            testContext(captured.logger),
          ),
        );
        expectActionError(error, { type: 'retryable', code: 'paced', isRateLimit: true, retryAfterMs: 60_000 });
        expect(running.requests()).to.equal(0);
      });
    });
  }
});
