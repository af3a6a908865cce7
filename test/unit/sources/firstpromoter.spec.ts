import { expect } from 'chai';
import { catchError } from '../../support/catch-error.js';
import { readFileSync } from 'node:fs';
import type { BridgeEvent } from '../../../src/events/event.js';
import { AuthError, MalformedDeliveryError } from '../../../src/errors.js';
import { Secret } from '../../../src/secret.js';
import { applySchemaCheck } from '../../../src/sources/check-event.js';
import { firstpromoter } from '../../../src/sources/firstpromoter/index.js';
import { CLASSIC_EVENT_TYPES, V2_EVENT_TYPES } from '../../../src/sources/firstpromoter/schemas.js';
import type { NormalizeOptions, RawDelivery } from '../../../src/sources/source.js';
import { fulfilmentPendingExample, leadCancelledExample, v2Examples } from './provider-examples.js';

/** What the bridge does to a delivery: normalised at intake, schema-checked by the events worker. */
const normalizeAndCheck = (body: Record<string, unknown>, options: NormalizeOptions) =>
  applySchemaCheck(firstpromoter, firstpromoter.normalize(body, options));

const TOKEN = 'fp-webhook-token-0123456789abcdef';
const secret = new Secret(TOKEN);
const options: NormalizeOptions = {
  receivedAt: new Date('2024-10-03T13:45:21.000Z'),
  strippedFields: ['auth_token', 'temp_password'],
};

function readFixture(name: string): string {
  return readFileSync(new URL(`../../fixtures/deliveries/firstpromoter/${name}.json`, import.meta.url), 'utf8');
}

function makeDelivery(
  raw: string | Buffer,
  extra: { headers?: RawDelivery['headers']; query?: RawDelivery['query'] } = {},
): RawDelivery {
  return {
    rawBody: typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw,
    headers: { 'content-type': 'application/json', ...extra.headers },
    query: extra.query ?? {},
  };
}

function encodeBasic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/** Verifies then normalises, as the HTTP layer does. */
function receive(raw: string | Buffer, query: RawDelivery['query'] = { token: TOKEN }): BridgeEvent {
  const body = firstpromoter.verify(makeDelivery(raw, { query }), secret);
  return normalizeAndCheck(body, options);
}

function buildClassicBody(type: string, data: unknown, id = 1001): Record<string, unknown> {
  return { event: { id, type, created_at: '2024-10-03T13:45:20.103Z' }, data };
}

function buildV2Body(type: string, data: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const entity = type.slice(0, type.indexOf('.'));
  return {
    event_id: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890',
    event_type: type,
    action: 'created',
    entity_type: entity,
    entity_id: 12345,
    changes: {},
    data,
    timestamp: '2025-01-15T10:30:00Z',
    ...extra,
  };
}

describe('firstpromoter source', () => {
  it('answers 202 (a 200 would mark fulfilment_pending rewards as fulfilled)', () => {
    expect(firstpromoter.name).to.equal('firstpromoter');
    expect(firstpromoter.successStatus).to.equal(202);
  });

  describe('verifyBeforeBody: the token, with no body at all', () => {
    it('accepts the right token in the query or the Authorization header', () => {
      expect(() => firstpromoter.verifyBeforeBody!({ headers: {}, query: { token: TOKEN } }, secret)).not.to.throw();
      expect(() => firstpromoter.verifyBeforeBody!({ headers: { authorization: `Bearer ${TOKEN}` }, query: {} }, secret)).not.to.throw();
    });

    const refused: Array<[string, RawDelivery['headers'], RawDelivery['query'], string]> = [
      ['no token', {}, {}, 'token_missing'],
      ['a wrong token', { authorization: 'Bearer wrong-token' }, {}, 'token_mismatch'],
      ['a token given twice', {}, { token: [TOKEN, TOKEN] }, 'authorization_malformed'],
    ];
    for (const [name, headers, query, code] of refused) {
      it(`refuses ${name} with ${code}`, () => {
        const error = catchError(() => firstpromoter.verifyBeforeBody!({ headers, query }, secret));
        expect(error).to.be.instanceOf(AuthError);
        expect((error as AuthError).code).to.equal(code);
      });
    }
  });

  describe('verify: the shared token', () => {
    const raw = readFixture('lead_signup');

    const accepted: { name: string; headers?: RawDelivery['headers']; query?: RawDelivery['query'] }[] = [
      { name: 'the token query parameter', query: { token: TOKEN } },
      { name: 'a Bearer token', headers: { authorization: `Bearer ${TOKEN}` } },
      { name: 'a lowercase bearer scheme', headers: { authorization: `bearer ${TOKEN}` } },
      { name: 'the password of Basic auth', headers: { authorization: encodeBasic('firstpromoter', TOKEN) } },
      { name: 'Basic auth with an empty username', headers: { authorization: encodeBasic('', TOKEN) } },
      {
        name: 'the query token beside an unrelated Basic header added by a proxy',
        headers: { authorization: encodeBasic('ops', 'proxy-password') },
        query: { token: TOKEN },
      },
    ];
    for (const { name, headers, query } of accepted) {
      it(`accepts ${name} and returns the parsed body`, () => {
        const body = firstpromoter.verify(makeDelivery(raw, { headers, query }), secret);
        expect(body).to.deep.equal(JSON.parse(raw));
      });
    }

    const refused: {
      name: string;
      headers?: RawDelivery['headers'];
      query?: RawDelivery['query'];
      code: string;
    }[] = [
      { name: 'no token at all', code: 'token_missing' },
      { name: 'an empty token parameter', query: { token: '' }, code: 'token_missing' },
      { name: 'a wrong token of the same length', query: { token: TOKEN.replace(/.$/, 'X') }, code: 'token_mismatch' },
      { name: 'a token of a different length', query: { token: `${TOKEN}-longer` }, code: 'token_mismatch' },
      { name: 'a token that is a prefix of the right one', query: { token: TOKEN.slice(0, 8) }, code: 'token_mismatch' },
      { name: 'a wrong Bearer token', headers: { authorization: 'Bearer nope' }, code: 'token_mismatch' },
      { name: 'the token as Basic username', headers: { authorization: encodeBasic(TOKEN, 'x') }, code: 'token_mismatch' },
      { name: 'Basic auth with an empty password', headers: { authorization: encodeBasic(TOKEN, '') }, code: 'token_missing' },
      { name: 'a wrong Basic password', headers: { authorization: encodeBasic('firstpromoter', 'nope') }, code: 'token_mismatch' },
      { name: 'the token in a letter case it was not set in', query: { token: TOKEN.toUpperCase() }, code: 'token_mismatch' },
      { name: 'an unknown scheme', headers: { authorization: `Token ${TOKEN}` }, code: 'authorization_malformed' },
      { name: 'a scheme without credentials', headers: { authorization: 'Bearer' }, code: 'authorization_malformed' },
      { name: 'Basic credentials that are not base64', headers: { authorization: 'Basic %%%' }, code: 'authorization_malformed' },
      {
        name: 'Basic credentials without a colon',
        headers: { authorization: `Basic ${Buffer.from(TOKEN).toString('base64')}` },
        code: 'authorization_malformed',
      },
      { name: 'a repeated token parameter', query: { token: [TOKEN, TOKEN] }, code: 'authorization_malformed' },
    ];
    for (const { name, headers, query, code } of refused) {
      it(`refuses ${name} with ${code}`, () => {
        const error = catchError(() => firstpromoter.verify(makeDelivery(raw, { headers, query }), secret));
        expect(error).to.be.instanceOf(AuthError);
        expect((error as AuthError).code).to.equal(code);
        expect((error as AuthError).message).not.to.contain(TOKEN);
      });
    }

    it('checks the token before parsing: a bad token on a non-JSON body is an AuthError', () => {
      const error = catchError(() => firstpromoter.verify(makeDelivery('not json', { query: { token: 'nope' } }), secret));
      expect(error).to.be.instanceOf(AuthError);
    });

    it('skips authentication when the secret is null (ALLOW_UNSIGNED_WEBHOOKS)', () => {
      expect(firstpromoter.verify(makeDelivery(raw), null)).to.deep.equal(JSON.parse(raw));
    });

    const malformedBodies: { name: string; raw: Buffer; code: string }[] = [
      { name: 'malformed JSON', raw: Buffer.from('{"event":'), code: 'body_not_json' },
      { name: 'an empty body', raw: Buffer.alloc(0), code: 'body_not_json' },
      { name: 'invalid UTF-8', raw: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), code: 'body_not_json' },
      { name: 'a JSON array', raw: Buffer.from('[]'), code: 'body_not_object' },
      { name: 'a JSON string', raw: Buffer.from('"lead_signup"'), code: 'body_not_object' },
    ];
    for (const { name, raw: body, code } of malformedBodies) {
      it(`refuses ${name} after authentication with ${code}`, () => {
        const error = catchError(() => firstpromoter.verify(makeDelivery(body, { query: { token: TOKEN } }), secret));
        expect(error).to.be.instanceOf(MalformedDeliveryError);
        expect((error as MalformedDeliveryError).code).to.equal(code);
      });
    }
  });

  describe('normalize: the seed deliveries', () => {
    const seeds = [
      { file: 'lead_signup', id: 'firstpromoter-22736304', providerType: 'lead_signup', occurredAt: '2024-10-03T13:45:20.103Z' },
      {
        file: 'promoter_signed_up',
        id: 'firstpromoter-22733100',
        providerType: 'promoter_signed_up',
        occurredAt: '2024-10-03T11:45:10.312Z',
      },
      { file: 'reward_created', id: 'firstpromoter-22737431', providerType: 'reward_created', occurredAt: '2024-10-03T14:23:20.791Z' },
      {
        file: 'promoter_accepted',
        id: 'firstpromoter-22733469',
        providerType: 'promoter_accepted',
        occurredAt: '2024-10-03T11:57:31.228Z',
      },
    ];
    for (const seed of seeds) {
      it(`${seed.file}: valid, ${seed.id}, secrets stripped`, () => {
        const raw = readFixture(seed.file);
        const event = receive(raw);

        expect(event).to.include({
          id: seed.id,
          source: 'firstpromoter',
          type: `firstpromoter.${seed.providerType}`,
          providerType: seed.providerType,
          occurredAt: seed.occurredAt,
          receivedAt: '2024-10-03T13:45:21.000Z',
          status: 'valid',
        });
        expect(event).not.to.have.property('validationErrors');
        expect(event).not.to.have.property('envelope');
        const serialised = JSON.stringify(event);
        expect(serialised).not.to.contain('auth_token');
        expect(serialised).not.to.contain('temp_password');
        // The seeds' token values themselves are gone, not just the keys.
        const promoter = (JSON.parse(raw) as { data: { promoter: { auth_token: string } } }).data.promoter;
        expect(serialised).not.to.contain(promoter.auth_token);
      });
    }

    it('keeps the rest of the payload as data', () => {
      const event = receive(readFixture('reward_created'));
      expect(event.data).to.include({ id: 11174868, amount: 200, unit: 'cash', event_id: 'sale_abc123' });
      expect(event.data.promoter).to.include({ id: 5779418, email: 'promoter@example.com' });
      expect(event.data.promoter).to.deep.include({ earnings_balance: { cash: 4200 }, paid_balance: null });
    });

    const documented = [
      { name: 'lead_cancelled', body: leadCancelledExample, id: 'firstpromoter-22738100' },
      { name: 'fulfilment_pending', body: fulfilmentPendingExample, id: 'firstpromoter-13007875' },
    ];
    for (const { name, body, id } of documented) {
      it(`accepts the documented ${name} example as valid`, () => {
        const event = receive(JSON.stringify(body));
        expect(event.validationErrors).to.equal(undefined);
        expect(event).to.include({ id, type: `firstpromoter.${name}`, status: 'valid' });
        expect(JSON.stringify(event)).not.to.contain('auth_token');
      });
    }
  });

  describe('normalize: every documented type is recognised', () => {
    const minimalData: Record<(typeof CLASSIC_EVENT_TYPES)[number], Record<string, unknown>> = {
      lead_signup: { id: 1, state: 'signup', email: 'lead@example.com' },
      lead_becomes_referral: { id: 1, state: 'active', customer_since: '2024-10-03T14:23:20.495Z' },
      new_customer: { id: 1, state: 'active' },
      lead_cancelled: { id: 1, state: 'cancelled', cancelled_at: '2024-10-04T09:15:41.998Z' },
      promoter_signed_up: { promoter: { id: 9000800, status: 'pending' }, promotions: [] },
      promoter_accepted: { state: 'accepted', promoter: { id: 9000754 }, campaign: { id: 13202 } },
      reward_created: { id: 11174868, amount: 200, unit: 'cash' },
      fulfilment_pending: { id: 2429153, amount: 3, unit: 'free_months', status: 'pending' },
    };
    for (const type of CLASSIC_EVENT_TYPES) {
      it(`classic ${type}`, () => {
        const event = normalizeAndCheck(buildClassicBody(type, minimalData[type]), options);
        expect(event.validationErrors).to.equal(undefined);
        expect(event).to.include({ type: `firstpromoter.${type}`, providerType: type, status: 'valid' });
      });
    }

    it('lists the eight documented classic types', () => {
      expect(CLASSIC_EVENT_TYPES).to.have.length(8);
    });

    for (const type of V2_EVENT_TYPES) {
      it(`v2 ${type}`, () => {
        const event = normalizeAndCheck(buildV2Body(type, { id: 12345 }), options);
        expect(event.validationErrors).to.equal(undefined);
        expect(event).to.include({ type: `firstpromoter.${type}`, providerType: type, status: 'valid' });
      });
    }

    it('includes the v2 types named in the docs and FirstPromoter\'s n8n node', () => {
      expect(V2_EVENT_TYPES).to.include.members([
        'referral.created',
        'referral.updated',
        'commission.created',
        'commission.approved',
        'commission.denied',
        'payout.created',
        'payout.completed',
        'payout.failed',
        'promoter.created',
        'promoter_campaign.accepted',
        'contract_document.signed',
      ]);
    });

    it('normalises the spelling promoter_signs_up to promoter_signed_up', () => {
      const body = JSON.parse(readFixture('promoter_signed_up')) as { event: { type: string } };
      body.event.type = 'promoter_signs_up';
      const event = receive(JSON.stringify(body));
      expect(event).to.include({
        id: 'firstpromoter-22733100',
        type: 'firstpromoter.promoter_signed_up',
        providerType: 'promoter_signed_up',
        status: 'valid',
      });
    });
  });

  describe('normalize: the Webhooks v2 envelope', () => {
    for (const example of v2Examples) {
      it(`accepts the documented ${example.event_type} example`, () => {
        const event = receive(JSON.stringify(example));
        expect(event.validationErrors).to.equal(undefined);
        expect(event).to.include({
          id: `firstpromoter-${example.event_id}`,
          type: `firstpromoter.${example.event_type}`,
          providerType: example.event_type,
          occurredAt: new Date(example.timestamp).toISOString(),
          status: 'valid',
        });
        expect(event.data).to.deep.equal(example.data);
      });
    }

    it('keeps action, entity_type, entity_id and changes in the envelope', () => {
      const event = normalizeAndCheck(v2Examples[2] as Record<string, unknown>, options);
      expect(event.envelope).to.deep.equal({
        action: 'updated',
        entity_type: 'commission',
        entity_id: 88901,
        changes: { status: ['pending', 'approved'] },
      });
      expect(event.occurredAt).to.equal('2025-01-21T11:15:00.000Z');
    });

    it('accepts a timestamp in epoch seconds', () => {
      const event = normalizeAndCheck(buildV2Body('referral.created', { id: 1 }, { timestamp: 1737368405 }), options);
      expect(event.occurredAt).to.equal('2025-01-20T10:20:05.000Z');
      expect(event.status).to.equal('valid');
    });

    it('strips secrets from data and from the changes in the envelope', () => {
      const event = normalizeAndCheck(
        buildV2Body(
          'promoter.updated',
          { id: 5, email: 'p@example.com', auth_token: 'new-token' },
          { action: 'updated', changes: { auth_token: ['old-token', 'new-token'], email: ['a@example.com', 'p@example.com'] } },
        ),
        options,
      );
      expect(event.status).to.equal('valid');
      expect(event.envelope?.changes).to.deep.equal({ email: ['a@example.com', 'p@example.com'] });
      expect(JSON.stringify(event)).not.to.match(/auth_token|old-token|new-token/);
    });

    it('quarantines an envelope field of the wrong type', () => {
      const event = normalizeAndCheck(buildV2Body('referral.created', { id: 1 }, { entity_id: '12345' }), options);
      expect(event.status).to.equal('quarantined');
      expect(event.validationErrors).to.deep.equal(['envelope.entity_id must be a number']);
    });
  });

  describe('normalize: quarantine', () => {
    it('quarantines an unknown classic type, naming it, and still stores the data', () => {
      const event = normalizeAndCheck(buildClassicBody('lead_upgraded', { id: 7, auth_token: 'secret' }), options);
      expect(event).to.include({ id: 'firstpromoter-1001', type: 'firstpromoter.lead_upgraded', status: 'quarantined' });
      expect(event.validationErrors).to.deep.equal(['Unknown FirstPromoter event type "lead_upgraded"']);
      expect(event.data).to.deep.equal({ id: 7 });
    });

    it('quarantines an unknown v2 type, naming it', () => {
      const event = normalizeAndCheck(buildV2Body('payout.exploded', { id: 1 }), options);
      expect(event.status).to.equal('quarantined');
      expect(event.validationErrors).to.deep.equal(['Unknown FirstPromoter event type "payout.exploded"']);
    });

    const invalid: { name: string; change: (data: Record<string, unknown>) => void; errors: string[] }[] = [
      { name: 'an amount sent as a string', change: (data) => (data.amount = '200'), errors: ['data.amount must be a number'] },
      { name: 'an amount with a fraction', change: (data) => (data.amount = 2.5), errors: ['data.amount must be an integer'] },
      { name: 'a missing amount', change: (data) => delete data.amount, errors: ['data.amount is a required field'] },
      { name: 'a null amount', change: (data) => (data.amount = null), errors: ['data.amount is a required field'] },
      {
        name: 'a balance holding a fraction',
        change: (data) => ((data.promoter as Record<string, unknown>).earnings_balance = { cash: 42.5 }),
        errors: ['data.promoter.earnings_balance must be an object of whole amounts by unit'],
      },
      {
        name: 'an email that is a number and a lead that is a list',
        change: (data) => {
          (data.lead as Record<string, unknown>).email = 12;
          data.promotion = [];
        },
        errors: ['data.lead.email must be a string', 'data.promotion must be an object'],
      },
      {
        name: 'a bad timestamp and a promoter without id',
        change: (data) => {
          data.created_at = 'yesterday';
          delete (data.promoter as Record<string, unknown>).id;
        },
        // yup lists nested problems before their siblings.
        errors: ['data.promoter.id is a required field', 'data.created_at must be an ISO 8601 timestamp'],
      },
      {
        name: 'a promotion counter sent as a string inside promotions[]',
        change: (data) => {
          (data.promoter as Record<string, unknown>).promotions = [{ id: 1 }, { id: 2, sales_total: '100' }];
        },
        errors: ['data.promoter.promotions[1].sales_total must be a number'],
      },
    ];
    for (const { name, change, errors } of invalid) {
      it(`quarantines reward_created with ${name}, listing paths but no values`, () => {
        const body = JSON.parse(readFixture('reward_created')) as { data: Record<string, unknown> };
        change(body.data);
        const event = receive(JSON.stringify(body));
        expect(event.status).to.equal('quarantined');
        expect(event.validationErrors).to.deep.equal(errors);
        expect(event.id).to.equal('firstpromoter-22737431');
        // Data is still stored, secrets stripped.
        expect(event.data.id).to.equal(11174868);
        expect(JSON.stringify(event)).not.to.contain('auth_token');
      });
    }

    it('never quotes a field value in a validation message', () => {
      const body = JSON.parse(readFixture('lead_signup')) as { data: Record<string, unknown> };
      body.data.email = { address: 'jane.doe@private.example' };
      body.data.customer_since = 'jane.doe@private.example';
      const event = receive(JSON.stringify(body));
      expect(event.validationErrors).to.deep.equal([
        'data.email must be a string',
        'data.customer_since must be an ISO 8601 timestamp',
      ]);
      expect(event.validationErrors?.join(' ')).not.to.contain('jane');
    });

    it('quarantines data that is not an object, storing an empty object', () => {
      const event = normalizeAndCheck(buildClassicBody('lead_signup', ['not', 'an', 'object']), options);
      expect(event.status).to.equal('quarantined');
      expect(event.validationErrors).to.deep.equal(['data must be an object']);
      expect(event.data).to.deep.equal({});
    });

    it('quarantines a missing or unreadable created_at and uses the arrival time', () => {
      const body = buildClassicBody('lead_signup', { id: 1 });
      (body.event as Record<string, unknown>).created_at = '03/10/2024';
      const event = normalizeAndCheck(body, options);
      expect(event.status).to.equal('quarantined');
      expect(event.occurredAt).to.equal('2024-10-03T13:45:21.000Z');
      expect(event.validationErrors).to.deep.equal(['event.created_at must be an ISO 8601 date-time with a time zone']);
    });
  });

  describe('normalize: bodies with no recognisable envelope', () => {
    const cases: { name: string; body: Record<string, unknown>; message: string }[] = [
      { name: 'an empty object', body: {}, message: 'missing event.id; missing event.type' },
      {
        name: 'no event.id',
        body: { event: { type: 'lead_signup', created_at: '2024-10-03T13:45:20.103Z' }, data: {} },
        message: 'missing event.id',
      },
      { name: 'no event.type', body: { event: { id: 5 }, data: {} }, message: 'missing event.type' },
      { name: 'a string event.id', body: { event: { id: '22736304', type: 'lead_signup' } }, message: 'event.id must be an integer' },
      { name: 'a fractional event.id', body: { event: { id: 1.5, type: 'lead_signup' } }, message: 'event.id must be an integer' },
      {
        name: 'a numeric event.type',
        body: { event: { id: 5, type: 7 } },
        message: "event.type must be a string of letters, digits, '_', '.' or '-'",
      },
      { name: 'an event that is a string', body: { event: 'lead_signup', data: {} }, message: 'event must be an object' },
      {
        name: 'a v2 body without event_id',
        body: { event_type: 'referral.created', data: { id: 1 } },
        message: 'missing event_id',
      },
      {
        name: 'a v2 event_id with a colon (unusable in job ids)',
        body: { event_id: 'a:b', event_type: 'referral.created', data: { id: 1 } },
        message: "event_id must be a string of letters, digits, '_', '.' or '-', or an integer",
      },
    ];
    for (const { name, body, message } of cases) {
      it(`refuses ${name}`, () => {
        const error = catchError(() => normalizeAndCheck(body, options));
        expect(error).to.be.instanceOf(MalformedDeliveryError);
        expect((error as MalformedDeliveryError).code).to.equal('envelope_unrecognised');
        expect((error as MalformedDeliveryError).message).to.equal(`Body is not a FirstPromoter webhook: ${message}`);
      });
    }
  });

  describe('hostile bodies', () => {
    it('quarantines a 10,000-deep body instead of crashing, and the event serialises', () => {
      const raw =
        '{"event":{"id":77,"type":"lead_signup","created_at":"2024-10-03T13:45:20.103Z"},' +
        '"data":{"id":5,"custom_fields":' +
        '{"a":'.repeat(10_000) +
        '{"auth_token":"deep"}' +
        '}'.repeat(10_000) +
        '}}';
      const event = receive(raw);
      expect(event.status).to.equal('quarantined');
      expect(event.validationErrors).to.deep.equal([
        'data nests deeper than 32 levels; deeper values were replaced by "[truncated]"',
      ]);
      const serialised = JSON.stringify(event);
      expect(serialised).to.contain('"[truncated]"');
      expect(serialised).not.to.contain('auth_token');
    });

    it('skips the schema check of a 1,000,000-element array and quarantines the event', () => {
      const raw =
        '{"event":{"id":78,"type":"promoter_signed_up","created_at":"2024-10-03T13:45:20.103Z"},' +
        `"data":{"promoter":{"id":1},"promotions":[${'0,'.repeat(999_999)}0]}}`;
      const started = Date.now();
      const event = receive(raw);
      expect(Date.now() - started).to.be.below(5000);
      expect(event.status).to.equal('quarantined');
      expect(event.validationErrors).to.deep.equal([
        'data.promotions holds 1000000 items, more than the 1000 a schema check reads; data was not checked',
      ]);
      expect(event.data.promotions).to.have.length(1_000_000);
    });

    it('stores __proto__, constructor and prototype keys as data without polluting prototypes', () => {
      const raw = readFixture('lead_signup').replace(
        '"state": "signup",',
        '"state": "signup", "__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}, "prototype": {"polluted": "yes"},',
      );
      const event = receive(raw);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      expect(event.status).to.equal('valid');
      expect(Object.getPrototypeOf(event.data)).to.equal(Object.prototype);
      expect((event.data as Record<string, unknown>).polluted).to.equal(undefined);
      expect(Object.getOwnPropertyDescriptor(event.data, '__proto__')?.value).to.deep.equal({ polluted: 'yes' });
      expect(event.data.constructor).to.deep.equal({ prototype: { polluted: 'yes' } });
    });
  });
});

describe('firstpromoter: normalize at intake, checkSchema in the worker', () => {
  it('leaves the payload schema to checkSchema, so the intake stays cheap', () => {
    const body = JSON.parse(readFixture('reward_created'));
    body.data.amount = '200';
    const event = firstpromoter.normalize(body, options);
    expect(event.status).to.equal('valid');
    expect(firstpromoter.checkSchema(event)).to.deep.equal(['data.amount must be a number']);
    const checked = applySchemaCheck(firstpromoter, event);
    expect(checked.status).to.equal('quarantined');
    expect(checked.validationErrors).to.deep.equal(['data.amount must be a number']);
  });

  it('passes every seed, secrets stripped, through checkSchema', () => {
    for (const name of ['lead_signup', 'promoter_signed_up', 'reward_created', 'promoter_accepted']) {
      const event = firstpromoter.normalize(JSON.parse(readFixture(name)), options);
      expect(firstpromoter.checkSchema(event), name).to.deep.equal([]);
    }
  });
});
