import * as yup from 'yup';
import { actionRegistry, type ActionRegistry } from '../actions/registry.js';
import { ConfigError } from '../errors.js';
import { Secret } from '../secret.js';
import {
  COMPLETED_ACTION_JOBS_KEPT,
  DEFAULT_ACTIONS_CONCURRENCY,
  DEFAULT_EVENTS_CONCURRENCY,
  DEFAULT_RETRY_POLICY,
  FAILED_JOBS_KEPT_SECONDS,
} from '../delivery/delivery-policy.js';
import { hashTagOf } from '../infra/redis.js';
import { DEFAULT_LOG_LEVEL } from '../observability/logger.js';
import { collectStrippedFields, sourceRegistry, type SourceRegistry } from '../sources/registry.js';
import { DEFAULT_PORT, DEFAULT_RULES_DIR, positiveIntegerSchema, urlSchema, type EnvDeclaration, type EnvVariable } from './env-variable.js';
import { isBareNumber, parseByteSize, parseDuration } from '../infra/units.js';

/**
 * The two lists everything else derives from. The shipped ones are the default; a test passes
 * its own to run a toy source or action through the real bridge.
 */
export interface Registries {
  /** @defaultValue sourceRegistry */
  readonly sources: SourceRegistry;
  /** @defaultValue actionRegistry */
  readonly actions: ActionRegistry;
}

/** The registries the bridge ships with. */
export const shippedRegistries: Registries = Object.freeze({ sources: sourceRegistry, actions: actionRegistry });

/** Where the bridge looks for Redis when REDIS_URL is unset (and where `start` runs its managed one). */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The bridge's validated configuration. Built once, from the environment, in main.ts. */
export interface BridgeConfig {
  /** HTTP port. @defaultValue DEFAULT_PORT (3000) */
  readonly port: number;
  /** Redis for BullMQ and state. @defaultValue redis://127.0.0.1:6379 */
  readonly redisUrl: string;
  /**
   * REDIS_URL was set (not defaulted). Only when it was not may `start` run a managed redis-server
   * of its own; a set URL names a Redis someone else runs, and the bridge waits for it. @defaultValue false
   */
  readonly isRedisUrlSet: boolean;
  /** BullMQ prefix; use a `{hash tag}` on Redis Cluster. @defaultValue bridge */
  readonly queuePrefix: string;
  /** REDIS_URL is a seed node of a Redis Cluster (QUEUE_PREFIX must then hold a `{hash tag}`). @defaultValue false */
  readonly redisCluster: boolean;
  /** Rule files, watched for changes. @defaultValue DEFAULT_RULES_DIR (./rules) */
  readonly rulesDir: string;
  /** Local trials only: accept sources with no secret set. @defaultValue false */
  readonly allowUnsignedWebhooks: boolean;
  /** How long a delivered event id is remembered, in ms. @defaultValue 7d */
  readonly dedupTtlMs: number;
  /** How long failed jobs stay (the dead-letter list, `events failed`), in ms (FAILED_JOBS_TTL). @defaultValue 30d */
  readonly failedJobsTtlMs: number;
  /** Completed action jobs kept at most, whatever their age (COMPLETED_ACTIONS_KEPT). @defaultValue COMPLETED_ACTION_JOBS_KEPT (100000) */
  readonly completedActionsKept: number;
  /** Largest accepted webhook body, in bytes. @defaultValue DEFAULT_BODY_LIMIT (64kb) */
  readonly bodyLimitBytes: number;
  /** pino level. @defaultValue DEFAULT_LOG_LEVEL (info) */
  readonly logLevel: string;
  /**
   * Payload fields stripped before storage and logs (dotted paths, any depth).
   * @defaultValue every source's own `strippedFields` (auth_token,temp_password)
   */
  readonly strippedFields: readonly string[];
  /** Port of /metrics for a worker-only process. @defaultValue 9464 */
  readonly metricsPort: number;
  /** Token for /admin; unset turns the dashboard off. @defaultValue unset */
  readonly adminToken: Secret | null;
  /** Timeout of every outbound call, in ms. @defaultValue 10s */
  readonly actionTimeoutMs: number;
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
  /** How long a client may take to send a request's headers, in ms (HTTP_HEADERS_TIMEOUT). @defaultValue DEFAULT_HTTP_HEADERS_TIMEOUT_MS (10s) */
  readonly httpHeadersTimeoutMs: number;
  /** How long a client may take to send a whole request, body included, in ms (HTTP_REQUEST_TIMEOUT). @defaultValue DEFAULT_HTTP_REQUEST_TIMEOUT_MS (15s) */
  readonly httpRequestTimeoutMs: number;
  /** Open connections the HTTP server accepts at once; more are closed at once (HTTP_MAX_CONNECTIONS). @defaultValue DEFAULT_HTTP_MAX_CONNECTIONS (256) */
  readonly httpMaxConnections: number;
  /** Bearer token `/metrics` asks for (METRICS_TOKEN); unset: `/metrics` is open. @defaultValue unset */
  readonly metricsToken: Secret | null;
  /**
   * Express's `trust proxy` (TRUST_PROXY): which proxies' `X-Forwarded-For` and `X-Forwarded-Proto`
   * are believed, so the admin throttle sees the client's address and the session cookie is marked
   * `Secure` behind a TLS proxy. `false`: none (the socket's address and protocol count).
   * @defaultValue false
   */
  readonly trustProxy: boolean | number | string;
  /** Mark the admin session cookie `Secure` whatever the request's protocol (ADMIN_COOKIE_SECURE). @defaultValue false */
  readonly adminCookieSecure: boolean;
  /** How often the workers reconcile each source whose API credentials are set, in ms. @defaultValue 15m */
  readonly reconcileIntervalMs: number;
  /**
   * How far back a scheduled reconciliation looks, in ms (further, back to the last success, after
   * failed runs); the entity ledger keeps objects at least this long. @defaultValue 48h
   */
  readonly reconcileWindowMs: number;
  /**
   * The settings every source and action declared (`env` of its descriptor), by variable name:
   * `{ FIRSTPROMOTER_WEBHOOK_TOKEN: Secret | null, SLACK_API_URL: 'https://slack.com/api/', … }`.
   * Read them typed with `readSettings(config, descriptor.env)`.
   * @defaultValue each variable's own default
   */
  readonly integrations: Readonly<Record<string, unknown>>;
}

const duration = (name: string) =>
  yup
    .string()
    .test('duration', `${name} must be a duration such as 500ms, 30s, 10m, 12h or 7d`, (value, context) => {
      if (value === undefined || parseDuration(value) !== null) return true;
      // A bare number is the likeliest slip (`ACTION_TIMEOUT=10`): name the unit it lacks.
      if (isBareNumber(value)) {
        const number = value.trim();
        return context.createError({ message: `${name}=${number} has no unit: write ${number}s or ${number}ms (a duration such as 500ms, 30s, 10m, 12h or 7d)` });
      }
      return false;
    });

const positiveInteger = (name: string) => positiveIntegerSchema(name);

/** 0 asks the system for a free port (tests). */
const portNumber = (name: string) =>
  yup
    .string()
    .test('port', `${name} must be a port number between 0 and 65535`, (v) => v === undefined || v === '' || (/^[0-9]+$/.test(v) && Number(v) <= 65535));

const booleanFlag = (name: string) =>
  yup.string().oneOf(['true', 'false', '1', '0', ''], `${name} must be true or false`);

const url = (name: string, protocols: string[]) => urlSchema(protocols, name);

/**
 * BODY_LIMIT when unset. The largest payload the providers document is about 4 KB (FirstPromoter's
 * `promoter_accepted`, 3.8 KB with its campaign and the echoed webhook URL; the seed pages in
 * docs.firstpromoter.com/webhooks and developers.rewardful.com/webhooks show none larger); 64 KB
 * leaves 16 times that for custom fields and long lists, and bounds what one connection can make
 * the bridge buffer (HTTP_MAX_CONNECTIONS × BODY_LIMIT in all: 16 MB by default).
 */
export const DEFAULT_BODY_LIMIT = '64kb';

/** HTTP_HEADERS_TIMEOUT when unset: a provider sends its headers at once; a slow-loris sender does not. */
export const DEFAULT_HTTP_HEADERS_TIMEOUT_MS = 10_000;

/** HTTP_REQUEST_TIMEOUT when unset: a 64 KB body takes well under a second on any provider's link. */
export const DEFAULT_HTTP_REQUEST_TIMEOUT_MS = 15_000;

/**
 * HTTP_MAX_CONNECTIONS when unset. Providers deliver a few requests at a time; 256 leaves room for a
 * load balancer's pool, the dashboard and scrapes, and caps what slow senders can hold open.
 */
export const DEFAULT_HTTP_MAX_CONNECTIONS = 256;

/** The shortest ADMIN_TOKEN accepted: 24 characters, too many to guess at any throttled rate. */
export const MIN_ADMIN_TOKEN_LENGTH = 24;

/** The fewest non-blank characters a webhook secret must hold (FIRSTPROMOTER_WEBHOOK_TOKEN, REWARDFUL_SIGNING_SECRET). */
export const MIN_WEBHOOK_SECRET_LENGTH = 16;

/** QUEUE_PREFIX when unset: one constant for the default and for the Cluster check of the default. */
const DEFAULT_QUEUE_PREFIX = 'bridge';

/** The bridge's own variables; every integration's come from its descriptor. */
const coreFields = {
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
        hashTagOf(value === undefined || value === '' ? DEFAULT_QUEUE_PREFIX : value) !== null,
    ),
  REDIS_CLUSTER: booleanFlag('REDIS_CLUSTER'),
  RULES_DIR: yup.string(),
  ALLOW_UNSIGNED_WEBHOOKS: booleanFlag('ALLOW_UNSIGNED_WEBHOOKS'),
  DEDUP_TTL: duration('DEDUP_TTL'),
  FAILED_JOBS_TTL: duration('FAILED_JOBS_TTL'),
  COMPLETED_ACTIONS_KEPT: positiveInteger('COMPLETED_ACTIONS_KEPT'),
  BODY_LIMIT: yup
    .string()
    .test('size', 'BODY_LIMIT must be a size such as 512kb or 1mb', (v) => v === undefined || parseByteSize(v) !== null),
  LOG_LEVEL: yup
    .string()
    .oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent', ''], 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent'),
  STRIPPED_FIELDS: yup.string(),
  METRICS_PORT: portNumber('METRICS_PORT'),
  ADMIN_TOKEN: yup
    .string()
    // Never the value in the message: a config error is printed.
    .test(
      'admin-token-length',
      `ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters long (e.g. openssl rand -hex 16); unset it to turn the dashboard off`,
      (value) => value === undefined || value === '' || value.length >= MIN_ADMIN_TOKEN_LENGTH,
    ),
  METRICS_TOKEN: yup.string(),
  HTTP_HEADERS_TIMEOUT: duration('HTTP_HEADERS_TIMEOUT'),
  HTTP_REQUEST_TIMEOUT: duration('HTTP_REQUEST_TIMEOUT').test(
    'request-after-headers',
    'HTTP_REQUEST_TIMEOUT must not be shorter than HTTP_HEADERS_TIMEOUT',
    (value, context) => {
      const headers = parseDuration(or((context.parent as Record<string, string | undefined>).HTTP_HEADERS_TIMEOUT, '')) ?? DEFAULT_HTTP_HEADERS_TIMEOUT_MS;
      const request = value === undefined || value === '' ? DEFAULT_HTTP_REQUEST_TIMEOUT_MS : parseDuration(value);
      return request === null || request >= headers;
    },
  ),
  HTTP_MAX_CONNECTIONS: positiveInteger('HTTP_MAX_CONNECTIONS'),
  TRUST_PROXY: yup
    .string()
    .matches(/^(true|false|[0-9]+|[0-9A-Za-z.:/,\s]+)$/, {
      message: 'TRUST_PROXY must be true, false, a number of proxies, or a comma-separated list of proxy addresses or subnets (loopback, 10.0.0.0/8)',
      excludeEmptyString: true,
    }),
  ADMIN_COOKIE_SECURE: booleanFlag('ADMIN_COOKIE_SECURE'),
  ACTION_TIMEOUT: duration('ACTION_TIMEOUT'),
  EVENTS_CONCURRENCY: positiveInteger('EVENTS_CONCURRENCY'),
  ACTIONS_CONCURRENCY: positiveInteger('ACTIONS_CONCURRENCY'),
  SHUTDOWN_TIMEOUT: duration('SHUTDOWN_TIMEOUT'),
  ACTION_ATTEMPTS: positiveInteger('ACTION_ATTEMPTS'),
  ACTION_BACKOFF_BASE: duration('ACTION_BACKOFF_BASE'),
  RECONCILE_INTERVAL: duration('RECONCILE_INTERVAL'),
  RECONCILE_WINDOW: duration('RECONCILE_WINDOW'),
};

/**
 * Every variable the sources and actions of `registries` declare, by name, in registry order.
 * Actions of one integration share one declaration, so a name may come twice with the same object.
 * @throws TypeError when two descriptors declare one name differently, or one takes a core name.
 */
export function collectIntegrationVariables(registries: Registries = shippedRegistries): ReadonlyMap<string, EnvVariable<unknown>> {
  const variables = new Map<string, EnvVariable<unknown>>();
  const owners = new Map<string, string>();
  const descriptors = [...Object.values(registries.sources), ...Object.values(registries.actions)];
  for (const descriptor of descriptors) {
    for (const [name, variable] of Object.entries(descriptor.env as EnvDeclaration)) {
      if (Object.hasOwn(coreFields, name)) throw new TypeError(`${descriptor.name} declares ${name}, which the bridge itself reads`);
      const known = variables.get(name);
      if (known !== undefined && known !== variable) {
        throw new TypeError(`${descriptor.name} and ${owners.get(name)} both declare ${name}, differently`);
      }
      variables.set(name, variable);
      owners.set(name, descriptor.name);
    }
  }
  return variables;
}

// One schema per pair of registries: building it is cheap, but loadConfig runs in every command.
const schemas = new WeakMap<Registries, { schema: yup.AnyObjectSchema; variables: ReadonlyMap<string, EnvVariable<unknown>> }>();

function environmentSchemaFor(registries: Registries) {
  let entry = schemas.get(registries);
  if (!entry) {
    const variables = collectIntegrationVariables(registries);
    const fields: Record<string, yup.AnySchema> = { ...coreFields };
    for (const [name, variable] of variables) fields[name] = variable.schema;
    // A webhook secret is all that stands between the internet and the intake: a short one is
    // refused at start-up, whichever source declares it.
    for (const source of Object.values(registries.sources)) {
      fields[source.webhookSecret] = (fields[source.webhookSecret] as yup.StringSchema).test(
        'webhook-secret-length',
        `${source.webhookSecret} must hold at least ${MIN_WEBHOOK_SECRET_LENGTH} non-blank characters (e.g. openssl rand -hex 16)`,
        (value) => value === undefined || value === '' || value.replace(/\s/g, '').length >= MIN_WEBHOOK_SECRET_LENGTH,
      );
    }
    entry = { schema: yup.object(fields), variables };
    schemas.set(registries, entry);
  }
  return entry;
}

/** Every environment variable the bridge reads, as the schema validates them (for docs and tests). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(environmentSchemaFor(shippedRegistries).schema.fields);

const optionalSecret = (value: string | undefined): Secret | null =>
  value === undefined || value === '' ? null : new Secret(value);

const or = (value: string | undefined, fallback: string): string =>
  value === undefined || value === '' ? fallback : value;

/**
 * Reads and validates the bridge's configuration from environment variables.
 * @throws ConfigError listing every problem, one line each, when any value is invalid.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>, registries: Registries = shippedRegistries): BridgeConfig {
  const { schema, variables } = environmentSchemaFor(registries);
  try {
    schema.validateSync(env, { abortEarly: false });
  } catch (error) {
    if (error instanceof yup.ValidationError) throw new ConfigError(error.errors);
    throw error;
  }
  return {
    port: Number(or(env.PORT, String(DEFAULT_PORT))),
    redisUrl: or(env.REDIS_URL, DEFAULT_REDIS_URL),
    isRedisUrlSet: env.REDIS_URL !== undefined && env.REDIS_URL !== '',
    queuePrefix: or(env.QUEUE_PREFIX, DEFAULT_QUEUE_PREFIX),
    redisCluster: ['true', '1'].includes(env.REDIS_CLUSTER ?? ''),
    rulesDir: or(env.RULES_DIR, DEFAULT_RULES_DIR),
    allowUnsignedWebhooks: ['true', '1'].includes(env.ALLOW_UNSIGNED_WEBHOOKS ?? ''),
    dedupTtlMs: parseDuration(or(env.DEDUP_TTL, '7d'))!,
    failedJobsTtlMs: env.FAILED_JOBS_TTL ? parseDuration(env.FAILED_JOBS_TTL)! : FAILED_JOBS_KEPT_SECONDS * 1000,
    completedActionsKept: env.COMPLETED_ACTIONS_KEPT ? Number(env.COMPLETED_ACTIONS_KEPT) : COMPLETED_ACTION_JOBS_KEPT,
    bodyLimitBytes: parseByteSize(or(env.BODY_LIMIT, DEFAULT_BODY_LIMIT))!,
    logLevel: or(env.LOG_LEVEL, DEFAULT_LOG_LEVEL),
    strippedFields: or(env.STRIPPED_FIELDS, collectStrippedFields(registries.sources).join(','))
      .split(',')
      .map((field) => field.trim())
      .filter(Boolean),
    metricsPort: Number(or(env.METRICS_PORT, '9464')),
    adminToken: optionalSecret(env.ADMIN_TOKEN),
    actionTimeoutMs: parseDuration(or(env.ACTION_TIMEOUT, '10s'))!,
    eventsConcurrency: Number(or(env.EVENTS_CONCURRENCY, String(DEFAULT_EVENTS_CONCURRENCY))),
    actionsConcurrency: Number(or(env.ACTIONS_CONCURRENCY, String(DEFAULT_ACTIONS_CONCURRENCY))),
    shutdownTimeoutMs: parseDuration(or(env.SHUTDOWN_TIMEOUT, '10s'))!,
    httpHeadersTimeoutMs: env.HTTP_HEADERS_TIMEOUT ? parseDuration(env.HTTP_HEADERS_TIMEOUT)! : DEFAULT_HTTP_HEADERS_TIMEOUT_MS,
    httpRequestTimeoutMs: env.HTTP_REQUEST_TIMEOUT ? parseDuration(env.HTTP_REQUEST_TIMEOUT)! : DEFAULT_HTTP_REQUEST_TIMEOUT_MS,
    httpMaxConnections: env.HTTP_MAX_CONNECTIONS ? Number(env.HTTP_MAX_CONNECTIONS) : DEFAULT_HTTP_MAX_CONNECTIONS,
    metricsToken: optionalSecret(env.METRICS_TOKEN),
    trustProxy: readTrustProxy(env.TRUST_PROXY),
    adminCookieSecure: ['true', '1'].includes(env.ADMIN_COOKIE_SECURE ?? ''),
    reconcileIntervalMs: parseDuration(or(env.RECONCILE_INTERVAL, '15m'))!,
    reconcileWindowMs: parseDuration(or(env.RECONCILE_WINDOW, '48h'))!,
    // The delivery policy owns these defaults: unset, the named default policy is what runs.
    actionAttempts: env.ACTION_ATTEMPTS ? Number(env.ACTION_ATTEMPTS) : DEFAULT_RETRY_POLICY.attempts,
    actionBackoffBaseMs: env.ACTION_BACKOFF_BASE ? parseDuration(env.ACTION_BACKOFF_BASE)! : DEFAULT_RETRY_POLICY.baseDelayMs,
    integrations: Object.fromEntries([...variables].map(([name, variable]) => [name, variable.read(env[name])])),
  };
}

/** TRUST_PROXY as Express's `trust proxy` takes it: a boolean, a hop count, or a list of addresses. */
function readTrustProxy(raw: string | undefined): boolean | number | string {
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^[0-9]+$/.test(raw)) return Number(raw);
  return raw;
}
