import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { brotliCompressSync, constants as zlib } from 'node:zlib';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { bridgeTestEnv } from '../support/bridge-env.js';
import { BridgeProcess } from '../support/bridge-process.js';
import { postFirstPromoter, TEST_FIRSTPROMOTER_TOKEN } from '../support/intake-app.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL } from '../support/redis.js';

/*
 * Issue 10, point 1: nothing unauthenticated may cost more than a few KB. The attack of the audit
 * against the real `api` process, on loopback only, bounded in count (400 + 60 + 80 connections)
 * and time: brotli bombs with and without a token, slow bodies, and more connections than the cap.
 * Memory is the process's resident set, read from /proc/<pid>/status while the attack runs.
 */

/** The process may grow by this much while attacked: a few KB per connection, nothing per byte of brotli. */
const MAX_RSS_GROWTH_MB = 48;
const HEADERS_TIMEOUT_MS = 1_000;
const REQUEST_TIMEOUT_MS = 4_000;

/** A few dozen bytes that a brotli decoder with a 16 MB window would inflate to 32 MB. */
const BROTLI_BOMB = brotliCompressSync(Buffer.alloc(32 * 1024 * 1024), {
  params: { [zlib.BROTLI_PARAM_QUALITY]: 5, [zlib.BROTLI_PARAM_LGWIN]: 24 },
});

async function readRssMegabytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]) / 1024;
}

/** Samples a process's RSS every 50 ms until stopped; resolves with the highest seen. */
function sampleRss(pid: number): { stop(): Promise<number> } {
  let peak = 0;
  let isRunning = true;
  const loop = (async () => {
    while (isRunning) {
      peak = Math.max(peak, await readRssMegabytes(pid));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    async stop() {
      isRunning = false;
      await loop;
      return peak;
    },
  };
}

interface Answer {
  readonly status: number;
  readonly answeredAfterMs: number;
  readonly closedAfterMs: number;
}

interface RawExchange {
  readonly socket: Socket;
  /**
   * Resolves once the socket closed: the status code of the first answer (0 when it closed without
   * one), when that answer began to arrive, and when the socket closed.
   */
  readonly answered: Promise<Answer>;
  /** Whether the head has been written: body bytes may follow only then. */
  isHeadSent(): boolean;
}

/** How long the test keeps any one connection open: a bridge that holds it longer has failed anyway. */
const CLIENT_GIVES_UP_MS = 12_000;

/** Opens a raw connection and writes `head` (and `body`, when given) at once; never more. */
function sendRaw(port: number, head: string, body?: Buffer): RawExchange {
  const startedAt = Date.now();
  const socket = connect(port, '127.0.0.1');
  const giveUp = setTimeout(() => socket.destroy(), CLIENT_GIVES_UP_MS);
  socket.once('close', () => clearTimeout(giveUp));
  let received = '';
  let answeredAfterMs = Number.POSITIVE_INFINITY;
  socket.on('data', (chunk) => {
    if (received === '') answeredAfterMs = Date.now() - startedAt;
    received += chunk.toString('latin1');
  });
  socket.on('error', () => undefined);
  const answered = new Promise<Answer>((resolve) => {
    socket.once('close', () =>
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0), answeredAfterMs, closedAfterMs: Date.now() - startedAt }),
    );
  });
  let isHeadSent = false;
  socket.once('connect', () => {
    socket.write(head);
    isHeadSent = true;
    if (body) socket.write(body);
  });
  return { socket, answered, isHeadSent: () => isHeadSent };
}

const webhookHead = (path: string, headers: Record<string, string>) =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;

describe('intake under a flood: brotli bombs, slow bodies, too many connections (real api process, loopback)', function () {
  this.timeout(90_000);
  const prefix = randomPrefix('flood');
  let redis: Redis;
  let bridge: BridgeProcess | undefined;

  const startApi = (extra: Record<string, string>) =>
    BridgeProcess.start({
      role: 'api',
      env: bridgeTestEnv({
        prefix,
        rulesDir: './rules',
        extra: { LOG_LEVEL: 'info', HTTP_HEADERS_TIMEOUT: `${HEADERS_TIMEOUT_MS}ms`, HTTP_REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms`, ...extra },
      }),
    });

  before(() => {
    redis = new Redis(SHARED_REDIS_URL);
  });

  afterEach(async () => {
    await bridge?.stop('SIGKILL');
    bridge = undefined;
  });

  after(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('400 connections of brotli, with and without a token, and 60 slow bodies: 401 or 415 before the body is read, slow bodies cut at HTTP_REQUEST_TIMEOUT, memory bounded', async () => {
    expect(BROTLI_BOMB.length).to.be.below(200);
    bridge = await startApi({ HTTP_MAX_CONNECTIONS: '1000' });
    const pid = bridge.child.pid!;
    const port = bridge.port;
    // Warm up: one ordinary stored delivery, so the baseline includes a loaded intake path.
    const seed = JSON.parse(await readFile(new URL('../fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8'));
    expect((await postFirstPromoter(bridge.baseUrl, JSON.stringify(seed))).status).to.equal(202);
    const baseline = await readRssMegabytes(pid);
    const rss = sampleRss(pid);

    // Slow bodies: the headers promise 60 KB, a few bytes arrive every 200 ms.
    const slow: RawExchange[] = [];
    for (let i = 0; i < 60; i++) {
      const headers: Record<string, string> = { 'Content-Length': String(60_000) };
      // Two thirds authenticated (the body is read, slowly), a third without a token.
      if (i % 3 !== 0) headers.Authorization = `Bearer ${TEST_FIRSTPROMOTER_TOKEN}`;
      slow.push(sendRaw(port, webhookHead('/webhooks/firstpromoter', headers)));
    }
    const drip = setInterval(() => {
      for (const exchange of slow) if (exchange.isHeadSent() && !exchange.socket.destroyed) exchange.socket.write('{"padding":"');
    }, 200);

    const bombs: RawExchange[] = [];
    for (let i = 0; i < 400; i++) {
      // A quarter each: no token, the right token (FirstPromoter), no signature, a well-formed but
      // wrong signature (Rewardful: whether it matches needs the body, so the encoding decides).
      const headers: Record<string, string> = { 'Content-Encoding': 'br', 'Content-Length': String(BROTLI_BOMB.length) };
      const kind = i % 4;
      if (kind === 1) headers.Authorization = `Bearer ${TEST_FIRSTPROMOTER_TOKEN}`;
      if (kind === 3) headers['X-Rewardful-Signature'] = 'ab'.repeat(32);
      bombs.push(sendRaw(port, webhookHead(kind < 2 ? '/webhooks/firstpromoter' : '/webhooks/rewardful', headers), BROTLI_BOMB));
    }
    let bombAnswers: Answer[];
    let slowAnswers: Answer[];
    try {
      [bombAnswers, slowAnswers] = await Promise.all([
        Promise.all(bombs.map((exchange) => exchange.answered)),
        Promise.all(slow.map((exchange) => exchange.answered)),
      ]);
    } finally {
      clearInterval(drip);
    }
    const peak = await rss.stop();
    console.log(`      RSS: ${baseline.toFixed(0)} MB before, ${peak.toFixed(0)} MB at most during the attack (bound: +${MAX_RSS_GROWTH_MB} MB)`);
    expect(peak - baseline).to.be.below(MAX_RSS_GROWTH_MB);

    expect(bombAnswers.filter((_, i) => i % 4 === 0 || i % 4 === 2).every((answer) => answer.status === 401), 'no credentials: 401').to.equal(true);
    expect(bombAnswers.filter((_, i) => i % 4 === 1 || i % 4 === 3).every((answer) => answer.status === 415), 'credentials, compressed: 415').to.equal(true);
    const unauthenticated = slowAnswers.filter((_, i) => i % 3 === 0);
    const authenticated = slowAnswers.filter((_, i) => i % 3 !== 0);
    // Answered well before the request timeout: the bridge did not wait for the body. What is
    // left of it (within BODY_LIMIT) is dropped as it comes, until HTTP_REQUEST_TIMEOUT at most.
    expect(unauthenticated.every((answer) => answer.status === 401 && answer.answeredAfterMs < REQUEST_TIMEOUT_MS - 1_000), 'slow body without a token: 401 at once').to.equal(true);
    expect(unauthenticated.every((answer) => answer.closedAfterMs < REQUEST_TIMEOUT_MS + 2_500), 'and closed by the request timeout at the latest').to.equal(true);
    // Node answers 408 (or just closes) once HTTP_REQUEST_TIMEOUT is up; it looks every second.
    for (const answer of authenticated) {
      expect([0, 408]).to.include(answer.status);
      expect(answer.closedAfterMs).to.be.within(REQUEST_TIMEOUT_MS - 100, REQUEST_TIMEOUT_MS + 2_500);
    }

    // Still serving, and nothing of the attack was stored.
    seed.event.id = Number(seed.event.id) + 1;
    expect((await postFirstPromoter(bridge.baseUrl, JSON.stringify(seed))).status).to.equal(202);
    const refusals = bridge.logs.filter((entry) => entry.msg === 'webhook rejected' && entry.status === 415);
    expect(refusals).to.have.length(200);
  });

  it('HTTP_MAX_CONNECTIONS: connections past the cap are closed on arrival; idle ones end at HTTP_HEADERS_TIMEOUT and the bridge serves again', async () => {
    bridge = await startApi({ HTTP_MAX_CONNECTIONS: '40' });
    const idle = Array.from({ length: 80 }, () => sendRaw(bridge!.port, ''));
    const answers = await Promise.all(idle.map((exchange) => exchange.answered));
    const closedAtOnce = answers.filter((answer) => answer.closedAfterMs < HEADERS_TIMEOUT_MS / 2).length;
    expect(closedAtOnce, 'closed on arrival').to.be.at.least(40);
    // The 40 that were let in sent nothing: each is closed once the headers timeout is up.
    for (const answer of answers.filter((candidate) => candidate.closedAfterMs >= HEADERS_TIMEOUT_MS / 2)) {
      expect(answer.closedAfterMs).to.be.below(HEADERS_TIMEOUT_MS + 2_500);
    }
    const seed = JSON.parse(await readFile(new URL('../fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8'));
    seed.event.id = 77_700_001;
    expect((await postFirstPromoter(bridge.baseUrl, JSON.stringify(seed))).status).to.equal(202);
  });
});
