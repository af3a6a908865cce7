import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { findFreePort } from './redis-server.js';

const run = promisify(execFile);

/**
 * A real Redis Cluster of `masters` redis-server processes (no replicas), each on a free port with
 * its own temp dir, joined with `redis-cli --cluster create`. `url` is one seed node.
 */
export class OwnRedisCluster {
  private constructor(
    readonly ports: readonly number[],
    readonly dir: string,
    private readonly processes: ChildProcess[],
  ) {}

  static async start(masters = 3): Promise<OwnRedisCluster> {
    const dir = await mkdtemp(path.join(tmpdir(), 'bridge-redis-cluster-'));
    const ports: number[] = [];
    for (let index = 0; index < masters; index += 1) ports.push(await findFreePort());
    const processes = ports.map((port) =>
      spawn(
        'redis-server',
        [
          '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
          '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000',
          '--daemonize', 'no',
        ],
        { stdio: 'ignore' },
      ),
    );
    const cluster = new OwnRedisCluster(ports, dir, processes);
    try {
      for (const port of ports) await waitForPing(port);
      await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes']);
      // `create` returns once slots are assigned; the nodes agree on the config a moment later.
      for (const port of ports) await waitForClusterOk(port);
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
    return cluster;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.ports[0]}`;
  }

  /** Stops every node (SIGTERM, then waits for the exit) and removes the temp dir. */
  async destroy(): Promise<void> {
    await Promise.all(
      this.processes.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }),
    );
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function waitForPing(port: number): Promise<void> {
  for (let tries = 0; tries < 100; tries += 1) {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      probe.disconnect();
    }
  }
  throw new Error(`redis-server on port ${port} did not start`);
}

async function waitForClusterOk(port: number): Promise<void> {
  const probe = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  try {
    for (let tries = 0; tries < 200; tries += 1) {
      const info = await probe.cluster('INFO');
      if (/cluster_state:ok/.test(String(info))) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the cluster node on port ${port} never reported cluster_state:ok`);
  } finally {
    probe.disconnect();
  }
}
