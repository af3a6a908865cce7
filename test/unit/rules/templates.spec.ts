import { expect } from 'chai';
import type { RenderFormat } from '../../../src/actions/action.js';
import { compileTemplateTree, formatMoney, renderTemplateTree, TemplateRenderError, type TemplateTree } from '../../../src/rules/templates.js';
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

function render(template: unknown, options: { format?: RenderFormat; strict?: boolean; data?: Record<string, unknown> } = {}) {
  const { tree, problems } = compileTemplateTree(template, options.format ?? 'slack_mrkdwn');
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
        expect(render('{{ data.name }}', { format: 'plain', data: { name: payload } }).value).to.equal(payload);
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
    expect(render('Hi {{ data.name }}', { format: 'plain', data: { name, promoter: { email: 'secret@example.com' } } }).value).to.equal(`Hi ${name}`);
  });

  it('keeps numbers, booleans and null as they are, and strings without markup untouched', () => {
    const params = { email: '{{ data.email }}', properties: { score: 42, vip: true, note: null, source: 'firstpromoter' } };
    expect(render(params, { format: 'plain' }).value).to.deep.equal({
      email: 'lead@example.com',
      properties: { score: 42, vip: true, note: null, source: 'firstpromoter' },
    });
  });

  it('reports template problems with their params path', () => {
    const { problems } = compileTemplateTree({ blocks: [{ text: { text: '{{ data.x' } }], other: '{{ secrets.token }}' }, 'slack_mrkdwn');
    expect(problems.map((problem) => problem.message)).to.deep.equal([
      'invalid template in blocks[0].text.text: output "{{ data.x" not closed',
      'unknown variable secrets in other: templates see event and data',
    ]);
  });

  it('cannot read files through include or render', () => {
    const { problems } = compileTemplateTree('{% include "package.json" %}{% render "package.json" %}', 'plain');
    expect(problems.map((problem) => problem.message)).to.deep.equal(['invalid template: tag "include" not found']);
  });

  describe('the fast path renders exactly as liquidjs does', () => {
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
      holey: [, 'second'],
      huge: 'x'.repeat(6_000_000),
    };
    const templates: Array<[template: string, isFast: boolean]> = [
      ['{{ data.email }} earned {{ data.amount | money }}', true],
      ['{{ data.conversion_amount | money: "EUR" }} {{ data.conversion_amount | money: data.cur }}', true],
      ['{{ data.html }} {{ data.html | raw }} {{ data.site | upcase }}', true],
      ['{{ data.empty | default: "none" }} {{ data.blank | default: "b" }} {{ data.no | default: "f" }} {{ data.zero | default: 5 }}', true],
      ['{{ data.list | default: "empty" }} {{ data.tags }} {{ data.promoter }}', true],
      ['{{ data.status | upcase | downcase }} {{ data.name | strip }} {{ data.empty | upcase }}', true],
      ['{{ data.missing | default: "x" }}', true],
      ['{{ data.email | money }}', true],
      ['{{ data.tags.first }} {{ data.tags.size }}', false],
      ['{% if data.amount > 100 %}big{% endif %}', false],
      ['{{ data.email | replace: "@", " at " }} {{ data.kind | replace: "_", " " }} {{ data.kind | replace: "_", " " | raw }}', true],
      ['{{ data.amount | replace: "0", "o" }} {{ data.empty | replace: "a", "b" }} {{ data.no | replace: "f", "F" }} {{ data.email | replace: "", "-" }}', true],
      ['{{ data.tags | replace: "a", "b" }}', true],
      ['{{ data.kind | replace: data.cur, data.name }} {{ data.kind | replace: data.missing, "x" }}', true],
      ['{{ data.providerType | remove_first: "commission." }} {{ data.kind | remove_first: "_" }} {{ data.amount | remove_first: 0 }}', true],
      ['{{ event.providerType | remove_first: "reward_" }}', true],
      ['{{ data.promotions.first.referral_link | default: \'\' }} {{ data.promotions.last.campaign_name }}', true],
      ['{{ data.list.first.referral_link | default: \'\' }} {{ data.list.first | default: "none" }}', true],
      ['{{ data.nested.first }} {{ data.nested.last.first }} {{ data.holey.first | default: "hole" }} {{ data.tags.last }}', true],
      ['{{ data.promoter.first }}', true],
      ['{{ data.email | default: data.missing }} {{ data.empty | default: data.status }}', true],
      ['{{ data.huge | upcase | downcase }}', true],
      ['{{ data.huge | replace: "x", "yy" }}', true],
      ['{{ data.huge | remove_first: "x" | remove_first: "x" }}', true],
      ['{{ data.email | replace: "@" }}', false],
      ['{{ data.email | replace_first: "@", "$&" }}', false],
      ['{{- data.email -}}', false],
    ];
    for (const [template, isFast] of templates) {
      it(template, () => {
        for (const format of ['slack_mrkdwn', 'plain'] as const) {
          const { tree } = compileTemplateTree(template, format);
          expect(tree.kind).to.equal('template');
          const fastTree = tree as Extract<TemplateTree, { kind: 'template' }>;
          expect(fastTree.fast !== null, 'compiled to the fast path').to.equal(isFast);
          const liquidOnly: TemplateTree = { ...fastTree, fast: null };
          const scope = { event, data };
          for (const strict of [false, true]) {
            const outcome = (candidate: TemplateTree) => {
              try {
                return renderTemplateTree(candidate, scope, { strict });
              } catch (error) {
                return String(error);
              }
            };
            expect(outcome(tree), strict ? 'strict' : 'at run time').to.deep.equal(outcome(liquidOnly));
          }
        }
      });
    }
  });
});
