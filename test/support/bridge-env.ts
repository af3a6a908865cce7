import { TEST_FIRSTPROMOTER_TOKEN, TEST_REWARDFUL_SECRET } from './intake-app.js';
import { SHARED_REDIS_URL } from './redis.js';

/** A fake API the bridge is pointed at; without a token the integration runs as dry-run. */
export interface FakeEndpoint {
  readonly url: string;
  readonly token?: string;
}

export interface BridgeTestEnvOptions {
  readonly prefix: string;
  readonly rulesDir: string;
  /** @defaultValue the shared Redis */
  readonly redisUrl?: string;
  readonly slack?: FakeEndpoint;
  readonly hubspot?: FakeEndpoint;
  /** Anything else, applied last (it wins over the defaults above). */
  readonly extra?: Readonly<Record<string, string>>;
}

/**
 * The environment of a bridge process under test: Redis and prefix, rules, both webhook secrets,
 * the fakes, and test-speed pacing and backoff (the shipped defaults are Slack's real one message
 * per second per channel and a 15 s first retry).
 */
export function bridgeTestEnv(options: BridgeTestEnvOptions): Record<string, string> {
  const { slack, hubspot } = options;
  return {
    REDIS_URL: options.redisUrl ?? SHARED_REDIS_URL,
    QUEUE_PREFIX: options.prefix,
    RULES_DIR: options.rulesDir,
    FIRSTPROMOTER_WEBHOOK_TOKEN: TEST_FIRSTPROMOTER_TOKEN,
    REWARDFUL_SIGNING_SECRET: TEST_REWARDFUL_SECRET,
    SLACK_MESSAGES_PER_SECOND: '20',
    SLACK_MESSAGES_PER_MINUTE: '60000',
    ACTION_BACKOFF_BASE: '100ms',
    ...(slack ? { SLACK_API_URL: slack.url, ...(slack.token ? { SLACK_BOT_TOKEN: slack.token } : {}) } : {}),
    ...(hubspot ? { HUBSPOT_BASE_URL: hubspot.url, ...(hubspot.token ? { HUBSPOT_ACCESS_TOKEN: hubspot.token } : {}) } : {}),
    ...options.extra,
  };
}
