import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { actionRegistry } from '../../../src/actions/registry.js';
import { bridgeKeys } from '../../../src/queue/names.js';
import { readRuleProblems, shareRuleProblems } from '../../../src/queue/rule-problems.js';
import { RuleStore } from '../../../src/rules/rule-store.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../../support/redis.js';

const GOOD = 'rules:\n  - id: lead-alert\n    on: firstpromoter.lead_signup\n    do:\n      - slack.post_message: { channel: "#leads", text: "x" }\n';

/**
 * The workers publish the rule files' problems in Redis for the dashboard, which in a split
 * deployment runs in an api process without rules of its own. Real RuleStore, real Redis.
 */
describe('rule-file problems shared through Redis (real RuleStore, real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let dir: string;
  let store: RuleStore | undefined;

  beforeEach(async () => {
    redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: null });
    prefix = randomPrefix('rule-problems');
    dir = await mkdtemp(path.join(tmpdir(), 'bridge-rule-problems-'));
    await writeFile(path.join(dir, 'leads.yaml'), GOOD);
  });

  afterEach(async () => {
    await store?.stop();
    store = undefined;
    await rm(dir, { recursive: true, force: true });
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('a worker that starts with files that load clears what an earlier one left listed; a broken edit is listed, its fix clears it', async () => {
    const stale = [{ file: 'rules/old.yaml', line: 1, column: 1, message: 'left by a worker that stopped' }];
    await redis.set(bridgeKeys(prefix).ruleLoadProblems, JSON.stringify(stale));
    expect(await readRuleProblems(redis, prefix)).to.deep.equal(stale);

    store = new RuleStore({ dir, logger: pino({ level: 'silent' }), actions: actionRegistry, debounceMs: 60_000 });
    await store.start();
    await shareRuleProblems(store, redis, prefix, pino({ level: 'silent' }));
    expect(await readRuleProblems(redis, prefix)).to.deep.equal([]);

    await writeFile(path.join(dir, 'broken.yaml'), 'rules:\n  - id: x\n    on: firstpromoter.lead_signup\n    do: []\n    extra: 1\n');
    await store.reload();
    expect(store.problems.length).to.be.at.least(1);
    await waitFor(async () => (await readRuleProblems(redis, prefix)).length > 0);
    expect(await readRuleProblems(redis, prefix)).to.deep.equal(store.problems);

    await rm(path.join(dir, 'broken.yaml'));
    await store.reload();
    await waitFor(async () => (await redis.exists(bridgeKeys(prefix).ruleLoadProblems)) === 0);
  });
});
