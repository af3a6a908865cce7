import { expect } from 'chai';
import { ESLint } from 'eslint';

/**
 * The zones of src/ (eslint.config.js) are only worth something if they refuse an upward import:
 * each case lints one line as if it stood in a file of that zone.
 */
describe('import zones (eslint.config.js)', function () {
  this.timeout(60_000);
  const eslint = new ESLint();
  const problemsOf = async (filePath: string, code: string) => {
    const [result] = await eslint.lintText(code, { filePath });
    return result.messages.filter((message) => message.ruleId === 'no-restricted-imports').map((message) => message.message);
  };

  const refused: ReadonlyArray<readonly [string, string, string]> = [
    ['src/rules/plan.ts', "export { actionRegistry } from '../actions/registry.js';", 'rules may not import actions/registry'],
    ['src/rules/compile-rules.ts', "export { slackPostMessage } from '../actions/slack/post-message.js';", 'rules may not import actions/slack'],
    ['src/rules/plan.ts', "export { runRuleTests } from './tooling/rule-tests.js';", 'rules may not import tooling'],
    ['src/actions/pacing.ts', "export { ACTIONS_QUEUE } from '../queue/names.js';", 'actions may not import queue'],
    ['src/infra/redis.ts', "export { loadConfig } from '../config/config.js';", 'infra may not import config'],
    ['src/sources/envelope.ts', "export { planActions } from '../rules/plan.js';", 'sources may not import rules'],
    ['src/queue/events-worker.ts', "export { createApp } from '../http/app.js';", 'queue may not import http'],
    ['src/http/app.ts', "export { startBridge } from '../main.js';", 'http may not import main'],
  ];
  for (const [file, code, message] of refused) {
    it(`refuses in ${file}: ${code}`, async () => {
      const specifier = /'([^']+)'/.exec(code)![1];
      expect(await problemsOf(file, code)).to.deep.equal([
        `'${specifier}' import is restricted from being used by a pattern. ${message}: see the zones in eslint.config.js`,
      ]);
    });
  }

  it('allows the imports the layers are built on', async () => {
    expect(await problemsOf('src/queue/events-worker.ts', "export { planActions } from '../rules/plan.js';")).to.deep.equal([]);
    expect(await problemsOf('src/rules/rule-store.ts', "export type { ActionCatalog } from '../actions/action.js';")).to.deep.equal([]);
    expect(await problemsOf('src/rules/tooling/rule-tests.ts', "export { planUnlessQuarantined } from '../../delivery/delivery-policy.js';")).to.deep.equal([]);
    expect(await problemsOf('src/main.ts', "export { startHttp } from './roles/start-http.js';")).to.deep.equal([]);
  });
});
