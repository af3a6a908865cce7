import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config/config.js';
import { runCli } from '../support/bridge-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const exists = (file: string) => existsSync(path.join(ROOT, file));

 
type ComposeService = Record<string, any>;
interface ComposeFile {
  readonly services: Record<string, ComposeService>;
  readonly volumes?: Record<string, unknown>;
}

/** One Dockerfile instruction, continuation lines joined. */
interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** Parses a Dockerfile into stages of instructions (comments and parser directives dropped). */
function parseDockerfile(text: string): Array<{ from: string; name?: string; instructions: Instruction[] }> {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  const stages: Array<{ from: string; name?: string; instructions: Instruction[] }> = [];
  for (const line of logical) {
    const [, keyword, args] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    if (!keyword) throw new Error(`unparseable Dockerfile line: ${line}`);
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const [, image, name] = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args)!;
      stages.push({ from: image, name, instructions: [] });
      continue;
    }
    if (stages.length === 0) throw new Error(`${upper} before FROM`);
    stages.at(-1)!.instructions.push({ keyword: upper, args });
  }
  return stages;
}

/** The sources of a COPY (`--flags` dropped, exec form or shell form), and its `--from` stage. */
function copySources(args: string): { sources: string[]; from?: string } {
  const words = args.trim().startsWith('[') ? (JSON.parse(args) as string[]) : args.trim().split(/\s+/);
  const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
  const plain = words.filter((word) => !word.startsWith('--'));
  return { sources: plain.slice(0, -1), from };
}

describe('deployment files (docker-compose.yml, Dockerfile, .env.example)', () => {
  const compose = parse(read('docker-compose.yml')) as ComposeFile;
  const { redis, api, worker } = compose.services;

  describe('docker-compose.yml', () => {
    it('runs redis with AOF persistence on a named volume', () => {
      expect(redis, 'a redis service').to.be.an('object');
      const command: string[] = Array.isArray(redis.command) ? redis.command : String(redis.command).split(/\s+/);
      expect(command[0]).to.equal('redis-server');
      expect(command[command.indexOf('--appendonly') + 1]).to.equal('yes');
      const dataVolume = (redis.volumes as string[]).map((volume) => volume.split(':')).find(([, target]) => target === '/data');
      expect(dataVolume, 'a volume mounted at /data').to.not.equal(undefined);
      const [source] = dataVolume!;
      expect(source).to.match(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a named volume, not a host path');
      expect(compose.volumes).to.have.property(source);
    });

    it('runs redis as the crash tests prove it (appendfsync always), bounded, never evicting', async () => {
      const command: string[] = Array.isArray(redis.command) ? redis.command : String(redis.command).split(/\s+/);
      const option = (name: string) => command[command.indexOf(name) + 1];
      // test/support/redis-server.ts starts the crash tests' Redis with exactly this fsync policy.
      const harness = read('test/support/redis-server.ts');
      expect(harness).to.contain(`'--appendfsync', '${option('--appendfsync')}'`);
      expect(option('--appendfsync')).to.equal('always');
      expect(option('--maxmemory-policy')).to.equal('noeviction');
      expect(option('--maxmemory')).to.match(/^\d+(mb|gb)$/);
    });

    it('has `api` and `worker` services running the CLI commands of those names, which the built binary lists', async () => {
      expect(api.command).to.deep.equal(['api']);
      expect(worker.command).to.deep.equal(['worker']);
      const help = await runCli(['--help']);
      expect(help.code, help.stderr).to.equal(0);
      const commands = help.stdout.split('\n').map((line) => /^ {2}(\S+)/.exec(line)?.[1]).filter(Boolean);
      expect(commands).to.include.members(['start', 'api', 'worker']);
    });

    it('lets the worker scale (no container_name, no host port) and reads .env', () => {
      expect(worker).to.not.have.property('container_name');
      expect(worker).to.not.have.property('ports');
      for (const service of [api, worker]) {
        const envFiles = Array.isArray(service.env_file) ? service.env_file : [service.env_file];
        expect(envFiles).to.deep.equal(['.env']);
        // Both run the image built from this directory's Dockerfile.
        const build = typeof service.build === 'string' ? { context: service.build } : service.build;
        expect(build.context).to.equal('.');
      }
    });

    it('mounts ./rules where the worker reads its rules, and answers its health check on its metrics port', () => {
      const rulesMount = (worker.volumes as string[]).map((volume) => volume.split(':')).find(([source]) => source === './rules');
      expect(rulesMount, 'a ./rules mount').to.not.equal(undefined);
      expect(rulesMount![1]).to.equal(worker.environment.RULES_DIR);
      // The image's HEALTHCHECK hits HEALTH_PORT, else PORT: a worker-only process listens on METRICS_PORT.
      expect(worker.environment.HEALTH_PORT).to.equal(worker.environment.METRICS_PORT);
      expect(api.environment.PORT).to.equal(String(api.ports[0]).split(':').at(-1));
    });

    it('references only files that exist (the build context and its Dockerfile, .env.example to copy, ./rules)', () => {
      expect(exists('Dockerfile')).to.equal(true);
      expect(exists('.env.example')).to.equal(true);
      expect(exists('rules')).to.equal(true);
      const header = read('docker-compose.yml').split('\n').filter((line) => line.startsWith('#')).join('\n');
      expect(header).to.contain('.env.example');
    });
  });

  describe('Dockerfile', () => {
    const stages = parseDockerfile(read('Dockerfile'));
    const final = stages.at(-1)!;
    const all = (stage: typeof final, keyword: string) => stage.instructions.filter((instruction) => instruction.keyword === keyword);

    it('is multi-stage; the final stage installs production dependencies only', () => {
      expect(stages.length).to.be.at.least(2);
      expect(all(final, 'RUN').some((run) => /\bnpm ci\b.*--omit=dev/.test(run.args))).to.equal(true);
      expect(all(final, 'RUN').some((run) => /\bnpm run build\b/.test(run.args))).to.equal(false);
      expect(all(final, 'COPY').some((copy) => copySources(copy.args).from === stages[0].name && /dist/.test(copy.args))).to.equal(true);
    });

    it('runs as a non-root user', () => {
      const users = all(final, 'USER');
      expect(users).to.have.length.of.at.least(1);
      expect(users.at(-1)!.args.split(':')[0]).to.not.be.oneOf(['root', '0']);
    });

    it('has a HEALTHCHECK on /healthz and an ENTRYPOINT running bin/affiliate-bridge.js', () => {
      const [healthcheck] = all(final, 'HEALTHCHECK');
      expect(healthcheck?.args).to.match(/^(--\S+\s+)*CMD\s/);
      expect(healthcheck.args).to.contain('/healthz');
      const [entrypoint] = all(final, 'ENTRYPOINT');
      const words = JSON.parse(entrypoint.args) as string[];
      expect(words[0]).to.equal('node');
      expect(words).to.include('bin/affiliate-bridge.js');
      expect(exists('bin/affiliate-bridge.js')).to.equal(true);
    });

    it('copies only sources that exist', () => {
      const copies = stages.flatMap((stage) => all(stage, 'COPY').map((copy) => copySources(copy.args)));
      expect(copies.length).to.be.at.least(3);
      for (const { sources, from } of copies) {
        if (from !== undefined) {
          expect(stages.map((stage) => stage.name), `COPY --from=${from}`).to.include(from);
          continue;
        }
        for (const source of sources) expect(exists(source), `COPY ${source}`).to.equal(true);
      }
    });
  });

  describe('.env.example', () => {
    const entries = read('.env.example')
      .split('\n')
      .map((line, index, lines) => ({ line, comment: lines[index - 1] ?? '' }))
      // A variable whose default is "unset" (REDIS_URL: unset means the managed Redis) is listed
      // commented out, `#NAME=value`, so copying the file to .env keeps that default.
      .filter(({ line }) => /^#?[A-Z0-9_]+=/.test(line));
    const names = entries.map(({ line }) => line.slice(line.startsWith('#') ? 1 : 0, line.indexOf('=')));

    it('lists every variable of the config schema, once, and nothing else', () => {
      expect(new Set(names).size).to.equal(names.length);
      expect([...names].sort()).to.deep.equal([...CONFIG_VARIABLES].sort());
    });

    it('gives each one its default value and a one-line comment', () => {
      const example = Object.fromEntries(
        entries.filter(({ line }) => !line.startsWith('#')).map(({ line }) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
      expect(loadConfig(example)).to.deep.equal(loadConfig({}));
      for (const { line, comment } of entries) expect(comment, line).to.match(/^# \S/);
    });
  });

  describe('`docker compose config`', () => {
    it('parses the compose file (skipped when the compose plugin is not installed)', async function () {
      this.timeout(60_000);
      const run = promisify(execFile);
      try {
        await run('docker', ['compose', 'version'], { timeout: 10_000 });
      } catch {
        this.skip();
      }
      // `config` parses locally (no engine needed) but wants the env_file: run it on a copy beside
      // a .env made from the example, so a developer's own .env is neither needed nor read.
      const dir = await mkdtemp(path.join(tmpdir(), 'bridge-compose-'));
      try {
        await copyFile(path.join(ROOT, 'docker-compose.yml'), path.join(dir, 'docker-compose.yml'));
        await copyFile(path.join(ROOT, '.env.example'), path.join(dir, '.env'));
        const { stdout } = await run('docker', ['compose', 'config', '--services'], { cwd: dir, timeout: 30_000 });
        expect(stdout.split('\n').filter(Boolean)).to.have.members(['redis', 'api', 'worker']);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
