import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar, visit, type Alias, type Document, type Node, type YAMLMap } from 'yaml';
import type { RuleProblem } from './problems.js';

/**
 * How many times a file's aliases may repeat anchored content, nested repeats multiplied: yaml's
 * `maxAliasCount` (its default). A few `*anchor`s share a channel or a block list; an "alias bomb"
 * (aliases of aliases of lists, a billion nodes from a few lines) exceeds it at once.
 */
export const MAX_ALIAS_EXPANSION = 100;

/** The problem reported at the first alias of a file whose aliases expand beyond the bound. */
export function describeAliasBomb(aliasSource: string): string {
  return `the aliases of this file (from *${aliasSource}) repeat anchored content more than ${MAX_ALIAS_EXPANSION} times: use fewer aliases, and no aliases of content that holds aliases`;
}

/** A key/value pair of a mapping, with the nodes kept for positions. */
export interface MappingEntry {
  readonly key: string;
  readonly keyNode: Node;
  /** null for `key:` with no value. */
  readonly value: Node | null;
}

/**
 * One parsed YAML file plus the problems found in it so far. Validators walk the node tree (not
 * the plain JS value) so every problem can name the line and column of the node it concerns.
 */
export class YamlFile {
  readonly problems: RuleProblem[] = [];
  /** Findings that do not stop the file from loading (`check` prints them, exit code unchanged). */
  readonly warnings: RuleProblem[] = [];

  private constructor(
    readonly file: string,
    readonly text: string,
    readonly document: Document.Parsed,
    private readonly lineCounter: LineCounter,
  ) {}

  /** Parses `text`; syntax errors become problems (the tree may still be partly usable). */
  static parse(file: string, text: string): YamlFile {
    const lineCounter = new LineCounter();
    const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    const yamlFile = new YamlFile(file, text, document, lineCounter);
    for (const error of document.errors) {
      yamlFile.reportAtOffset(error.pos[0], cleanYamlMessage(error.message));
    }
    if (document.errors.length === 0) yamlFile.refuseAliasBomb();
    return yamlFile;
  }

  #hasAliasBomb = false;

  /**
   * Whether the YAML itself failed to parse, or its aliases expand beyond the bound (validation of
   * its content would only add noise, or build the very values the bound refuses).
   */
  get hasSyntaxErrors(): boolean {
    return this.document.errors.length > 0 || this.#hasAliasBomb;
  }

  /**
   * Builds the whole document once under yaml's own alias bound, so no later `toJS` of a part of it
   * can exhaust memory or throw: a file beyond the bound is one problem, at the alias that first
   * exceeds it on its own (or the file's first alias, when only their sum does).
   */
  private refuseAliasBomb(): void {
    const aliases: Alias[] = [];
    visit(this.document, { Alias: (_key, node) => void aliases.push(node) });
    if (aliases.length === 0) return;
    try {
      this.document.toJS({ maxAliasCount: MAX_ALIAS_EXPANSION });
      return;
    } catch (error) {
      if (!(error instanceof ReferenceError)) throw error;
    }
    this.#hasAliasBomb = true;
    const unresolved = aliases.find((alias) => alias.resolve(this.document) === undefined);
    if (unresolved) {
      this.report(unresolved, `unknown alias *${unresolved.source}: define the anchor &${unresolved.source} before it`);
      return;
    }
    const culprit = aliases.find((alias) => !this.expandsWithinBound(alias)) ?? aliases[0];
    this.report(culprit, describeAliasBomb(culprit.source));
  }

  private expandsWithinBound(alias: Alias): boolean {
    try {
      alias.toJS(this.document, { maxAliasCount: MAX_ALIAS_EXPANSION });
      return true;
    } catch {
      return false;
    }
  }

  /** The document's root node, or null for an empty file (or one holding only comments). */
  get root(): Node | null {
    const contents = this.document.contents;
    if (contents === null || (isScalar(contents) && contents.value === null && contents.range[0] === contents.range[1])) {
      return null;
    }
    return this.resolve(contents);
  }

  report(node: Node | null | undefined, message: string): void {
    this.reportAtOffset(node?.range?.[0] ?? 0, message);
  }

  /** Records a warning at a node: the file still loads. */
  warn(node: Node | null | undefined, message: string): void {
    this.warnings.push({ file: this.file, ...this.positionOf(node?.range?.[0] ?? 0), message });
  }

  reportAtOffset(offset: number, message: string): void {
    this.problems.push({ file: this.file, ...this.positionOf(offset), message });
  }

  positionOf(offset: number): { line: number; column: number } {
    const { line, col } = this.lineCounter.linePos(offset);
    return { line, column: col };
  }

  /** Location string `file:line:col` of a node, for messages that point at another place. */
  locationOf(node: Node): string {
    const { line, column } = this.positionOf(node.range?.[0] ?? 0);
    return `${this.file}:${line}:${column}`;
  }

  /** Follows `*alias` nodes to what they point at, so anchors work wherever values do. */
  resolve(node: unknown): Node | null {
    let current = node;
    for (let hops = 0; isAlias(current) && hops < 32; hops += 1) {
      current = current.resolve(this.document);
    }
    return current === undefined || current === null ? null : (current as Node);
  }

  /** The entries of a mapping; a key that is not a plain string is reported and skipped. */
  entriesOf(map: YAMLMap): MappingEntry[] {
    const entries: MappingEntry[] = [];
    for (const pair of map.items) {
      const keyNode = this.resolve(pair.key);
      if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
        this.report(keyNode ?? map, 'keys must be plain strings');
        continue;
      }
      entries.push({ key: keyNode.value, keyNode, value: this.resolve(pair.value) });
    }
    return entries;
  }

  /** The value node of `key` in a mapping (aliases followed), without reporting anything. */
  findEntry(map: YAMLMap, key: string): MappingEntry | undefined {
    for (const pair of map.items) {
      const keyNode = this.resolve(pair.key);
      if (isScalar(keyNode) && keyNode.value === key) return { key, keyNode, value: this.resolve(pair.value) };
    }
    return undefined;
  }

  /**
   * The entries of a mapping, reporting every key not in `allowed` with
   * `unknown key <key>: <what> takes <allowed…>`.
   */
  knownEntriesOf(map: YAMLMap, allowed: readonly string[], what: string): Map<string, MappingEntry> {
    const known = new Map<string, MappingEntry>();
    for (const entry of this.entriesOf(map)) {
      if (allowed.includes(entry.key)) known.set(entry.key, entry);
      else this.report(entry.keyNode, `unknown key ${entry.key}: ${what} takes ${allowed.join(', ')}`);
    }
    return known;
  }

  /**
   * The file offset of character `index` of a string scalar's value, when it can be mapped back
   * (plain, quoted without escapes, literal blocks); otherwise the scalar's own start. Lets CEL and
   * Liquid errors point inside the expression.
   */
  offsetInScalar(node: Scalar, index: number): number {
    const start = node.range?.[0] ?? 0;
    const value = typeof node.value === 'string' ? node.value : null;
    if (value === null || !node.range || index <= 0 || index > value.length) return start;
    const source = this.text.slice(start, node.range[1]);
    switch (node.type) {
      case Scalar.PLAIN:
        return source === value ? start + index : start;
      case Scalar.QUOTE_SINGLE:
      case Scalar.QUOTE_DOUBLE:
        return source.slice(1, -1) === value ? start + 1 + index : start;
      case Scalar.BLOCK_LITERAL:
        return this.offsetInLiteralBlock(source, start, value, index);
      default:
        return start;
    }
  }

  private offsetInLiteralBlock(source: string, start: number, value: string, index: number): number {
    // A literal block keeps line breaks; each content line is the value's line plus indentation.
    const before = value.slice(0, index);
    const lineIndex = before.split('\n').length - 1;
    const columnInLine = index - (before.lastIndexOf('\n') + 1);
    const sourceLines = source.split('\n');
    const contentLines = sourceLines.slice(1);
    const indent = contentLines.find((line) => line.trim() !== '')?.match(/^ */)?.[0].length ?? 0;
    const target = contentLines[lineIndex];
    if (target === undefined || target.slice(indent) !== value.split('\n')[lineIndex]) return start;
    let offset = start + sourceLines[0].length + 1;
    for (let i = 0; i < lineIndex; i += 1) offset += contentLines[i].length + 1;
    return offset + indent + columnInLine;
  }
}

/** yaml's messages end with ` at line L, column C:` plus a source excerpt; we print positions ourselves. */
function cleanYamlMessage(message: string): string {
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '').trim();
}

export { isMap, isScalar, isSeq };
