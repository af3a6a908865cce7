import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';

/** What answers at an address: Redis, nothing (connection refused), or something else. */
export type RedisProbe =
  | { readonly kind: 'redis' }
  | { readonly kind: 'nothing' }
  | { readonly kind: 'other'; readonly detail: string };

/**
 * Asks `host:port` for a PING, once, within `timeoutMs`. Any RESP answer (`+PONG`, or an error
 * such as `-NOAUTH` from a Redis with a password) is Redis; a refused connection is nothing; an
 * answer in another protocol, silence or another socket error is something else.
 */
export function probeRedis(host: string, port: number, timeoutMs: number): Promise<RedisProbe> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let connected = false;
    let received = '';
    const finish = (probe: RedisProbe) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(probe);
    };
    const timer = setTimeout(() => finish({ kind: 'other', detail: connected ? `no answer to PING within ${timeoutMs} ms` : `no connection within ${timeoutMs} ms` }), timeoutMs);
    socket.on('connect', () => {
      connected = true;
      socket.write('PING\r\n');
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (!received.includes('\r\n')) return;
      finish(/^[+-]/.test(received) ? { kind: 'redis' } : { kind: 'other', detail: 'it does not answer PING like Redis' });
    });
    socket.on('end', () => finish({ kind: 'other', detail: 'it closed the connection without answering PING' }));
    socket.on('error', (error: NodeJS.ErrnoException) => finish(error.code === 'ECONNREFUSED' ? { kind: 'nothing' } : { kind: 'other', detail: error.code ?? error.message }));
  });
}

/** The first executable `name` in the directories of `pathVariable` (PATH's syntax), or null. */
export function findOnPath(name: string, pathVariable: string | undefined): string | null {
  for (const dir of (pathVariable ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not there, or not executable: the next directory.
    }
  }
  return null;
}

/** How to get a Redis, appended to every line that says none could be had. */
export const HOW_TO_GET_REDIS = 'install Redis with your system\'s package manager (apt install redis-server, brew install redis) or set REDIS_URL to a Redis you run';

/** Where the managed Redis keeps its data, relative to the working directory. */
export const MANAGED_REDIS_DIR = path.join('.data', 'redis');

/** Why no managed Redis could be started: the one line `start` prints before it exits 1. */
export type ManagedRedisFailure =
  | { readonly kind: 'not-redis'; readonly address: string; readonly detail: string }
  | { readonly kind: 'no-binary'; readonly address: string }
  | { readonly kind: 'failed'; readonly address: string; readonly binary: string; readonly detail: string };

/** The line for a {@link ManagedRedisFailure}: what was tried, and how to fix it. */
export function describeManagedRedisFailure(failure: ManagedRedisFailure): string {
  switch (failure.kind) {
    case 'not-redis':
      return `Something that is not Redis listens at ${failure.address} (${failure.detail}), and REDIS_URL is unset: stop it or free that port, or set REDIS_URL to a Redis you run.`;
    case 'no-binary':
      return `No Redis answers at ${failure.address} (REDIS_URL is unset) and there is no redis-server on the PATH to start one: ${HOW_TO_GET_REDIS}.`;
    case 'failed':
      return `No Redis answers at ${failure.address} (REDIS_URL is unset), and starting ${failure.binary} with its data in ./${MANAGED_REDIS_DIR} failed (${failure.detail}): ${HOW_TO_GET_REDIS}.`;
  }
}

/** The info line once the managed Redis answers. */
export function describeManagedRedisStarted(binary: string, pid: number, url: string): string {
  return `Started ${binary} (pid ${pid}) at ${url} for this bridge, data in ./${MANAGED_REDIS_DIR} (append-only file on); it stops with the bridge. Set REDIS_URL to use a Redis of your own.`;
}

/** Options of {@link ManagedRedis.start}. */
export interface ManagedRedisOptions {
  /** The redis-server executable. */
  readonly binary: string;
  /** Address it binds, and that is probed until it answers. @defaultValue 127.0.0.1 */
  readonly host?: string;
  /** @defaultValue 6379 */
  readonly port?: number;
  /** Data directory (created when missing). @defaultValue ./.data/redis in the working directory */
  readonly dataDir?: string;
  /** How long it may take to answer PING. @defaultValue 10 s */
  readonly readyTimeoutMs?: number;
}

/** How many lines of redis-server's own output are kept, to say why it failed or died. */
const KEPT_OUTPUT_LINES = 20;

/**
 * A redis-server that `start` runs as its child, when REDIS_URL is unset and nothing answers at the
 * default address: data in `./.data/redis`, append-only file on, bound to 127.0.0.1.
 *
 * It runs in a process group of its own: a Ctrl-C in the terminal reaches the whole foreground
 * group, and Redis must outlive the bridge's shutdown (which still writes to it) and be stopped
 * after it, by {@link stop}.
 */
export class ManagedRedis {
  readonly #child: ChildProcess;
  readonly #output: string[] = [];
  #stopping = false;

  private constructor(
    child: ChildProcess,
    readonly binary: string,
    readonly url: string,
  ) {
    this.#child = child;
    for (const stream of [child.stdout, child.stderr]) {
      // Always drained: a full pipe would block Redis itself.
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) if (line.trim()) this.#output.push(line.trim());
        this.#output.splice(0, Math.max(0, this.#output.length - KEPT_OUTPUT_LINES));
      });
    }
  }

  /**
   * Starts redis-server and waits until it answers PING.
   * @returns the running server, or the reason it could not start (it is then stopped).
   */
  static async start(options: ManagedRedisOptions): Promise<ManagedRedis | { readonly failure: string }> {
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 6379;
    const dataDir = options.dataDir ?? path.resolve(MANAGED_REDIS_DIR);
    const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
    try {
      mkdirSync(dataDir, { recursive: true });
    } catch (error) {
      return { failure: `cannot create ${dataDir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
    }
    const args = ['--port', String(port), '--bind', host, '--dir', dataDir, '--appendonly', 'yes', '--daemonize', 'no', '--loglevel', 'warning'];
    const child = spawn(options.binary, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const redis = new ManagedRedis(child, options.binary, `redis://${host}:${port}`);
    // events.once rejects on 'error': a binary that cannot be run ends up in the second branch.
    const exited = once(child, 'exit').then(
      ([code, signal]) => `it exited with ${code === null ? `signal ${String(signal)}` : `code ${String(code)}`}${redis.#lastOutput()}`,
      (error: NodeJS.ErrnoException) => `it could not be run: ${error.code ?? String(error)}`,
    );
    let settled = false;
    const deadline = Date.now() + readyTimeoutMs;
    const answered = (async () => {
      while (!settled && Date.now() < deadline) {
        if ((await probeRedis(host, port, 500)).kind === 'redis') return null;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return `it did not answer within ${readyTimeoutMs / 1000} s${redis.#lastOutput()}`;
    })();
    const failure = await Promise.race([answered, exited]);
    settled = true;
    if (failure === null) {
      // Start-up warnings (memory overcommit…) are no reason for a later exit: only later lines are.
      redis.#output.length = 0;
      return redis;
    }
    await redis.stop(2_000);
    return { failure };
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  /** Calls `listener` once if Redis exits other than by {@link stop}, with a short reason. */
  onUnexpectedExit(listener: (reason: string) => void): void {
    this.#child.once('exit', (code, signal) => {
      if (!this.#stopping) listener(`${code === null ? `signal ${String(signal)}` : `code ${String(code)}`}${this.#lastOutput()}`);
    });
  }

  /**
   * SIGTERM (Redis then flushes its append-only file) and waits for the exit; past `timeoutMs`,
   * SIGKILL. Idempotent.
   */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.#stopping = true;
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** For an exit that cannot wait (the forced exit past SHUTDOWN_TIMEOUT): SIGTERM, no waiting. */
  stopNow(): void {
    this.#stopping = true;
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGTERM');
  }

  #lastOutput(): string {
    const last = this.#output.at(-1);
    return last ? `: ${last}` : '';
  }
}

/** Options of {@link ensureRedis}. */
export interface EnsureRedisOptions {
  /** The Redis URL the bridge will use (the default one when REDIS_URL is unset). */
  readonly url: string;
  /** Whether REDIS_URL was set: then the bridge only ever uses it, and waits for it. */
  readonly isUrlSet: boolean;
  /** Where redis-server is looked for. @defaultValue process.env.PATH */
  readonly pathVariable?: string;
  /** Probe timeout. @defaultValue 1 s */
  readonly probeTimeoutMs?: number;
}

/** What {@link ensureRedis} found or did. */
export type EnsuredRedis =
  | { readonly kind: 'external' }
  | { readonly kind: 'managed'; readonly redis: ManagedRedis }
  | { readonly kind: 'failed'; readonly line: string };

/**
 * Before `start`: when REDIS_URL is unset and nothing answers at the default address, starts a
 * managed redis-server from the PATH. A set REDIS_URL, or a Redis already answering, is used as it
 * is (the bridge's connections wait for a Redis that is not there yet).
 */
export async function ensureRedis(options: EnsureRedisOptions): Promise<EnsuredRedis> {
  if (options.isUrlSet) return { kind: 'external' };
  const { hostname, port: portText } = new URL(options.url);
  const port = Number(portText || 6379);
  const address = `${hostname}:${port}`;
  const probe = await probeRedis(hostname, port, options.probeTimeoutMs ?? 1_000);
  if (probe.kind === 'redis') return { kind: 'external' };
  if (probe.kind === 'other') return { kind: 'failed', line: describeManagedRedisFailure({ kind: 'not-redis', address, detail: probe.detail }) };
  const binary = findOnPath('redis-server', options.pathVariable ?? process.env.PATH);
  if (binary === null) return { kind: 'failed', line: describeManagedRedisFailure({ kind: 'no-binary', address }) };
  const started = await ManagedRedis.start({ binary, host: hostname, port });
  if ('failure' in started) return { kind: 'failed', line: describeManagedRedisFailure({ kind: 'failed', address, binary, detail: started.failure }) };
  return { kind: 'managed', redis: started };
}
