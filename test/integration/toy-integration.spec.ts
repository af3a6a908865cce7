import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import * as yup from 'yup';
import type { ActionContext } from '../../src/actions/action.js';
import { defineAction } from '../../src/actions/descriptor.js';
import { actionRegistry } from '../../src/actions/registry.js';
import { loadConfig, type Registries } from '../../src/config/config.js';
import { readSettings, secretVariable, urlVariable } from '../../src/config/env-variable.js';
import { AuthError, ConfigError } from '../../src/errors.js';
import { startBridge, type RunningBridge } from '../../src/main.js';
import { collectLogRedaction } from '../../src/observability/logger.js';
import { BridgeMetrics } from '../../src/observability/metrics.js';
import { BridgeOperations } from '../../src/queue/operations.js';
import { compileRuleFiles } from '../../src/rules/compile-rules.js';
import { buildEventFromPayload, inferSource } from '../../src/rules/tooling/event-from-payload.js';
import { isSameSecret } from '../../src/secret.js';
import { normalizeEnvelope } from '../../src/sources/envelope.js';
import { parseJsonBody } from '../../src/sources/parse-json-body.js';
import { collectStrippedFields, sourceRegistry } from '../../src/sources/registry.js';
import { defineSource } from '../../src/sources/source.js';
import { createCapturingLogger } from '../support/log-capture.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../support/redis.js';

/*
 * A third source and a third integration, declared here and nowhere in src/: if adding a provider
 * needed an edit outside its own folder and the registry, this file could not work.
 */

const TOY_KEY = 'toy-webhook-key-7c1d9e';
const TOY_RECORDER_TOKEN = 'toy-recorder-token-42ab';
const TOY_IDENTITY = { name: 'toy', title: 'Toy' } as const;

/** `{ id, kind, at, thing: {…} }`, authenticated by `X-Toy-Key`. */
const toy = defineSource({
  ...TOY_IDENTITY,
  successStatus: 202,
  env: { TOY_WEBHOOK_KEY: secretVariable('Key the toy provider sends in X-Toy-Key; unset: 401 to every delivery.') },
  webhookSecret: 'TOY_WEBHOOK_KEY',
  redact: ['req.headers["x-toy-key"]', 'headers["x-toy-key"]'],
  strippedFields: ['toy_secret'],
  eventTypes: ['thing_happened'],
  recognize: (body) => 'thing' in body && 'kind' in body,
  envelopeDescription: 'a toy thing',
  verify(delivery, secret) {
    if (secret !== null && !isSameSecret(String(delivery.headers['x-toy-key'] ?? ''), secret.reveal())) {
      throw new AuthError('token_mismatch', 'The toy key does not match');
    }
    return parseJsonBody(delivery.rawBody);
  },
  normalize: (body, options) =>
    normalizeEnvelope(
      TOY_IDENTITY,
      {
        id: { path: 'id', value: body.id },
        type: { path: 'kind', value: body.kind },
        isKnownType: (type) => type === 'thing_happened',
        occurredAt: { path: 'at', value: body.at },
        data: body.thing,
      },
      options,
    ),
  schemasFor: (providerType) => (providerType === 'thing_happened' ? { data: yup.object({ name: yup.string().required(), toy_secret: yup.string() }) } : null),
});

interface ToyRecord {
  readonly params: { note: string };
  readonly eventId: string;
  readonly ruleId: string;
  readonly token: string | undefined;
  readonly url: string;
}

/** What `toy.record` received, in order. */
const recorded: ToyRecord[] = [];

const toyRecorderEnv = {
  TOY_RECORDER_TOKEN: secretVariable('Token of the toy recorder; unset: toy actions run as dry-run.'),
  TOY_RECORDER_URL: urlVariable('Base URL of the toy recorder.', 'https://recorder.example/'),
} as const;

const toyRecord = defineAction<{ note: string }, typeof toyRecorderEnv>({
  name: 'toy.record',
  title: 'Toy recorder',
  env: toyRecorderEnv,
  credential: 'TOY_RECORDER_TOKEN',
  params: yup.object({ note: yup.string().required() }).noUnknown().strict() as yup.Schema<{ note: string }>,
  connect(deps) {
    const settings = readSettings(deps.config, toyRecorderEnv);
    return {
      async execute(params, ctx: ActionContext) {
        recorded.push({
          params,
          eventId: ctx.eventId,
          ruleId: ctx.ruleId,
          token: settings.TOY_RECORDER_TOKEN?.reveal(),
          url: settings.TOY_RECORDER_URL,
        });
        return { outcome: 'succeeded', detail: { recorded: recorded.length } };
      },
    };
  },
});

/** The test registries: the shipped two of each, plus the toys. The shipped ones are not changed. */
const registries: Registries = {
  sources: Object.freeze({ ...sourceRegistry, toy }),
  actions: Object.freeze({ ...actionRegistry, 'toy.record': toyRecord }),
};

const RULES = `rules:
  - id: toy-thing-recorded
    on: toy.thing_happened
    do:
      - toy.record:
          note: "{{ data.name }} happened ({{ event.type }}) secret=[{{ data.toy_secret }}]"
`;

describe('a toy source and a toy action from a test registry, end to end (real Redis, in-process)', function () {
  this.timeout(30_000);
  let rulesDir: string;
  let prefix: string;
  let redis: Redis;
  let bridge: RunningBridge | undefined;
  let logs: ReturnType<typeof createCapturingLogger>;

  before(async () => {
    rulesDir = await mkdtemp(path.join(tmpdir(), 'bridge-toy-rules-'));
    await writeFile(path.join(rulesDir, 'toy.yaml'), RULES);
    redis = new Redis(SHARED_REDIS_URL);
  });

  beforeEach(async () => {
    recorded.length = 0;
    prefix = randomPrefix('toy');
    logs = createCapturingLogger('info');
    const config = loadConfig(
      {
        REDIS_URL: SHARED_REDIS_URL,
        QUEUE_PREFIX: prefix,
        RULES_DIR: rulesDir,
        PORT: '0',
        TOY_WEBHOOK_KEY: TOY_KEY,
        TOY_RECORDER_TOKEN,
        ACTION_BACKOFF_BASE: '100ms',
      },
      registries,
    );
    bridge = await startBridge({ config, roles: { api: true, workers: true }, logger: logs.logger, metrics: new BridgeMetrics(), ...registries });
  });

  afterEach(async () => {
    await bridge?.stop(2_000);
    bridge = undefined;
    await deleteKeys(redis, prefix);
  });

  after(async () => {
    await redis.quit();
    await rm(rulesDir, { recursive: true, force: true });
  });

  const postToy = (body: unknown, key = TOY_KEY) =>
    fetch(`http://127.0.0.1:${bridge!.port}/webhooks/toy`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Toy-Key': key },
      body: JSON.stringify(body),
    });

  it('stores the delivery, plans the rule on toy.thing_happened and runs toy.record with its settings', async () => {
    const response = await postToy({
      id: 'thing-001',
      kind: 'thing_happened',
      at: '2024-10-03T13:45:20.103Z',
      thing: { name: 'Widget', toy_secret: 'must-not-travel' },
    });
    expect(response.status).to.equal(202);
    expect(await response.json()).to.deep.equal({ eventId: 'toy-thing-001', outcome: 'stored' });

    await waitFor(() => recorded.length > 0 || null, 15_000);
    expect(recorded).to.deep.equal([
      {
        // The source's strippedFields took toy_secret out before the event was stored.
        params: { note: 'Widget happened (toy.thing_happened) secret=[]' },
        eventId: 'toy-thing-001',
        ruleId: 'toy-thing-recorded',
        token: TOY_RECORDER_TOKEN,
        url: 'https://recorder.example/',
      },
    ]);
    expect(logs.text()).not.to.contain('must-not-travel');
  });

  it("authenticates with the toy's own secret variable and quarantines what fails its schema", async () => {
    const wrongKey = await postToy({ id: 'thing-002', kind: 'thing_happened', at: '2024-10-03T13:45:20.103Z', thing: { name: 'x' } }, 'wrong');
    expect(wrongKey.status).to.equal(401);

    const notToy = await postToy({ kind: 'thing_happened', thing: {} });
    expect(notToy.status).to.equal(400);
    expect(await notToy.json()).to.deep.equal({ error: 'Body is not a Toy webhook: missing id' });

    // No name: stored (202), then quarantined by the events worker, so the rule never runs.
    const invalid = await postToy({ id: 'thing-003', kind: 'thing_happened', at: '2024-10-03T13:45:20.103Z', thing: {} });
    expect(invalid.status).to.equal(202);
    const operations = new BridgeOperations(redis, prefix);
    try {
      const quarantined = await waitFor(async () => (await operations.listQuarantinedEvents()).find((event) => event.eventId === 'toy-thing-003'), 15_000);
      expect(quarantined).to.include({ type: 'toy.thing_happened' });
      expect(quarantined.validationErrors).to.deep.equal(['data.name is a required field']);
    } finally {
      await operations.close();
    }
    expect(recorded).to.deep.equal([]);
  });

  it('warns at start-up about the shipped sources left without a secret, not about the configured toys', () => {
    const text = logs.text();
    expect(text).to.contain('FIRSTPROMOTER_WEBHOOK_TOKEN is unset: /webhooks/firstpromoter answers 401 to every delivery');
    expect(text).to.contain('SLACK_BOT_TOKEN is unset: Slack actions run as dry-run (logged, nothing sent)');
    expect(text).not.to.contain('TOY_WEBHOOK_KEY is unset');
    expect(text).not.to.contain('TOY_RECORDER_TOKEN is unset');
  });
});

describe('what the rest of the bridge derives from a test registry', () => {
  it('config: the toys\' variables are validated and read, and unknown to the shipped config', () => {
    const caught = (() => {
      try {
        loadConfig({ TOY_RECORDER_URL: 'ftp://recorder' }, registries);
      } catch (error) {
        return error;
      }
      return null;
    })();
    expect(caught).to.be.instanceOf(ConfigError);
    expect((caught as ConfigError).problems).to.deep.equal(['TOY_RECORDER_URL must be a URL starting with http:// or https://']);
    expect(loadConfig({}, registries).integrations).to.include({ TOY_WEBHOOK_KEY: null, TOY_RECORDER_URL: 'https://recorder.example/' });
    expect(Object.keys(loadConfig({}).integrations)).not.to.include('TOY_WEBHOOK_KEY');
  });

  it('logger redaction and stripped fields include the toy source\'s', () => {
    const redaction = collectLogRedaction(registries.sources);
    expect(redaction.paths).to.include.members(['req.headers["x-toy-key"]', 'headers["x-toy-key"]']);
    expect(redaction.keys).to.deep.include({ key: 'toy_secret', maxDepth: 4 });
    expect(collectStrippedFields(registries.sources)).to.deep.equal(['auth_token', 'temp_password', 'toy_secret']);
  });

  it('rules: toy.* event types are valid only where the toy source is registered', () => {
    const file = { file: 'toy.yaml', content: RULES };
    expect(compileRuleFiles([file], { actions: registries.actions, sources: Object.keys(registries.sources) }).problems).to.deep.equal([]);
    const shipped = compileRuleFiles([file], { actions: registries.actions });
    expect(shipped.ok).to.equal(false);
    expect(shipped.problems.map((problem) => problem.message)).to.include(
      'on toy.thing_happened can never match: event types start with firstpromoter., rewardful., affiliate. or bridge.',
    );
  });

  it("simulate's source guessing: the toy's recognize, and its envelope named when nothing matches", () => {
    const body = { id: 't-1', kind: 'thing_happened', at: '2024-10-03T13:45:20.103Z', thing: { name: 'Widget' } };
    expect(inferSource(body, registries.sources)).to.equal('toy');
    expect(inferSource(body)).to.equal(null);
    const event = buildEventFromPayload(body, { normalizers: registries.sources, receivedAt: new Date('2024-10-03T13:45:21Z') });
    expect(event).to.include({ id: 'toy-t-1', type: 'toy.thing_happened', status: 'valid' });
    expect(() => buildEventFromPayload({ unrelated: true }, { normalizers: registries.sources })).to.throw(
      'cannot tell the source from the payload (neither a toy thing nor a Rewardful object nor a FirstPromoter data envelope): name it with source',
    );
  });
});
