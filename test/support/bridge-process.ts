import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** The built binary (`npm test` builds dist/ first, in `pretest`). */
export const BRIDGE_BIN = fileURLToPath(new URL('../../bin/affiliate-bridge.js', import.meta.url));

export interface BridgeProcessOptions {
  /** `start`, `api` or `worker`. @defaultValue start */
  readonly role?: 'start' | 'api' | 'worker';
  readonly env: Record<string, string>;
  /** @defaultValue 20 s */
  readonly startTimeoutMs?: number;
  /** Arguments after the role, e.g. `['--dotenv', '.env']`. @defaultValue [] */
  readonly args?: readonly string[];
  /** Working directory of the process. @defaultValue the test's own */
  readonly cwd?: string;
  /** A command node runs under, e.g. `['/usr/sbin/ip', 'netns', 'exec', 'ns1']` (it must exec node, keeping the pid). @defaultValue none */
  readonly runUnder?: readonly string[];
  /** Flags for node itself, before the bridge's script, e.g. `['--cpu-prof']`. @defaultValue none */
  readonly nodeArgs?: readonly string[];
}

/**
 * The real bridge as a child process. Its JSON log lines are parsed and kept, so tests can
 * assert on them (and on what is absent from them).
 */
export class BridgeProcess {
  readonly logs: Array<Record<string, unknown>> = [];
  readonly rawOutput: string[] = [];
  port = 0;

  private constructor(readonly child: ChildProcess) {}

  static async start(options: BridgeProcessOptions): Promise<BridgeProcess> {
    const [command, ...args] = [...(options.runUnder ?? []), process.execPath, ...(options.nodeArgs ?? []), BRIDGE_BIN, options.role ?? 'start', ...(options.args ?? [])];
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'debug', PORT: '0', METRICS_PORT: '0', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const bridge = new BridgeProcess(child);
    // A test or benchmark that dies must not leave a bridge running behind it.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.removeListener('exit', killOnExit));
    const started = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bridge did not start:\n${bridge.rawOutput.join('\n')}`)), options.startTimeoutMs ?? 20_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`bridge exited with ${code} before starting:\n${bridge.rawOutput.join('\n')}`));
      });
      for (const stream of [child.stdout!, child.stderr!]) {
        createInterface({ input: stream }).on('line', (line) => {
          bridge.rawOutput.push(line);
          try {
            const entry = JSON.parse(line) as Record<string, unknown>;
            bridge.logs.push(entry);
            if (entry.msg === 'affiliate-bridge started') {
              bridge.port = Number(entry.port);
              clearTimeout(timer);
              resolve();
            }
          } catch {
            // Not JSON: kept in rawOutput only.
          }
        });
      }
    });
    await started;
    return bridge;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Everything the process printed, as one string. */
  output(): string {
    return this.rawOutput.join('\n');
  }

  /** Sends `signal` and waits for the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = once(this.child, 'exit');
    this.child.kill(signal);
    const [code] = (await exited) as [number | null];
    return code;
  }
}

/** Runs the CLI to completion and returns its exit code and output. */
export async function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BRIDGE_BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}
