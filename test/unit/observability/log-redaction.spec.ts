import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createKeyCensor, createLogger, LOG_REDACTION, REDACTED, type RedactedKey } from '../../../src/observability/logger.js';

const KEYS: RedactedKey[] = [
  { key: 'token', maxDepth: 2 },
  { key: 'auth_token', maxDepth: 4 },
];
const censor = createKeyCensor(KEYS);

/** The bridge's logger (real pino), writing into an array. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createLogger({ level: 'info', destination: stream }), lines };
}

describe('log redaction', () => {
  describe('createKeyCensor', () => {
    it('redacts a key at each depth up to its own, not below', () => {
      const line = {
        auth_token: 'a1',
        data: { auth_token: 'a2', promoter: { auth_token: 'a3', profile: { auth_token: 'a4', deeper: { auth_token: 'a5' } } } },
        token: 't1',
        request: { token: 't2', query: { token: 't3' } },
      };
      expect(censor(line)).to.deep.equal({
        auth_token: REDACTED,
        data: { auth_token: REDACTED, promoter: { auth_token: REDACTED, profile: { auth_token: REDACTED, deeper: { auth_token: 'a5' } } } },
        token: REDACTED,
        request: { token: REDACTED, query: { token: 't3' } },
      });
    });

    it('looks into arrays as a level, and leaves the input unchanged', () => {
      const line = { leads: [{ email: 'a@example.com', auth_token: 'secret' }, { email: 'b@example.com' }] };
      const before = JSON.stringify(line);
      expect(censor(line)).to.deep.equal({ leads: [{ email: 'a@example.com', auth_token: REDACTED }, { email: 'b@example.com' }] });
      expect(JSON.stringify(line)).to.equal(before);
    });

    it('returns the very same object when there is nothing to redact, and shares the branches it did not touch', () => {
      const untouched = { id: 1, nested: { list: [1, 2, 3] } };
      expect(censor(untouched)).to.equal(untouched);
      const line = { clean: { a: 1 }, dirty: { auth_token: 'x' } };
      const censored = censor(line);
      expect(censored.clean).to.equal(line.clean);
      expect(censored.dirty).to.not.equal(line.dirty);
    });

    it('keeps a copied error an error, with its message and stack', () => {
      const error = Object.assign(new TypeError('boom'), { request: { auth_token: 'x' } });
      const censored = censor({ err: error }).err;
      expect(censored).to.be.instanceOf(TypeError);
      expect(censored.message).to.equal('boom');
      expect(censored.stack).to.equal(error.stack);
      expect(censored.request).to.deep.equal({ auth_token: REDACTED });
      expect(error.request.auth_token).to.equal('x');
    });

    it('does not walk into Buffers and stops at its depth on a cycle', () => {
      const buffer = Buffer.alloc(1_000_000);
      expect(censor({ body: buffer }).body).to.equal(buffer);
      const cyclic: Record<string, unknown> = { name: 'loop' };
      cyclic.self = cyclic;
      expect(censor(cyclic)).to.equal(cyclic);
    });
  });

  describe('the bridge logger (real pino)', () => {
    it("redacts the shipped sources' stripped fields and tokens in lines and in child loggers' bindings, and the credential headers by path", () => {
      const { logger, lines } = capture();
      logger.info({ payload: { data: { auth_token: 'fp-secret', temp_password: 'pw' } }, headers: { authorization: 'Bearer xyz', 'x-other': 'kept' }, token: 'tok' }, 'line');
      logger.child({ request: { token: 'child-token' }, eventId: 'e1' }).child({ nested: { auth_token: 'grandchild' } }).info({ query: { token: 'q' } }, 'child line');
      const output = JSON.stringify(lines);
      for (const secret of ['fp-secret', '"pw"', 'Bearer xyz', '"tok"', 'child-token', 'grandchild', '"q"']) expect(output).to.not.include(secret);
      expect(lines[0]).to.deep.include({ payload: { data: { auth_token: REDACTED, temp_password: REDACTED } }, headers: { authorization: REDACTED, 'x-other': 'kept' }, token: REDACTED });
      expect(lines[1]).to.deep.include({ request: { token: REDACTED }, eventId: 'e1', nested: { auth_token: REDACTED }, query: { token: REDACTED }, msg: 'child line' });
    });

    it('covers the shipped stripped fields down to three levels below a top-level object', () => {
      expect(LOG_REDACTION.keys).to.deep.include.members([
        { key: 'token', maxDepth: 2 },
        { key: 'auth_token', maxDepth: 4 },
        { key: 'temp_password', maxDepth: 4 },
      ]);
    });
  });
});
