import { expect } from 'chai';
import type { DigestItem } from '../../../src/actions/action.js';
import { defaultSlackDigestTemplate } from '../../../src/actions/slack/grouping.js';
import { escapeSlackMrkdwn } from '../../../src/actions/slack/mrkdwn.js';
import { renderDigestText } from '../../../src/rules/digest-text.js';

/** Items as the events worker stores them: `text` already rendered and escaped for mrkdwn. */
const items: DigestItem[] = ['ann', 'b<!here>b', 'cy'].map((name, index) => ({
  event: { id: `firstpromoter-${index + 1}`, type: 'firstpromoter.lead_signup' },
  data: { email: `${name}@example.com` },
  text: `lead ${escapeSlackMrkdwn(`${name}@example.com`)}`,
}));

describe('rules/digest-text: digests rendered by liquidjs over events and count', () => {
  it('the default lists each text once-escaped, one per line, up to max, then "… and N more"', () => {
    expect(renderDigestText(defaultSlackDigestTemplate(50), escapeSlackMrkdwn, items).text.trimEnd()).to.equal(
      'lead ann@example.com\nlead b&lt;!here&gt;b@example.com\nlead cy@example.com',
    );
    expect(renderDigestText(defaultSlackDigestTemplate(2), escapeSlackMrkdwn, items).text).to.equal(
      'lead ann@example.com\nlead b&lt;!here&gt;b@example.com\n… and 1 more',
    );
  });

  it('a rule\'s digest_text sees events and count; payload values from e.data are escaped like any template output', () => {
    const { text, warnings } = renderDigestText('{{ count }}: {% for e in events %}{{ e.data.email }} ({{ e.event.id }}){% unless forloop.last %}, {% endunless %}{% endfor %}{{ events[0].data.missing }}', escapeSlackMrkdwn, items);
    expect(text).to.equal('3: ann@example.com (firstpromoter-1), b&lt;!here&gt;b@example.com (firstpromoter-2), cy@example.com (firstpromoter-3)');
    expect(warnings).to.deep.equal(['missing field events.0.data.missing rendered as empty text']);
  });
});
