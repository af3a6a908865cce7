import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { describeManagedRedisFailure, ensureRedis, ManagedRedis, probeRedis } from '../../../src/infra/managed-redis.js';
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
});
