import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import express from 'express';
import { Redis } from 'ioredis';
import { createOperationalRouter } from '../../../src/http/app.js';
import { BridgeMetrics } from '../../../src/observability/metrics.js';
import { Secret } from '../../../src/secret.js';
import { BridgeProcess, runCli } from '../../support/bridge-process.js';
import { bridgeTestEnv } from '../../support/bridge-env.js';
import { postFirstPromoter, postRewardful, readJson, signRewardful, startIntakeApp, TEST_FIRSTPROMOTER_TOKEN } from '../../support/intake-app.js';
import { OwnRedisServer } from '../../support/redis-server.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL } from '../../support/redis.js';

const fixture = (name: string) => readFile(new URL(`../../fixtures/deliveries/${name}`, import.meta.url), 'utf8');

/**
 * Issue 10, points 1–3, at the HTTP edge: what is refused before the body is read, compressed
 * bodies, paths that do not decode, and what /metrics costs and asks for.
 */
describe('intake and /metrics bounds (real app, real Redis)', function () {
  this.timeout(30_000);
  let prefix: string;
  let redis: Redis;
  let app: Awaited<ReturnType<typeof startIntakeApp>>;
  const storedCount = async () => (await app.queue.getJobs(['waiting', 'active', 'completed', 'delayed'])).length;

  beforeEach(async () => {
    prefix = randomPrefix('bounds');
    redis = new Redis(SHARED_REDIS_URL);
    app = await startIntakeApp({ redisUrl: SHARED_REDIS_URL, prefix, bodyLimitBytes: 64 * 1024 });
  });

  afterEach(async () => {
    await app.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  describe('credentials outside the body are checked before it is read', () => {
    /** Sends only the head of a request that promises `contentLength` bytes, and reads the answer. */
    async function sendHeadOnly(path: string, headers: Record<string, string>, contentLength: number): Promise<{ head: string; isClosed: boolean }> {
      const { port } = new URL(app.baseUrl);
      const socket = connect(Number(port), '127.0.0.1');
      await once(socket, 'connect');
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${contentLength}\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`,
      );
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString()));
      // The answer comes although not one byte of the promised body was sent.
      const deadline = Date.now() + 3_000;
      while (!received.includes('\r\n\r\n') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const isClosed = socket.readableEnded || socket.destroyed;
      socket.destroy();
      return { head: received.split('\r\n\r\n')[0], isClosed };
    }

    it('FirstPromoter without its token, Rewardful without a signature: 401 without waiting for the body', async () => {
      for (const [path, headers] of [
        ['/webhooks/firstpromoter', {}],
        ['/webhooks/firstpromoter?token=wrong-token-0123456789', {}],
        ['/webhooks/rewardful', {}],
        ['/webhooks/rewardful', { 'X-Rewardful-Signature': 'not-hex' }],
      ] as const) {
        const { head } = await sendHeadOnly(path, headers, 1_000);
        expect(head, `${path} ${JSON.stringify(headers)}`).to.match(/^HTTP\/1\.1 401 /);
      }
    });

    it('a body over BODY_LIMIT (declared) without credentials: 401 and the connection closed', async () => {
      const { head, isClosed } = await sendHeadOnly('/webhooks/firstpromoter', {}, 10 * 1024 * 1024);
      expect(head).to.match(/^HTTP\/1\.1 401 /);
      expect(head).to.match(/\r\nConnection: close/i);
      expect(isClosed).to.equal(true);
    });

    it('with the right token the body is read as before (the check did not consume the request)', async () => {
      expect((await postFirstPromoter(app.baseUrl, await fixture('firstpromoter/lead_signup.json'), { query: TEST_FIRSTPROMOTER_TOKEN })).status).to.equal(202);
      const body = await fixture('rewardful/referral.converted.json');
      expect((await postRewardful(app.baseUrl, body)).status).to.equal(200);
      expect(await storedCount()).to.equal(2);
    });
  });

  describe('Content-Encoding', () => {
    it('refuses a compressed body with 415 and a JSON error, never inflating it; nothing stored', async () => {
      const lead = await fixture('firstpromoter/lead_signup.json');
      for (const encoding of ['gzip', 'br', 'deflate', 'GZIP', 'gzip, identity']) {
        const response = await postFirstPromoter(app.baseUrl, gzipSync(lead), {}, { 'Content-Type': 'application/json', 'Content-Encoding': encoding });
        expect(response.status, encoding).to.equal(415);
        expect(await readJson(response)).to.deep.equal({ error: `Content-Encoding ${encoding} is not accepted: send the body uncompressed` });
      }
      const signed = gzipSync(await fixture('rewardful/referral.converted.json'));
      const rewardful = await postRewardful(app.baseUrl, signed, signRewardful(signed), { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
      expect(rewardful.status).to.equal(415);
      expect(await storedCount()).to.equal(0);
      const text = await app.metrics.registry.metrics();
      expect(text).to.contain('bridge_webhooks_total{source="firstpromoter",outcome="invalid"} 5');
    });

    it('accepts `identity`, which is no encoding at all', async () => {
      const response = await postFirstPromoter(app.baseUrl, await fixture('firstpromoter/lead_signup.json'), {}, { 'Content-Type': 'application/json', 'Content-Encoding': 'identity' });
      expect(response.status).to.equal(202);
    });
  });

  describe('paths that do not decode', () => {
    it('/webhooks/%ZZ is a 400 with a JSON error, logged at debug without a stack', async () => {
      for (const path of ['/webhooks/%ZZ', '/webhooks/%E0%A4%A']) {
        const response = await fetch(`${app.baseUrl}${path}`, { method: 'POST', body: '{}' });
        expect(response.status, path).to.equal(400);
        expect(await readJson(response)).to.deep.equal({ error: 'The URL is not valid percent-encoding' });
      }
      const lines = app.logLines().map((line) => JSON.parse(line) as Record<string, unknown>);
      const refused = lines.filter((line) => line.msg === 'request refused');
      expect(refused).to.have.length(2);
      expect(refused.every((line) => line.level === 20 && line.err === undefined && line.status === 400)).to.equal(true);
      expect(lines.filter((line) => (line.level as number) >= 50)).to.deep.equal([]);
    });
  });
});

describe('/metrics: METRICS_TOKEN and the cost of a scrape', function () {
  this.timeout(60_000);

  async function serve(metrics: BridgeMetrics, metricsToken: Secret | null): Promise<{ server: Server; url: string }> {
    const app = express();
    app.use(createOperationalRouter({ metrics, readinessChecks: [], metricsToken }));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics` };
  }

  it('with METRICS_TOKEN set, /metrics wants it as a bearer token; health and readiness stay open', async () => {
    const metrics = new BridgeMetrics();
    const { server, url } = await serve(metrics, new Secret('scrape-token-0123456789'));
    try {
      for (const authorization of [undefined, 'Bearer wrong-token', 'Basic c2NyYXBlLXRva2VuLTAxMjM0NTY3ODk=', 'Bearer', 'scrape-token-0123456789']) {
        const response = await fetch(url, { headers: authorization === undefined ? {} : { Authorization: authorization } });
        expect(response.status, String(authorization)).to.equal(401);
        expect(response.headers.get('www-authenticate')).to.equal('Bearer realm="affiliate-bridge metrics"');
        expect(await readJson(response)).to.deep.equal({ error: 'Unauthorized: send Authorization: Bearer <METRICS_TOKEN>' });
      }
      const scrape = await fetch(url, { headers: { Authorization: 'Bearer scrape-token-0123456789' } });
      expect(scrape.status).to.equal(200);
      expect(await scrape.text()).to.contain('# TYPE bridge_webhooks_total counter');
      expect((await fetch(url.replace('/metrics', '/healthz'))).status).to.equal(200);
    } finally {
      server.close();
    }
  });

  it('unset, /metrics is open as before', async () => {
    const { server, url } = await serve(new BridgeMetrics(), null);
    try {
      expect((await fetch(url)).status).to.equal(200);
    } finally {
      server.close();
    }
  });

  it('renders at most once per interval, whatever the scrape rate; a later scrape sees new counts', async () => {
    let now = 1_000_000;
    const metrics = new BridgeMetrics({ minRenderIntervalMs: 1_000, now: () => now });
    metrics.webhooks.inc({ source: 'firstpromoter', outcome: 'accepted' });
    const first = await metrics.render();
    metrics.webhooks.inc({ source: 'firstpromoter', outcome: 'accepted' });
    now += 999;
    expect(await metrics.render()).to.equal(first);
    expect(first).to.contain('bridge_webhooks_total{source="firstpromoter",outcome="accepted"} 1');
    now += 1;
    expect(await metrics.render()).to.contain('bridge_webhooks_total{source="firstpromoter",outcome="accepted"} 2');
  });

  it('200 scrapes of the real api process read nothing from Redis: the queue gauges are refreshed by a timer (own redis-server, its command count)', async () => {
    const own = await OwnRedisServer.start();
    const probe = new Redis(own.url);
    const bridge = await BridgeProcess.start({ role: 'api', env: bridgeTestEnv({ prefix: randomPrefix('scrape'), rulesDir: './rules', redisUrl: own.url }) });
    try {
      const commandsProcessed = async () => Number(/total_commands_processed:(\d+)/.exec(await probe.info('stats'))![1]);
      // Idle: the timers' reads (queue depths and pauses, every 5 s), this probe's INFO included.
      const idleStart = await commandsProcessed();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const idle = (await commandsProcessed()) - idleStart;

      const start = await commandsProcessed();
      const startedAt = Date.now();
      for (let i = 0; i < 200; i++) expect((await fetch(`${bridge.baseUrl}/metrics`)).status).to.equal(200);
      const elapsedMs = Date.now() - startedAt;
      const scraping = (await commandsProcessed()) - start;
      console.log(`      Redis commands: ${idle} in 2 s idle, ${scraping} during 200 scrapes (${elapsedMs} ms)`);
      // As many as the timers would send in that time anyway (one refresh every 5 s: a few dozen
      // commands at most), not one or more per scrape.
      expect(scraping).to.be.below(idle + 40);
      expect(scraping).to.be.below(100);
    } finally {
      await bridge.stop('SIGKILL');
      probe.disconnect();
      await own.stop();
    }
  });
});

describe('start-up refuses secrets too short to hold (the real binary)', function () {
  this.timeout(30_000);

  it('ADMIN_TOKEN under 24 characters, webhook secrets under 16 non-blank: one line each, exit 1, the values never printed', async () => {
    const { code, stdout, stderr } = await runCli(['api'], {
      REDIS_URL: SHARED_REDIS_URL,
      PORT: '0',
      ADMIN_TOKEN: 'admin-short-token',
      FIRSTPROMOTER_WEBHOOK_TOKEN: 'fp-short',
      REWARDFUL_SIGNING_SECRET: '  rw  short  secret  ',
    });
    expect(code).to.equal(1);
    expect(stderr.split('\n').filter(Boolean).sort()).to.deep.equal([
      'config: ADMIN_TOKEN must be at least 24 characters long (e.g. openssl rand -hex 16); unset it to turn the dashboard off',
      'config: FIRSTPROMOTER_WEBHOOK_TOKEN must hold at least 16 non-blank characters (e.g. openssl rand -hex 16)',
      'config: REWARDFUL_SIGNING_SECRET must hold at least 16 non-blank characters (e.g. openssl rand -hex 16)',
    ]);
    for (const secret of ['admin-short-token', 'fp-short', 'short  secret']) expect(stdout + stderr).not.to.contain(secret);
  });
});
