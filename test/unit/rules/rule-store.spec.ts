import { mkdtemp, rm, unlink, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { actionRegistry } from '../../../src/actions/registry.js';
import { RuleLoadError, type RuleProblem } from '../../../src/rules/problems.js';
import { RuleStore } from '../../../src/rules/rule-store.js';

const ruleFile = (id: string, channel = '#x') => `rules:
  - id: ${id}
    on: firstpromoter.lead_signup
    do:
      - slack.post_message: { channel: "${channel}", text: hi }
`;

function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

/** Resolves with the next event of that name, or rejects after `ms` (reload must happen < 2 s). */
function nextEvent<T>(store: RuleStore, name: 'reloaded' | 'reload_failed', ms = 2_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name} within ${ms} ms`)), ms);
    store.once(name, (value: unknown) => {
      clearTimeout(timer);
      resolve(value as T);
    });
  });
}

describe('rules/rule-store (real files, hot reload)', function () {
  this.timeout(10_000);
  let dir: string;
  let store: RuleStore | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'rule-store-'));
  });
  afterEach(async () => {
    await store?.stop();
    store = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to start on invalid rules, carrying every problem', async () => {
    await writeFile(path.join(dir, 'a.yaml'), 'rules:\n  - id: x\n');
    store = new RuleStore({ dir, actions: actionRegistry, logger: captureLogger().logger });
    const error = await store.start().then(() => null, (caught: unknown) => caught);
    expect(error).to.be.instanceOf(RuleLoadError);
    expect((error as RuleLoadError).problems.map((problem) => problem.message)).to.deep.equal([
      'rule x needs on: the event type, types or glob it runs for',
      'rule x needs do: the list of actions it runs',
    ]);
  });

  it('picks up a valid edit, keeps the last good set on a broken one, recovers, and drops deleted files', async () => {
    await writeFile(path.join(dir, 'a.yaml'), ruleFile('first'));
    await mkdir(path.join(dir, 'tests'));
    const { logger, lines } = captureLogger();
    store = new RuleStore({ dir, actions: actionRegistry, logger, debounceMs: 50 });
    await store.start();
    expect(store.current.rules.map((rule) => rule.id)).to.deep.equal(['first']);
    expect(store.version).to.equal(1);

    // 1. A valid edit and a new file are picked up.
    let reloaded = nextEvent(store, 'reloaded');
    const started = Date.now();
    await writeFile(path.join(dir, 'b.yml'), ruleFile('second'));
    await reloaded;
    expect(Date.now() - started).to.be.lessThan(2_000);
    expect(store.current.rules.map((rule) => rule.id)).to.deep.equal(['first', 'second']);
    expect(store.isCurrent).to.equal(true);

    // 2. A broken edit keeps the last good rules, with its problems.
    const good = store.current;
    const failed = nextEvent<readonly RuleProblem[]>(store, 'reload_failed');
    await writeFile(path.join(dir, 'a.yaml'), ruleFile('first').replace('slack.post_message', 'slack.post_massage'));
    const problems = await failed;
    expect(problems.map((problem) => `${path.basename(problem.file)}:${problem.line}:${problem.column}: ${problem.message}`)).to.deep.equal([
      'a.yaml:5:9: unknown action slack.post_massage: known actions are slack.post_message, hubspot.upsert_contact',
    ]);
    expect(store.current).to.equal(good);
    expect(store.isCurrent).to.equal(false);
    expect(store.problems).to.deep.equal(problems);
    expect(store.reloadErrorCount).to.equal(1);
    expect(lines.some((line) => line.level === 50 && String(line.msg).includes('a.yaml:5:9: unknown action slack.post_massage'))).to.equal(true);

    // 3. Restoring the file recovers.
    reloaded = nextEvent(store, 'reloaded');
    await writeFile(path.join(dir, 'a.yaml'), ruleFile('first', '#restored'));
    await reloaded;
    expect(store.isCurrent).to.equal(true);
    expect(store.problems).to.deep.equal([]);
    expect(store.current.byId('first')?.actions[0].params).to.deep.include({ kind: 'static' });

    // 4. Deleting a file removes its rules.
    reloaded = nextEvent(store, 'reloaded');
    await unlink(path.join(dir, 'b.yml'));
    await reloaded;
    expect(store.current.rules.map((rule) => rule.id)).to.deep.equal(['first']);
    expect(store.version).to.equal(4);
  });

  it('ignores files that are not rule files and the tests/ folder', async () => {
    await writeFile(path.join(dir, 'a.yaml'), ruleFile('first'));
    await mkdir(path.join(dir, 'tests'));
    store = new RuleStore({ dir, actions: actionRegistry, logger: captureLogger().logger, debounceMs: 20 });
    await store.start();
    let reloads = 0;
    store.on('reloaded', () => (reloads += 1));
    store.on('reload_failed', () => (reloads += 1));
    await writeFile(path.join(dir, 'README.md'), '# notes');
    await writeFile(path.join(dir, 'tests', 'cases.yaml'), 'not: [valid');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(reloads).to.equal(0);
  });
});
