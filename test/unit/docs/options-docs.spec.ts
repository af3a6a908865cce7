import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import ts from 'typescript';

/**
 * House style §6: every field of an options interface has a TSDoc line, and an optional field
 * names its default with `@defaultValue`, so a reader never has to find the code that merges it.
 * Read from the source with the TypeScript parser, so a new options interface is checked too.
 */
const srcDir = fileURLToPath(new URL('../../../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

interface UndocumentedField {
  readonly where: string;
  readonly problem: string;
}

function undocumentedFields(file: string, text = readFileSync(file, 'utf8')): UndocumentedField[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: UndocumentedField[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isInterfaceDeclaration(node) && /Options$/.test(node.name.text)) {
      for (const member of node.members) {
        if (!ts.isPropertySignature(member) || member.name === undefined) continue;
        const name = member.name.getText(source);
        const { line } = source.getLineAndCharacterOfPosition(member.getStart(source));
        const where = `${path.relative(srcDir, file)}:${line + 1} ${node.name.text}.${name}`;
        const docs = ts.getJSDocCommentsAndTags(member).filter(ts.isJSDoc);
        if (docs.length === 0) {
          found.push({ where, problem: 'has no TSDoc' });
          continue;
        }
        const hasDefault = ts.getJSDocTags(member).some((tag) => tag.tagName.text === 'defaultValue');
        if (member.questionToken !== undefined && !hasDefault) found.push({ where, problem: 'is optional but names no @defaultValue' });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('options documentation (house style §6)', () => {
  it('every field of every *Options interface in src/ has TSDoc, and every optional one a @defaultValue', () => {
    const problems = sourceFiles(srcDir).flatMap((file) => undocumentedFields(file)).map((field) => `${field.where} ${field.problem}`);
    expect(problems).to.deep.equal([]);
  });

  it('finds an undocumented field and an optional one with no default (the check itself can fail)', () => {
    const file = path.join(srcDir, 'toy.ts');
    const text = [
      'export interface ToyOptions {',
      '  a?: number;',
      '  /** Documented, but optional with no default. */',
      '  b?: string;',
      '  /** Fine. @defaultValue 3 */',
      '  c?: number;',
      '  /** Required, documented: fine. */',
      '  d: string;',
      '}',
      'interface NotAnOptionsBag { e?: number }',
    ].join('\n');
    expect(undocumentedFields(file, text).map((field) => `${field.where} ${field.problem}`)).to.deep.equal([
      'toy.ts:2 ToyOptions.a has no TSDoc',
      'toy.ts:4 ToyOptions.b is optional but names no @defaultValue',
    ]);
  });
});
