import { expect } from 'chai';
import { readExactSourceName } from '../../../src/http/webhook-router.js';
import { sourceRegistry } from '../../../src/sources/registry.js';

describe('readExactSourceName: which URLs take the intake hot path (pure)', () => {
  it('names the source of /webhooks/<name>, with or without a query string', () => {
    expect(readExactSourceName('/webhooks/firstpromoter', sourceRegistry)).to.equal('firstpromoter');
    expect(readExactSourceName('/webhooks/rewardful?x=1', sourceRegistry)).to.equal('rewardful');
    expect(readExactSourceName('/webhooks/firstpromoter?token=a?b', sourceRegistry)).to.equal('firstpromoter');
  });

  it('leaves every other spelling to the route: null', () => {
    for (const url of [
      '/webhooks/firstpromoter/',
      '/webhooks/FirstPromoter',
      '/webhooks/%66irstpromoter',
      '/webhooks/',
      '/webhooks/partnerstack',
      '/webhooks/__proto__',
      '/webhooks/toString',
      '/webhooks/firstpromoter/extra',
      '/webhook/firstpromoter',
      '/x/webhooks/firstpromoter',
      '/webhooksfirstpromoter',
    ]) {
      expect(readExactSourceName(url, sourceRegistry), url).to.equal(null);
    }
  });
});
