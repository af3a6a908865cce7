import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
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

/**
 * The pid file the managed redis-server writes in its data directory. Redis removes it when it stops
 * cleanly; one that names a live redis-server working in that directory is a managed Redis whose
 * bridge was killed (SIGKILL) before it could stop it.
 */
export const MANAGED_REDIS_PID_FILE = 'redis-server.pid';

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

/** The info line when `start` takes over the managed Redis an earlier bridge left running. */
export function describeManagedRedisAdopted(pid: number, url: string): string {
  return `Using the redis-server (pid ${pid}) at ${url} that an earlier bridge started here and could not stop (data in ./${MANAGED_REDIS_DIR}); it stops with this bridge. Set REDIS_URL to use a Redis of your own.`;
}

/**
 * The pid of the managed redis-server an earlier `start` left running: the pid file in `dataDir`
 * names a live process that is redis-server and works in `dataDir` (Redis changes into its
 * `--dir`). Null otherwise: no pid file, a stale one (a reused pid), another user's process, or no
 * /proc to ask (not Linux), where such a Redis is used as any Redis found answering is.
 */
export function findOrphanedManagedRedis(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(path.join(dataDir, MANAGED_REDIS_PID_FILE), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    // Redis sets its process title to `redis-server <address>`: the first NUL-separated field.
    const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    if (!/(^|\/)redis-server( |$)/.test(title)) return null;
    return readlinkSync(`/proc/${pid}/cwd`) === realpathSync(dataDir) ? pid : null;
  } catch {
    return null;
  }
}

/** The redis-server process a {@link ManagedRedis} stops: its own child, or one it took over. */
interface RedisProcess {
  readonly pid: number;
  /** Whether it has exited. */
  hasExited(): boolean;
  kill(signal: NodeJS.Signals): void;
  /** Resolves when it exits, with how (`code 0`, `signal SIGKILL`, or `it exited` when unknown). */
  readonly exited: Promise<string>;
}

/** How often a redis-server that is not this process's child is checked for its exit, in ms. */
const ADOPTED_EXIT_POLL_MS = 500;

/**
 * A redis-server that is not this process's child: its exit is found by polling its pid. The poll
 * keeps the event loop alive until then, as a child's pipes do: a bridge stopping it must not end
 * before it is gone.
 */
function adoptProcess(pid: number): RedisProcess {
  const isAlive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      // EPERM: it exists, owned by another user (not the case for a Redis this user started).
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  let hasExited = false;
  const exited = new Promise<string>((resolve) => {
    const timer = setInterval(() => {
      if (isAlive()) return;
      hasExited = true;
      clearInterval(timer);
      resolve('it exited');
    }, ADOPTED_EXIT_POLL_MS);
  });
  return {
    pid,
    hasExited: () => hasExited || !isAlive(),
    kill: (signal) => {
      try {
        process.kill(pid, signal);
      } catch {
        // Gone already.
      }
    },
    exited,
  };
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
 * default address: data in `./.data/redis`, append-only file on, bound to 127.0.0.1. Or, after a
 * bridge was killed before it could stop its Redis, that Redis taken over ({@link adopt}).
 *
 * It runs in a process group of its own: a Ctrl-C in the terminal reaches the whole foreground
 * group, and Redis must outlive the bridge's shutdown (which still writes to it) and be stopped
 * after it, by {@link stop}.
 */
export class ManagedRedis {
  readonly #process: RedisProcess;
  #stopping = false;

  private constructor(
    redisProcess: RedisProcess,
    readonly binary: string,
    readonly url: string,
  ) {
    this.#process = redisProcess;
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
    const args = ['--port', String(port), '--bind', host, '--dir', dataDir, '--appendonly', 'yes', '--daemonize', 'no', '--loglevel', 'warning', '--pidfile', path.join(dataDir, MANAGED_REDIS_PID_FILE)];
    const child = spawn(options.binary, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    const lastOutput = () => (output.length > 0 ? `: ${output.at(-1)!}` : '');
    for (const stream of [child.stdout, child.stderr]) {
      // Always drained: a full pipe would block Redis itself.
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) if (line.trim()) output.push(line.trim());
        output.splice(0, Math.max(0, output.length - KEPT_OUTPUT_LINES));
      });
    }
    // events.once rejects on 'error': a binary that cannot be run ends up in the second branch.
    const exited = once(child, 'exit').then(
      ([code, signal]) => `${code === null ? `signal ${String(signal)}` : `code ${String(code)}`}${lastOutput()}`,
      (error: NodeJS.ErrnoException) => `could not be run: ${error.code ?? String(error)}`,
    );
    const redis = new ManagedRedis(
      { pid: child.pid ?? 0, hasExited: () => child.exitCode !== null || child.signalCode !== null || child.pid === undefined, kill: (signal) => child.kill(signal), exited },
      options.binary,
      `redis://${host}:${port}`,
    );
    let settled = false;
    const deadline = Date.now() + readyTimeoutMs;
    const answered = (async () => {
      while (!settled && Date.now() < deadline) {
        if ((await probeRedis(host, port, 500)).kind === 'redis') return null;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return `it did not answer within ${readyTimeoutMs / 1000} s${lastOutput()}`;
    })();
    const failure = await Promise.race([answered, exited.then((how) => (how.startsWith('could not') ? `it ${how}` : `it exited with ${how}`))]);
    settled = true;
    if (failure === null) {
      // Start-up warnings (memory overcommit…) are no reason for a later exit: only later lines are.
      output.length = 0;
      return redis;
    }
    await redis.stop(2_000);
    return { failure };
  }

  /** Takes over the managed redis-server `pid` an earlier bridge left running (see {@link findOrphanedManagedRedis}). */
  static adopt(pid: number, url: string): ManagedRedis {
    return new ManagedRedis(adoptProcess(pid), 'redis-server', url);
  }

  get pid(): number {
    return this.#process.pid;
  }

  /** Calls `listener` once if Redis exits other than by {@link stop}, with a short reason. */
  onUnexpectedExit(listener: (reason: string) => void): void {
    void this.#process.exited.then((reason) => {
      if (!this.#stopping) listener(reason);
    });
  }

  /**
   * SIGTERM (Redis then flushes its append-only file) and waits for the exit; past `timeoutMs`,
   * SIGKILL. Idempotent.
   */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.#stopping = true;
    const redisProcess = this.#process;
    if (redisProcess.hasExited()) return;
    redisProcess.kill('SIGTERM');
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    if ((await Promise.race([redisProcess.exited, timeout])) === 'timeout') {
      redisProcess.kill('SIGKILL');
      await redisProcess.exited;
    }
  }

  /** For an exit that cannot wait (the forced exit past SHUTDOWN_TIMEOUT): SIGTERM, no waiting. */
  stopNow(): void {
    this.#stopping = true;
    if (!this.#process.hasExited()) this.#process.kill('SIGTERM');
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
  /** The managed Redis's data directory. @defaultValue ./.data/redis in the working directory */
  readonly dataDir?: string;
}

/** What {@link ensureRedis} found or did. */
export type EnsuredRedis =
  | { readonly kind: 'external' }
  | { readonly kind: 'managed'; readonly redis: ManagedRedis; readonly isAdopted: boolean }
  | { readonly kind: 'failed'; readonly line: string };

/**
 * Before `start`: when REDIS_URL is unset and nothing answers at the default address, starts a
 * managed redis-server from the PATH. A set REDIS_URL, or a Redis already answering, is used as it
 * is (the bridge's connections wait for a Redis that is not there yet), except the managed Redis
 * of an earlier bridge that was killed before it could stop it: that one is taken over, and stops
 * with this bridge.
 */
export async function ensureRedis(options: EnsureRedisOptions): Promise<EnsuredRedis> {
  if (options.isUrlSet) return { kind: 'external' };
  const { hostname, port: portText } = new URL(options.url);
  const port = Number(portText || 6379);
  const address = `${hostname}:${port}`;
  const dataDir = options.dataDir ?? path.resolve(MANAGED_REDIS_DIR);
  const probe = await probeRedis(hostname, port, options.probeTimeoutMs ?? 1_000);
  if (probe.kind === 'redis') {
    const orphan = findOrphanedManagedRedis(dataDir);
    return orphan === null ? { kind: 'external' } : { kind: 'managed', redis: ManagedRedis.adopt(orphan, options.url), isAdopted: true };
  }
  if (probe.kind === 'other') return { kind: 'failed', line: describeManagedRedisFailure({ kind: 'not-redis', address, detail: probe.detail }) };
  const binary = findOnPath('redis-server', options.pathVariable ?? process.env.PATH);
  if (binary === null) return { kind: 'failed', line: describeManagedRedisFailure({ kind: 'no-binary', address }) };
  const started = await ManagedRedis.start({ binary, host: hostname, port, dataDir });
  if ('failure' in started) return { kind: 'failed', line: describeManagedRedisFailure({ kind: 'failed', address, binary, detail: started.failure }) };
  return { kind: 'managed', redis: started, isAdopted: false };
}
