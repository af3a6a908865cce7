import { expect } from 'chai';
import { DEFAULT_STRIPPED_FIELDS as DEFAULT_SECRET_FIELDS } from '../../../src/sources/registry.js';
import { TRUNCATED_MARKER, copyPayload, stripSecretFields } from '../../../src/sources/strip-secrets.js';

describe('stripSecretFields', () => {
  it('removes the default fields at any depth, inside arrays too, and leaves the input unchanged', () => {
    const input = {
      auth_token: 'root-token',
      promoter: {
        id: 1,
        auth_token: 'promoter-token',
        temp_password: 'XPQ-rT',
        promotions: [{ id: 2, nested: { temp_password: 'deep' } }],
      },
      promotions: [{ auth_token: 'in-array', ref_id: 'abc' }],
    };
    const before = JSON.stringify(input);

    const stripped = stripSecretFields(input, DEFAULT_SECRET_FIELDS);

    expect(stripped).to.deep.equal({
      promoter: { id: 1, promotions: [{ id: 2, nested: {} }] },
      promotions: [{ ref_id: 'abc' }],
    });
    expect(JSON.stringify(input)).to.equal(before);
  });

  it('removes a dotted path only at that exact place from the root', () => {
    const input = {
      promoter: { profile: { paypal_email: 'pay@example.com', country: 'US' } },
      lead: { promoter: { profile: { paypal_email: 'kept@example.com' } } },
      paypal_email: 'kept-at-root@example.com',
    };

    const stripped = stripSecretFields(input, ['promoter.profile.paypal_email']);

    expect(stripped).to.deep.equal({
      promoter: { profile: { country: 'US' } },
      lead: { promoter: { profile: { paypal_email: 'kept@example.com' } } },
      paypal_email: 'kept-at-root@example.com',
    });
  });

  it('treats arrays as transparent to dotted paths', () => {
    const input = { promotions: [{ promo_code: 'A', id: 1 }, { promo_code: 'B', id: 2 }], promo_code: 'root' };
    expect(stripSecretFields(input, ['promotions.promo_code'])).to.deep.equal({
      promotions: [{ id: 1 }, { id: 2 }],
      promo_code: 'root',
    });
  });

  it('combines default and dotted entries', () => {
    const input = { promoter: { auth_token: 't', cust_id: 'c', profile: { vat_id: 'v', id: 3 } } };
    expect(stripSecretFields(input, [...DEFAULT_SECRET_FIELDS, 'promoter.profile.vat_id'])).to.deep.equal({
      promoter: { cust_id: 'c', profile: { id: 3 } },
    });
  });

  it('returns primitives as they are', () => {
    expect(stripSecretFields('text', DEFAULT_SECRET_FIELDS)).to.equal('text');
    expect(stripSecretFields(null, DEFAULT_SECRET_FIELDS)).to.equal(null);
  });

  it('walks 100,000 levels without recursion and strips the secret at the bottom', () => {
    const depth = 100_000;
    const input = JSON.parse('{"a":'.repeat(depth) + '{"auth_token":"bottom","id":7}' + '}'.repeat(depth)) as unknown;

    const stripped = stripSecretFields(input, DEFAULT_SECRET_FIELDS);

    let node = stripped as Record<string, unknown>;
    for (let level = 0; level < depth; level += 1) node = node.a as Record<string, unknown>;
    expect(node).to.deep.equal({ id: 7 });
  });

  it('copies a 1,000,000-element array', () => {
    const input = { items: Array.from({ length: 1_000_000 }, (_, index) => ({ index, auth_token: 'x' })) };
    const stripped = stripSecretFields(input, DEFAULT_SECRET_FIELDS);
    expect(stripped.items).to.have.length(1_000_000);
    expect(stripped.items[999_999]).to.deep.equal({ index: 999_999 });
  });

  it('keeps __proto__, constructor and prototype as own data and pollutes no prototype', () => {
    const input = JSON.parse(
      '{"__proto__":{"polluted":"yes","auth_token":"t"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":1}',
    ) as Record<string, unknown>;

    const stripped = stripSecretFields(input, DEFAULT_SECRET_FIELDS);

    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    expect(Object.getPrototypeOf(stripped)).to.equal(Object.prototype);
    expect((stripped as Record<string, unknown>).polluted).to.equal(undefined);
    expect(Object.keys(stripped)).to.deep.equal(['__proto__', 'constructor', 'prototype']);
    expect(Object.getOwnPropertyDescriptor(stripped, '__proto__')?.value).to.deep.equal({ polluted: 'yes' });
    expect(JSON.stringify(stripped)).to.equal(
      '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":1}',
    );
  });

  it('refuses a cyclic value instead of looping forever', () => {
    const cyclic: Record<string, unknown> = { a: { b: {} } };
    ((cyclic.a as Record<string, unknown>).b as Record<string, unknown>).back = cyclic;
    expect(() => stripSecretFields(cyclic, DEFAULT_SECRET_FIELDS)).to.throw(TypeError, 'cycle');
  });

  it('copies an object referenced twice (as YAML aliases make) in both places', () => {
    const campaign = { id: 'c-1', auth_token: 't' };
    const stripped = stripSecretFields({ a: campaign, b: [campaign] }, DEFAULT_SECRET_FIELDS);
    expect(stripped).to.deep.equal({ a: { id: 'c-1' }, b: [{ id: 'c-1' }] });
    expect(campaign).to.deep.equal({ id: 'c-1', auth_token: 't' });
  });
});

describe('copyPayload', () => {
  it('replaces containers deeper than maxDepth and says so', () => {
    const input = { a: { b: { c: { d: 1 } }, list: [[1]] }, keep: 1 };

    const copied = copyPayload(input, { maxDepth: 2 });

    expect(copied.value).to.deep.equal({ a: { b: { c: TRUNCATED_MARKER }, list: [TRUNCATED_MARKER] }, keep: 1 });
    expect(copied.isTruncated).to.equal(true);
    expect(copyPayload(input, { maxDepth: 3 }).isTruncated).to.equal(false);
  });

  it('bounds a 10,000-deep payload so that JSON.stringify can store it', () => {
    const deep = JSON.parse('{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000)) as unknown;
    expect(() => JSON.stringify(deep)).to.throw(RangeError);

    const copied = copyPayload(deep, { maxDepth: 32 });

    expect(copied.isTruncated).to.equal(true);
    const serialised = JSON.stringify(copied.value);
    // The root is depth 0, so 33 objects are kept and the 34th is replaced.
    expect(serialised).to.equal('{"a":'.repeat(33) + '"[truncated]"' + '}'.repeat(33));
  });

  it('reports the first array longer than maxArrayItems with its path', () => {
    const input = { promoter: { promotions: [{ id: 1 }, { tags: [1, 2, 3, 4] }] }, other: [1, 2, 3, 4, 5] };
    const copied = copyPayload(input, { maxArrayItems: 3 });
    expect(copied.oversizedArray).to.deep.equal({ path: 'promoter.promotions[1].tags', length: 4 });
    expect(copied.value).to.deep.equal(input);
    expect(copyPayload(input, { maxArrayItems: 5 }).oversizedArray).to.equal(null);
  });
});
