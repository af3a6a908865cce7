import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

/**
 * The bridge's one warning when Redis goes away (src/infra/redis-health.ts) for the Redis at `url`.
 * Its reason is whichever connection-type error came first: usually the refused reconnection, but a
 * connection busy writing when Redis died is reset first (ECONNRESET or EPIPE: seen with a client
 * writing in a loop and redis-server killed, on a loaded machine). The reason is the first group.
 */
export function redisUnreachableLine(url: string): RegExp {
  const escapedUrl = url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return new RegExp(`^Redis unreachable at ${escapedUrl} \\((ECONNREFUSED|ECONNRESET|EPIPE|connection closed)\\); retrying$`);
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface OwnRedisOptions {
  /** Append-only file with `appendfsync always`, for persistence tests. @defaultValue false */
  readonly appendOnly?: boolean;
}

/**
 * A redis-server of the test's own, on a free port with a temp dir, so a test can stop and
 * restart it without touching the shared Redis. `stop()` SIGTERMs it (an AOF survives);
 * `start()` starts it again on the same port and dir; `destroy()` stops it and removes the dir.
 */
export class OwnRedisServer {
  #process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly options: OwnRedisOptions,
  ) {}

  static async start(options: OwnRedisOptions = {}): Promise<OwnRedisServer> {
    const server = new OwnRedisServer(await findFreePort(), await mkdtemp(path.join(tmpdir(), 'bridge-redis-')), options);
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The running server's process id (benchmarks read its CPU time); undefined while stopped. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--daemonize', 'no'];
    args.push(...(this.options.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
    this.#process = spawn('redis-server', args, { stdio: 'ignore' });
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    // Refused connections while the server boots are expected; they are retried below.
    probe.on('error', () => undefined);
    try {
      for (let tries = 0; tries < 100; tries += 1) {
        try {
          await probe.connect();
          await probe.ping();
          return;
        } catch {
          probe.disconnect();
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      throw new Error(`redis-server on port ${this.port} did not start`);
    } finally {
      probe.disconnect();
    }
  }

  /** SIGTERM, and wait for the process to exit (Redis flushes its AOF on SIGTERM). */
  async stop(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
