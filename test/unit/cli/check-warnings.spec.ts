import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { actionRegistry } from '../../../src/actions/registry.js';
import { runCheckCommand } from '../../../src/cli/commands/check.js';
import { compileRuleFiles } from '../../../src/rules/compile-rules.js';

/** A rule whose section's fixed text alone is 3,100 characters; its template part does not count. */
const LONG_FIXED = 'F'.repeat(3_100);
const RULES = `rules:
  - id: long-section
    on: firstpromoter.lead_signup
    do:
      - slack.post_message:
          channel: "#ops"
          text: "short {{ data.email }}"
          blocks:
            - type: section
              text:
                type: mrkdwn
                text: "${LONG_FIXED}{{ data.email }}"
  - id: long-only-with-data
    on: firstpromoter.lead_signup
    do:
      - slack.post_message:
          channel: "#ops-digest"
          text: "{% if data.email %}${'G'.repeat(41_000)}{% endif %}{{ data.email }}"
`;

const WARNING = `its fixed text alone is 3100 characters, over Slack's limit of 3000; every message will be cut to 3000 ending in "… (truncated)"`;

describe('check: warnings for fixed text over a limit', () => {
  it('compiling reports a warning (not a problem) at the param whose fixed text alone is over its limit', () => {
    const result = compileRuleFiles([{ file: 'rules/long.yaml', content: RULES }], { actions: actionRegistry });
    expect(result.ok).to.equal(true);
    // Text inside {% if %} may not render, so it is not fixed text: only the section warns.
    expect(result.warnings).to.deep.equal([{ file: 'rules/long.yaml', line: 12, column: 23, message: `blocks[0].text.text: ${WARNING}` }]);
  });

  it('affiliate-bridge check prints the warning as file:line:col: warning: … and still exits 0', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bridge-check-warnings-'));
    try {
      await writeFile(path.join(dir, 'long.yaml'), RULES);
      const stdout: string[] = [];
      const stderr: string[] = [];
      const code = await runCheckCommand({ rulesDir: dir }, { stdout: (line) => stdout.push(line), stderr: (line) => stderr.push(line) });
      expect(code).to.equal(0);
      expect(stdout).to.deep.equal(['2 rules in 1 file OK']);
      expect(stderr).to.have.length(1);
      expect(stderr[0]).to.match(/long\.yaml:12:23: warning: blocks\[0\]\.text\.text: its fixed text alone is 3100 characters/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
