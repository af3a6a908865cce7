/**
 * Intake benchmark: sustained requests/s and acknowledgement latency on loopback, 50 connections,
 * ~4 KB FirstPromoter payloads with a unique event id and valid credentials per request.
 * Measures, in one run, the bridge against two baselines: bare Express 5 parsing JSON, and the
 * same plus one plain `queue.add`. Target: bridge ≥ 90% of bare Express; p99 < 25 ms.
 *
 * The load comes from `wrk` (Debian's package: `apt-get install wrk`), one thread, with a Lua
 * script giving each request a new event id: a load generator in C leaves the second core to the
 * server. Without wrk, autocannon (in this process, so it competes for CPU) stands in.
 *
 *   npx tsx bench/intake.ts [--duration 10] [--connections 50]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { deleteKeys } from '../test/support/redis.js';

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
  // Never leave a server behind, whatever happens to this script.
  process.once('exit', () => child.kill('SIGKILL'));
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

const WRK = '/usr/bin/wrk';
const useWrk = existsSync(WRK);

/** A wrk script: POSTs the payload with a fresh event id per request, and prints p50/p99 as JSON. */
function writeWrkScript(firstId: number): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'bench-wrk-')), 'intake.lua');
  writeFileSync(
    file,
    `local before = ${JSON.stringify(before)}
local after = ${JSON.stringify(after)}
local id = ${firstId}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer ${token}"
request = function()
  id = id + 1
  return wrk.format(nil, "/webhooks/firstpromoter", nil, before .. '"id":' .. id .. after)
end
done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format('WRK {"requests":%d,"seconds":%f,"p50":%f,"p99":%f,"non2xx":%d,"errors":%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    non2xx, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
`,
  );
  return file;
}

function runWrk(port: number, seconds: number, firstId: number) {
  const output = execFileSync(WRK, ['-t1', `-c${connections}`, `-d${seconds}s`, '-s', writeWrkScript(firstId), `http://127.0.0.1:${port}`], {
    encoding: 'utf8',
  });
  const line = output.split('\n').find((text) => text.startsWith('WRK '));
  if (!line) throw new Error(`wrk printed no figures:\n${output}`);
  return JSON.parse(line.slice(4)) as { requests: number; seconds: number; p50: number; p99: number; non2xx: number; errors: number };
}

async function measure(scenario: string): Promise<Figures> {
  const { child, port } = await startServer(scenario);
  if (useWrk) {
    const firstId = Math.floor(Math.random() * 1e9);
    runWrk(port, 2, firstId); // warm-up: JIT, connection pools
    const figures = runWrk(port, durationSeconds, firstId + 10_000_000);
    child.kill('SIGTERM');
    await once(child, 'exit');
    return {
      scenario,
      requestsPerSecond: figures.requests / figures.seconds,
      p50: Math.round(figures.p50 * 10) / 10,
      p99: Math.round(figures.p99 * 10) / 10,
      non2xx: figures.non2xx,
      errors: figures.errors,
    };
  }
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
await deleteKeys(redis, prefix);
redis.disconnect();

const bare = results[0].requestsPerSecond;
console.log(
  `\nIntake benchmark (${useWrk ? 'wrk, 1 thread' : 'autocannon, in-process'}): ${connections} connections, ${durationSeconds} s each, ${Buffer.byteLength(template)} byte payloads, unique event ids`,
);
console.log('scenario     req/s    p50 ms  p99 ms  non-2xx  errors  vs bare');
for (const r of results) {
  console.log(
    `${r.scenario.padEnd(10)} ${r.requestsPerSecond.toFixed(0).padStart(7)}  ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${String(r.non2xx).padStart(7)}  ${String(r.errors).padStart(6)}  ${((r.requestsPerSecond / bare) * 100).toFixed(1)}%`,
  );
}
