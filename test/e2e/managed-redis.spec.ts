import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { BRIDGE_BIN, BridgeProcess } from '../support/bridge-process.js';
import { TEST_FIRSTPROMOTER_TOKEN } from '../support/intake-app.js';
import { waitFor } from '../support/redis.js';
import { redisUnreachableLine } from '../support/redis-server.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RULES_DIR = path.join(ROOT, 'rules');
const SEED_DELIVERY = path.join(ROOT, 'test/fixtures/deliveries/firstpromoter/lead_signup.json');
/** The one line `start` prints when it cannot have a Redis: what it tried and how to fix it. */
const NO_REDIS_SERVER_LINE =
  "No Redis answers at 127.0.0.1:6379 (REDIS_URL is unset) and there is no redis-server on the PATH to start one: install Redis with your system's package manager (apt install redis-server, brew install redis) or set REDIS_URL to a Redis you run.\n";

/** `ip`, from the PATH (Debian's iproute2 puts it in /usr/sbin, /sbin or /bin). */
async function findIp(): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).concat('/usr/sbin', '/sbin')) {
    const candidate = path.join(dir, 'ip');
    if (await run(candidate, ['-V']).then(() => true, () => false)) return candidate;
  }
  return null;
}

/**
 * Issue 14.1: `start` with REDIS_URL unset and nothing at 127.0.0.1:6379. The machine's own Redis
 * holds that address, so each case runs the real binary in a network namespace of its own, whose
 * loopback has nothing listening: the bridge sees the machine a newcomer has.
 */
describe('start with REDIS_URL unset and no Redis at the default address (real binary, own network namespace)', function () {
  this.timeout(90_000);
  let ip: string;
  let namespace: string;
  let workDir: string;
  const inNamespace = (command: string, args: readonly string[]) => run(ip, ['netns', 'exec', namespace, command, ...args], { env: process.env });

  before(async function () {
    const found = await findIp();
    const created = found
      ? await run(found, ['netns', 'add', (namespace = `bridge-test-${process.pid}`)]).then(() => null, (error: Error) => error.message.trim())
      : 'ip (iproute2) is not installed';
    if (created !== null) {
      if (process.env.CI === 'true') throw new Error(`cannot create a network namespace, required under CI=true: ${created}`);
      console.log(`      skipped: cannot create a network namespace (${created}); run as root with iproute2 (apt install iproute2)`);
      this.skip();
    }
    ip = found!;
    await run(ip, ['netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up']);
  });
  after(async () => {
    if (ip && namespace) await run(ip, ['netns', 'delete', namespace]).catch(() => undefined);
  });
  beforeEach(async () => {
    workDir = await mkdtemp(path.join(tmpdir(), 'bridge-managed-redis-'));
  });
  afterEach(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it('starts a managed redis-server, says so in one line, stores webhooks in it (AOF under ./.data/redis), and stops it at SIGTERM', async () => {
    const bridge = await BridgeProcess.start({
      runUnder: [ip, 'netns', 'exec', namespace],
      cwd: workDir,
      env: { RULES_DIR, FIRSTPROMOTER_WEBHOOK_TOKEN: TEST_FIRSTPROMOTER_TOKEN },
    });
    const started = bridge.logs.filter((entry) => String(entry.msg).includes('redis-server'));
    const redisPid = Number(started[0]?.redisPid);
    try {
      expect(started).to.have.length(1);
      expect(started[0].msg).to.match(/^Started \/\S+\/redis-server \(pid \d+\) at redis:\/\/127\.0\.0\.1:6379 for this bridge, data in \.\/\.data\/redis \(append-only file on\); it stops with the bridge\. Set REDIS_URL to use a Redis of your own\.$/);
      expect(started[0].msg).to.include(`(pid ${redisPid})`);
      expect(started[0].level).to.equal(30);

      // The delivery is posted from inside the namespace: the bridge listens on its loopback only.
      const post = `const body = require('node:fs').readFileSync(${JSON.stringify(SEED_DELIVERY)});
        fetch('http://127.0.0.1:${bridge.port}/webhooks/firstpromoter', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ${TEST_FIRSTPROMOTER_TOKEN}' }, body })
          .then((response) => console.log(response.status));`;
      const { stdout: status } = await inNamespace(process.execPath, ['-e', post]);
      expect(status.trim()).to.equal('202');
      // Stored in the managed Redis (queue prefix `bridge`): the event job of the lead.
      const keys = await waitFor(async () => {
        const { stdout } = await inNamespace('redis-cli', ['--scan', '--pattern', 'bridge:events:*']);
        return stdout.trim() ? stdout.trim().split('\n') : null;
      });
      expect(keys.some((key) => key.includes('firstpromoter'))).to.equal(true, keys.join('\n'));
      const aofFiles = await readdir(path.join(workDir, '.data', 'redis', 'appendonlydir'));
      expect(aofFiles.some((file) => file.endsWith('.incr.aof'))).to.equal(true, aofFiles.join(', '));

      expect(await bridge.stop('SIGTERM')).to.equal(0);
      expect(isRunning(redisPid)).to.equal(false);
      // Redis stopped after the bridge closed its connections: none of them saw it go.
      expect(bridge.output()).to.not.include('Redis unreachable');
      expect(bridge.output()).to.not.match(/\n\s+at /);
    } finally {
      await bridge.stop('SIGKILL');
      // Killed, the bridge cannot stop its Redis: the next case must not find it answering.
      if (isRunning(redisPid)) process.kill(redisPid, 'SIGKILL');
    }
  });

  it('a bridge killed with SIGKILL leaves its redis-server running: the next start takes it over, says so, and stops it at SIGTERM', async () => {
    const first = await BridgeProcess.start({ runUnder: [ip, 'netns', 'exec', namespace], cwd: workDir, env: { RULES_DIR } });
    const redisPid = Number(first.logs.find((entry) => String(entry.msg).startsWith('Started '))?.redisPid);
    try {
      await first.stop('SIGKILL');
      expect(isRunning(redisPid)).to.equal(true);
      const second = await BridgeProcess.start({ runUnder: [ip, 'netns', 'exec', namespace], cwd: workDir, env: { RULES_DIR } });
      try {
        const lines = second.logs.filter((entry) => /redis/i.test(String(entry.msg)));
        expect(lines.map((entry) => entry.msg)).to.deep.equal([
          `Using the redis-server (pid ${redisPid}) at redis://127.0.0.1:6379 that an earlier bridge started here and could not stop (data in ./.data/redis); it stops with this bridge. Set REDIS_URL to use a Redis of your own.`,
        ]);
        expect(await second.stop('SIGTERM')).to.equal(0);
        expect(isRunning(redisPid)).to.equal(false);
      } finally {
        await second.stop('SIGKILL');
      }
    } finally {
      if (isRunning(redisPid)) process.kill(redisPid, 'SIGKILL');
    }
  });

  it('a managed redis-server that dies while the bridge runs: one warning line', async () => {
    const bridge = await BridgeProcess.start({ runUnder: [ip, 'netns', 'exec', namespace], cwd: workDir, env: { RULES_DIR } });
    const redisPid = Number(bridge.logs.find((entry) => String(entry.msg).startsWith('Started '))?.redisPid);
    try {
      process.kill(redisPid, 'SIGKILL');
      const died = `The managed redis-server (pid ${redisPid}) exited (signal SIGKILL) while the bridge runs: restart the bridge to start it again`;
      await waitFor(() => bridge.logs.some((entry) => entry.msg === died && entry.level === 40) || null);
      const unreachable = redisUnreachableLine('redis://127.0.0.1:6379');
      const redisLines = () => bridge.logs.filter((entry) => /redis/i.test(String(entry.msg))).map((entry) => JSON.stringify(entry));
      await waitFor(() => bridge.logs.some((entry) => unreachable.test(String(entry.msg)) && entry.level === 40) || null).catch((error: Error) => {
        throw new Error(`${error.message}; the bridge logged:\n${redisLines().join('\n')}`);
      });
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(redisLines(), redisLines().join('\n')).to.have.length(3);
    } finally {
      await bridge.stop('SIGKILL');
    }
  });

  it('without redis-server on the PATH: one line saying what was tried and how to fix it, and exit 1', async () => {
    // A PATH with node alone: the bridge runs, and finds no redis-server.
    await symlink(process.execPath, path.join(workDir, 'node'));
    const startedAt = Date.now();
    const child = spawn(ip, ['netns', 'exec', namespace, process.execPath, BRIDGE_BIN, 'start'], {
      cwd: workDir,
      env: { PATH: workDir, RULES_DIR, PORT: '0', METRICS_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).to.equal(1);
    expect(stderr).to.equal(NO_REDIS_SERVER_LINE);
    expect(stdout).to.equal('');
    expect(Date.now() - startedAt).to.be.below(10_000);
  });
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
