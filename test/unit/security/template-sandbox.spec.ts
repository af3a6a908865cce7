import { existsSync } from 'node:fs';
import { expect } from 'chai';
import type { Liquid } from 'liquidjs';
import { escapeSlackMrkdwn } from '../../../src/actions/slack/mrkdwn.js';
import { compileTemplateTree, renderTemplateTree } from '../../../src/rules/templates.js';

/**
 * The README's claim: templates are Liquid with no file system and no access to inherited
 * properties. Each test below guards one of the layers that make it true, so removing any one of
 * them fails a test (a single test through `include` only would pass with `render` put back).
 */
const ESCAPERS = { plain: undefined, slack: escapeSlackMrkdwn } as const;

function problemsOf(template: string, escape: (typeof ESCAPERS)[keyof typeof ESCAPERS]): string[] {
  return compileTemplateTree(template, escape).problems.map((problem) => problem.message);
}

/** The liquidjs engine a compiled template renders with (the one the planner uses). */
function engineOf(escape: (typeof ESCAPERS)[keyof typeof ESCAPERS]): Liquid {
  const { tree } = compileTemplateTree('{{ data.x }}', escape);
  if (tree.kind !== 'template') throw new Error('expected a template');
  return tree.engine;
}

describe('template sandbox (security notes: "no file reads, no prototype access")', () => {
  // A file that certainly exists in the working directory the tests (and the bridge) run in.
  const existingFile = 'package.json';
  before(() => expect(existsSync(existingFile), 'the tests run from the project root').to.equal(true));

  for (const [kind, escape] of Object.entries(ESCAPERS)) {
    describe(`${kind} engine`, () => {
      for (const tag of ['include', 'render', 'layout']) {
        it(`has no {% ${tag} %} tag, so a rule cannot name a file`, () => {
          expect(problemsOf(`{% ${tag} "${existingFile}" %}`, escape)).to.deep.equal([`invalid template: tag "${tag}" not found`]);
        });
      }

      it('has no {% block %} tag (layout inheritance)', () => {
        expect(problemsOf('{% block main %}x{% endblock %}', escape)).to.deep.equal(['invalid template: tag "block" not found']);
      });

      it('keeps an in-memory template store: even the engine API cannot read a file from disk', () => {
        const engine = engineOf(escape);
        expect(() => engine.parseFileSync(existingFile)).to.throw(/Failed to lookup/);
        expect(() => engine.renderFileSync(existingFile, {})).to.throw(/Failed to lookup/);
      });

      it('reads own properties only: inherited members of payload objects render as nothing', () => {
        const { tree, problems } = compileTemplateTree('[{{ data.constructor.name }}|{{ data.lead.toString }}|{{ data.lead.__proto__ }}]', escape);
        expect(problems).to.deep.equal([]);
        const data = { lead: { email: 'lead@example.com' } };
        const { value, warnings } = renderTemplateTree(tree, { event: {}, data }, { strict: false });
        expect(value).to.equal('[||]');
        expect(warnings.length).to.be.greaterThan(0);
      });

      it('still reads a payload key that happens to be named like a prototype member', () => {
        const { tree } = compileTemplateTree('{{ data.constructor }}/{{ data.toString }}', escape);
        const data = JSON.parse('{"constructor":"own-c","toString":"own-t"}') as Record<string, unknown>;
        expect(renderTemplateTree(tree, { event: {}, data }, { strict: true }).value).to.equal('own-c/own-t');
      });
    });
  }
});
