import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { BridgeProcess, runCli } from '../support/bridge-process.js';
import { bridgeTestEnv } from '../support/bridge-env.js';
import { Redis } from 'ioredis';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL } from '../support/redis.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RULES_DIR = path.join(ROOT, 'rules');
const BUILD_IF_STALE = path.join(ROOT, 'scripts', 'build-if-stale.js');
const run = promisify(execFile);

describe('starting the bridge (issue 14.3, real binary)', function () {
  this.timeout(60_000);

  describe('.env (`npm start` passes --dotenv .env)', () => {
    let dir: string;
    let prefix: string;
    let bridge: BridgeProcess | undefined;

    beforeEach(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'bridge-dotenv-'));
      prefix = randomPrefix();
    });
    afterEach(async () => {
      await bridge?.stop();
      bridge = undefined;
      await rm(dir, { recursive: true, force: true });
      const redis = new Redis(SHARED_REDIS_URL);
      await deleteKeys(redis, prefix);
      await redis.quit();
    });

    it('reads ADMIN_TOKEN from .env, while PORT set in the environment wins over the file', async () => {
      await writeFile(path.join(dir, '.env'), ['# as copied from .env.example', 'ADMIN_TOKEN=dotenv-admin-token-4f1e-9a8b7c6d', 'PORT=1'].join('\n'));
      // bridgeTestEnv sets no ADMIN_TOKEN; BridgeProcess sets PORT=0 (a free port) in the environment.
      bridge = await BridgeProcess.start({
        cwd: dir,
        args: ['--dotenv', '.env'],
        env: bridgeTestEnv({ prefix, rulesDir: RULES_DIR }),
      });
      expect(bridge.port).to.not.equal(1);
      expect(bridge.output()).to.include('Read 1 setting from .env (1 already set in the environment, which wins).');
      const overview = await fetch(`${bridge.baseUrl}/admin/api/overview`, { headers: { authorization: 'Bearer dotenv-admin-token-4f1e-9a8b7c6d' } });
      expect(overview.status).to.equal(200);
      expect(bridge.output()).to.not.include('dotenv-admin-token-4f1e-9a8b7c6d');
    });

    it('starts without a word about it when there is no .env', async () => {
      bridge = await BridgeProcess.start({
        cwd: dir,
        args: ['--dotenv', '.env'],
        env: bridgeTestEnv({ prefix, rulesDir: RULES_DIR }),
      });
      expect(bridge.output()).to.not.include('.env');
      expect((await fetch(`${bridge.baseUrl}/admin/api/overview`)).status).to.equal(404);
    });
  });

  it('refuses ACTION_TIMEOUT=10 (no unit) with one clear line and exit 1', async () => {
    const { code, stdout, stderr } = await runCli(['start'], { ...bridgeTestEnv({ prefix: randomPrefix(), rulesDir: RULES_DIR }), ACTION_TIMEOUT: '10', PORT: '0' });
    expect(code).to.equal(1);
    expect(stdout).to.equal('');
    expect(stderr).to.equal('config: ACTION_TIMEOUT=10 has no unit: write 10s or 10ms (a duration such as 500ms, 30s, 10m, 12h or 7d)\n');
  });

  describe('npm start does not recompile a current build (scripts/build-if-stale.js)', () => {
    let root: string;
    const check = async () => run(process.execPath, [BUILD_IF_STALE, '--check', root]).then(
      ({ stdout }) => ({ code: 0, stdout: stdout.trim() }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout.trim() }),
    );
    const at = (seconds: number) => new Date(1_700_000_000_000 + seconds * 1000);
    const touch = (file: string, seconds: number) => utimes(path.join(root, file), at(seconds), at(seconds));

    beforeEach(async () => {
      root = await mkdtemp(path.join(tmpdir(), 'bridge-build-'));
      await mkdir(path.join(root, 'src', 'rules'), { recursive: true });
      await mkdir(path.join(root, 'dist', 'cli'), { recursive: true });
      for (const file of ['src/main.ts', 'src/rules/match.ts', 'package.json', 'tsconfig.json']) await writeFile(path.join(root, file), '');
      for (const file of ['src/main.ts', 'src/rules/match.ts', 'package.json', 'tsconfig.json']) await touch(file, 0);
    });
    afterEach(() => rm(root, { recursive: true, force: true }));

    it('builds when dist/ is missing (a fresh clone)', async () => {
      expect(await check()).to.deep.equal({ code: 1, stdout: 'dist/ is not built yet' });
    });

    it('skips the build when dist/ is newer than every source and setting', async () => {
      await writeFile(path.join(root, 'dist', 'cli', 'index.js'), '');
      await touch('dist/cli/index.js', 10);
      expect(await check()).to.deep.equal({ code: 0, stdout: 'up to date' });
    });

    it('builds again after a source file (at any depth) or a build setting changed', async () => {
      await writeFile(path.join(root, 'dist', 'cli', 'index.js'), '');
      await touch('dist/cli/index.js', 10);
      await touch('src/rules/match.ts', 20);
      expect(await check()).to.deep.equal({ code: 1, stdout: 'src/ changed since the last build' });
      await touch('src/rules/match.ts', 0);
      await touch('tsconfig.json', 20);
      expect(await check()).to.deep.equal({ code: 1, stdout: 'tsconfig.json changed since the last build' });
    });
  });
});
