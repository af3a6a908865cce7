import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { bridgeKeys } from '../../../src/queue/names.js';
import { appendTraceRun, COMPACT_TRACE_FORMAT, readEventTrace, type TraceRun } from '../../../src/queue/trace.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { createRedisConnection } from '../../../src/infra/redis.js';
import { countSocketWrites, deleteKeys, randomPrefix, SHARED_REDIS_URL } from '../../support/redis.js';

const delivery = JSON.parse(readFileSync(new URL('../../fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8'));
const event = sourceRegistry.firstpromoter.normalize(delivery, { receivedAt: new Date('2026-01-02T03:04:05Z'), strippedFields: ['auth_token', 'temp_password'] });

const runOf = (generation: number, at: string, actionJobIds: string[] = []): TraceRun => ({
  at,
  generation,
  quarantined: false,
  matched: [],
  unmatched: [],
  failures: [],
  warnings: [],
  actionJobIds,
  suppressed: [],
});

describe('event traces (real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  const options = () => ({ state: redis, prefix, ttlMs: 60_000, receivedAtMs: Date.parse(event.receivedAt) });

  beforeEach(() => {
    redis = new Redis(SHARED_REDIS_URL);
    prefix = randomPrefix('trace');
  });

  afterEach(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('keeps the event and its first run as readable JSON, indexed, with its extra writes and the dedup window as TTL', async () => {
    const first = runOf(0, '2026-01-02T03:04:06.000Z', ['a.0']);
    const result = await appendTraceRun(event, first, { ...options(), extra: (batch) => void batch.set(`${prefix}:extra`, 'written') });
    expect(result).to.deep.equal({ isRerun: false });
    expect(await readEventTrace(redis, prefix, event.id)).to.deep.equal({ event, runs: [first] });
    // Stored compact on purpose (trace.ts: encodeStoredTrace): the payload and the run, the affiliate fields derived again on read.
    expect(JSON.parse((await redis.get(bridgeKeys(prefix).trace(event.id)))!)).to.deep.equal({
      format: COMPACT_TRACE_FORMAT,
      event: (({ affiliate: _affiliate, canonicalTypes: _canonicalTypes, ...payloadEvent }) => payloadEvent)(event),
      runs: [{ at: first.at, generation: 0, actionJobIds: ['a.0'] }],
    });
    expect(await redis.pttl(bridgeKeys(prefix).trace(event.id))).to.be.within(1, 60_000);
    expect(await redis.zscore(bridgeKeys(prefix).recentEvents, event.id)).to.equal(String(Date.parse(event.receivedAt)));
    expect(await redis.get(`${prefix}:extra`)).to.equal('written');
  });

  it('replaces the run of a job run again (same generation) instead of keeping both, and adds a replay\'s run after it', async () => {
    await appendTraceRun(event, runOf(0, '2026-01-02T03:04:06.000Z', ['a.0']), options());
    const again = runOf(0, '2026-01-02T03:05:00.000Z', ['a.0', 'a.1']);
    expect(await appendTraceRun(event, again, options())).to.deep.equal({ isRerun: true });
    expect((await readEventTrace(redis, prefix, event.id))!.runs).to.deep.equal([again]);

    const seen: TraceRun[][] = [];
    const replay = runOf(1, '2026-01-02T04:00:00.000Z');
    expect(await appendTraceRun(event, replay, { ...options(), extra: (_batch, earlier) => void seen.push([...earlier]) })).to.deep.equal({ isRerun: false });
    expect(seen).to.deep.equal([[again]]);
    expect((await readEventTrace(redis, prefix, event.id))!.runs).to.deep.equal([again, replay]);
  });

  it('writes the first runs of events planned in the same turn together, in one socket write on the bridge\'s state connection', async () => {
    const state = createRedisConnection(SHARED_REDIS_URL, 'state');
    try {
      await state.ping();
      const events = ['a', 'b', 'c'].map((suffix) => ({ ...event, id: `${event.id}-${suffix}` }));
      const writes = countSocketWrites(state);
      const results = await Promise.all(events.map((each) => appendTraceRun(each, runOf(0, '2026-01-02T03:04:06.000Z', [`${each.id}.0`]), { ...options(), state })));
      expect(results).to.deep.equal(events.map(() => ({ isRerun: false })));
      expect(writes.count).to.equal(1);
      for (const each of events) expect((await readEventTrace(redis, prefix, each.id))!.runs[0].actionJobIds).to.deep.equal([`${each.id}.0`]);
    } finally {
      state.disconnect();
    }
  });

  it('fails when a write of the first run fails (the event job then runs again), the other writes done', async () => {
    await redis.set(`${prefix}:counter`, 'not a number');
    const failure = await appendTraceRun(event, runOf(0, '2026-01-02T03:04:06.000Z'), { ...options(), extra: (batch) => void batch.incr(`${prefix}:counter`).set(`${prefix}:after`, 'written') }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).to.be.instanceOf(Error).with.property('message', 'ERR value is not an integer or out of range');
    expect(await readEventTrace(redis, prefix, event.id)).to.not.equal(null);
    expect(await redis.get(`${prefix}:after`)).to.equal('written');
  });
});
