/**
 * Intake benchmark: sustained requests/s, acknowledgement latency and the CPU each acknowledged
 * request costs, on loopback, 50 connections, ~3.7 KB FirstPromoter payloads with a unique event
 * id and valid credentials per request. In one run it measures the bridge against two baselines:
 * bare Express 5 parsing JSON and answering 202, and the same plus one plain `queue.add`.
 * Targets (issue 14.8): bridge ≥ 0.90 of bare Express's req/s, p99 < 25 ms, and CPU per
 * acknowledged request (the Node process plus redis-server) within 1.15× of bare Express's.
 *
 * Each figure is printed beside its baseline, per round, with the machine's load average: on a
 * shared machine the ratios within one round are what count.
 * - CPU: utime + stime of the server process and of redis-server from /proc/<pid>/stat, read just
 *   before and after the measured run (not the warm-up), divided by the acknowledged (2xx) requests.
 *   Bare Express uses no Redis; the Redis CPU of the others is counted against them.
 * - Redis commands per acknowledged request: `INFO stats` total_commands_processed before and after
 *   (commands inside Lua scripts included).
 * - Redis bytes per acknowledged request: `INFO memory` used_memory before and after (BullMQ's
 *   event stream is capped, so this is an amortised figure).
 * - RSS: the server process's largest VmRSS, sampled every 200 ms under load.
 *
 * Redis is a redis-server of the bench's own on a free port (AOF on, `appendfsync everysec`, as a
 * deployment would run it), flushed between scenarios, so its CPU and memory are the scenario's
 * alone. `--redis-url <url>` uses another one instead (its CPU is read when it runs on this machine).
 *
 * The load comes from `wrk` (Debian's package: `apt-get install wrk`), one thread, with a Lua
 * script giving each request a new event id: a load generator in C leaves the most CPU to the server.
 *
 *   npx tsx bench/intake.ts [--duration 10] [--connections 50] [--rounds 2] [--redis-url redis://…]
 *                           [--scenarios queue-add,bridge,bare-node] [--cpu-prof DIR]
 *
 * `--cpu-prof DIR` runs each server under `node --cpu-prof` and writes its profile into DIR when it
 * stops (warm-up included), to see where a scenario's CPU goes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { readCpuMs, readRssKb } from './support/proc.js';
import { infoNumber, readInfo } from './support/redis-info.js';
import { deleteKeys } from '../test/support/redis.js';
import { findFreePort } from '../test/support/redis-server.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : fallback;
};
const durationSeconds = Number(option('duration', '10'));
const connections = Number(option('connections', '50'));
const rounds = Number(option('rounds', '2'));
const externalRedisUrl = option('redis-url', '');
const cpuProfileOption = option('cpu-prof', '');
const cpuProfileDir = cpuProfileOption ? path.resolve(cpuProfileOption) : undefined;
const token = `bench-${randomBytes(8).toString('hex')}`;
const prefix = `bench-intake-${randomBytes(4).toString('hex')}`;
const ALL_SCENARIOS = ['bare', 'queue-add', 'bridge', 'bare-node'] as const;
type Scenario = (typeof ALL_SCENARIOS)[number];
// `bare` always runs first: every ratio is against it. `bare-node` (Node's http without Express) is
// there on request, to see the floor under both.
const SCENARIOS = ['bare', ...option('scenarios', 'queue-add,bridge').split(',').filter((name) => name !== 'bare')] as Scenario[];
for (const name of SCENARIOS) if (!ALL_SCENARIOS.includes(name)) throw new Error(`unknown scenario ${name}: ${ALL_SCENARIOS.join(', ')}`);

const WRK = '/usr/bin/wrk';
if (!existsSync(WRK)) {
  console.error('bench/intake.ts needs wrk: apt-get install wrk');
  process.exit(1);
}

// A realistic ~3.7 KB delivery: the lead_signup seed, with its promoter's promotions filled in.
const seed = JSON.parse(readFileSync(new URL('../test/fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8'));
seed.data.promoter.promotions = [seed.data.promotion, { ...seed.data.promotion, id: seed.data.promotion.id + 1, campaign_name: 'Partner Campaign' }];
const template = JSON.stringify(seed);
const [before, after] = template.split(`"id":${seed.event.id}`);

const children: ChildProcess[] = [];
// Never leave a server or a redis-server behind, whatever happens to this script.
process.once('exit', () => children.forEach((child) => child.kill('SIGKILL')));

/** A redis-server of the bench's own: AOF on (everysec), no RDB, a temp dir. */
async function startOwnRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await findFreePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-intake-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'],
    { stdio: 'ignore' },
  );
  children.push(child);
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined); // refused while it boots: retried below
  for (let tries = 0; ; tries += 1) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (error) {
      probe.disconnect();
      if (tries > 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  probe.disconnect();
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startServer(scenario: Scenario, redisUrl: string): Promise<{ child: ChildProcess; port: number }> {
  const profile = cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfileDir] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', new URL('./intake-server.ts', import.meta.url).pathname, scenario, prefix, token], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, REDIS_URL: redisUrl },
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const match = /^listening (\d+)$/.exec(line);
    if (match) return { child, port: Number(match[1]) };
  }
  throw new Error(`${scenario} server did not start`);
}


async function readRedisInfo(redis: Redis): Promise<{ pid: number; commands: number; usedMemory: number }> {
  const fields = await readInfo(redis);
  return { pid: infoNumber(fields, 'process_id'), commands: infoNumber(fields, 'total_commands_processed'), usedMemory: infoNumber(fields, 'used_memory') };
}

/** A wrk script: POSTs the payload with a fresh event id per request, and prints its figures as JSON. */
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
  io.write(string.format('WRK {"requests":%d,"seconds":%f,"p50":%f,"p99":%f,"non2xx":%d,"errors":%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
`,
  );
  return file;
}

interface WrkFigures {
  requests: number;
  seconds: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function runWrk(port: number, seconds: number, firstId: number, whileRunning?: () => void): Promise<WrkFigures> {
  const script = writeWrkScript(firstId);
  const child = spawn(WRK, ['-t1', `-c${connections}`, `-d${seconds}s`, '-s', script, `http://127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const sampler = whileRunning ? setInterval(whileRunning, 200) : undefined;
  await once(child, 'exit');
  clearInterval(sampler);
  rmSync(path.dirname(script), { recursive: true, force: true });
  const line = output.split('\n').find((text) => text.startsWith('WRK '));
  if (!line) throw new Error(`wrk printed no figures:\n${output}`);
  return JSON.parse(line.slice(4)) as WrkFigures;
}

interface Figures {
  scenario: Scenario;
  requestsPerSecond: number;
  acknowledged: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  nodeCpuMsPerRequest: number;
  redisCpuMsPerRequest: number | null;
  redisCommandsPerRequest: number;
  redisBytesPerRequest: number;
  rssMb: number;
}

async function measure(scenario: Scenario, redisUrl: string): Promise<Figures> {
  const redis = new Redis(redisUrl);
  // Our own Redis starts each scenario empty; a shared one only loses this bench's keys.
  if (externalRedisUrl) await deleteKeys(redis, prefix);
  else await redis.flushall();
  const { child, port } = await startServer(scenario, redisUrl);
  const firstId = Math.floor(Math.random() * 1e9);
  await runWrk(port, 2, firstId); // warm-up: JIT, connection pools

  const redisBefore = await readRedisInfo(redis);
  const redisPid = existsSync(`/proc/${redisBefore.pid}`) ? redisBefore.pid : undefined;
  const nodeCpuBefore = readCpuMs(child.pid)!;
  const redisCpuBefore = readCpuMs(redisPid);
  let rssMb = 0;
  const figures = await runWrk(port, durationSeconds, firstId + 10_000_000, () => (rssMb = Math.max(rssMb, readRssKb(child.pid!) / 1024)));
  const nodeCpuAfter = readCpuMs(child.pid)!;
  const redisCpuAfter = readCpuMs(redisPid);
  const redisAfter = await readRedisInfo(redis);

  child.kill('SIGTERM');
  await once(child, 'exit');
  redis.disconnect();
  const acknowledged = figures.requests - figures.non2xx - figures.errors;
  return {
    scenario,
    requestsPerSecond: acknowledged / figures.seconds,
    acknowledged,
    p50: figures.p50,
    p99: figures.p99,
    non2xx: figures.non2xx,
    errors: figures.errors,
    nodeCpuMsPerRequest: (nodeCpuAfter - nodeCpuBefore) / acknowledged,
    redisCpuMsPerRequest: redisCpuBefore === null || redisCpuAfter === null ? null : (redisCpuAfter - redisCpuBefore) / acknowledged,
    // INFO itself is one command: leave it out.
    redisCommandsPerRequest: (redisAfter.commands - redisBefore.commands - 1) / acknowledged,
    redisBytesPerRequest: (redisAfter.usedMemory - redisBefore.usedMemory) / acknowledged,
    rssMb,
  };
}

const fixed = (value: number | null, digits: number) => (value === null ? '—' : value.toFixed(digits));
const totalCpu = (figures: Figures) => figures.nodeCpuMsPerRequest + (figures.redisCpuMsPerRequest ?? 0);

function printRound(round: number, results: Figures[], load: { before: number[]; after: number[] }) {
  const bare = results.find((figures) => figures.scenario === 'bare')!;
  const loads = (values: number[]) => values.map((value) => value.toFixed(2)).join(' ');
  console.log(`\nRound ${round}: load average ${loads(load.before)} before, ${loads(load.after)} after (1, 5, 15 min)`);
  console.log(
    [
      'scenario  ',
      '  req/s',
      'vs bare',
      'p50 ms',
      'p99 ms',
      'non-2xx',
      'CPU ms/req node',
      'redis',
      'total',
      'vs bare',
      'Redis cmd/req',
      'Redis B/req',
      'RSS MB',
    ].join('  '),
  );
  for (const figures of results) {
    console.log(
      [
        figures.scenario.padEnd(10),
        figures.requestsPerSecond.toFixed(0).padStart(7),
        `${(figures.requestsPerSecond / bare.requestsPerSecond).toFixed(2)}`.padStart(7),
        figures.p50.toFixed(1).padStart(6),
        figures.p99.toFixed(1).padStart(6),
        String(figures.non2xx + figures.errors).padStart(7),
        fixed(figures.nodeCpuMsPerRequest, 3).padStart(15),
        fixed(figures.redisCpuMsPerRequest, 3).padStart(5),
        fixed(totalCpu(figures), 3).padStart(5),
        `${(totalCpu(figures) / totalCpu(bare)).toFixed(2)}×`.padStart(7),
        figures.redisCommandsPerRequest.toFixed(1).padStart(13),
        (Math.round(figures.redisBytesPerRequest) + 0).toFixed(0).padStart(11), // + 0: no `-0`
        figures.rssMb.toFixed(0).padStart(6),
      ].join('  '),
    );
  }
}

const ownRedis = externalRedisUrl ? null : await startOwnRedis();
const redisUrl = externalRedisUrl || ownRedis!.url;
console.log(
  `Intake benchmark (wrk, 1 thread): ${connections} connections, ${durationSeconds} s per scenario after a 2 s warm-up, ` +
    `${Buffer.byteLength(template)} byte payloads, unique event ids; Redis: ${externalRedisUrl ? externalRedisUrl : `own redis-server (AOF everysec) at ${redisUrl}`}`,
);
try {
  for (let round = 1; round <= rounds; round += 1) {
    const loadBefore = loadavg();
    const results: Figures[] = [];
    for (const scenario of SCENARIOS) results.push(await measure(scenario, redisUrl));
    printRound(round, results, { before: loadBefore, after: loadavg() });
  }
  console.log('\nTargets: bridge req/s ≥ 0.90 of bare, p99 < 25 ms, CPU per acknowledged request (node + redis) ≤ 1.15× bare.');
} finally {
  if (externalRedisUrl) {
    const redis = new Redis(redisUrl);
    await deleteKeys(redis, prefix);
    redis.disconnect();
  }
  await ownRedis?.stop();
}
