import { inspect, format } from 'node:util';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { Secret } from '../../../src/secret.js';

const VALUE = 'xoxb-never-printed-0123456789';

/** Security notes: "tokens and secrets are wrapped so that logs, errors, JSON and util.inspect print [secret]". */
describe('Secret (a credential that cannot leak by accident)', () => {
  const secret = new Secret(VALUE);
  const holder = { token: secret, nested: { list: [secret] } };

  const renderings: Array<[string, () => string]> = [
    ['String()', () => String(secret)],
    ['a template literal', () => `${secret}`],
    ['string concatenation', () => 'token: ' + secret],
    ['JSON.stringify of an object holding it', () => JSON.stringify(holder)],
    ['util.inspect, hidden fields shown', () => inspect(holder, { showHidden: true, depth: 10 })],
    ['util.format %o and %s', () => format('%o %s', holder, secret)],
    ['an Error message built from it', () => new Error(`bad token ${secret}`, { cause: holder }).message],
  ];
  for (const [how, render] of renderings) {
    it(`prints [secret] through ${how}`, () => {
      const text = render();
      expect(text).to.contain('[secret]');
      expect(text).not.to.contain(VALUE);
    });
  }

  it('prints [secret] in a pino log line of an object holding it', () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _encoding, done) => void (lines.push(String(chunk)), done()) }));
    logger.info({ config: holder, err: new Error('failed', { cause: holder }) }, 'with a secret');
    expect(lines.join('')).to.contain('[secret]').and.not.contain(VALUE);
  });

  it('reveals the value only through reveal()', () => {
    expect(secret.reveal()).to.equal(VALUE);
  });
});
