import { expect } from 'chai';
import {
  SLACK_SECTION_TEXT_LIMIT,
  SLACK_TEXT_LIMIT,
  TRUNCATION_MARKER,
  listSlackLimitWarnings,
  truncateText,
  truncateToSlackLimits,
} from '../../../src/actions/slack/limits.js';

describe('actions/slack limits (pure)', () => {
  describe('truncateText', () => {
    const cases: Array<{ name: string; text: string; limit: number; expected: string }> = [
      { name: 'leaves text at the limit as it is', text: 'a'.repeat(20), limit: 20, expected: 'a'.repeat(20) },
      { name: 'cuts one over the limit, marker included in the limit', text: 'a'.repeat(21), limit: 20, expected: `${'a'.repeat(20 - TRUNCATION_MARKER.length)}${TRUNCATION_MARKER}` },
      { name: 'never splits a surrogate pair', text: `${'a'.repeat(6)}😀${'b'.repeat(30)}`, limit: 20, expected: `${'a'.repeat(6)}${TRUNCATION_MARKER}` },
      { name: 'never splits an escaped entity', text: `${'a'.repeat(5)}&amp;${'b'.repeat(30)}`, limit: 20, expected: `${'a'.repeat(5)}${TRUNCATION_MARKER}` },
      { name: 'keeps an entity that ends before the cut', text: `${'a'.repeat(2)}&lt;${'b'.repeat(30)}`, limit: 20, expected: `aa&lt;${'b'.repeat(20 - TRUNCATION_MARKER.length - 6)}${TRUNCATION_MARKER}` },
    ];
    for (const { name, text, limit, expected } of cases) {
      it(name, () => {
        const cut = truncateText(text, limit);
        expect(cut).to.equal(expected);
        expect(cut.length).to.be.at.most(limit);
      });
    }
  });

  it('truncateToSlackLimits cuts text and block texts on a copy and names each path it cut', () => {
    const args = { channel: '#c', text: 'x'.repeat(SLACK_TEXT_LIMIT + 1), blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'y'.repeat(SLACK_SECTION_TEXT_LIMIT + 1) } }, { type: 'divider' }] };
    const { args: cut, truncated } = truncateToSlackLimits(args);
    expect(truncated).to.deep.equal(['text', 'blocks[0].text.text']);
    expect(cut.text).to.have.length(SLACK_TEXT_LIMIT);
    expect((cut.blocks[0] as { text: { text: string } }).text.text).to.have.length(SLACK_SECTION_TEXT_LIMIT);
    expect(args.text).to.have.length(SLACK_TEXT_LIMIT + 1);
  });

  it('truncateToSlackLimits returns the same arguments when nothing is over a limit', () => {
    const args = { channel: '#c', text: 'short', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'fine' } }] };
    const result = truncateToSlackLimits(args);
    expect(result.args).to.equal(args);
    expect(result.truncated).to.deep.equal([]);
  });

  it("listSlackLimitWarnings warns for each text whose fixed part alone is over its limit, as an exact sentence", () => {
    const warnings = listSlackLimitWarnings({ text: 'ok', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'z'.repeat(3_200) } }] });
    expect(warnings).to.deep.equal([
      {
        path: ['blocks', 0, 'text', 'text'],
        message: `blocks[0].text.text: its fixed text alone is 3200 characters, over Slack's limit of 3000; every message will be cut to 3000 ending in "${TRUNCATION_MARKER}"`,
      },
    ]);
    expect(listSlackLimitWarnings({ text: 'z'.repeat(40_000) })).to.deep.equal([]);
  });
});
