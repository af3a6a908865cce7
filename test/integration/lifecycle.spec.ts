import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { startSlackFake, type SlackFake } from '../fakes/slack-fake.js';
import { BridgeProcess, runCli } from '../support/bridge-process.js';
import { postFirstPromoter } from '../support/intake-app.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../support/redis.js';
import { bridgeTestEnv } from '../support/bridge-env.js';

const SLACK_TOKEN = 'xoxb-lifecycle-token-5e6f7a8b';

const RULES = `rules:
  - id: lifecycle-reward
    on: firstpromoter.reward_created
    do:
      - slack.post_message:
          channel: "#lifecycle"
          text: "reward {{ event.id }}"
`;

/** A reward_created delivery with its own event id, and the Slack text the rule renders for it. */
async function rewardDelivery(eventId: number): Promise<{ body: string; text: string; actionJobId: string }> {
  const delivery = JSON.parse(await readFile(new URL('../fixtures/deliveries/firstpromoter/reward_created.json', import.meta.url), 'utf8'));
  delivery.event.id = eventId;
  return {
    body: JSON.stringify(delivery),
    text: `reward firstpromoter-${eventId}`,
    actionJobId: `firstpromoter-${eventId}.lifecycle-reward.0`,
  };
}

describe('process lifecycle (real process, real Redis)', function () {
  this.timeout(60_000);
  let slack: SlackFake;
  let rulesDir: string;
  let redis: Redis;
  const processes: BridgeProcess[] = [];
  const prefixes: string[] = [];
  const queues: Queue[] = [];

  const envFor = (prefix: string, extra: Record<string, string> = {}): Record<string, string> =>
    bridgeTestEnv({ prefix, rulesDir, slack: { url: slack.url, token: SLACK_TOKEN }, extra });
  const newPrefix = () => {
    const prefix = randomPrefix('lifecycle');
    prefixes.push(prefix);
    return prefix;
  };
  const start = async (options: Parameters<typeof BridgeProcess.start>[0]) => {
    const bridge = await BridgeProcess.start(options);
    processes.push(bridge);
    return bridge;
  };
  const actionsQueue = (prefix: string) => {
    const queue = new Queue('actions', { connection: redis, prefix });
    queues.push(queue);
    return queue;
  };
  /** Sends `signal` and returns the exit code and how long the exit took. */
  const stopTimed = async (bridge: BridgeProcess, signal: NodeJS.Signals) => {
    const startedAt = Date.now();
    const code = await bridge.stop(signal);
    return { code, ms: Date.now() - startedAt };
  };

  before(async () => {
    slack = await startSlackFake({ token: SLACK_TOKEN });
    rulesDir = await mkdtemp(path.join(tmpdir(), 'bridge-lifecycle-rules-'));
    await writeFile(path.join(rulesDir, 'lifecycle.yaml'), RULES);
    redis = new Redis(SHARED_REDIS_URL);
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((bridge) => bridge.stop('SIGKILL').catch(() => undefined)));
    await Promise.all(queues.splice(0).map((queue) => queue.close()));
    slack.resetScript();
  });

  after(async () => {
    await slack?.close();
    if (rulesDir) await rm(rulesDir, { recursive: true, force: true });
    for (const prefix of prefixes) await deleteKeys(redis, prefix);
    redis?.disconnect();
  });

  it('SIGTERM past SHUTDOWN_TIMEOUT with a Slack call in flight: exit 0 in time, the job back in the queue (not failed), sent once by the next process', async () => {
    const prefix = newPrefix();
    const env = envFor(prefix, { SHUTDOWN_TIMEOUT: '1s' });
    const { body, text, actionJobId } = await rewardDelivery(71_000_001);
    // Slack holds the call far beyond the deadline; a call whose client hung up is not posted.
    slack.script({ kind: 'delay', ms: 8_000, ifClientGone: 'drop', channel: '#lifecycle' });

    const first = await start({ env });
    expect((await postFirstPromoter(first.baseUrl, body)).status).to.equal(202);
    await waitFor(() => slack.requests.some((request) => request.text === text));

    const { code, ms } = await stopTimed(first, 'SIGTERM');
    expect(code, first.output()).to.equal(0);
    expect(ms).to.be.below(1_000 + 2_500);
    expect(first.output()).to.contain('shutdown deadline reached: returning in-flight jobs to the queue');
    expect(first.output()).to.contain('job returned to the queue');

    const queue = actionsQueue(prefix);
    expect(await queue.getJobState(actionJobId)).to.equal('waiting');
    expect((await queue.getJob(actionJobId))!.attemptsMade).to.equal(0);
    expect(await queue.getFailedCount()).to.equal(0);
    expect(slack.received.filter((message) => message.text === text)).to.have.length(0);

    const second = await start({ env });
    await waitFor(() => slack.received.some((message) => message.text === text));
    await waitFor(async () => (await queue.getJobState(actionJobId)) === 'completed');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(slack.countByText().get(text)).to.equal(1);
    expect(await stopTimed(second, 'SIGTERM')).to.include({ code: 0 });
  });

  it('SIGINT within SHUTDOWN_TIMEOUT: the in-flight call finishes before exit 0, and a second process sends nothing more', async () => {
    const prefix = newPrefix();
    const env = envFor(prefix, { SHUTDOWN_TIMEOUT: '5s' });
    const { body, text, actionJobId } = await rewardDelivery(71_000_002);
    slack.script({ kind: 'delay', ms: 1_500, channel: '#lifecycle' });

    const first = await start({ env });
    expect((await postFirstPromoter(first.baseUrl, body)).status).to.equal(202);
    await waitFor(() => slack.requests.some((request) => request.text === text));

    const { code, ms } = await stopTimed(first, 'SIGINT');
    expect(code, first.output()).to.equal(0);
    expect(ms).to.be.below(5_000 + 2_500);
    // It waited for Slack's answer: the message is posted and the job completed before the exit.
    expect(slack.countByText().get(text)).to.equal(1);
    const queue = actionsQueue(prefix);
    expect(await queue.getJobState(actionJobId)).to.equal('completed');
    expect(first.output()).not.to.contain('shutdown deadline reached');

    const second = await start({ env });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(slack.countByText().get(text)).to.equal(1);
    expect(await stopTimed(second, 'SIGTERM')).to.include({ code: 0 });
  });

  it('a port already in use at start: exit 1 with a fatal "start-up failed" line naming EADDRINUSE, and no hang', async () => {
    const blocker: Server = createServer();
    blocker.listen(0, '0.0.0.0');
    await once(blocker, 'listening');
    const port = (blocker.address() as { port: number }).port;
    try {
      const startedAt = Date.now();
      const result = await runCli(['start'], { ...envFor(newPrefix()), PORT: String(port), LOG_LEVEL: 'info' });
      expect(result.code).to.equal(1);
      expect(Date.now() - startedAt).to.be.below(15_000);
      const fatal = result.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { level: number; msg: string; err?: { code?: string; message?: string } })
        .find((entry) => entry.level === 60);
      expect(fatal, result.stdout).to.not.equal(undefined);
      expect(fatal!.msg).to.equal('start-up failed');
      expect(fatal!.err?.code).to.equal('EADDRINUSE');
      expect(fatal!.err?.message).to.contain(`address already in use 0.0.0.0:${port}`);
    } finally {
      blocker.close();
    }
  });

  it('api serves webhooks and runs no workers (the event stays waiting); worker serves /metrics, /healthz and /readyz on METRICS_PORT and processes it', async () => {
    const prefix = newPrefix();
    const env = envFor(prefix);
    const { body, text } = await rewardDelivery(71_000_003);

    const api = await start({ role: 'api', env });
    expect((await postFirstPromoter(api.baseUrl, body)).status).to.equal(202);
    const events = new Queue('events', { connection: redis, prefix });
    queues.push(events);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await events.getJobCounts('waiting', 'active', 'completed')).to.deep.equal({ waiting: 1, active: 0, completed: 0 });
    expect(slack.received.some((message) => message.text === text)).to.equal(false);
    expect(api.output()).not.to.contain('rules loaded');

    const metricsPort = String(await freePort());
    const worker = await start({ role: 'worker', env: { ...env, METRICS_PORT: metricsPort } });
    expect(worker.port).to.equal(Number(metricsPort));
    expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).to.equal(200);
    const ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
    expect(ready.status).to.equal(200);
    expect(await ready.json()).to.deep.equal({ status: 'ready' });
    await waitFor(() => slack.received.some((message) => message.text === text));
    // Planned: the event job is removed once completed (its trace is the record).
    await waitFor(async () => (await events.getJobCountByTypes('waiting', 'active')) === 0);
    // The counter moves just after Slack answers (the completion record comes first).
    const metrics = await waitFor(async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return /bridge_actions_total\{action="slack.post_message",outcome="succeeded"\} 1/.test(text) ? text : null;
    });
    expect(metrics).to.contain('bridge_rules_loaded 1');
    // No webhook route on a worker-only process.
    expect((await fetch(`http://127.0.0.1:${metricsPort}/webhooks/firstpromoter`, { method: 'POST' })).status).to.equal(404);

    expect(await stopTimed(api, 'SIGTERM')).to.include({ code: 0 });
    expect(await stopTimed(worker, 'SIGTERM')).to.include({ code: 0 });
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
