import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { runSimulateCommand } from '../../../src/cli/commands/simulate.js';
import { readDocumentedOpsRule } from '../../support/bridge-events.js';

const FAILED_SLACK_POST = 'test/fixtures/deliveries/bridge/action.failed.json';

function collect() {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { io: { stdout: (line: string) => stdout.push(line), stderr: (line: string) => stderr.push(line) }, stdout, stderr };
}

interface Report {
  event: { id: string; source: string; type: string; status: string };
  matched: Array<{ ruleId: string; actions: Array<{ action: string; params: Record<string, unknown> }> }>;
  failures: unknown[];
}

const plannedOf = (report: Report) => report.matched.flatMap((rule) => rule.actions.map((action) => [rule.ruleId, action.action, action.params]));

describe('simulate on a bridge event (rules/README.md, "When an action fails")', () => {
  let rulesDir: string;
  before(async () => {
    rulesDir = await mkdtemp(path.join(tmpdir(), 'simulate-bridge-'));
    await writeFile(path.join(rulesDir, 'ops.yaml'), readDocumentedOpsRule());
  });
  after(async () => rm(rulesDir, { recursive: true, force: true }));

  const simulate = async (options: { source?: string; set?: string[]; json?: boolean } = {}) => {
    const { io, stdout, stderr } = collect();
    const code = await runSimulateCommand({ file: FAILED_SLACK_POST, rulesDir, now: () => new Date('2024-10-03T14:00:01Z'), ...options }, io);
    return { code, stdout, stderr };
  };

  it('builds the event from the fixture (its source inferred from the type) and plans the documented ops rule', async () => {
    const { code, stdout, stderr } = await simulate({ json: true });
    expect({ code, stderr }).to.deep.equal({ code: 0, stderr: [] });
    const report = JSON.parse(stdout.join('\n')) as Report;
    expect(report.event).to.deep.include({ id: 'bridge-firstpromoter-22736304.lead-alert.0.m1td5es8', source: 'bridge', type: 'bridge.action.failed', status: 'valid' });
    expect(report.failures).to.deep.equal([]);
    expect(plannedOf(report)).to.deep.equal([
      [
        'action-failures-to-ops',
        'slack.post_message',
        {
          channel: '#affiliate-ops',
          text:
            'slack.post_message of rule lead-alert failed for event firstpromoter-22736304 (stage run, attempts: 1): channel_not_found: Slack could not find the channel #affiliate-leads. ' +
            'Once fixed: affiliate-bridge actions retry firstpromoter-22736304.lead-alert.0',
        },
      ],
    ]);
  });

  it('--source bridge names it; --set changes the data, typed as the field it replaces', async () => {
    const { code, stdout, stderr } = await simulate({ source: 'bridge', set: ['data.attempts=5', 'data.rule_id=commission-alert'] });
    expect({ code, stderr }).to.deep.equal({ code: 0, stderr: [] });
    expect(stdout[0]).to.equal('event bridge.action.failed bridge-firstpromoter-22736304.lead-alert.0.m1td5es8 (valid)');
    expect(stdout).to.include(
      '      text: "slack.post_message of rule commission-alert failed for event firstpromoter-22736304 (stage run, attempts: 5): channel_not_found: Slack could not find the channel #affiliate-leads. ' +
        'Once fixed: affiliate-bridge actions retry firstpromoter-22736304.lead-alert.0"',
    );
  });

  it('a --set the bridge would never send is an error, and nothing is planned', async () => {
    const { code, stdout, stderr } = await simulate({ set: ['data.stage=retry'] });
    expect({ code, stdout, stderr }).to.deep.equal({
      code: 1,
      stdout: [],
      stderr: ['after --set: the bridge.action.failed data is not what the bridge sends: data.stage must be run or plan'],
    });
  });

  it('a --set of a field the event does not have is refused like any other', async () => {
    const { code, stderr } = await simulate({ set: ['data.atempts=5'] });
    expect({ code, stderr }).to.deep.equal({ code: 1, stderr: ['--set data.atempts=5: data has no field atempts (--set changes fields, it does not add them)'] });
  });
});
