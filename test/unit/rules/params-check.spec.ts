import { expect } from 'chai';
import * as yup from 'yup';
import { hubspotUpsertContactParams } from '../../../src/actions/hubspot/params.js';
import { slackPostMessageParams } from '../../../src/actions/slack/params.js';
import { compileParamsCheck } from '../../../src/rules/params-check.js';
import { compileTemplateTree } from '../../../src/rules/templates.js';

/** What yup says of the params in full: the reference the fast check must agree with. */
function validateWithYup(schema: yup.Schema<unknown>, params: unknown): string[] | null {
  try {
    schema.validateSync(params, { abortEarly: false });
    return null;
  } catch (error) {
    return (error as yup.ValidationError).errors;
  }
}

describe('rules/params-check', () => {
  const cases: Array<[name: string, schema: yup.Schema<unknown>, written: Record<string, unknown>, rendered: Record<string, unknown>[]]> = [
    [
      'hubspot: templated email and properties',
      hubspotUpsertContactParams as yup.Schema<unknown>,
      { email: '{{ data.email }}', properties: { firstname: '{{ data.name }}', lifecyclestage: 'customer' } },
      [
        { email: 'a@example.com', properties: { firstname: 'Jane', lifecyclestage: 'customer' } },
        { email: '', properties: { firstname: 'Jane', lifecyclestage: 'customer' } },
        { email: 'a@example.com', properties: { firstname: '', lifecyclestage: 'customer' } },
        { email: '', properties: { firstname: '', lifecyclestage: 'customer' } },
      ],
    ],
    [
      'hubspot: templated properties only',
      hubspotUpsertContactParams as yup.Schema<unknown>,
      { email: 'fixed@example.com', properties: { firstname: '{{ data.name }}' } },
      [{ email: 'fixed@example.com', properties: { firstname: '' } }, { email: 'fixed@example.com', properties: { firstname: '<b>' } }],
    ],
    [
      'slack: templated channel and text',
      slackPostMessageParams as yup.Schema<unknown>,
      { channel: '{{ data.channel }}', text: '{{ data.text }}' },
      [{ channel: '#x', text: '' }, { channel: '', text: 'hi' }],
    ],
    [
      'a templated field inside a mixed with oneOf runs yup in full',
      yup.object({ meta: yup.mixed().oneOf([{ a: 'x' }]) }).strict() as yup.Schema<unknown>,
      { meta: { a: '{{ data.a }}' } },
      [{ meta: { a: 'x' } }],
    ],
  ];
  for (const [name, schema, written, renderedList] of cases) {
    it(`${name}: agrees with yup`, () => {
      const { tree, problems } = compileTemplateTree(written, 'plain');
      expect(problems).to.deep.equal([]);
      const check = compileParamsCheck(schema, tree);
      for (const rendered of renderedList) {
        expect(check(rendered), JSON.stringify(rendered)).to.deep.equal(validateWithYup(schema, rendered));
      }
    });
  }

  it('still fails an email rendered empty', () => {
    const { tree } = compileTemplateTree({ email: '{{ data.email }}', properties: { firstname: '{{ data.name }}' } }, 'plain');
    const check = compileParamsCheck(hubspotUpsertContactParams as yup.Schema<unknown>, tree);
    expect(check({ email: '', properties: { firstname: 'x' } })).to.deep.equal(['email must not be empty']);
  });
});
