import * as yup from 'yup';
import { ConfigError } from '../errors.js';
import { Secret } from '../secret.js';
import { DEFAULT_ACTIONS_CONCURRENCY, DEFAULT_EVENTS_CONCURRENCY, DEFAULT_RETRY_POLICY } from '../queue/delivery-policy.js';
import { hashTagOf } from '../queue/redis.js';
import { parseByteSize, parseDuration } from './units.js';

/** The bridge's validated configuration. Built once, from the environment, in main.ts. */
export interface BridgeConfig {
  /** HTTP port. @defaultValue 3000 */
  readonly port: number;
  /** Redis for BullMQ and state. @defaultValue redis://127.0.0.1:6379 */
  readonly redisUrl: string;
  /** BullMQ prefix; use a `{hash tag}` on Redis Cluster. @defaultValue bridge */
  readonly queuePrefix: string;
  /** REDIS_URL is a seed node of a Redis Cluster (QUEUE_PREFIX must then hold a `{hash tag}`). @defaultValue false */
  readonly redisCluster: boolean;
  /** Rule files, watched for changes. @defaultValue ./rules */
  readonly rulesDir: string;
  /** Shared token for FirstPromoter deliveries. @defaultValue unset (401 to everything) */
  readonly firstpromoterWebhookToken: Secret | null;
  /** HMAC-SHA256 key for `X-Rewardful-Signature`. @defaultValue unset (401 to everything) */
  readonly rewardfulSigningSecret: Secret | null;
  /** Local trials only: accept sources with no secret set. @defaultValue false */
  readonly allowUnsignedWebhooks: boolean;
  /** @defaultValue unset: Slack actions run as dry-run */
  readonly slackBotToken: Secret | null;
  /** Base URL of the Slack Web API, ending in `/api/`. @defaultValue https://slack.com/api/ */
  readonly slackApiUrl: string;
  /** @defaultValue unset: HubSpot actions run as dry-run */
  readonly hubspotAccessToken: Secret | null;
  /** Base path of the HubSpot API. @defaultValue https://api.hubapi.com */
  readonly hubspotBaseUrl: string;
  /** How long a delivered event id is remembered, in ms. @defaultValue 7d */
  readonly dedupTtlMs: number;
  /** Largest accepted webhook body, in bytes. @defaultValue 1mb */
  readonly bodyLimitBytes: number;
  /** pino level. @defaultValue info */
  readonly logLevel: string;
  /** Payload fields stripped before storage and logs (dotted paths, any depth). @defaultValue auth_token,temp_password */
  readonly strippedFields: readonly string[];
  /** Port of /metrics for a worker-only process. @defaultValue 9464 */
  readonly metricsPort: number;
  /** Token for /admin; unset turns the dashboard off. @defaultValue unset */
  readonly adminToken: Secret | null;
  /** Timeout of every outbound call, in ms. @defaultValue 10s */
  readonly actionTimeoutMs: number;
  /** Slack messages per second per channel, shared by all workers. @defaultValue 1 */
  readonly slackMessagesPerSecond: number;
  /** HubSpot requests per 10 seconds, shared by all workers. @defaultValue 90 */
  readonly hubspotRequestsPer10Seconds: number;
  /** Events worker concurrency per process. @defaultValue DEFAULT_EVENTS_CONCURRENCY (20) */
  readonly eventsConcurrency: number;
  /** Actions worker concurrency per process. @defaultValue DEFAULT_ACTIONS_CONCURRENCY (50) */
  readonly actionsConcurrency: number;
  /** Tries per action (first included), unless a rule overrides it. @defaultValue DEFAULT_RETRY_POLICY.attempts (12) */
  readonly actionAttempts: number;
  /** Wait before an action's first retry, in ms; doubles per retry (with jitter). @defaultValue DEFAULT_RETRY_POLICY.baseDelayMs (15s) */
  readonly actionBackoffBaseMs: number;
  /** How long SIGTERM waits for in-flight work before exiting, in ms. @defaultValue 10s */
  readonly shutdownTimeoutMs: number;
}

const duration = (name: string) =>
  yup
    .string()
    .test('duration', `${name} must be a duration such as 500ms, 30s, 10m, 12h or 7d`, (value) =>
      value === undefined ? true : parseDuration(value) !== null,
    );

const positiveInteger = (name: string) =>
  yup
    .string()
    .matches(/^[1-9][0-9]*$/, { message: `${name} must be a positive integer`, excludeEmptyString: true });

/** 0 asks the system for a free port (tests). */
const portNumber = (name: string) =>
  yup
    .string()
    .test('port', `${name} must be a port number between 0 and 65535`, (v) => v === undefined || v === '' || (/^[0-9]+$/.test(v) && Number(v) <= 65535));

const booleanFlag = (name: string) =>
  yup.string().oneOf(['true', 'false', '1', '0', ''], `${name} must be true or false`);

const url = (name: string, protocols: string[]) =>
  yup
    .string()
    .test('url', `${name} must be a URL starting with ${protocols.join(' or ')}`, (value) => {
      if (value === undefined || value === '') return true;
      try {
        return protocols.includes(new URL(value).protocol.replace(':', '') + '://');
      } catch {
        return false;
      }
    });

const environmentSchema = yup.object({
  PORT: portNumber('PORT'),
  REDIS_URL: url('REDIS_URL', ['redis://', 'rediss://']),
  QUEUE_PREFIX: yup
    .string()
    .matches(/^[A-Za-z0-9_{}-]+$/, {
      message: 'QUEUE_PREFIX may hold only letters, digits, _, -, { and }',
      excludeEmptyString: true,
    })
    // On a Cluster, BullMQ's Lua scripts touch several keys of a queue at once: they must share a
    // slot, which only a hash tag in the prefix guarantees. Refused here, not found at the first job.
    .test(
      'cluster-hash-tag',
      'QUEUE_PREFIX must contain a {hash tag}, such as {bridge}, when REDIS_CLUSTER=true: every key of a queue must land in one Cluster slot',
      (value, context) =>
        !['true', '1'].includes(String((context.parent as Record<string, unknown>).REDIS_CLUSTER ?? '')) ||
        hashTagOf(value === undefined || value === '' ? 'bridge' : value) !== null,
    ),
  REDIS_CLUSTER: booleanFlag('REDIS_CLUSTER'),
  RULES_DIR: yup.string(),
  FIRSTPROMOTER_WEBHOOK_TOKEN: yup.string(),
  REWARDFUL_SIGNING_SECRET: yup.string(),
  ALLOW_UNSIGNED_WEBHOOKS: booleanFlag('ALLOW_UNSIGNED_WEBHOOKS'),
  SLACK_BOT_TOKEN: yup.string(),
  SLACK_API_URL: url('SLACK_API_URL', ['http://', 'https://']),
  HUBSPOT_ACCESS_TOKEN: yup.string(),
  HUBSPOT_BASE_URL: url('HUBSPOT_BASE_URL', ['http://', 'https://']),
  DEDUP_TTL: duration('DEDUP_TTL'),
  BODY_LIMIT: yup
    .string()
    .test('size', 'BODY_LIMIT must be a size such as 512kb or 1mb', (v) => v === undefined || parseByteSize(v) !== null),
  LOG_LEVEL: yup
    .string()
    .oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent', ''], 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent'),
  STRIPPED_FIELDS: yup.string(),
  METRICS_PORT: portNumber('METRICS_PORT'),
  ADMIN_TOKEN: yup.string(),
  ACTION_TIMEOUT: duration('ACTION_TIMEOUT'),
  SLACK_MESSAGES_PER_SECOND: positiveInteger('SLACK_MESSAGES_PER_SECOND'),
  HUBSPOT_REQUESTS_PER_10_SECONDS: positiveInteger('HUBSPOT_REQUESTS_PER_10_SECONDS'),
  EVENTS_CONCURRENCY: positiveInteger('EVENTS_CONCURRENCY'),
  ACTIONS_CONCURRENCY: positiveInteger('ACTIONS_CONCURRENCY'),
  SHUTDOWN_TIMEOUT: duration('SHUTDOWN_TIMEOUT'),
  ACTION_ATTEMPTS: positiveInteger('ACTION_ATTEMPTS'),
  ACTION_BACKOFF_BASE: duration('ACTION_BACKOFF_BASE'),
});

/** Every environment variable the bridge reads, as the schema validates them (for docs and tests). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(environmentSchema.fields);

const optionalSecret = (value: string | undefined): Secret | null =>
  value === undefined || value === '' ? null : new Secret(value);

const or = (value: string | undefined, fallback: string): string =>
  value === undefined || value === '' ? fallback : value;

/**
 * Reads and validates the bridge's configuration from environment variables.
 * @throws ConfigError listing every problem, one line each, when any value is invalid.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): BridgeConfig {
  try {
    environmentSchema.validateSync(env, { abortEarly: false });
  } catch (error) {
    if (error instanceof yup.ValidationError) throw new ConfigError(error.errors);
    throw error;
  }
  return {
    port: Number(or(env.PORT, '3000')),
    redisUrl: or(env.REDIS_URL, 'redis://127.0.0.1:6379'),
    queuePrefix: or(env.QUEUE_PREFIX, 'bridge'),
    redisCluster: ['true', '1'].includes(env.REDIS_CLUSTER ?? ''),
    rulesDir: or(env.RULES_DIR, './rules'),
    firstpromoterWebhookToken: optionalSecret(env.FIRSTPROMOTER_WEBHOOK_TOKEN),
    rewardfulSigningSecret: optionalSecret(env.REWARDFUL_SIGNING_SECRET),
    allowUnsignedWebhooks: ['true', '1'].includes(env.ALLOW_UNSIGNED_WEBHOOKS ?? ''),
    slackBotToken: optionalSecret(env.SLACK_BOT_TOKEN),
    slackApiUrl: or(env.SLACK_API_URL, 'https://slack.com/api/'),
    hubspotAccessToken: optionalSecret(env.HUBSPOT_ACCESS_TOKEN),
    hubspotBaseUrl: or(env.HUBSPOT_BASE_URL, 'https://api.hubapi.com'),
    dedupTtlMs: parseDuration(or(env.DEDUP_TTL, '7d'))!,
    bodyLimitBytes: parseByteSize(or(env.BODY_LIMIT, '1mb'))!,
    logLevel: or(env.LOG_LEVEL, 'info'),
    strippedFields: or(env.STRIPPED_FIELDS, 'auth_token,temp_password')
      .split(',')
      .map((field) => field.trim())
      .filter(Boolean),
    metricsPort: Number(or(env.METRICS_PORT, '9464')),
    adminToken: optionalSecret(env.ADMIN_TOKEN),
    actionTimeoutMs: parseDuration(or(env.ACTION_TIMEOUT, '10s'))!,
    slackMessagesPerSecond: Number(or(env.SLACK_MESSAGES_PER_SECOND, '1')),
    hubspotRequestsPer10Seconds: Number(or(env.HUBSPOT_REQUESTS_PER_10_SECONDS, '90')),
    eventsConcurrency: Number(or(env.EVENTS_CONCURRENCY, String(DEFAULT_EVENTS_CONCURRENCY))),
    actionsConcurrency: Number(or(env.ACTIONS_CONCURRENCY, String(DEFAULT_ACTIONS_CONCURRENCY))),
    shutdownTimeoutMs: parseDuration(or(env.SHUTDOWN_TIMEOUT, '10s'))!,
    // The delivery policy owns these defaults: unset, the named default policy is what runs.
    actionAttempts: env.ACTION_ATTEMPTS ? Number(env.ACTION_ATTEMPTS) : DEFAULT_RETRY_POLICY.attempts,
    actionBackoffBaseMs: env.ACTION_BACKOFF_BASE ? parseDuration(env.ACTION_BACKOFF_BASE)! : DEFAULT_RETRY_POLICY.baseDelayMs,
  };
}
