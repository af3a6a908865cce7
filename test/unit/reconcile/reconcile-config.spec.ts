import { expect } from 'chai';
import { loadConfig } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/errors.js';
import { describePartialCredentials, listReconciledSources } from '../../../src/reconcile/reconciler.js';
import { Secret } from '../../../src/secret.js';
import { sourceRegistry } from '../../../src/sources/registry.js';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('reconciliation settings', () => {
  it('defaults: every 15 minutes over 48 hours, the providers\' own API URLs, no credentials', () => {
    const config = loadConfig({});
    expect(config.reconcileIntervalMs).to.equal(15 * 60_000);
    expect(config.reconcileWindowMs).to.equal(48 * 3_600_000);
    expect(config.integrations).to.deep.include({
      FIRSTPROMOTER_API_KEY: null,
      FIRSTPROMOTER_ACCOUNT_ID: null,
      FIRSTPROMOTER_API_URL: 'https://api.firstpromoter.com/api/v2/company',
      REWARDFUL_API_SECRET: null,
      REWARDFUL_API_URL: 'https://api.getrewardful.com/v1',
    });
    expect(listReconciledSources(sourceRegistry, config.integrations)).to.deep.equal([]);
  });

  it('wraps the API secrets, so that they print as [secret]', () => {
    const config = loadConfig({ FIRSTPROMOTER_API_KEY: 'fp-key-123456', REWARDFUL_API_SECRET: 'rw-secret-123456' });
    expect(config.integrations.FIRSTPROMOTER_API_KEY).to.be.instanceOf(Secret);
    expect(JSON.stringify(config.integrations)).to.not.contain('fp-key-123456').and.not.contain('rw-secret-123456');
  });

  it('refuses bad values with exact messages', () => {
    expect(problemsOf({ RECONCILE_INTERVAL: 'often', RECONCILE_WINDOW: '2 days', FIRSTPROMOTER_API_URL: 'ftp://x', REWARDFUL_API_URL: 'nope' })).to.have.members([
      'RECONCILE_INTERVAL must be a duration such as 500ms, 30s, 10m, 12h or 7d',
      'RECONCILE_WINDOW must be a duration such as 500ms, 30s, 10m, 12h or 7d',
      'FIRSTPROMOTER_API_URL must be a URL starting with http:// or https://',
      'REWARDFUL_API_URL must be a URL starting with http:// or https://',
    ]);
  });

  it('a source is reconciled only with all its credentials; half of them is a warning', () => {
    const half = loadConfig({ FIRSTPROMOTER_API_KEY: 'fp-key-123456', REWARDFUL_API_SECRET: 'rw-secret-123456' });
    expect(listReconciledSources(sourceRegistry, half.integrations).map((source) => source.name)).to.deep.equal(['rewardful']);
    expect(describePartialCredentials(sourceRegistry, half.integrations)).to.deep.equal([
      'FIRSTPROMOTER_API_KEY is set but FIRSTPROMOTER_ACCOUNT_ID is not: FirstPromoter is not reconciled',
    ]);
    const full = loadConfig({ FIRSTPROMOTER_API_KEY: 'fp-key-123456', FIRSTPROMOTER_ACCOUNT_ID: '42' });
    expect(listReconciledSources(sourceRegistry, full.integrations).map((source) => source.name)).to.deep.equal(['firstpromoter']);
    expect(describePartialCredentials(sourceRegistry, full.integrations)).to.deep.equal([]);
  });
});
