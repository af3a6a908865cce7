import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { actionRegistry } from '../../../src/actions/registry.js';
import { runCheckCommand } from '../../../src/cli/commands/check.js';
import { runTestCommand } from '../../../src/cli/commands/test.js';
import { ACTION_FAILED_ERROR_LENGTH, ACTION_FAILED_TYPE, buildInternalEvent } from '../../../src/events/internal-events.js';
import { buildActionFailedEvent, type ActionFailure } from '../../../src/queue/failure-events.js';
import { compileRuleFiles } from '../../../src/rules/compile-rules.js';
import { planActions } from '../../../src/rules/plan.js';
import { shippedScopeCatalog } from '../../../src/rules/rule-scopes.js';
import { buildEventFromPayload, describeChangedEvent, setEventPath } from '../../../src/rules/tooling/event-from-payload.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { Secret } from '../../../src/secret.js';
import { createSecretScrubber } from '../../../src/sources/scrub-secrets.js';
import { readDocumentedOpsRule, readDocumentedOpsTestCases } from '../../support/bridge-events.js';

/** A Slack post that failed for good, as the actions worker reports it. */
const runFailure: ActionFailure = {
  stage: 'run',
  ruleId: 'lead-alert',
  ruleFile: 'rules/leads.yaml',
  action: 'slack.post_message',
  error: 'channel_not_found: Slack could not find the channel',
  eventId: 'firstpromoter-22736304',
  eventType: 'firstpromoter.lead_signup',
  attempts: 1,
  failedAtMs: Date.parse('2024-10-03T14:00:00.000Z'),
  jobId: 'firstpromoter-22736304.lead-alert.0',
  deadLetterId: 'firstpromoter-22736304.lead-alert.0',
  runStartedAtMs: Date.parse('2024-10-03T13:59:59.000Z'),
};

/** A rule file with one rule on bridge.action.failed. */
function opsRule(condition: string, text: string): string {
  return ['rules:', '  - id: ops', '    on: bridge.action.failed', `    if: '${condition}'`, '    do:', `      - slack.post_message: { channel: "#affiliate-ops", text: "${text}" }`, ''].join('\n');
}

describe('bridge.action.failed for rule authors (issue 14, point 7)', () => {
  describe('affiliate-bridge check', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'bridge-events-check-'));
    });
    afterEach(async () => rm(dir, { recursive: true, force: true }));

    const check = async (content: string) => {
      await writeFile(path.join(dir, 'ops.yaml'), content);
      const stdout: string[] = [];
      const stderr: string[] = [];
      const code = await runCheckCommand({ rulesDir: dir, actions: actionRegistry }, { stdout: (line) => stdout.push(line), stderr: (line) => stderr.push(line) });
      return { code, stdout, stderr: stderr.map((line) => line.replace(`${dir}/`, '')) };
    };

    it('accepts the ops rule rules/README.md documents', async () => {
      expect(await check(readDocumentedOpsRule())).to.deep.equal({ code: 0, stdout: ['1 rule in 1 file OK'], stderr: [] });
    });

    it('types the data fields: ints, timestamps and the stage compare as such', async () => {
      const result = await check(opsRule('data.stage == "run" && data.attempts >= 3 && data.failed_at > timestamp("2024-01-01T00:00:00Z")', '{{ data.dead_letter_id }}'));
      expect(result.code).to.equal(0);
      expect((await check(opsRule('data.attempts == "3"', 'x'))).stderr).to.deep.equal([
        'ops.yaml:4:9: invalid condition: no such overload: int == string',
        '1 problem: the rules in ' + dir + ' do not load',
      ]);
    });

    it('refuses a misspelt field, in a condition and in a template, with did-you-mean', async () => {
      expect(await check(opsRule('data.rule_idd == "lead-alert"', 'x'))).to.deep.equal({
        code: 1,
        stdout: [],
        stderr: ['ops.yaml:4:15: unknown field data.rule_idd: did you mean data.rule_id?', `1 problem: the rules in ${dir} do not load`],
      });
      expect((await check(opsRule('true', 'run {{ data.retry_comand }}'))).stderr).to.deep.equal([
        'ops.yaml:6:72: unknown field data.retry_comand in text: did you mean data.retry_command?',
        `1 problem: the rules in ${dir} do not load`,
      ]);
    });

    it('refuses a misspelt type with did-you-mean, and a glob that matches none', async () => {
      const misspelt = opsRule('true', 'x').replace('on: bridge.action.failed', 'on: bridge.action.faild');
      expect((await check(misspelt)).stderr[0]).to.equal('ops.yaml:3:9: on bridge.action.faild is not an event type of bridge: did you mean bridge.action.failed?');
      const glob = opsRule('true', 'x').replace('on: bridge.action.failed', 'on: bridge.job.*');
      expect((await check(glob)).stderr[0]).to.equal('ops.yaml:3:9: on bridge.job.* matches no event type of bridge: rules/README.md lists them');
      const matching = opsRule('true', 'x').replace('on: bridge.action.failed', 'on: bridge.action.*');
      expect((await check(matching)).code).to.equal(0);
    });
  });

  it('is one of the types the scope catalog knows, typed from its declared schema', () => {
    const catalog = shippedScopeCatalog();
    expect(catalog.eventTypesOf('bridge')).to.deep.equal(['bridge.action.failed']);
    expect(catalog.scopeFor('bridge.action.failed').isTyped).to.equal(true);
  });

  it('the documented rule matches the reported event and renders every field an ops person needs', () => {
    const loaded = compileRuleFiles([{ file: 'rules/ops.yaml', content: readDocumentedOpsRule() }], { actions: actionRegistry });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    const event = buildActionFailedEvent(runFailure, { receivedAtMs: runFailure.failedAtMs + 5 });
    const plan = planActions(loaded.ruleSet, event);
    expect(plan.failures).to.deep.equal([]);
    expect(plan.actions.map((action) => action.params)).to.deep.equal([
      {
        channel: '#affiliate-ops',
        text:
          'slack.post_message of rule lead-alert failed for event firstpromoter-22736304 (stage run, attempts: 1): channel_not_found: Slack could not find the channel. ' +
          'Once fixed: affiliate-bridge actions retry firstpromoter-22736304.lead-alert.0',
      },
    ]);
  });

  it('an error that echoes payload text cannot ping the ops channel: it is escaped like any payload value', () => {
    const loaded = compileRuleFiles([{ file: 'rules/ops.yaml', content: readDocumentedOpsRule() }], { actions: actionRegistry });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    const event = buildActionFailedEvent({ ...runFailure, error: 'invalid_email: <!channel> & <https://evil.example|click>' }, { receivedAtMs: 0 });
    const [action] = planActions(loaded.ruleSet, event).actions;
    expect(action.params.text).to.contain('invalid_email: &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;.');
  });

  describe('the event (buildActionFailedEvent)', () => {
    it('carries the failure as typed data, under an id derived from the dead letter and the run', () => {
      const event = buildActionFailedEvent(runFailure, { receivedAtMs: runFailure.failedAtMs + 5 });
      expect(event).to.deep.equal({
        id: `bridge-firstpromoter-22736304.lead-alert.0.${runFailure.runStartedAtMs.toString(36)}`,
        source: 'bridge',
        type: 'bridge.action.failed',
        providerType: 'action.failed',
        occurredAt: '2024-10-03T14:00:00.000Z',
        receivedAt: '2024-10-03T14:00:00.005Z',
        status: 'valid',
        data: {
          stage: 'run',
          rule_id: 'lead-alert',
          rule_file: 'rules/leads.yaml',
          action: 'slack.post_message',
          error: 'channel_not_found: Slack could not find the channel',
          event_id: 'firstpromoter-22736304',
          event_type: 'firstpromoter.lead_signup',
          source: 'firstpromoter',
          attempts: 1,
          failed_at: '2024-10-03T14:00:00.000Z',
          job_id: 'firstpromoter-22736304.lead-alert.0',
          dead_letter_id: 'firstpromoter-22736304.lead-alert.0',
          retry_command: 'affiliate-bridge actions retry firstpromoter-22736304.lead-alert.0',
        },
      });
    });

    it('a plan failure says to replay the event once the rule is fixed', () => {
      const event = buildActionFailedEvent({ ...runFailure, stage: 'plan', attempts: 0 }, { receivedAtMs: 0 });
      expect(event.data).to.include({ stage: 'plan', attempts: 0, retry_command: 'affiliate-bridge events replay firstpromoter-22736304' });
    });

    it('scrubs every configured secret from the error, and shortens a long one', () => {
      const token = 'xoxb-secret-token-1234';
      const scrubber = createSecretScrubber([new Secret(token)]);
      const leaky = { ...runFailure, error: `invalid_auth: token ${token} refused at https://x/?t=${encodeURIComponent(token)}` };
      const event = buildActionFailedEvent(leaky, { receivedAtMs: 0, secretScrubber: scrubber });
      expect(event.data.error).to.equal('invalid_auth: token [redacted] refused at https://x/?t=[redacted]');
      expect(JSON.stringify(event)).not.to.contain(token);
      const long = buildActionFailedEvent({ ...runFailure, error: 'x'.repeat(5_000) }, { receivedAtMs: 0 });
      expect(long.data.error).to.have.length(ACTION_FAILED_ERROR_LENGTH);
      expect(long.data.error).to.match(/x…$/);
    });
  });

  describe('a bridge payload, for test and simulate (buildEventFromPayload)', () => {
    const reported = buildActionFailedEvent(runFailure, { receivedAtMs: runFailure.failedAtMs + 5 });
    const receivedAt = new Date(reported.receivedAt);
    const build = (body: unknown, source?: string) => buildEventFromPayload(body, { normalizers: sourceRegistry, receivedAt, ...(source ? { source } : {}) });

    it('is the event the bridge reports for the same data, inferred from its type or named with source: bridge', () => {
      const payload = { type: reported.type, id: reported.id, data: reported.data };
      expect(build(payload)).to.deep.equal(reported);
      expect(build(payload, 'bridge')).to.deep.equal(reported);
      // No affiliate model: rules see affiliate as null, as at run time.
      expect(build(payload)).not.to.have.property('affiliate');
    });

    it('without an id, gets the id the bridge gives a run that started when it failed', () => {
      const event = build({ type: ACTION_FAILED_TYPE, data: reported.data });
      expect(event.id).to.equal(`bridge-firstpromoter-22736304.lead-alert.0.${runFailure.failedAtMs.toString(36)}`);
      expect(event).to.deep.equal({ ...reported, id: event.id });
    });

    it('one envelope: buildInternalEvent is what the reporter stores', () => {
      expect(buildInternalEvent(ACTION_FAILED_TYPE, reported.data, { id: reported.id, receivedAtMs: receivedAt.getTime() })).to.deep.equal(reported);
    });

    it('checks the data strictly and lists every problem, naming the field and never its value', () => {
      const { rule_id: _dropped, ...data } = reported.data;
      const body = { type: ACTION_FAILED_TYPE, data: { ...data, attempts: 'three', stage: 'retry', failed_at: 'yesterday', error: 42 } };
      expect(() => build(body)).to.throw(
        'the bridge.action.failed data is not what the bridge sends: ' +
          'data.stage must be run or plan; data.rule_id is a required field; data.error must be a string; ' +
          'data.attempts must be a number; data.failed_at must be an ISO 8601 timestamp',
      );
      expect(() => build({ type: ACTION_FAILED_TYPE, data: { ...reported.data, attempts: 1.5 } })).to.throw(
        'the bridge.action.failed data is not what the bridge sends: data.attempts must be an integer',
      );
    });

    it('after a change (set), the data is checked again and occurredAt follows failed_at', () => {
      const changed = describeChangedEvent(setEventPath(reported, 'data.failed_at', '2024-10-04T09:30:00.000Z'), sourceRegistry);
      expect(changed).to.deep.equal({ ...reported, occurredAt: '2024-10-04T09:30:00.000Z', data: { ...reported.data, failed_at: '2024-10-04T09:30:00.000Z' } });
      expect(() => describeChangedEvent(setEventPath(reported, 'data.stage', 'retry'), sourceRegistry)).to.throw(
        'the bridge.action.failed data is not what the bridge sends: data.stage must be run or plan',
      );
    });

    const refused: Array<[string, unknown, string | undefined, string]> = [
      ['an unknown bridge type', { type: 'bridge.action.faild', data: {} }, undefined, 'bridge.action.faild is not a bridge event type: use bridge.action.failed'],
      ['a provider type named as bridge', { type: 'firstpromoter.lead_signup', data: {} }, 'bridge', 'firstpromoter.lead_signup is not a bridge event type: use bridge.action.failed'],
      ['no type', { data: {} }, 'bridge', 'a bridge event payload needs a type: bridge.action.failed'],
      ['no data', { type: ACTION_FAILED_TYPE }, undefined, 'a bridge.action.failed payload needs data: an object with the fields rules/README.md lists (When an action fails)'],
      ['data that is not an object', { type: ACTION_FAILED_TYPE, data: [1] }, undefined, 'a bridge.action.failed payload needs data: an object with the fields rules/README.md lists (When an action fails)'],
      ['another key', { type: ACTION_FAILED_TYPE, data: {}, source: 'bridge', occurredAt: 'x' }, undefined, 'a bridge event payload holds type, data and (optionally) id, not source, occurredAt'],
      ['an empty id', { type: ACTION_FAILED_TYPE, data: {}, id: '' }, undefined, 'the id of a bridge event payload must be a non-empty string'],
      ['a misspelt source', { type: ACTION_FAILED_TYPE, data: {} }, 'brige', 'unknown source brige: use firstpromoter or rewardful or bridge'],
    ];
    for (const [what, body, source, message] of refused) {
      it(`refuses ${what} with a sentence`, () => {
        expect(() => build(body, source)).to.throw(Error).with.property('message', message);
      });
    }
  });

  describe('a rule test on the documented ops rule (source: bridge)', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'bridge-events-test-'));
      await writeFile(path.join(dir, 'ops.yaml'), readDocumentedOpsRule());
      await mkdir(path.join(dir, 'tests'));
    });
    afterEach(async () => rm(dir, { recursive: true, force: true }));

    const runCases = async (cases: string) => {
      await writeFile(path.join(dir, 'tests', 'ops.yaml'), cases);
      const stdout: string[] = [];
      const stderr: string[] = [];
      const code = await runTestCommand({ rulesDir: dir }, { stdout: (line) => stdout.push(line), stderr: (line) => stderr.push(line) });
      return { code, stdout, stderr: stderr.map((line) => line.replace(`${dir}/`, '')) };
    };
    // Case fixtures are read relative to the case file.
    const fixture = () => path.relative(path.join(dir, 'tests'), path.resolve('test/fixtures/deliveries/bridge/action.failed.json'));
    // JSON is YAML: the fixture's body as an inline payload.
    const inlinePayload = () => JSON.stringify(JSON.parse(readFileSync('test/fixtures/deliveries/bridge/action.failed.json', 'utf8')));

    it('runs a case on the fixture and one on an inline payload with set: data is changed, then checked again', async () => {
      const result = await runCases(
        [
          'cases:',
          '  - name: a Slack post that failed for good reaches ops',
          `    fixture: ${fixture()}`,
          '    source: bridge',
          '    expect:',
          '      actions:',
          '        - action: slack.post_message',
          '          rule: action-failures-to-ops',
          '          params: { channel: "#affiliate-ops" }',
          '          text: { contains: "channel_not_found: Slack could not find the channel #affiliate-leads. Once fixed: affiliate-bridge actions retry firstpromoter-22736304.lead-alert.0" }',
          '  - name: the attempts follow set',
          `    payload: ${inlinePayload()}`,
          '    set: { data.attempts: 5 }',
          '    expect:',
          '      actions:',
          '        - text: { contains: "(stage run, attempts: 5)" }',
          '  - name: a set the bridge never sends fails the case',
          `    fixture: ${fixture()}`,
          '    set: { data.attempts: "5" }',
          '    expect: { rules: [action-failures-to-ops] }',
          '',
        ].join('\n'),
      );
      expect(result).to.deep.equal({
        code: 1,
        stdout: [
          '✓ tests/ops.yaml › a Slack post that failed for good reaches ops',
          '✓ tests/ops.yaml › the attempts follow set',
          '✗ tests/ops.yaml › a set the bridge never sends fails the case',
          '    cannot build the event: the bridge.action.failed data is not what the bridge sends: data.attempts must be a number',
          '2 passed, 1 failed',
        ],
        stderr: [],
      });
    });

    it('the test case rules/README.md shows for the ops rule passes', async () => {
      const documented = readDocumentedOpsTestCases();
      expect(documented).to.contain('fixture: ../../test/fixtures/deliveries/bridge/action.failed.json');
      const result = await runCases(documented.replace('../../test/fixtures/deliveries/bridge/action.failed.json', fixture()));
      expect(result).to.deep.equal({ code: 0, stdout: ['✓ tests/ops.yaml › a Slack post that failed for good reaches ops with the retry command', '1 passed, 0 failed'], stderr: [] });
    });

    it('refuses a source that is neither a webhook source nor bridge', async () => {
      const result = await runCases(['cases:', '  - name: x', `    fixture: ${fixture()}`, '    source: brige', '    expect: { nothing: true }', ''].join('\n'));
      expect(result.code).to.equal(1);
      expect(result.stderr[0]).to.equal('tests/ops.yaml:4:13: unknown source brige: use firstpromoter or rewardful or bridge');
    });
  });
});
