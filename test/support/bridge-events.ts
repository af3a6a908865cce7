import { readFileSync } from 'node:fs';

/**
 * The ops rule rules/README.md documents for `bridge.action.failed` ("When an action fails"), as a
 * rule file: tests run the documented example itself, so the page and the behaviour cannot drift.
 */
export function readDocumentedOpsRule(): string {
  const readme = readFileSync('rules/README.md', 'utf8');
  const block = /```yaml\n(- id: action-failures-to-ops\n[\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('rules/README.md has no action-failures-to-ops example');
  return `rules:\n${block.replace(/^/gm, '  ').replace(/ +$/gm, '')}`;
}

/**
 * The rule-test file rules/README.md shows for that rule ("When an action fails", the block headed
 * `# rules/tests/ops.yaml`), with its fixture path as written (relative to rules/tests/).
 */
export function readDocumentedOpsTestCases(): string {
  const readme = readFileSync('rules/README.md', 'utf8');
  const block = /```yaml\n# rules\/tests\/ops\.yaml\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('rules/README.md has no rules/tests/ops.yaml example');
  return block;
}
