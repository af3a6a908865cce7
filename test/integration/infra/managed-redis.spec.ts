import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { describeManagedRedisFailure, ensureRedis, findOrphanedManagedRedis, MANAGED_REDIS_PID_FILE, ManagedRedis, probeRedis } from '../../../src/infra/managed-redis.js';
import { findFreePort } from '../../support/redis-server.js';
import { SHARED_REDIS_URL, waitFor } from '../../support/redis.js';

/** Issue 14.1: the pieces of `start`'s managed Redis, on real sockets and a real redis-server. */
describe('managed Redis (real sockets, real redis-server)', function () {
  this.timeout(30_000);
  let dir: string;
  let httpServer: Server | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bridge-managed-'));
  });
  afterEach(async () => {
    if (httpServer) await new Promise((resolve) => httpServer!.close(resolve));
    httpServer = undefined;
    await rm(dir, { recursive: true, force: true });
  });
  const startHttpServer = async () => {
    httpServer = createServer((_request, response) => response.end('hello'));
    await new Promise<void>((resolve) => httpServer!.listen(0, '127.0.0.1', resolve));
    return (httpServer.address() as AddressInfo).port;
  };

  it('probeRedis tells Redis, nothing and something else apart', async () => {
    const shared = new URL(SHARED_REDIS_URL);
    expect(await probeRedis(shared.hostname, Number(shared.port || 6379), 1_000)).to.deep.equal({ kind: 'redis' });
    expect(await probeRedis('127.0.0.1', await findFreePort(), 1_000)).to.deep.equal({ kind: 'nothing' });
    expect(await probeRedis('127.0.0.1', await startHttpServer(), 1_000)).to.deep.equal({ kind: 'other', detail: 'it does not answer PING like Redis' });
  });

  it('something that is not Redis at the address: one line, no redis-server started', async () => {
    const port = await startHttpServer();
    expect(await ensureRedis({ url: `redis://127.0.0.1:${port}`, isUrlSet: false })).to.deep.equal({
      kind: 'failed',
      line: `Something that is not Redis listens at 127.0.0.1:${port} (it does not answer PING like Redis), and REDIS_URL is unset: stop it or free that port, or set REDIS_URL to a Redis you run.`,
    });
  });

  it('a set REDIS_URL is used as it is, even with nothing there (the bridge waits for it)', async () => {
    expect(await ensureRedis({ url: `redis://127.0.0.1:${await findFreePort()}`, isUrlSet: true })).to.deep.equal({ kind: 'external' });
  });

  it('starts redis-server with AOF on in its data dir, reports an unexpected exit, and stops it', async () => {
    const port = await findFreePort();
    const dataDir = path.join(dir, '.data', 'redis');
    const started = await ManagedRedis.start({ binary: 'redis-server', port, dataDir });
    if ('failure' in started) expect.fail(started.failure);
    expect(started.url).to.equal(`redis://127.0.0.1:${port}`);
    expect(await probeRedis('127.0.0.1', port, 1_000)).to.deep.equal({ kind: 'redis' });
    expect(await readdir(path.join(dataDir, 'appendonlydir'))).to.include('appendonly.aof.manifest');
    let unexpected: string | null = null;
    started.onUnexpectedExit((reason) => (unexpected = reason));
    process.kill(started.pid, 'SIGKILL');
    expect(await waitFor(() => unexpected)).to.equal('signal SIGKILL');
    await started.stop();

    const again = await ManagedRedis.start({ binary: 'redis-server', port, dataDir });
    if ('failure' in again) expect.fail(again.failure);
    let stoppedUnexpectedly = false;
    again.onUnexpectedExit(() => (stoppedUnexpectedly = true));
    await again.stop();
    expect(await probeRedis('127.0.0.1', port, 1_000)).to.deep.equal({ kind: 'nothing' });
    expect(stoppedUnexpectedly).to.equal(false);
  });

  it('a redis-server that fails to start: what it said, in the one line', async () => {
    const binary = path.join(dir, 'redis-server');
    await writeFile(binary, '#!/bin/sh\necho "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***"\nexit 1\n');
    await chmod(binary, 0o755);
    const port = await findFreePort();
    const started = await ManagedRedis.start({ binary, port, dataDir: path.join(dir, 'data') });
    expect(started).to.deep.equal({ failure: 'it exited with code 1: *** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***' });
    expect(describeManagedRedisFailure({ kind: 'failed', address: `127.0.0.1:${port}`, binary, detail: 'it exited with code 1: *** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***' })).to.equal(
      `No Redis answers at 127.0.0.1:${port} (REDIS_URL is unset), and starting ${binary} with its data in ./.data/redis failed (it exited with code 1: *** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***): install Redis with your system's package manager (apt install redis-server, brew install redis) or set REDIS_URL to a Redis you run.`,
    );
  });

  it('ensureRedis with nothing at the address and redis-server on the PATH: a managed one', async () => {
    const port = await findFreePort();
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const ensured = await ensureRedis({ url: `redis://127.0.0.1:${port}`, isUrlSet: false });
      expect(ensured.kind).to.equal('managed');
      if (ensured.kind !== 'managed') return;
      expect(await readdir(path.join(dir, '.data', 'redis'))).to.include('appendonlydir');
      await ensured.redis.stop();
    } finally {
      process.chdir(cwd);
    }
  });

  it('takes over the managed redis-server a killed bridge left running: same pid, stops with this bridge; an unexpected exit is still reported', async () => {
    const port = await findFreePort();
    const url = `redis://127.0.0.1:${port}`;
    const dataDir = path.join(dir, '.data', 'redis');
    // The first bridge's Redis; the bridge then "dies" without stopping it.
    const first = await ensureRedis({ url, isUrlSet: false, dataDir });
    if (first.kind !== 'managed') return expect.fail(`expected a managed Redis, got ${first.kind}`);
    expect(first.isAdopted).to.equal(false);
    expect(findOrphanedManagedRedis(dataDir)).to.equal(first.redis.pid);

    const second = await ensureRedis({ url, isUrlSet: false, dataDir });
    if (second.kind !== 'managed') return expect.fail(`expected the orphan taken over, got ${second.kind}`);
    expect(second.isAdopted).to.equal(true);
    expect(second.redis.pid).to.equal(first.redis.pid);
    expect(second.redis.url).to.equal(url);
    let stoppedUnexpectedly = false;
    second.redis.onUnexpectedExit(() => (stoppedUnexpectedly = true));
    await second.redis.stop();
    expect(await probeRedis('127.0.0.1', port, 1_000)).to.deep.equal({ kind: 'nothing' });
    // Redis removes its pid file when it stops cleanly: nothing left to take over.
    expect(await readdir(dataDir)).to.not.include(MANAGED_REDIS_PID_FILE);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(stoppedUnexpectedly).to.equal(false);

    // Taken over again, then killed by someone else: reported once its pid is gone.
    const third = await ManagedRedis.start({ binary: 'redis-server', port, dataDir });
    if ('failure' in third) return expect.fail(third.failure);
    const adopted = await ensureRedis({ url, isUrlSet: false, dataDir });
    if (adopted.kind !== 'managed') return expect.fail(`expected the orphan taken over, got ${adopted.kind}`);
    let unexpected: string | null = null;
    adopted.redis.onUnexpectedExit((reason) => (unexpected = reason));
    process.kill(third.pid, 'SIGKILL');
    expect(await waitFor(() => unexpected)).to.equal('it exited');
    await adopted.redis.stop();
  });

  it('a Redis answering that is not an earlier bridge\'s is used as it is: no pid file, a stale one, or one naming a Redis working elsewhere', async () => {
    const dataDir = path.join(dir, '.data', 'redis');
    await mkdir(dataDir, { recursive: true });
    const ensure = () => ensureRedis({ url: SHARED_REDIS_URL, isUrlSet: false, dataDir });
    expect(await ensure()).to.deep.equal({ kind: 'external' });
    // A pid that is no redis-server (this test's own process).
    await writeFile(path.join(dataDir, MANAGED_REDIS_PID_FILE), `${process.pid}\n`);
    expect(await ensure()).to.deep.equal({ kind: 'external' });
    // The machine's shared redis-server: a Redis, but its working directory is not this data dir.
    const shared = new Redis(SHARED_REDIS_URL);
    const sharedPid = /process_id:(\d+)/.exec(await shared.info('server'))![1];
    shared.disconnect();
    await writeFile(path.join(dataDir, MANAGED_REDIS_PID_FILE), `${sharedPid}\n`);
    expect(findOrphanedManagedRedis(dataDir)).to.equal(null);
    expect(await ensure()).to.deep.equal({ kind: 'external' });
    await writeFile(path.join(dataDir, MANAGED_REDIS_PID_FILE), 'not a pid\n');
    expect(await ensure()).to.deep.equal({ kind: 'external' });
  });
});
