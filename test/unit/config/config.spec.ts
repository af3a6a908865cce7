import { expect } from 'chai';
import { loadConfig } from '../../../src/config/config.js';
import { parseByteSize, parseDuration } from '../../../src/infra/units.js';
import { ConfigError } from '../../../src/errors.js';
import type { Secret } from '../../../src/secret.js';

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config).to.include({
      port: 3000,
      redisUrl: 'redis://127.0.0.1:6379',
      queuePrefix: 'bridge',
      rulesDir: './rules',
      allowUnsignedWebhooks: false,
      dedupTtlMs: 7 * 24 * 3600 * 1000,
      bodyLimitBytes: 64 * 1024,
      logLevel: 'info',
      actionTimeoutMs: 10_000,
      httpHeadersTimeoutMs: 10_000,
      httpRequestTimeoutMs: 15_000,
      httpMaxConnections: 256,
      metricsToken: null,
      trustProxy: false,
      adminCookieSecure: false,
    });
    expect(config.integrations).to.include({ FIRSTPROMOTER_WEBHOOK_TOKEN: null, SLACK_BOT_TOKEN: null });
    expect(config.strippedFields).to.deep.equal(['auth_token', 'temp_password']);
  });

  it('knows whether REDIS_URL was set or defaulted (only a defaulted one lets `start` run its own Redis)', () => {
    expect(loadConfig({})).to.include({ redisUrl: 'redis://127.0.0.1:6379', isRedisUrlSet: false });
    expect(loadConfig({ REDIS_URL: '' })).to.include({ redisUrl: 'redis://127.0.0.1:6379', isRedisUrlSet: false });
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' })).to.include({ redisUrl: 'redis://127.0.0.1:6379', isRedisUrlSet: true });
  });

  it('reads every variable it is given', () => {
    const config = loadConfig({
      PORT: '8080',
      REDIS_URL: 'redis://redis:6379/2',
      QUEUE_PREFIX: '{bridge}',
      DEDUP_TTL: '36h',
      BODY_LIMIT: '512kb',
      ALLOW_UNSIGNED_WEBHOOKS: 'true',
      STRIPPED_FIELDS: 'auth_token, promoter.profile.paypal_email',
      FIRSTPROMOTER_WEBHOOK_TOKEN: 'fp-secret-0123456789',
      HTTP_HEADERS_TIMEOUT: '5s',
      HTTP_REQUEST_TIMEOUT: '20s',
      HTTP_MAX_CONNECTIONS: '64',
      METRICS_TOKEN: 'scrape-token',
      TRUST_PROXY: 'loopback, 10.0.0.0/8',
      ADMIN_COOKIE_SECURE: 'true',
    });
    expect(config).to.include({ httpHeadersTimeoutMs: 5_000, httpRequestTimeoutMs: 20_000, httpMaxConnections: 64, trustProxy: 'loopback, 10.0.0.0/8', adminCookieSecure: true });
    expect(config.metricsToken?.reveal()).to.equal('scrape-token');
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).to.equal(1);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).to.equal(true);
    expect(config).to.include({ port: 8080, queuePrefix: '{bridge}', dedupTtlMs: 36 * 3600 * 1000, bodyLimitBytes: 512 * 1024, allowUnsignedWebhooks: true });
    expect(config.strippedFields).to.deep.equal(['auth_token', 'promoter.profile.paypal_email']);
    expect((config.integrations.FIRSTPROMOTER_WEBHOOK_TOKEN as Secret).reveal()).to.equal('fp-secret-0123456789');
  });

  describe('secrets too short to hold (issue 10, point 8)', () => {
    const problemsOf = (env: Record<string, string>): string[] => {
      try {
        loadConfig(env);
        return [];
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
    };

    it('refuses an ADMIN_TOKEN under 24 characters with one line that does not quote it', () => {
      const problems = problemsOf({ ADMIN_TOKEN: 'x'.repeat(23) });
      expect(problems).to.deep.equal([
        'ADMIN_TOKEN must be at least 24 characters long (e.g. openssl rand -hex 16); unset it to turn the dashboard off',
      ]);
      expect(problemsOf({ ADMIN_TOKEN: 'x'.repeat(24) })).to.deep.equal([]);
      expect(problemsOf({ ADMIN_TOKEN: '' })).to.deep.equal([]);
    });

    it('refuses each webhook secret with fewer than 16 non-blank characters, one line each', () => {
      const problems = problemsOf({ FIRSTPROMOTER_WEBHOOK_TOKEN: 'short-token', REWARDFUL_SIGNING_SECRET: ' a b c d e f g h i j k l m n o ' });
      expect(problems).to.deep.equal([
        'FIRSTPROMOTER_WEBHOOK_TOKEN must hold at least 16 non-blank characters (e.g. openssl rand -hex 16)',
        'REWARDFUL_SIGNING_SECRET must hold at least 16 non-blank characters (e.g. openssl rand -hex 16)',
      ]);
      expect(problems.join('\n')).not.to.contain('short-token');
      expect(problemsOf({ FIRSTPROMOTER_WEBHOOK_TOKEN: '0123456789abcdef', REWARDFUL_SIGNING_SECRET: 'a b c d e f g h i j k l m n o p' })).to.deep.equal([]);
    });

    it('checks the HTTP bounds: a request timeout shorter than the headers timeout, a connection cap of 0', () => {
      expect(problemsOf({ HTTP_HEADERS_TIMEOUT: '20s' })).to.deep.equal(['HTTP_REQUEST_TIMEOUT must not be shorter than HTTP_HEADERS_TIMEOUT']);
      expect(problemsOf({ HTTP_MAX_CONNECTIONS: '0', HTTP_REQUEST_TIMEOUT: 'soon' }).sort()).to.deep.equal([
        'HTTP_MAX_CONNECTIONS must be a positive integer',
        'HTTP_REQUEST_TIMEOUT must be a duration such as 500ms, 30s, 10m, 12h or 7d',
      ]);
      expect(problemsOf({ TRUST_PROXY: 'yes please!' })).to.deep.equal([
        'TRUST_PROXY must be true, false, a number of proxies, or a comma-separated list of proxy addresses or subnets (loopback, 10.0.0.0/8)',
      ]);
    });
  });

  it('reports every bad value at once, one line each, without echoing secrets', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'http://redis', DEDUP_TTL: 'forever', BODY_LIMIT: 'big', LOG_LEVEL: 'loud', ALLOW_UNSIGNED_WEBHOOKS: 'maybe', SLACK_BOT_TOKEN: 'xoxb-secret' });
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(ConfigError);
    expect((error as ConfigError).problems.sort()).to.deep.equal(
      [
        'ALLOW_UNSIGNED_WEBHOOKS must be true or false',
        'BODY_LIMIT must be a size such as 512kb or 1mb',
        'DEDUP_TTL must be a duration such as 500ms, 30s, 10m, 12h or 7d',
        'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
        'PORT must be a port number between 0 and 65535',
        'REDIS_URL must be a URL starting with redis:// or rediss://',
      ].sort(),
    );
    expect((error as Error).message).not.to.contain('xoxb-secret');
  });

  describe('FIRSTPROMOTER_FULFILMENT_ANSWER (declared by the FirstPromoter source)', () => {
    it('defaults to pending, and reads pending or fulfilled', () => {
      expect(loadConfig({}).integrations.FIRSTPROMOTER_FULFILMENT_ANSWER).to.equal('pending');
      expect(loadConfig({ FIRSTPROMOTER_FULFILMENT_ANSWER: '' }).integrations.FIRSTPROMOTER_FULFILMENT_ANSWER).to.equal('pending');
      expect(loadConfig({ FIRSTPROMOTER_FULFILMENT_ANSWER: 'fulfilled' }).integrations.FIRSTPROMOTER_FULFILMENT_ANSWER).to.equal('fulfilled');
    });

    for (const bad of ['yes', 'Fulfilled', '200', ' pending']) {
      it(`refuses ${JSON.stringify(bad)} with the exact message`, () => {
        let error: unknown;
        try {
          loadConfig({ FIRSTPROMOTER_FULFILMENT_ANSWER: bad });
        } catch (caught) {
          error = caught;
        }
        expect(error).to.be.instanceOf(ConfigError);
        expect((error as ConfigError).problems).to.deep.equal(['FIRSTPROMOTER_FULFILMENT_ANSWER must be pending or fulfilled']);
      });
    }
  });

  it('keeps secrets out of JSON and string conversion', () => {
    const config = loadConfig({ SLACK_BOT_TOKEN: 'xoxb-very-secret' });
    expect(JSON.stringify(config)).not.to.contain('xoxb-very-secret');
    expect(String(config.integrations.SLACK_BOT_TOKEN)).to.equal('[secret]');
  });
});

describe('durations need a unit (issue 14.3)', () => {
  for (const name of ['ACTION_TIMEOUT', 'SHUTDOWN_TIMEOUT', 'DEDUP_TTL', 'ACTION_BACKOFF_BASE']) {
    it(`refuses ${name}=10 with one line naming the missing unit`, () => {
      let error: unknown;
      try {
        loadConfig({ [name]: '10' });
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(ConfigError);
      expect((error as ConfigError).problems).to.deep.equal([`${name}=10 has no unit: write 10s or 10ms (a duration such as 500ms, 30s, 10m, 12h or 7d)`]);
    });
  }

  it('reads the same value with its unit', () => {
    expect(loadConfig({ ACTION_TIMEOUT: '10s' }).actionTimeoutMs).to.equal(10_000);
    expect(loadConfig({ ACTION_TIMEOUT: '10ms' }).actionTimeoutMs).to.equal(10);
  });
});

describe('units', () => {
  const durations: Array<[string, number | null]> = [['500ms', 500], ['30s', 30_000], ['10m', 600_000], ['12h', 43_200_000], ['7d', 604_800_000], ['250', null], ['2.5', null], ['0s', null], ['7 days', null], ['', null]];
  for (const [text, expected] of durations) it(`parses duration ${JSON.stringify(text)} as ${expected}`, () => expect(parseDuration(text)).to.equal(expected));
  const sizes: Array<[string, number | null]> = [['1mb', 1_048_576], ['512kb', 524_288], ['100', 100], ['1.5MB', 1_572_864], ['0kb', null], ['big', null]];
  for (const [text, expected] of sizes) it(`parses size ${JSON.stringify(text)} as ${expected}`, () => expect(parseByteSize(text)).to.equal(expected));
});

describe('retention settings (issue 14, point 9)', () => {
  it('keeps failed jobs 30 days and 100,000 completed action jobs by default; FAILED_JOBS_TTL and COMPLETED_ACTIONS_KEPT change them', () => {
    expect(loadConfig({})).to.include({ failedJobsTtlMs: 30 * 24 * 3600 * 1000, completedActionsKept: 100_000 });
    expect(loadConfig({ FAILED_JOBS_TTL: '14d', COMPLETED_ACTIONS_KEPT: '5000' })).to.include({ failedJobsTtlMs: 14 * 24 * 3600 * 1000, completedActionsKept: 5000 });
  });

  it('refuses a retention setting that is not a duration or a positive integer', () => {
    expect(() => loadConfig({ FAILED_JOBS_TTL: 'a month', COMPLETED_ACTIONS_KEPT: '-1' }))
      .to.throw(ConfigError)
      .with.property('problems')
      .that.includes.members(['FAILED_JOBS_TTL must be a duration such as 500ms, 30s, 10m, 12h or 7d', 'COMPLETED_ACTIONS_KEPT must be a positive integer']);
  });
});
