/**
 * Intake benchmark: sustained requests/s and acknowledgement latency on loopback, 50 connections,
 * ~4 KB FirstPromoter payloads with a unique event id and valid credentials per request.
 * Measures, in one run, the bridge against two baselines: bare Express 5 parsing JSON, and the
 * same plus one plain `queue.add`. Target: bridge ≥ 90% of bare Express; p99 < 25 ms.
 *
 *   npx tsx bench/intake.ts [--duration 10] [--connections 50]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const durationSeconds = option('duration', 10);
const connections = option('connections', 50);
const token = `bench-${randomBytes(8).toString('hex')}`;
const prefix = `bench-intake-${randomBytes(4).toString('hex')}`;
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// A realistic ~4 KB delivery: the lead_signup seed, with its promoter's promotions filled in.
const seed = JSON.parse(readFileSync(new URL('../test/fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8'));
seed.data.promoter.promotions = [seed.data.promotion, { ...seed.data.promotion, id: seed.data.promotion.id + 1, campaign_name: "Partner Campaign" }];
const template = JSON.stringify(seed);
const [before, after] = template.split(`"id":${seed.event.id}`);

async function startServer(scenario: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./intake-server.ts', import.meta.url).pathname, scenario, prefix, token], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, REDIS_URL: redisUrl },
  });
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const match = /^listening (\d+)$/.exec(line);
    if (match) return { child, port: Number(match[1]) };
  }
  throw new Error(`${scenario} server did not start`);
}

interface Figures {
  scenario: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function measure(scenario: string): Promise<Figures> {
  const { child, port } = await startServer(scenario);
  let sequence = Math.floor(Math.random() * 1e9);
  const run = (seconds: number) =>
    autocannon({
      url: `http://127.0.0.1:${port}`,
      connections,
      duration: seconds,
      requests: [
        {
          method: 'POST',
          path: '/webhooks/firstpromoter',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          setupRequest: (request) => ({ ...request, body: `${before}"id":${(sequence += 1)}${after}` }),
        },
      ],
    });
  await run(2); // warm-up: JIT, connection pools
  const result = await run(durationSeconds);
  child.kill('SIGTERM');
  await once(child, 'exit');
  return {
    scenario,
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

const results: Figures[] = [];
for (const scenario of ['bare', 'queue-add', 'bridge']) results.push(await measure(scenario));

const redis = new Redis(redisUrl);
let cursor = '0';
do {
  const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
  cursor = next;
  if (keys.length) await redis.del(...keys);
} while (cursor !== '0');
redis.disconnect();

const bare = results[0].requestsPerSecond;
console.log(`\nIntake benchmark: ${connections} connections, ${durationSeconds} s each, ${Buffer.byteLength(template)} byte payloads, unique event ids`);
console.log('scenario     req/s    p50 ms  p99 ms  non-2xx  errors  vs bare');
for (const r of results) {
  console.log(
    `${r.scenario.padEnd(10)} ${r.requestsPerSecond.toFixed(0).padStart(7)}  ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${String(r.non2xx).padStart(7)}  ${String(r.errors).padStart(6)}  ${((r.requestsPerSecond / bare) * 100).toFixed(1)}%`,
  );
}
