import { expect } from 'chai';
import type { TextEscaper } from '../../../src/actions/action.js';
import { escapeSlackMrkdwn } from '../../../src/actions/slack/mrkdwn.js';
import { compileTemplateTree, formatMoney, renderTemplateTree, TemplateRenderError } from '../../../src/rules/templates.js';
import { buildEvent } from './fixture-events.js';

const event = buildEvent('firstpromoter.reward_created', {
  amount: 200,
  big: 123456789,
  conversion_amount: 10000,
  currency: 'EUR',
  status: 'approved',
  email: 'lead@example.com',
  name: 'Jane',
  empty: null,
  tags: ['a', 'b'],
  promoter: { email: 'promoter@example.com', profile: { first_name: 'Jane' } },
});

/** How the two actions escape: Slack's mrkdwn escaper, and none (plain text, HubSpot). */
const SLACK = escapeSlackMrkdwn;
const PLAIN = undefined;

function render(template: unknown, options: { escape?: TextEscaper; strict?: boolean; data?: Record<string, unknown> } = {}) {
  const { tree, problems } = compileTemplateTree(template, 'escape' in options ? options.escape : SLACK);
  expect(problems, 'template should compile').to.deep.equal([]);
  const scopeEvent = options.data ? { ...event, data: options.data } : event;
  return renderTemplateTree(tree, { event: scopeEvent, data: scopeEvent.data }, { strict: options.strict ?? false });
}

describe('rules/templates', () => {
  describe('filters', () => {
    const table: Array<[template: string, expected: string]> = [
      ['{{ data.amount | money }}', '$2.00'],
      ['{{ data.amount | money: "USD" }}', '$2.00'],
      ['{{ data.conversion_amount | money: "EUR" }}', '€100.00'],
      ['{{ data.conversion_amount | money: data.currency }}', '€100.00'],
      ['{{ data.big | money }}', '$1,234,567.89'],
      ['{{ 500 | money: "JPY" }}', '¥500'],
      ['{{ data.empty | money }}', ''],
      ['{{ event.occurredAt | date: "%Y-%m-%d %H:%M" }}', '2024-10-03 13:45'],
      ['{{ event.occurredAt | date: "%b %-d, %Y" }}', 'Oct 3, 2024'],
      ['{{ data.empty | default: "n/a" }}', 'n/a'],
      ['{{ data.missing | default: "n/a" }}', 'n/a'],
      ['{{ data.status | upcase }}', 'APPROVED'],
      ['{{ data.email | truncate: 7 }}', 'lead...'],
      ['{{ data.tags | join: ", " }}', 'a, b'],
      ['{{ data.promoter.profile | json }}', '{"first_name":"Jane"}'],
      ['{{ data.tags }}', '["a","b"]'],
    ];
    for (const [template, expected] of table) {
      it(`${template} → ${JSON.stringify(expected)}`, () => {
        expect(render(template, { strict: true }).value).to.equal(expected);
      });
    }

    it('money refuses text that is not an amount', () => {
      expect(() => formatMoney('abc')).to.throw('money needs an amount in cents, not "abc"');
      expect(() => formatMoney(100, 'dollars')).to.throw('money needs a three-letter currency code such as USD, not "dollars"');
      expect(() => render({ text: '{{ data.email | money }}' })).to.throw(TemplateRenderError, 'text: money needs an amount in cents, not "lead@example.com"');
    });
  });

  describe('missing fields', () => {
    it('fail in strict mode, naming the field', () => {
      expect(() => render({ text: 'Hi {{ data.promoter.nickname }}' }, { strict: true })).to.throw(
        TemplateRenderError,
        'text: missing field data.promoter.nickname',
      );
    });

    it('render as empty text with a warning at run time, never "undefined"', () => {
      const result = render({ text: 'Hi {{ data.promoter.nickname }}!' });
      expect(result.value).to.deep.equal({ text: 'Hi !' });
      expect(result.warnings).to.deep.equal(['text: missing field data.promoter.nickname rendered as empty text']);
    });

    it('a null field renders as empty text without a warning', () => {
      expect(render('[{{ data.empty }}]', { strict: true })).to.deep.equal({ value: '[]', warnings: [] });
    });
  });

  describe('Slack escaping', () => {
    const injections: Array<[name: string, payload: string, escaped: string]> = [
      ['@channel', '<!channel>', '&lt;!channel&gt;'],
      ['@here', '<!here>', '&lt;!here&gt;'],
      ['a user mention', '<@U123>', '&lt;@U123&gt;'],
      ['a disguised link', '<https://evil.example|click>', '&lt;https://evil.example|click&gt;'],
      ['an ampersand', 'Smith & Co', 'Smith &amp; Co'],
    ];
    for (const [name, payload, escaped] of injections) {
      it(`escapes ${name} from the payload`, () => {
        expect(render('Lead: {{ data.name }}', { data: { name: payload } }).value).to.equal(`Lead: ${escaped}`);
      });
      it(`leaves ${name} alone for plain actions (HubSpot)`, () => {
        expect(render('{{ data.name }}', { escape: PLAIN, data: { name: payload } }).value).to.equal(payload);
      });
    }

    it('keeps what the author wrote: mentions and links outside {{ }}', () => {
      expect(render('<!here> <https://app.example|Open> {{ data.name }}', { data: { name: '<!channel>' } }).value).to.equal(
        '<!here> <https://app.example|Open> &lt;!channel&gt;',
      );
    });

    it('escapes after filters, so a filter cannot undo it', () => {
      expect(render('{{ data.name | upcase }}', { data: { name: '<!here>' } }).value).to.equal('&lt;!HERE&gt;');
    });

    it('raw, as the last filter, opts one value out', () => {
      expect(render('{{ data.site | raw }} {{ data.site }}', { data: { site: '<https://x.example|x>' } }).value).to.equal(
        '<https://x.example|x> &lt;https://x.example|x&gt;',
      );
    });

    it('escapes inside blocks too, recursively', () => {
      const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*{{ data.name }}*' } }];
      expect(render({ channel: '#x', blocks }, { data: { name: '<!channel>' } }).value).to.deep.equal({
        channel: '#x',
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*&lt;!channel&gt;*' } }],
      });
    });
  });

  it('prints template syntax found in payload values literally', () => {
    const name = '{{ data.promoter.email }} {% if true %}yes{% endif %}';
    expect(render('Hi {{ data.name }}', { escape: PLAIN, data: { name, promoter: { email: 'secret@example.com' } } }).value).to.equal(`Hi ${name}`);
  });

  it('keeps numbers, booleans and null as they are, and strings without markup untouched', () => {
    const params = { email: '{{ data.email }}', properties: { score: 42, vip: true, note: null, source: 'firstpromoter' } };
    expect(render(params, { escape: PLAIN }).value).to.deep.equal({
      email: 'lead@example.com',
      properties: { score: 42, vip: true, note: null, source: 'firstpromoter' },
    });
  });

  it('reports template problems with their params path', () => {
    const { problems } = compileTemplateTree({ blocks: [{ text: { text: '{{ data.x' } }], other: '{{ secrets.token }}' }, SLACK);
    expect(problems.map((problem) => problem.message)).to.deep.equal([
      'invalid template in blocks[0].text.text: output "{{ data.x" not closed',
      'unknown variable secrets in other: templates see event, data and affiliate',
    ]);
  });

  it('cannot read files through include or render', () => {
    const { problems } = compileTemplateTree('{% include "package.json" %}{% render "package.json" %}', PLAIN);
    expect(problems.map((problem) => problem.message)).to.deep.equal(['invalid template: tag "include" not found']);
  });

  describe('what liquidjs renders (filters, lists, escaping, limits)', () => {
    const data = {
      ...event.data,
      html: '<b>&</b>',
      zero: 0,
      no: false,
      blank: '',
      list: [],
      site: '<https://x|y>',
      cur: 'eur',
      kind: 'self_referral_<here>_&',
      providerType: 'commission.created',
      promotions: [{ referral_link: 'https://a.example?x=<1>', campaign_name: 'Main' }, { referral_link: 'https://b.example', campaign_name: 'Last' }],
      nested: [[1, 2], [3]],
      // eslint-disable-next-line no-sparse-arrays -- a hole in a payload array is the case under test
      holey: [, 'second'],
      huge: 'x'.repeat(6_000_000),
    };
    type Outcome = { slack: string; plain?: string } | { error: string; strictError?: string; warning?: string; lenient?: { slack: string; plain: string } };
    // Each outcome holds for run time (missing fields empty, with a warning) and strict mode, for
    // Slack (escaped) and plain actions; `plain` only where the escaping makes a difference.
    const table: Array<[template: string, outcome: Outcome]> = [
      ['{{ data.email }} earned {{ data.amount | money }}', { slack: 'lead@example.com earned $2.00' }],
      ['{{ data.conversion_amount | money: "EUR" }} {{ data.conversion_amount | money: data.cur }}', { slack: '€100.00 €100.00' }],
      ['{{ data.html }} {{ data.html | raw }} {{ data.site | upcase }}', { slack: '&lt;b&gt;&amp;&lt;/b&gt; <b>&</b> &lt;HTTPS://X|Y&gt;', plain: '<b>&</b> <b>&</b> <HTTPS://X|Y>' }],
      ['{{ data.empty | default: "none" }} {{ data.blank | default: "b" }} {{ data.no | default: "f" }} {{ data.zero | default: 5 }}', { slack: 'none b f 0' }],
      ['{{ data.list | default: "empty" }} {{ data.tags }} {{ data.promoter }}', { slack: 'empty ["a","b"] {"email":"promoter@example.com","profile":{"first_name":"Jane"}}' }],
      ['{{ data.status | upcase | downcase }} {{ data.name | strip }} {{ data.empty | upcase }}', { slack: 'approved Jane ' }],
      ['{{ data.missing | default: "x" }}', { slack: 'x' }],
      ['{{ data.email | money }}', { error: 'money needs an amount in cents, not "lead@example.com"' }],
      ['{{ data.tags.first }} {{ data.tags.size }}', { slack: 'a 2' }],
      ['{% if data.amount > 100 %}big{% endif %}', { slack: 'big' }],
      [
        '{{ data.email | replace: "@", " at " }} {{ data.kind | replace: "_", " " }} {{ data.kind | replace: "_", " " | raw }}',
        { slack: 'lead at example.com self referral &lt;here&gt; &amp; self referral <here> &', plain: 'lead at example.com self referral <here> & self referral <here> &' },
      ],
      [
        '{{ data.amount | replace: "0", "o" }} {{ data.empty | replace: "a", "b" }} {{ data.no | replace: "f", "F" }} {{ data.email | replace: "", "-" }}',
        { slack: '2oo  False l-e-a-d-@-e-x-a-m-p-l-e-.-c-o-m' },
      ],
      ['{{ data.tags | replace: "a", "b" }}', { slack: 'bb' }],
      [
        '{{ data.kind | replace: data.cur, data.name }} {{ data.kind | replace: data.missing, "x" }}',
        {
          error: 'missing field data.missing',
          warning: 'missing field data.missing rendered as empty text',
          lenient: {
            slack: 'self_referral_&lt;here&gt;_&amp; sxexlxfx_xrxexfxexrxrxaxlx_x&lt;xhxexrxex&gt;x_x&amp;',
            plain: 'self_referral_<here>_& sxexlxfx_xrxexfxexrxrxaxlx_x<xhxexrxex>x_x&',
          },
        },
      ],
      [
        '{{ data.providerType | remove_first: "commission." }} {{ data.kind | remove_first: "_" }} {{ data.amount | remove_first: 0 }}',
        { slack: 'created selfreferral_&lt;here&gt;_&amp; 20', plain: 'created selfreferral_<here>_& 20' },
      ],
      ['{{ event.providerType | remove_first: "reward_" }}', { slack: 'created' }],
      ["{{ data.promotions.first.referral_link | default: '' }} {{ data.promotions.last.campaign_name }}", { slack: 'https://a.example?x=&lt;1&gt; Last', plain: 'https://a.example?x=<1> Last' }],
      ['{{ data.list.first.referral_link | default: \'\' }} {{ data.list.first | default: "none" }}', { slack: ' none' }],
      ['{{ data.nested.first }} {{ data.nested.last.first }} {{ data.holey.first | default: "hole" }} {{ data.tags.last }}', { slack: '[1,2] 3 hole b' }],
      ['{{ data.promoter.first }}', { error: 'missing field data.promoter.first', warning: 'missing field data.promoter.first rendered as empty text', lenient: { slack: '', plain: '' } }],
      [
        '{{ data.email | default: data.missing }} {{ data.empty | default: data.status }}',
        { error: 'missing field data.missing', warning: 'missing field data.missing rendered as empty text', lenient: { slack: 'lead@example.com approved', plain: 'lead@example.com approved' } },
      ],
      ['{{ data.huge | upcase | downcase }}', { error: 'memory alloc limit exceeded' }],
      ['{{ data.huge | replace: "x", "yy" }}', { error: 'memory alloc limit exceeded' }],
      ['{{ data.huge | remove_first: "x" | remove_first: "x" }}', { error: 'memory alloc limit exceeded' }],
      ['{{ data.email | replace: "@" }}', { slack: 'leadexample.com' }],
      ['{{ data.email | replace_first: "@", "$&" }}', { slack: 'lead$&amp;example.com', plain: 'lead$&example.com' }],
      ['{{- data.email -}}', { slack: 'lead@example.com' }],
    ];
    for (const [template, outcome] of table) {
      it(template, () => {
        for (const [name, escape] of [['slack', SLACK], ['plain', PLAIN]] as const) {
          for (const strict of [false, true]) {
            const label = `${name}, ${strict ? 'strict' : 'at run time'}`;
            const run = () => render(template, { escape, strict, data });
            if ('slack' in outcome) {
              expect(run(), label).to.deep.equal({ value: name === 'slack' ? outcome.slack : (outcome.plain ?? outcome.slack), warnings: [] });
            } else if (!strict && outcome.lenient) {
              expect(run(), label).to.deep.equal({ value: outcome.lenient[name], warnings: [outcome.warning] });
            } else {
              expect(run, label).to.throw(TemplateRenderError, outcome.error);
            }
          }
        }
      });
    }
  });

  describe('escape sequences in quoted filter arguments mean what liquidjs says', () => {
    // Issue 9: a second renderer took `"\n"` as a backslash and an n, liquidjs as a newline, so the
    // same rule rendered differently depending on whether an unrelated field was present.
    const cases: Array<[name: string, template: string, expected: string]> = [
      ['\\n', '{{ data.x | replace: ", ", "\\n• " }}', 'a\n• b\n• c'],
      ['\\t', "{{ data.x | replace: ', ', '\\t' }}", 'a\tb\tc'],
      ['\\u0041', '{{ data.x | replace: ", ", "\\u0041" }}', 'aAbAc'],
      ['an escaped quote', '{{ data.x | append: "\\"!\\"" }}', 'a, b, c"!"'],
      ['unicode as written', '{{ data.x | replace: ", ", " → é 😀 " }}', 'a → é 😀 b → é 😀 c'],
    ];
    for (const [name, template, expected] of cases) {
      it(`${name}: the same text whether or not an unrelated field is present`, () => {
        const withNote = `${template}{{ data.note }}`;
        const present = render(withNote, { data: { x: 'a, b, c', note: '' }, strict: true });
        const absent = render(withNote, { data: { x: 'a, b, c' } });
        expect(present).to.deep.equal({ value: expected, warnings: [] });
        expect(absent).to.deep.equal({ value: expected, warnings: ['missing field data.note rendered as empty text'] });
        expect(render(template, { escape: PLAIN, data: { x: 'a, b, c' }, strict: true }).value).to.equal(expected);
      });
    }

    it('payload text with escapes and unicode is printed as it is, then escaped for Slack', () => {
      const payload = 'tab\there\nnew line \\u0041 <é 😀> & "q"';
      expect(render('{{ data.x }}', { data: { x: payload }, strict: true }).value).to.equal('tab\there\nnew line \\u0041 &lt;é 😀&gt; &amp; "q"');
      expect(render('{{ data.x }}', { escape: PLAIN, data: { x: payload }, strict: true }).value).to.equal(payload);
    });
  });

  describe('one engine per escaper', () => {
    it('an action with its own escaper gets its own escaping, and raw still opts out', () => {
      const shout: TextEscaper = (text) => text.toUpperCase();
      expect(render('hi {{ data.name }} {{ data.name | raw }}', { escape: shout, data: { name: 'jane' } }).value).to.equal('hi JANE jane');
      // Slack templates compiled before and after are unaffected.
      expect(render('{{ data.name }}', { data: { name: '<jane>' } }).value).to.equal('&lt;jane&gt;');
    });

    it('keeps the sandbox for every escaper: no file tags, own properties only', () => {
      const { problems } = compileTemplateTree('{% layout "package.json" %}{% block x %}{% endblock %}', (text) => text);
      expect(problems.map((problem) => problem.message)).to.deep.equal(['invalid template: tag "layout" not found']);
      expect(render('[{{ data.promoter.toString }}][{{ data.constructor }}]', { escape: (text) => text, data: { promoter: {} } })).to.deep.equal({
        value: '[][]',
        // One warning per string: the first missing field is the one named.
        warnings: ['missing field data.promoter.toString rendered as empty text'],
      });
    });
  });
});
