import { expect } from 'chai';
import { MalformedDeliveryError } from '../../../src/errors.js';
import { parseJsonBody } from '../../../src/sources/parse-json-body.js';

function catchParseError(raw: Buffer): MalformedDeliveryError {
  try {
    parseJsonBody(raw);
  } catch (error) {
    expect(error).to.be.instanceOf(MalformedDeliveryError);
    return error as MalformedDeliveryError;
  }
  throw new Error('expected parseJsonBody to throw');
}

describe('parseJsonBody', () => {
  it('returns the parsed object', () => {
    expect(parseJsonBody(Buffer.from('{"event":{"id":1},"data":{"a":[1,"b",null]}}'))).to.deep.equal({
      event: { id: 1 },
      data: { a: [1, 'b', null] },
    });
  });

  it('accepts a UTF-8 byte order mark and multi-byte characters', () => {
    const raw = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"name":"Zoë ✓"}', 'utf8')]);
    expect(parseJsonBody(raw)).to.deep.equal({ name: 'Zoë ✓' });
  });

  const notJson: { name: string; raw: Buffer; message: string }[] = [
    { name: 'an empty body', raw: Buffer.alloc(0), message: 'Body is not valid JSON: the body is empty' },
    { name: 'only whitespace', raw: Buffer.from('  \n'), message: 'Body is not valid JSON: unexpected end of JSON input' },
    {
      name: 'an unfinished object',
      raw: Buffer.from('{'),
      message: "Body is not valid JSON: expected property name or '}' at position 1",
    },
    { name: 'a bare word', raw: Buffer.from('hello'), message: "Body is not valid JSON: unexpected token 'h'" },
    {
      name: 'invalid UTF-8 bytes',
      raw: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      message: 'Body is not valid JSON: the body is not valid UTF-8',
    },
    {
      name: 'a form-encoded body',
      raw: Buffer.from('token=abc&event=lead_signup'),
      message: "Body is not valid JSON: unexpected token 'o'",
    },
  ];
  for (const { name, raw, message } of notJson) {
    it(`refuses ${name} as body_not_json`, () => {
      const error = catchParseError(raw);
      expect(error.code).to.equal('body_not_json');
      expect(error.message).to.equal(message);
    });
  }

  it('never quotes the body back in the message (it may hold personal data)', () => {
    const error = catchParseError(Buffer.from('{"email": "jane.doe@example.com" oops}'));
    expect(error.code).to.equal('body_not_json');
    expect(error.message).to.equal("Body is not valid JSON: expected ',' or '}' after property value at position 33");
    expect(error.message).not.to.contain('jane');
  });

  const notObjects: { name: string; raw: string; message: string }[] = [
    { name: 'an array', raw: '[{"event":{}}]', message: 'Body must be a JSON object, got an array' },
    { name: 'a string', raw: '"lead_signup"', message: 'Body must be a JSON object, got a string' },
    { name: 'null', raw: 'null', message: 'Body must be a JSON object, got null' },
    { name: 'a number', raw: '22736304', message: 'Body must be a JSON object, got a number' },
    { name: 'a boolean', raw: 'true', message: 'Body must be a JSON object, got a boolean' },
  ];
  for (const { name, raw, message } of notObjects) {
    it(`refuses ${name} as body_not_object`, () => {
      const error = catchParseError(Buffer.from(raw));
      expect(error.code).to.equal('body_not_object');
      expect(error.message).to.equal(message);
    });
  }

  it('parses an object nested 10,000 deep without overflowing the stack', () => {
    const depth = 10_000;
    const parsed = parseJsonBody(Buffer.from('{"a":'.repeat(depth) + '1' + '}'.repeat(depth)));
    let levels = 0;
    let node: unknown = parsed;
    while (typeof node === 'object' && node !== null) {
      node = (node as { a: unknown }).a;
      levels += 1;
    }
    expect(levels).to.equal(depth);
    expect(node).to.equal(1);
  });

  it('parses a 1,000,000-element array', () => {
    const parsed = parseJsonBody(Buffer.from(`{"items":[${'0,'.repeat(999_999)}7]}`));
    const items = parsed.items as number[];
    expect(items).to.have.length(1_000_000);
    expect(items[999_999]).to.equal(7);
  });

  it('keeps __proto__, constructor and prototype as own keys without polluting Object.prototype', () => {
    const parsed = parseJsonBody(
      Buffer.from('{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"data":{}}'),
    );
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    expect(Object.getPrototypeOf(parsed)).to.equal(Object.prototype);
    expect(Object.keys(parsed)).to.deep.equal(['__proto__', 'constructor', 'data']);
    expect(Object.getOwnPropertyDescriptor(parsed, '__proto__')?.value).to.deep.equal({ polluted: 'yes' });
  });
});
