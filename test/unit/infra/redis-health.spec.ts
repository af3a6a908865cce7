import { expect } from 'chai';
import { createCapturingLogger } from '../../support/log-capture.js';
import { describeRedisConnectionError, redactRedisUrl, RedisHealth } from '../../../src/infra/redis-health.js';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });

/** Issue 14.1: one line per state change of Redis, not one per connection per retry. */
describe('RedisHealth (one line per Redis state change)', () => {
  it('tells connection-type errors from the others', () => {
    expect(describeRedisConnectionError(refused())).to.equal('ECONNREFUSED');
    expect(describeRedisConnectionError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).to.equal('ECONNRESET');
    expect(describeRedisConnectionError(new Error('Connection is closed.'))).to.equal('connection closed');
    expect(describeRedisConnectionError(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).to.equal('connection closed');
    expect(describeRedisConnectionError(new AggregateError([refused(), refused()]))).to.equal('ECONNREFUSED');
    expect(describeRedisConnectionError(new Error('WRONGPASS invalid username-password pair'))).to.equal(null);
    expect(describeRedisConnectionError(new Error('ERR Error running script'))).to.equal(null);
    expect(describeRedisConnectionError('ECONNREFUSED')).to.equal(null);
  });

  it('never shows the password (nor the user) of the URL', () => {
    expect(redactRedisUrl('redis://default:s3cr3t-pw@redis.internal:6380/2')).to.equal('redis://redis.internal:6380/2');
    expect(redactRedisUrl('rediss://:s3cr3t-pw@redis.internal')).to.equal('rediss://redis.internal');
    expect(redactRedisUrl('redis://127.0.0.1:6379')).to.equal('redis://127.0.0.1:6379');
  });

  it('logs one warning when Redis goes away, however many retries fail, and one line when it is back', () => {
    const { logger, lines } = createCapturingLogger();
    let now = Date.parse('2026-12-07T12:00:00.000Z');
    const health = new RedisHealth({ url: 'redis://user:s3cr3t-pw@127.0.0.1:6379', logger, now: () => now });
    health.connectionReady();
    expect(health.describe()).to.equal(null);
    for (let retry = 0; retry < 12; retry += 1) {
      expect(health.report(refused())).to.equal(true);
      now += 2_000;
    }
    expect(health.describe()).to.equal('redis: unreachable since 2026-12-07T12:00:00.000Z (ECONNREFUSED)');
    health.connectionReady();
    health.connectionReady();
    const messages = lines().map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages).to.deep.equal(['Redis unreachable at redis://127.0.0.1:6379 (ECONNREFUSED); retrying', 'Redis reachable again after 24 s']);
    expect(lines().join('\n')).to.not.include('s3cr3t-pw');
    expect(health.describe()).to.equal(null);
  });

  it('says "reachable after" (not "again") for a Redis that was not there at start-up', () => {
    const { logger, lines } = createCapturingLogger();
    let now = 0;
    const health = new RedisHealth({ url: 'redis://127.0.0.1:6379', logger, now: () => now });
    health.report(refused());
    now = 9_600;
    health.connectionReady();
    expect(lines().map((line) => (JSON.parse(line) as { msg: string }).msg)).to.deep.equal(['Redis unreachable at redis://127.0.0.1:6379 (ECONNREFUSED); retrying', 'Redis reachable after 10 s']);
  });

  it('leaves other errors to the caller to log', () => {
    const { logger, lines } = createCapturingLogger();
    const health = new RedisHealth({ url: 'redis://127.0.0.1:6379', logger });
    expect(health.report(new Error('ERR unknown command'))).to.equal(false);
    expect(health.describe(), 'not an outage').to.equal(null);
    expect(lines()).to.deep.equal([]);
  });
});
