import { expect } from 'chai';
import { catchError } from '../../support/catch-error.js';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { BridgeEvent } from '../../../src/events/event.js';
import { AuthError, MalformedDeliveryError } from '../../../src/errors.js';
import { Secret } from '../../../src/secret.js';
import { applySchemaCheck } from '../../../src/sources/check-event.js';
import { rewardful } from '../../../src/sources/rewardful/index.js';
import { REWARDFUL_EVENT_TYPES } from '../../../src/sources/rewardful/schemas.js';
import type { NormalizeOptions, RawDelivery } from '../../../src/sources/source.js';
import { rewardfulObjectExamples } from './provider-examples.js';

/** What the bridge does to a delivery: normalised at intake, schema-checked by the events worker. */
const normalizeAndCheck = (body: Record<string, unknown>, options: NormalizeOptions) =>
  applySchemaCheck(rewardful, rewardful.normalize(body, options));

const SIGNING_SECRET = 'rw-signing-secret-fedcba9876543210';
const secret = new Secret(SIGNING_SECRET);
const options: NormalizeOptions = {
  receivedAt: new Date('2020-04-27T00:38:30.000Z'),
  strippedFields: ['auth_token', 'temp_password'],
};

const seedRaw = readFileSync(new URL('../../fixtures/deliveries/rewardful/referral.converted.json', import.meta.url), 'utf8');

function sign(raw: string | Buffer, key = SIGNING_SECRET): string {
  return createHmac('sha256', key).update(raw).digest('hex');
}

function makeDelivery(raw: string | Buffer, signature: string | string[] | undefined): RawDelivery {
  return {
    rawBody: typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw,
    headers: { 'content-type': 'application/json', ...(signature === undefined ? {} : { 'x-rewardful-signature': signature }) },
    query: {},
  };
}

/** Signs, verifies and normalises, as Rewardful and the HTTP layer do. */
function receive(raw: string): BridgeEvent {
  return normalizeAndCheck(rewardful.verify(makeDelivery(raw, sign(raw)), secret), options);
}

function buildEnvelope(type: string, object: unknown): Record<string, unknown> {
  return {
    object,
    event: { id: '7fcdc81d-996a-4b7b-8faf-1db98b9d5507', type, created_at: '2019-07-11T05:25:43.940Z', api_version: 'v1' },
    request: { id: '66a94f49-2b36-403c-83b8-91677cb1f460' },
  };
}

describe('rewardful source', () => {
  it('answers 200 (Rewardful counts any other code as a failure)', () => {
    expect(rewardful.name).to.equal('rewardful');
    expect(rewardful.successStatus).to.equal(200);
  });

  describe('verify: X-Rewardful-Signature', () => {
    it('accepts the HMAC-SHA256 of the raw body and returns the parsed body', () => {
      expect(rewardful.verify(makeDelivery(seedRaw, sign(seedRaw)), secret)).to.deep.equal(JSON.parse(seedRaw));
    });

    it('accepts the signature in uppercase hex', () => {
      expect(rewardful.verify(makeDelivery(seedRaw, sign(seedRaw).toUpperCase()), secret)).to.deep.equal(JSON.parse(seedRaw));
    });

    // A body whose bytes differ from JSON.stringify(JSON.parse(body)): other whitespace, other key order.
    const spacedRaw = '{ "request": {"id": "r-1"},\n  "event": {"type": "referral.lead", "id": "e-1", "created_at": "2020-04-27T00:36:28.448Z"},\n  "object": {"id": "ref-1"} }';
    const reserialised = JSON.stringify(JSON.parse(spacedRaw));

    const refused: { name: string; raw?: string | Buffer; signature: string | string[] | undefined; code: string }[] = [
      { name: 'a missing header', signature: undefined, code: 'signature_missing' },
      { name: 'an empty header', signature: '', code: 'signature_missing' },
      { name: 'a signature one hex digit short', signature: sign(seedRaw).slice(0, 63), code: 'signature_malformed' },
      { name: 'a signature one hex digit long', signature: `${sign(seedRaw)}0`, code: 'signature_malformed' },
      { name: 'a non-hex signature of the right length', signature: 'g'.repeat(64), code: 'signature_malformed' },
      { name: 'a sha256= prefixed signature', signature: `sha256=${sign(seedRaw)}`, code: 'signature_malformed' },
      { name: 'a base64 signature', signature: createHmac('sha256', SIGNING_SECRET).update(seedRaw).digest('base64'), code: 'signature_malformed' },
      { name: 'the header given twice', signature: [sign(seedRaw), sign(seedRaw)], code: 'signature_malformed' },
      { name: 'a signature of other bytes', signature: sign(`${seedRaw} `), code: 'signature_mismatch' },
      { name: 'a signature made with another secret', signature: sign(seedRaw, 'another-secret'), code: 'signature_mismatch' },
      {
        name: 'a signature over the re-serialised JSON instead of the raw bytes',
        raw: spacedRaw,
        signature: sign(reserialised),
        code: 'signature_mismatch',
      },
      { name: 'a valid signature with one body byte changed', raw: seedRaw.replace('42', '43'), signature: sign(seedRaw), code: 'signature_mismatch' },
    ];
    for (const { name, raw = seedRaw, signature, code } of refused) {
      it(`refuses ${name} with ${code}`, () => {
        const error = catchError(() => rewardful.verify(makeDelivery(raw, signature), secret));
        expect(error).to.be.instanceOf(AuthError);
        expect((error as AuthError).code).to.equal(code);
        expect((error as AuthError).message).not.to.contain(SIGNING_SECRET);
      });
    }

    it('accepts the raw-bytes signature of that same reordered body', () => {
      expect(spacedRaw).not.to.equal(reserialised);
      expect(rewardful.verify(makeDelivery(spacedRaw, sign(spacedRaw)), secret)).to.deep.equal(JSON.parse(spacedRaw));
    });

    it('checks the signature before parsing: an unsigned non-JSON body is an AuthError', () => {
      expect(catchError(() => rewardful.verify(makeDelivery('not json', undefined), secret))).to.be.instanceOf(AuthError);
    });

    it('before the body: refuses a missing or malformed signature, lets a well-formed one through to verify', () => {
      const before = (headers: RawDelivery['headers']) => catchError(() => rewardful.verifyBeforeBody!({ headers, query: {} }, secret));
      expect((before({}) as AuthError).code).to.equal('signature_missing');
      expect((before({ 'x-rewardful-signature': 'abc' }) as AuthError).code).to.equal('signature_malformed');
      expect((before({ 'x-rewardful-signature': ['a'.repeat(64), 'b'.repeat(64)] }) as AuthError).code).to.equal('signature_malformed');
      // Whether it matches needs the body: that is verify's step.
      expect(() => rewardful.verifyBeforeBody!({ headers: { 'x-rewardful-signature': 'f'.repeat(64) }, query: {} }, secret)).not.to.throw();
    });

    it('skips the signature when the secret is null (ALLOW_UNSIGNED_WEBHOOKS)', () => {
      expect(rewardful.verify(makeDelivery(seedRaw, undefined), null)).to.deep.equal(JSON.parse(seedRaw));
    });

    const malformedBodies: { name: string; raw: Buffer; code: string }[] = [
      { name: 'malformed JSON', raw: Buffer.from('{"object":'), code: 'body_not_json' },
      { name: 'an empty body', raw: Buffer.alloc(0), code: 'body_not_json' },
      { name: 'invalid UTF-8', raw: Buffer.from([0x7b, 0xe2, 0x28, 0xa1, 0x7d]), code: 'body_not_json' },
      { name: 'a JSON array', raw: Buffer.from('[{"object":{}}]'), code: 'body_not_object' },
      { name: 'a JSON string', raw: Buffer.from('"referral.converted"'), code: 'body_not_object' },
    ];
    for (const { name, raw, code } of malformedBodies) {
      it(`refuses a correctly signed body of ${name} with ${code}`, () => {
        const error = catchError(() => rewardful.verify(makeDelivery(raw, sign(raw)), secret));
        expect(error).to.be.instanceOf(MalformedDeliveryError);
        expect((error as MalformedDeliveryError).code).to.equal(code);
      });
    }
  });

  describe('normalize', () => {
    it('turns the seed referral.converted delivery into a valid event', () => {
      const event = receive(seedRaw);
      const seed = JSON.parse(seedRaw) as { object: Record<string, unknown> };
      expect(event).to.deep.equal({
        id: 'rewardful-7d1c9d4a-3f5e-4c1b-9a57-2b7f0f3c6e10',
        source: 'rewardful',
        type: 'rewardful.referral.converted',
        providerType: 'referral.converted',
        occurredAt: '2020-04-27T00:38:29.012Z',
        receivedAt: '2020-04-27T00:38:30.000Z',
        status: 'valid',
        origin: 'webhook',
        envelope: { request: { id: '5a0f2b4e-8c3d-4e6f-a1b2-c3d4e5f60718' } },
        data: seed.object,
        canonicalTypes: ['affiliate.lead.converted'],
        affiliate: {
          provider: 'rewardful',
          lead: { id: 'e523da29-6157-4aac-b4b5-05b3b7b14fb6', email: 'fred.durst@example.com' },
          promoter: { id: 'dc939584-a94a-4bdf-b8f4-8d255aae729c', email: 'james.bond@example.com', name: 'James Bond' },
          commission: { id: null, amount_cents: null, currency: null, status: null },
          payout: { id: null, amount_cents: null, currency: null, status: null },
          campaign: { name: 'Friends of MI6' },
          fraud: null,
        },
      });
      expect(JSON.stringify(event)).not.to.match(/auth_token|temp_password/);
    });

    for (const [type, object] of Object.entries(rewardfulObjectExamples)) {
      it(`accepts the documented ${type} object as valid`, () => {
        const event = normalizeAndCheck(buildEnvelope(type, object), options);
        expect(event.validationErrors).to.equal(undefined);
        expect(event).to.include({ type: `rewardful.${type}`, status: 'valid', occurredAt: '2019-07-11T05:25:43.940Z' });
        expect(event.data).to.deep.equal(object);
      });
    }

    for (const type of REWARDFUL_EVENT_TYPES) {
      it(`recognises ${type}`, () => {
        const event = normalizeAndCheck(buildEnvelope(type, { id: '3433fffa-8255-4843-81b1-22aebc21eb34' }), options);
        expect(event.validationErrors).to.equal(undefined);
        expect(event).to.include({
          id: 'rewardful-7fcdc81d-996a-4b7b-8faf-1db98b9d5507',
          type: `rewardful.${type}`,
          providerType: type,
          status: 'valid',
        });
      });
    }

    it('covers the seven object families of the event-types page', () => {
      const families = new Set(REWARDFUL_EVENT_TYPES.map((type) => type.slice(0, type.indexOf('.'))));
      expect([...families]).to.deep.equal([
        'affiliate',
        'affiliate_link',
        'affiliate_coupon',
        'referral',
        'sale',
        'commission',
        'payout',
      ]);
      expect(REWARDFUL_EVENT_TYPES).to.include.members(['referral.lead', 'sale.refunded', 'commission.voided', 'payout.paid']);
    });

    it('quarantines an unknown type, naming it, and still stores the object', () => {
      const event = normalizeAndCheck(buildEnvelope('campaign.created', { id: 'c-1', name: 'Friends' }), options);
      expect(event).to.include({ type: 'rewardful.campaign.created', status: 'quarantined' });
      expect(event.validationErrors).to.deep.equal(['Unknown Rewardful event type "campaign.created"']);
      expect(event.data).to.deep.equal({ id: 'c-1', name: 'Friends' });
    });

    const invalid: { name: string; type: string; object: Record<string, unknown>; errors: string[] }[] = [
      {
        name: 'an amount sent as a string',
        type: 'commission.created',
        object: { id: 'c-1', amount: '3000' },
        errors: ['data.amount must be a number'],
      },
      {
        name: 'an amount with a fraction',
        type: 'commission.paid',
        object: { id: 'c-1', amount: 30.5 },
        errors: ['data.amount must be an integer'],
      },
      {
        name: 'sale cents as a fraction and an id that is a number',
        type: 'sale.refunded',
        object: { id: 17, refund_amount_cents: 99.9 },
        errors: ['data.id must be a string', 'data.refund_amount_cents must be an integer'],
      },
      {
        name: 'a nested affiliate without id and a non-boolean flag',
        type: 'referral.lead',
        object: { id: 'r-1', affiliate: { email: 'x@example.com', receive_new_commission_notifications: 'yes' } },
        errors: ['data.affiliate.id is a required field', 'data.affiliate.receive_new_commission_notifications must be a boolean'],
      },
      {
        name: 'a missing id',
        type: 'affiliate.created',
        object: { email: 'x@example.com' },
        errors: ['data.id is a required field'],
      },
      {
        name: 'a coupon count that is not a whole number',
        type: 'affiliate_coupon.created',
        object: { id: 'cp-1', leads: 'many' },
        errors: ['data.leads must be a whole number'],
      },
    ];
    for (const { name, type, object, errors } of invalid) {
      it(`quarantines ${type} with ${name}`, () => {
        const event = normalizeAndCheck(buildEnvelope(type, object), options);
        expect(event.status).to.equal('quarantined');
        expect(event.validationErrors).to.deep.equal(errors);
        expect(event.data).to.deep.equal(object);
      });
    }

    it('quarantines a missing object, storing an empty one', () => {
      const body = buildEnvelope('referral.created', undefined);
      delete body.object;
      const event = normalizeAndCheck(body, options);
      expect(event.status).to.equal('quarantined');
      expect(event.validationErrors).to.deep.equal(['data is missing']);
      expect(event.data).to.deep.equal({});
    });

    it('omits the envelope when the request key and event.api_version are absent', () => {
      const body = buildEnvelope('referral.created', { id: 'r-1' });
      delete body.request;
      // Only the API version left: the envelope holds just that (developers.rewardful.com/webhooks/requests).
      expect(normalizeAndCheck(body, options).envelope).to.deep.equal({ api_version: 'v1' });
      delete (body.event as Record<string, unknown>).api_version;
      const event = normalizeAndCheck(body, options);
      expect(event).not.to.have.property('envelope');
      expect(event.status).to.equal('valid');
    });

    const unrecognised: { name: string; body: Record<string, unknown>; message: string }[] = [
      { name: 'an empty object', body: {}, message: 'missing event.id; missing event.type' },
      { name: 'a FirstPromoter body', body: { event: { id: 22736304, type: 'lead_signup' }, data: {} }, message: "event.id must be a string of letters, digits, '_', '.' or '-'" },
      { name: 'no event.type', body: { object: {}, event: { id: 'e-1' } }, message: 'missing event.type' },
      { name: 'no event.id', body: { object: {}, event: { type: 'sale.created' } }, message: 'missing event.id' },
      { name: 'an event that is an array', body: { object: {}, event: [] }, message: 'event must be an object' },
      {
        name: 'a type with spaces',
        body: { object: {}, event: { id: 'e-1', type: 'sale created' } },
        message: "event.type must be a string of letters, digits, '_', '.' or '-'",
      },
    ];
    for (const { name, body, message } of unrecognised) {
      it(`refuses ${name} as envelope_unrecognised`, () => {
        const error = catchError(() => normalizeAndCheck(body, options));
        expect(error).to.be.instanceOf(MalformedDeliveryError);
        expect((error as MalformedDeliveryError).code).to.equal('envelope_unrecognised');
        expect((error as MalformedDeliveryError).message).to.equal(`Body is not a Rewardful webhook: ${message}`);
      });
    }

    it('quarantines a 10,000-deep object instead of crashing, and the event serialises', () => {
      const raw =
        '{"event":{"id":"e-deep","type":"affiliate.updated","created_at":"2020-04-27T00:38:29.012Z"},' +
        '"object":{"id":"a-1","nested":' +
        '['.repeat(10_000) +
        ']'.repeat(10_000) +
        '}}';
      const event = receive(raw);
      expect(event.status).to.equal('quarantined');
      expect(event.validationErrors).to.deep.equal([
        'data nests deeper than 32 levels; deeper values were replaced by "[truncated]"',
      ]);
      expect(() => JSON.stringify(event)).not.to.throw();
    });

    it('stores __proto__, constructor and prototype keys without polluting prototypes', () => {
      const raw =
        '{"event":{"id":"e-proto","type":"affiliate.created","created_at":"2020-04-27T00:38:29.012Z"},' +
        '"object":{"id":"a-1","__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"}},' +
        '"request":{"id":"r","__proto__":{"polluted":"yes"}}}';
      const event = receive(raw);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      expect(event.status).to.equal('valid');
      expect((event.data as Record<string, unknown>).polluted).to.equal(undefined);
      expect(Object.getOwnPropertyDescriptor(event.data, '__proto__')?.value).to.deep.equal({ polluted: 'yes' });
      const request = event.envelope?.request as Record<string, unknown>;
      expect(Object.getPrototypeOf(request)).to.equal(Object.prototype);
      expect(request.polluted).to.equal(undefined);
    });
  });
});
