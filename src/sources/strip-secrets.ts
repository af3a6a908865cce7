import type { SecretScrubber } from './scrub-secrets.js';

/** What replaces a container nested deeper than `maxDepth` in a copied payload. */
export const TRUNCATED_MARKER = '[truncated]';

export interface CopyPayloadOptions {
  /**
   * Fields left out of the copy. An entry without a dot (`auth_token`) removes that key at any
   * depth; a dotted entry (`promoter.profile.paypal_email`) removes exactly that path from the root.
   * Arrays are transparent to paths: `promotions.promo_code` removes `promo_code` from every
   * element of `promotions`. Segments match keys literally; there is no wildcard or index syntax.
   * @defaultValue none
   */
  readonly strippedFields?: readonly string[];
  /**
   * Deepest container kept: the root is depth 0, its object and array children depth 1… Deeper
   * containers are replaced by {@link TRUNCATED_MARKER}, so the copy can go through the recursive
   * `JSON.stringify` (which overflows near 4,000 levels) and template engines safely.
   * @defaultValue unbounded
   */
  readonly maxDepth?: number;
  /**
   * Arrays longer than this are reported in `oversizedArray` (the first one met, in document
   * order). They are still copied in full.
   * @defaultValue unbounded
   */
  readonly maxArrayItems?: number;
  /**
   * Replaces every occurrence of the configured secrets in string values and in keys, at any depth
   * and inside longer strings (see scrub-secrets.ts). A key that becomes equal to another key of
   * the same object after scrubbing overwrites it: both held a secret, and neither may be kept.
   * @defaultValue none: values are copied as they are
   */
  readonly scrubber?: SecretScrubber | null;
}

export interface CopiedPayload<T> {
  readonly value: T;
  /** Whether some container was deeper than `maxDepth` and replaced. */
  readonly isTruncated: boolean;
  /** The first array longer than `maxArrayItems`: its path (`promotions`, `a[2].b`) and length. */
  readonly oversizedArray: { readonly path: string; readonly length: number } | null;
}

/**
 * Returns a copy of `value` without the `fields` (see {@link CopyPayloadOptions.strippedFields}).
 * The input is not changed. Iterative, so deeply nested input cannot overflow the stack.
 * @throws TypeError when `value` contains a cycle (parsed JSON never does).
 */
export function stripSecretFields<T>(value: T, fields: readonly string[]): T {
  return copyPayload(value, { strippedFields: fields }).value;
}

interface PathNode {
  /** A configured path ends here: the key that leads to this node is removed. */
  isEnd: boolean;
  readonly children: Map<string, PathNode>;
}

type Container = Record<string, unknown> | unknown[];

/** Marks the end of a container's subtree on the walk's stack. */
interface Exit {
  readonly exitOf: Container;
}

interface Frame {
  readonly source: Container;
  readonly target: Container;
  readonly depth: number;
  /** Where this container sits in the dotted-path tree; null once off every configured path. */
  readonly pathNode: PathNode | null;
  // The parent chain builds a container's path only when it is needed (an oversized array),
  // instead of one string per container of a possibly huge payload.
  readonly parent: Frame | null;
  readonly key: string | number;
}

/**
 * Copies a parsed JSON payload in one iterative pass: leaves out stripped fields, replaces
 * containers deeper than `maxDepth`, and reports the first array longer than `maxArrayItems`.
 *
 * Keys such as `__proto__`, `constructor` and `prototype` are kept as own data properties of the
 * copy (the copy is faithful to what the provider sent) and can never reach a prototype: a
 * `__proto__` key is written with `Object.defineProperty`, because plain assignment would call the
 * `Object.prototype.__proto__` setter and swap the copy's prototype. Assigning `constructor` or
 * `prototype` on a fresh object only creates an own property, so those use plain assignment.
 * Consumers must not deep-merge payload objects into other objects with unguarded code.
 *
 * @throws TypeError when `value` contains a cycle (parsed JSON never does).
 */
export function copyPayload<T>(value: T, options: CopyPayloadOptions = {}): CopiedPayload<T> {
  const { anyDepth, pathRoot } = compileStrippedFields(options.strippedFields ?? []);
  const maxDepth = options.maxDepth ?? Number.POSITIVE_INFINITY;
  const maxArrayItems = options.maxArrayItems ?? Number.POSITIVE_INFINITY;
  const scrubber = options.scrubber ?? null;
  if (!isContainer(value)) {
    const leaf = scrubber !== null && typeof value === 'string' ? (scrubber.scrub(value) as T) : value;
    return { value: leaf, isTruncated: false, oversizedArray: null };
  }

  let isTruncated = false;
  let oversizedArray: CopiedPayload<T>['oversizedArray'] = null;
  // The containers being copied from the root down to the current one. A child already in it is
  // an ancestor: a cycle, which would make the walk loop forever. (An object referenced twice
  // elsewhere, as YAML aliases make, is just copied twice.)
  const ancestors = new Set<object>();
  const rootTarget = createEmptyLike(value);
  const stack: (Frame | Exit)[] = [{ source: value, target: rootTarget, depth: 0, pathNode: pathRoot, parent: null, key: '' }];
  // The children of the container being copied; pushed in reverse so they are popped (and
  // reported) in document order.
  const children: Frame[] = [];

  const copyChild = (child: unknown, parent: Frame, key: string | number, pathNode: PathNode | null): unknown => {
    if (!isContainer(child)) return scrubber !== null && typeof child === 'string' ? scrubber.scrub(child) : child;
    if (parent.depth + 1 > maxDepth) {
      isTruncated = true;
      return TRUNCATED_MARKER;
    }
    if (ancestors.has(child)) throw new TypeError('Cannot copy a payload that contains a cycle');
    const target = createEmptyLike(child);
    children.push({ source: child, target, depth: parent.depth + 1, pathNode, parent, key });
    return target;
  };

  while (stack.length > 0) {
    const frame = stack.pop() as Frame | Exit;
    if ('exitOf' in frame) {
      ancestors.delete(frame.exitOf);
      continue;
    }
    ancestors.add(frame.source);
    if (Array.isArray(frame.source)) {
      const source = frame.source;
      const target = frame.target as unknown[];
      if (oversizedArray === null && source.length > maxArrayItems) {
        oversizedArray = { path: describePath(frame), length: source.length };
      }
      for (let index = 0; index < source.length; index += 1) {
        // Arrays are transparent to dotted paths: elements continue the array's own path.
        target[index] = copyChild(source[index], frame, index, frame.pathNode);
      }
    } else {
      const source = frame.source;
      const target = frame.target as Record<string, unknown>;
      for (const key of Object.keys(source)) {
        if (anyDepth.has(key)) continue;
        const pathNode = frame.pathNode?.children.get(key) ?? null;
        if (pathNode?.isEnd) continue;
        const copied = copyChild(source[key], frame, key, pathNode?.children.size ? pathNode : null);
        // Paths match the key as sent; what is stored is the key without any secret in it.
        const storedKey = scrubber === null ? key : scrubber.scrub(key);
        if (storedKey === '__proto__') {
          Object.defineProperty(target, storedKey, { value: copied, enumerable: true, writable: true, configurable: true });
        } else {
          target[storedKey] = copied;
        }
      }
    }
    // The exit goes under the children, so it is popped once their whole subtrees are copied.
    stack.push({ exitOf: frame.source });
    for (let index = children.length - 1; index >= 0; index -= 1) stack.push(children[index] as Frame);
    children.length = 0;
  }
  return { value: rootTarget as T, isTruncated, oversizedArray };
}

function compileStrippedFields(fields: readonly string[]): { anyDepth: Set<string>; pathRoot: PathNode | null } {
  const anyDepth = new Set<string>();
  const root: PathNode = { isEnd: false, children: new Map() };
  for (const field of fields) {
    if (!field.includes('.')) {
      anyDepth.add(field);
      continue;
    }
    let node = root;
    for (const segment of field.split('.')) {
      let child = node.children.get(segment);
      if (!child) {
        child = { isEnd: false, children: new Map() };
        node.children.set(segment, child);
      }
      node = child;
    }
    node.isEnd = true;
  }
  return { anyDepth, pathRoot: root.children.size > 0 ? root : null };
}

function isContainer(value: unknown): value is Container {
  return value !== null && typeof value === 'object';
}

function createEmptyLike(container: Container): Container {
  return Array.isArray(container) ? new Array<unknown>(container.length) : {};
}

/** `promotions`, `a[2].b`: a frame's path from the root, in the style of yup's messages. */
function describePath(frame: Frame): string {
  const parts: string[] = [];
  for (let current: Frame | null = frame; current?.parent; current = current.parent) {
    parts.push(typeof current.key === 'number' ? `[${current.key}]` : `.${current.key}`);
  }
  return parts.reverse().join('').replace(/^\./, '');
}
