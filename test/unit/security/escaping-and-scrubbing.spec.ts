import { expect } from 'chai';
import { escapeSlackMrkdwn, escapeSlackPlainText, escapeSlackTextIn } from '../../../src/actions/slack/mrkdwn.js';
import { compileTemplateTree } from '../../../src/rules/templates.js';
import { Secret } from '../../../src/secret.js';
import { createSecretScrubber, REDACTED_MARKER } from '../../../src/sources/scrub-secrets.js';

/**
 * Security notes: "Slack mrkdwn is escaped in every interpolated value" and "the value of every
 * secret … is replaced by [redacted] wherever it occurs". Cases that the broader suites did not
 * pin down (found by mutation testing, `npm run test:mutation`).
 */
describe('escaping and scrubbing: edge cases', () => {
  describe('escapeSlackMrkdwn', () => {
    const table: Array<[string, string]> = [
      ['plain text', 'plain text'],
      ['<', '&lt;'],
      ['>', '&gt;'],
      ['&', '&amp;'],
      ['<>', '&lt;&gt;'],
      ['&<>', '&amp;&lt;&gt;'],
      ['<!channel>', '&lt;!channel&gt;'],
      ['<@U024BE7LH>', '&lt;@U024BE7LH&gt;'],
      ['<https://evil.example|click>', '&lt;https://evil.example|click&gt;'],
      ['&lt; already escaped', '&amp;lt; already escaped'],
    ];
    for (const [input, expected] of table) {
      it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => expect(escapeSlackMrkdwn(input)).to.equal(expected));
    }
  });

  describe('escapeSlackPlainText (Block Kit plain_text)', () => {
    const JOINER = '\u2060';
    const table: Array<[string, string]> = [
      ['plain & text', 'plain & text'],
      ['<!channel>', `<${JOINER}!channel>`],
      ['hi <@U024BE7LH> <https://evil.example|x>', `hi <${JOINER}@U024BE7LH> <${JOINER}https://evil.example|x>`],
    ];
    for (const [input, expected] of table) {
      it(`${JSON.stringify(input)} keeps what the reader sees and forms no mention or link`, () => expect(escapeSlackPlainText(input)).to.equal(expected));
    }

    it('is chosen for plain_text objects only; mrkdwn objects keep the action\'s escaping', () => {
      expect(escapeSlackTextIn({ type: 'plain_text', text: 'x' })).to.equal(escapeSlackPlainText);
      expect(escapeSlackTextIn({ type: 'mrkdwn', text: 'x' })).to.equal(undefined);
      expect(escapeSlackTextIn({ text: 'x' })).to.equal(undefined);
    });
  });

  describe('createSecretScrubber', () => {
    it('replaces a secret that contains another one whole (longest first), in either order of declaration', () => {
      for (const secrets of [['tok-123', 'tok-123-long-tail'], ['tok-123-long-tail', 'tok-123']]) {
        const scrubber = createSecretScrubber(secrets.map((value) => new Secret(value)))!;
        const scrubbed = scrubber.scrub('a=tok-123-long-tail b=tok-123');
        expect(scrubbed).to.equal(`a=${REDACTED_MARKER} b=${REDACTED_MARKER}`);
        expect(scrubbed).not.to.contain('long-tail');
      }
    });
  });

  describe('templates', () => {
    it('an unknown filter is a load error (strictFilters), never silently dropped', () => {
      const { problems } = compileTemplateTree('{{ data.email | nosuchfilter }}');
      expect(problems.map((problem) => problem.message)).to.deep.equal(['invalid template: undefined filter: nosuchfilter']);
    });
  });
});
