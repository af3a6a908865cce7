import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { BRIDGE_BIN, BridgeProcess } from '../support/bridge-process.js';
import { bridgeTestEnv } from '../support/bridge-env.js';
import { TEST_FIRSTPROMOTER_TOKEN, TEST_REWARDFUL_SECRET } from '../support/intake-app.js';
import { deleteKeys, randomPrefix, SHARED_REDIS_URL, waitFor } from '../support/redis.js';

const run = promisify(execFile);
const NEXT_STEP = 'Next: run `npm run demo` in another terminal to send the example deliveries, and watch them arrive here.';

/** Issue 14.2: on a terminal, the first lines after start are words; piped, the output stays JSON. */
describe('what start prints (real binary)', function () {
  this.timeout(60_000);
  let prefix: string;

  beforeEach(() => {
    prefix = randomPrefix('words');
  });
  afterEach(async () => {
    const redis = new Redis(SHARED_REDIS_URL);
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it('on a terminal (a pseudo-terminal from util-linux `script`): the URL, the sources, the integrations, the dashboard and `npm run demo`, in words', async function () {
    if (!(await run('script', ['--version']).then(() => true, () => false))) {
      if (process.env.CI === 'true') throw new Error('script (util-linux) is required under CI=true');
      console.log('      skipped: no `script` (util-linux) to give the bridge a terminal; apt install util-linux');
      this.skip();
    }
    const env = bridgeTestEnv({ prefix, rulesDir: './rules', extra: { PORT: '0', METRICS_PORT: '0', ADMIN_TOKEN: 'terminal-admin-token-0a1b2c3d4e5f' } });
    // Its own process group: the whole group (script, the bridge) is stopped at the end.
    const child = spawn('script', ['-qec', `'${process.execPath}' '${BRIDGE_BIN}' start`, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    try {
      await waitFor(() => output.includes(NEXT_STEP), 30_000).catch(() => expect.fail(`no words on the terminal:\n${output}`));
      const lines = output.split(/\r?\n/);
      const first = lines.findIndex((line) => line.startsWith('affiliate-bridge is running at '));
      const port = /^affiliate-bridge is running at http:\/\/localhost:(\d+)$/.exec(lines[first])?.[1];
      expect(port, lines[first]).to.match(/^\d+$/);
      const base = `http://localhost:${port}`;
      expect(lines.slice(first, first + 13)).to.deep.equal([
        `affiliate-bridge is running at ${base}`,
        '',
        'Webhooks (the URLs to give the providers):',
        `  FirstPromoter  ${base}/webhooks/firstpromoter  accepts deliveries (FIRSTPROMOTER_WEBHOOK_TOKEN is set)`,
        `  Rewardful      ${base}/webhooks/rewardful      accepts deliveries (REWARDFUL_SIGNING_SECRET is set)`,
        '',
        'Integrations:',
        '  Slack    dry-run: actions are logged, nothing is sent (set SLACK_BOT_TOKEN to go live)',
        '  HubSpot  dry-run: actions are logged, nothing is sent (set HUBSPOT_ACCESS_TOKEN to go live)',
        '',
        `Dashboard: ${base}/admin (sign in with ADMIN_TOKEN)`,
        '',
        NEXT_STEP,
      ]);
      for (const secret of [TEST_FIRSTPROMOTER_TOKEN, TEST_REWARDFUL_SECRET, 'terminal-admin-token-0a1b2c3d4e5f']) expect(output).to.not.include(secret);
    } finally {
      const exited = once(child, 'exit');
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    }
  });

  it('piped (not a terminal): JSON lines only, as before', async () => {
    const bridge = await BridgeProcess.start({ env: bridgeTestEnv({ prefix, rulesDir: './rules' }) });
    try {
      // The words would come right after the start line.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(bridge.output()).to.not.include('affiliate-bridge is running at');
      expect(bridge.output()).to.not.include('npm run demo');
      for (const line of bridge.rawOutput) expect(() => JSON.parse(line) as unknown, line).to.not.throw();
    } finally {
      await bridge.stop();
    }
  });
});
