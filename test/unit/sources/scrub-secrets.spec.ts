import { expect } from 'chai';
import { loadConfig } from '../../../src/config/config.js';
import { secretVariable, urlVariable } from '../../../src/config/env-variable.js';
import type { BridgeEvent } from '../../../src/events/event.js';
import { MalformedDeliveryError } from '../../../src/errors.js';
import { Secret } from '../../../src/secret.js';
import { firstpromoter } from '../../../src/sources/firstpromoter/index.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { rewardful } from '../../../src/sources/rewardful/index.js';
import { collectSourceSecrets, createSecretScrubber, listSecretForms, REDACTED_MARKER } from '../../../src/sources/scrub-secrets.js';
import { defineSource } from '../../../src/sources/source.js';
import { copyPayload } from '../../../src/sources/strip-secrets.js';

const TOKEN = 'fp+tok/en=42';
const OTHER = 'second-secret-value';
const scrubber = createSecretScrubber([new Secret(TOKEN), new Secret(OTHER), null])!;
const options = (overrides: Partial<{ secretScrubber: typeof scrubber | null }> = {}) => ({
  receivedAt: new Date('2025-01-18T09:00:02.000Z'),
  strippedFields: ['auth_token', 'temp_password'],
  secretScrubber: scrubber,
  ...overrides,
});

describe('scrubbing secrets by value', () => {
  describe('createSecretScrubber', () => {
    it('lists the value, its URL encoding and its form encoding', () => {
      expect(listSecretForms('a b+c')).to.deep.equal(['a b+c', 'a%20b%2Bc', 'a+b%2Bc']);
      expect(listSecretForms('plain-token')).to.deep.equal(['plain-token']);
    });

    it('replaces every occurrence, inside longer strings, in any spelling', () => {
      expect(scrubber.scrub(`https://hooks.example.com/fp?token=${encodeURIComponent(TOKEN)}&x=1`)).to.equal('https://hooks.example.com/fp?token=[redacted]&x=1');
      expect(scrubber.scrub(`${TOKEN} and ${OTHER}, again ${TOKEN}`)).to.equal('[redacted] and [redacted], again [redacted]');
      expect(scrubber.scrub('nothing here')).to.equal('nothing here');
      expect(scrubber.isFoundIn(`x${OTHER}x`)).to.equal(true);
      expect(scrubber.isFoundIn('fp+tok')).to.equal(false);
    });

    it('is null without a set secret (empty values are unset)', () => {
      expect(createSecretScrubber([])).to.equal(null);
      expect(createSecretScrubber([null, undefined, new Secret('')])).to.equal(null);
    });
  });

  describe('copyPayload with a scrubber', () => {
    it('scrubs string values and keys at any depth, arrays included, and leaves other values and the input alone', () => {
      const input = {
        a: { b: [{ c: `x${TOKEN}y` }, 42, true, null] },
        [`key-${OTHER}`]: 'v',
        deep: { d: { e: { f: { g: OTHER } } } },
      };
      const before = JSON.stringify(input);
      const { value } = copyPayload(input, { scrubber });
      expect(value).to.deep.equal({
        a: { b: [{ c: `x${REDACTED_MARKER}y` }, 42, true, null] },
        'key-[redacted]': 'v',
        deep: { d: { e: { f: { g: '[redacted]' } } } },
      });
      expect(JSON.stringify(input)).to.equal(before);
    });

    it('scrubs a bare string root', () => {
      expect(copyPayload(`${TOKEN}!`, { scrubber }).value).to.equal('[redacted]!');
    });
  });

  describe('normalize (every source)', () => {
    it('FirstPromoter classic: data at any depth, inside longer strings; stripped fields still stripped', () => {
      const body = {
        event: { id: 22733469, type: 'promoter_accepted', created_at: '2024-10-03T11:57:31.228Z' },
        data: {
          state: 'accepted',
          campaign: { id: 13202, default_webhook_url: `https://hooks.example.com/firstpromoter?token=${TOKEN}` },
          promoter: { id: 1, auth_token: 'stripped', note: `call ${OTHER}` },
        },
      };
      const event = firstpromoter.normalize(body, options());
      expect(event.data).to.deep.equal({
        state: 'accepted',
        campaign: { id: 13202, default_webhook_url: 'https://hooks.example.com/firstpromoter?token=[redacted]' },
        promoter: { id: 1, note: 'call [redacted]' },
      });
      expect(JSON.stringify(event)).to.not.contain(TOKEN).and.not.contain(OTHER);
    });

    it('FirstPromoter v2: the envelope too (changes, action)', () => {
      const body = {
        event_id: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890',
        event_type: 'promoter.updated',
        action: `updated ${TOKEN}`,
        entity_type: 'promoter',
        entity_id: 1,
        changes: { note: ['', `now ${OTHER}`] },
        data: { id: 1 },
        timestamp: '2025-01-18T09:00:01Z',
      };
      const event = firstpromoter.normalize(body, options());
      expect(event.envelope).to.deep.equal({ action: 'updated [redacted]', entity_type: 'promoter', entity_id: 1, changes: { note: ['', 'now [redacted]'] } });
    });

    it('Rewardful: object and request', () => {
      const body = {
        object: { id: 'r-1', customer: { name: TOKEN } },
        event: { id: '7fcdc81d-996a-4b7b-8faf-1db98b9d5507', type: 'referral.created', created_at: '2019-07-11T05:25:43.940Z', api_version: 'v1' },
        request: { id: OTHER },
      };
      const event = rewardful.normalize(body, options());
      expect(event.data).to.deep.equal({ id: 'r-1', customer: { name: '[redacted]' } });
      expect(event.envelope).to.deep.equal({ request: { id: '[redacted]' }, api_version: 'v1' });
    });

    it('a quarantine problem that quotes a key (an oversized array) is scrubbed too', () => {
      const body = {
        event: { id: 1, type: 'lead_signup', created_at: '2024-10-03T13:45:20.103Z' },
        data: { [TOKEN]: new Array(1001).fill(0) },
      };
      const event = firstpromoter.normalize(body, options());
      expect(event.status).to.equal('quarantined');
      expect(event.validationErrors!.join(' ')).to.contain('data.[redacted] holds 1001 items').and.not.contain(TOKEN);
    });

    for (const [field, body] of [
      ['event.type', { event: { id: 1, type: `lead_${OTHER}`, created_at: '2024-10-03T13:45:20.103Z' }, data: {} }],
      ['event_id', { event_id: `id-${OTHER}`, event_type: 'referral.created', data: {}, timestamp: '2025-01-18T09:00:01Z' }],
    ] as const) {
      it(`refuses a delivery whose ${field} holds a secret, naming the field only`, () => {
        let error: unknown;
        try {
          firstpromoter.normalize(body as Record<string, unknown>, options());
        } catch (caught) {
          error = caught;
        }
        expect(error).to.be.instanceOf(MalformedDeliveryError);
        expect((error as MalformedDeliveryError).code).to.equal('envelope_unrecognised');
        expect((error as Error).message).to.equal(`Body is not a FirstPromoter webhook: ${field} holds a configured secret`);
      });
    }

    it('without a scrubber nothing is scrubbed (simulate, rule tests)', () => {
      const body = { event: { id: 1, type: 'lead_signup', created_at: '2024-10-03T13:45:20.103Z' }, data: { email: TOKEN } };
      expect(firstpromoter.normalize(body, options({ secretScrubber: null })).data).to.deep.equal({ email: TOKEN });
    });
  });

  describe('collectSourceSecrets', () => {
    it("reads every secret variable each source declares, set ones only, from the loaded config", () => {
      const toy = defineSource({
        ...rewardful,
        name: 'toy',
        title: 'Toy',
        env: { TOY_SIGNING_SECRET: secretVariable('signing'), TOY_API_KEY: secretVariable('api key'), TOY_API_URL: urlVariable('url', 'https://toy.example/') },
        webhookSecret: 'TOY_SIGNING_SECRET',
      });
      const registries = { sources: { toy }, actions: {} };
      const config = loadConfig({ TOY_SIGNING_SECRET: 'sign-1-0123456789', TOY_API_KEY: 'key-2', TOY_API_URL: 'https://toy.example/sign-1' }, registries);
      expect(collectSourceSecrets({ toy }, config).map((secret) => secret.reveal())).to.deep.equal(['sign-1-0123456789', 'key-2']);
      expect(collectSourceSecrets({ toy }, loadConfig({ TOY_API_KEY: 'key-2' }, registries)).map((secret) => secret.reveal())).to.deep.equal(['key-2']);
    });

    it('for the shipped sources: both webhook secrets', () => {
      const config = loadConfig({ FIRSTPROMOTER_WEBHOOK_TOKEN: 'a'.repeat(16), REWARDFUL_SIGNING_SECRET: 'b'.repeat(16), FIRSTPROMOTER_FULFILMENT_ANSWER: 'fulfilled' });
      expect(collectSourceSecrets(sourceRegistry, config).map((secret) => secret.reveal())).to.deep.equal(['a'.repeat(16), 'b'.repeat(16)]);
    });
  });
});

describe('FirstPromoter answers and test deliveries', () => {
  const event = (providerType: string) => ({ providerType }) as BridgeEvent;

  it('answers 202 to everything by default; 200 only to fulfilment_pending with fulfilled', () => {
    const answer = firstpromoter.successStatusFor!;
    expect(firstpromoter.successStatus).to.equal(202);
    expect(answer(event('fulfilment_pending'), { FIRSTPROMOTER_FULFILMENT_ANSWER: 'pending' })).to.equal(202);
    expect(answer(event('fulfilment_pending'), { FIRSTPROMOTER_FULFILMENT_ANSWER: 'fulfilled' })).to.equal(200);
    for (const type of ['lead_signup', 'reward_created', 'commission.approved', 'test.commission.created']) {
      expect(answer(event(type), { FIRSTPROMOTER_FULFILMENT_ANSWER: 'fulfilled' }), type).to.equal(202);
    }
  });

  it('a v2 body with data.test true is a test delivery, typed firstpromoter.test.<event_type>, with no schema to fail', () => {
    // docs.firstpromoter.com/webhooks-v2/deliveries, "Sending a test delivery".
    const body = { event_id: 'c0ffee00-0000-4000-8000-000000000001', event_type: 'commission.approved', action: 'updated', entity_type: 'commission', entity_id: null, changes: {}, data: { test: true }, timestamp: '2025-01-18T09:00:01Z' };
    const normalized = firstpromoter.normalize(body, options());
    expect(normalized).to.deep.include({ id: 'firstpromoter-c0ffee00-0000-4000-8000-000000000001', type: 'firstpromoter.test.commission.approved', status: 'valid' });
    expect(firstpromoter.checkSchema(normalized)).to.deep.equal([]);
    // The same envelope without the test mark is a real commission, whose schema wants an id.
    const real = firstpromoter.normalize({ ...body, data: { test: false } }, options());
    expect(real.type).to.equal('firstpromoter.commission.approved');
    expect(firstpromoter.checkSchema(real)).to.not.deep.equal([]);
  });

  it('a test delivery without event_id gets a stable derived id; a missing event_type is still refused', () => {
    const body = { event_type: 'referral.created', data: { test: true } };
    const first = firstpromoter.normalize(body, options());
    expect(first.id).to.match(/^firstpromoter-test-[0-9a-f]{16}$/);
    expect(firstpromoter.normalize(body, options()).id).to.equal(first.id);
    expect(first.occurredAt).to.equal('2025-01-18T09:00:02.000Z');
    expect(() => firstpromoter.normalize({ event_id: 'x-1', data: { test: true } }, options())).to.throw(
      MalformedDeliveryError,
      'Body is not a FirstPromoter webhook: missing event_type',
    );
  });
});
