import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { expect } from 'chai';
import * as yup from 'yup';
import { parse } from 'yaml';
import type { Action, ActionCatalog } from '../../../src/actions/action.js';
import { actionRegistry } from '../../../src/actions/registry.js';
import { formatRuleFileSchema, runSchemaCommand } from '../../../src/cli/commands/schema.js';
import { compileRuleFiles, RULE_KEYS } from '../../../src/rules/compile-rules.js';
import { buildRuleFileSchema, convertYupDescription, RULE_FILE_SCHEMA_MODELINE, RULE_FILE_SCHEMA_PATH } from '../../../src/rules/rule-file-schema.js';

const BAD = 'test/fixtures/rules/bad';

function compileSchema(actions: ActionCatalog = actionRegistry): ValidateFunction {
  // strict: an unknown keyword is an error, not silently ignored. (Required names inside anyOf and
  // several types beside a pattern are valid JSON Schema that ajv's strictest modes only frown on.)
  return new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false }).compile(buildRuleFileSchema({ actions }));
}

async function yamlFilesIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => /\.ya?ml$/.test(name)).map((name) => path.join(dir, name));
}

describe('rules/rule-file-schema (editor support, issue 11.4)', () => {
  const validate = compileSchema();

  it(`the shipped ${RULE_FILE_SCHEMA_PATH} is exactly what \`affiliate-bridge schema\` prints (regenerate it with that command)`, async () => {
    const printed: string[] = [];
    expect(await runSchemaCommand({}, { stdout: (line) => printed.push(line), stderr: () => undefined })).to.equal(0);
    expect(printed).to.have.length(1);
    expect(await readFile(RULE_FILE_SCHEMA_PATH, 'utf8')).to.equal(`${printed[0]}\n`);
  });

  it('every shipped rule file starts with the modeline and validates against the schema', async () => {
    const files = await yamlFilesIn('rules');
    expect(files).to.have.length.greaterThan(3);
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      expect(text.split('\n')[0], file).to.equal(RULE_FILE_SCHEMA_MODELINE);
      expect(validate(parse(text)), `${file}: ${JSON.stringify(validate.errors)}`).to.equal(true);
    }
  });

  it('every rule file the loader accepts in the fixtures validates too', async () => {
    for (const file of [...(await yamlFilesIn('test/fixtures/rules/match')), ...(await yamlFilesIn('test/fixtures/rules/rule-tests'))]) {
      const text = await readFile(file, 'utf8');
      expect(compileRuleFiles([{ file, content: text }], { actions: actionRegistry }).ok, file).to.equal(true);
      expect(validate(parse(text)), `${file}: ${JSON.stringify(validate.errors)}`).to.equal(true);
    }
  });

  describe('refuses, while typing, the bad rule files the loader refuses for their shape', () => {
    const table: Array<[file: string, instancePath: string]> = [
      ['unknown-key.yaml', '/rules/0'],
      ['missing-on.yaml', '/rules/0'],
      ['missing-do.yaml', '/rules/0'],
      ['missing-id.yaml', '/rules/0'],
      ['bad-id.yaml', '/rules/0/id'],
      ['id-too-long.yaml', '/rules/0/id'],
      ['unknown-action.yaml', '/rules/0/do/0'],
      ['two-actions-in-one-item.yaml', '/rules/0/do/0'],
      ['invalid-params.yaml', '/rules/0/do/0/slack.post_message/channel'],
      ['hubspot-read-only-property.yaml', '/rules/0/do/0/hubspot.upsert_contact/properties'],
      ['bad-on-glob.yaml', '/rules/0/on'],
      ['on-never-matches.yaml', '/rules/0/on'],
      ['bad-retry.yaml', '/rules/0/do/0/retry/attempts'],
      ['once-per-unknown-key.yaml', '/rules/0/do/0/once_per'],
      ['once-per-empty-key.yaml', '/rules/0/do/0/once_per'],
      ['once-per-bad-window.yaml', '/rules/0/do/0/once_per/window'],
      ['empty-do.yaml', '/rules/0/do'],
      ['no-rules-list.yaml', ''],
    ];
    for (const [file, instancePath] of table) {
      it(file, async () => {
        expect(validate(parse(await readFile(`${BAD}/${file}`, 'utf8')))).to.equal(false);
        expect(validate.errors!.map((error) => error.instancePath)).to.include(instancePath);
      });
    }
  });

  it('is generated from the action catalog and the loader: a toy action appears with its params, and nothing else', () => {
    const toy: Action<{ url: string; retries?: number }> = {
      name: 'toy.ping',
      title: 'Toy',
      params: yup.object({ url: yup.string().strict().defined().min(1), retries: yup.number().strict().integer().min(0).max(5) }).strict().noUnknown(),
      connect: () => ({ execute: () => Promise.resolve({ outcome: 'succeeded' }) }),
    } as unknown as Action<{ url: string; retries?: number }>;
    const schema = buildRuleFileSchema({ actions: { 'toy.ping': toy } }) as { definitions: { params: Record<string, unknown>; rule: { properties: object } } };
    expect(Object.keys(schema.definitions.params)).to.deep.equal(['toy.ping']);
    expect(schema.definitions.params['toy.ping']).to.deep.equal({
      type: 'object',
      properties: { url: { type: 'string', minLength: 1 }, retries: { type: 'integer', minimum: 0, maximum: 5 } },
      required: ['url'],
      additionalProperties: false,
    });
    expect(Object.keys(schema.definitions.rule.properties)).to.deep.equal([...RULE_KEYS]);
    const validateToy = compileSchema({ 'toy.ping': toy });
    const rule = (params: unknown) => ({ rules: [{ id: 'a', on: 'firstpromoter.lead_signup', do: [{ 'toy.ping': params }] }] });
    expect(validateToy(rule({ url: 'https://example.com', retries: 2 }))).to.equal(true);
    expect(validateToy(rule({ url: 'https://example.com', retries: 9 }))).to.equal(false);
    expect(validateToy(rule({ url: 'https://example.com', nope: 1 }))).to.equal(false);
    expect(validateToy({ rules: [{ id: 'a', on: 'firstpromoter.lead_signup', do: [{ 'slack.post_message': { channel: '#x', text: 'hi' } }] }] })).to.equal(false);
  });

  it('carries what yup cannot describe through meta: Slack needs text or blocks; an enumeration needs options', () => {
    const withDo = (item: unknown) => ({ rules: [{ id: 'a', on: 'rewardful.commission.*', do: [item] }] });
    expect(validate(withDo({ 'slack.post_message': { channel: '#x' } }))).to.equal(false);
    expect(validate(withDo({ 'slack.post_message': { channel: '#x', blocks: [{ type: 'divider' }] } }))).to.equal(true);
    const upsert = (spec: unknown) => withDo({ 'hubspot.upsert_contact': { email: '{{ data.email }}', properties: { affiliate_state: spec } } });
    expect(validate(upsert({ value: '{{ data.state }}', type: 'enumeration' }))).to.equal(false);
    expect(validate(upsert({ value: '{{ data.state }}', type: 'enumeration', options: ['due', 'paid'] }))).to.equal(true);
    expect(validate(upsert({ value: '{{ data.state }}', options: ['due'] }))).to.equal(false);
    expect(validate(upsert({ value: '{{ data.state }}', type: 'money' }))).to.equal(false);
  });

  it('offers every registered event type for completion in on:, and keeps globs and lists valid', () => {
    const schema = buildRuleFileSchema({ actions: actionRegistry }) as { definitions: { eventType: { anyOf: [{ enum: string[] }] } } };
    expect(schema.definitions.eventType.anyOf[0].enum).to.include.members(['firstpromoter.lead_signup', 'firstpromoter.referral.created', 'rewardful.referral.converted', 'bridge.action.failed']);
    const withOn = (on: unknown) => ({ rules: [{ id: 'a', on, do: [{ 'slack.post_message': { channel: '#x', text: 'hi' } }] }] });
    expect(validate(withOn(['rewardful.commission.*', 'firstpromoter.test.referral.created']))).to.equal(true);
    expect(validate(withOn([]))).to.equal(false);
    expect(validate(withOn('stripe.charge.succeeded'))).to.equal(false);
    // The bridge's own events (events/internal-events.ts), by name or glob.
    expect(validate(withOn(['bridge.action.failed', 'bridge.action.*']))).to.equal(true);
  });

  it('converts yup descriptions: lists, patterns without flags, enums, and leaves out a pattern that needs a flag', () => {
    expect(convertYupDescription(yup.array(yup.string().oneOf(['a', 'b'])).min(1).max(3).describe())).to.deep.equal({
      type: 'array',
      items: { type: 'string', enum: ['a', 'b'] },
      minItems: 1,
      maxItems: 3,
    });
    expect(convertYupDescription(yup.string().matches(/^x+$/u).describe())).to.deep.equal({ type: 'string', pattern: '^x+$' });
    expect(convertYupDescription(yup.string().matches(/^x.+$/s).describe())).to.deep.equal({ type: 'string' });
  });

  it('prints the same JSON as formatRuleFileSchema, parseable', () => {
    expect(JSON.parse(formatRuleFileSchema())).to.have.property('$schema', 'http://json-schema.org/draft-07/schema#');
  });
});
