import { expect } from 'chai';
import { actionRegistry } from '../../../src/actions/registry.js';
import { loadConfig } from '../../../src/config/config.js';
import { describeStart } from '../../../src/roles/describe-start.js';
import { sourceRegistry } from '../../../src/sources/registry.js';

/** Issue 14.2: what a newcomer reads on the terminal after `npm start`. */
describe('describeStart (the words `start` prints on a terminal)', () => {
  const describeWith = (env: Record<string, string>) =>
    describeStart({ baseUrl: 'http://localhost:3000', config: loadConfig(env), sources: sourceRegistry, actions: actionRegistry }).join('\n');

  it('with no secret set: both sources refuse, both integrations dry-run, no dashboard', () => {
    expect(describeWith({})).to.equal(
      [
        'affiliate-bridge is running at http://localhost:3000',
        '',
        'Webhooks (the URLs to give the providers):',
        '  FirstPromoter  http://localhost:3000/webhooks/firstpromoter  refuses deliveries (401) until FIRSTPROMOTER_WEBHOOK_TOKEN is set',
        '  Rewardful      http://localhost:3000/webhooks/rewardful      refuses deliveries (401) until REWARDFUL_SIGNING_SECRET is set',
        '',
        'Integrations:',
        '  Slack    dry-run: actions are logged, nothing is sent (set SLACK_BOT_TOKEN to go live)',
        '  HubSpot  dry-run: actions are logged, nothing is sent (set HUBSPOT_ACCESS_TOKEN to go live)',
        '',
        'Dashboard: off (set ADMIN_TOKEN to turn it on)',
        '',
        'Next: export FIRSTPROMOTER_WEBHOOK_TOKEN and REWARDFUL_SIGNING_SECRET in this terminal and in another one (README: "Send the seed events"), start again, then run `npm run demo` in the other one to send the example deliveries.',
      ].join('\n'),
    );
  });

  it('with secrets set: says which are live and where the dashboard is, and never prints a secret', () => {
    const env = {
      FIRSTPROMOTER_WEBHOOK_TOKEN: 'fp-token-7c1d2e3f',
      SLACK_BOT_TOKEN: 'xoxb-secret-9a8b7c',
      ADMIN_TOKEN: 'admin-token-5e6f7a8b9c0d1e2f',
    };
    const text = describeWith(env);
    expect(text.split('\n').slice(2)).to.deep.equal([
      'Webhooks (the URLs to give the providers):',
      '  FirstPromoter  http://localhost:3000/webhooks/firstpromoter  accepts deliveries (FIRSTPROMOTER_WEBHOOK_TOKEN is set)',
      '  Rewardful      http://localhost:3000/webhooks/rewardful      refuses deliveries (401) until REWARDFUL_SIGNING_SECRET is set',
      '',
      'Integrations:',
      '  Slack    live (SLACK_BOT_TOKEN is set)',
      '  HubSpot  dry-run: actions are logged, nothing is sent (set HUBSPOT_ACCESS_TOKEN to go live)',
      '',
      'Dashboard: http://localhost:3000/admin (sign in with ADMIN_TOKEN)',
      '',
      'Next: export REWARDFUL_SIGNING_SECRET in this terminal and in another one (README: "Send the seed events"), start again, then run `npm run demo` in the other one to send the example deliveries.',
    ]);
    for (const secret of Object.values(env)) expect(text).to.not.include(secret);
  });

  it('with ALLOW_UNSIGNED_WEBHOOKS=true: a source without its secret accepts deliveries unchecked, and says so; the demo is the next step', () => {
    const lines = describeWith({ ALLOW_UNSIGNED_WEBHOOKS: 'true', REWARDFUL_SIGNING_SECRET: 'rw-signing-secret-1234abcd' }).split('\n');
    expect(lines.slice(3, 5)).to.deep.equal([
      '  FirstPromoter  http://localhost:3000/webhooks/firstpromoter  accepts deliveries WITHOUT checking them (FIRSTPROMOTER_WEBHOOK_TOKEN is unset, ALLOW_UNSIGNED_WEBHOOKS=true: local trials only)',
      '  Rewardful      http://localhost:3000/webhooks/rewardful      accepts deliveries (REWARDFUL_SIGNING_SECRET is set)',
    ]);
    expect(lines.at(-1)).to.equal('Next: run `npm run demo` in another terminal to send the example deliveries, and watch them arrive here.');
  });
});
