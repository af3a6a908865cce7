import { Pipeline, type Cluster, type Redis } from 'ioredis';

/**
 * ioredis gives each new Pipeline its own copy of every Lua script defined on its connection: two
 * methods per script and a sha → script map, set one property at a time in the constructor. BullMQ
 * defines 64 scripts on each of its connections, and with auto-pipelining every event-loop turn
 * that sends a command builds a Pipeline: those copies were about a tenth of the bridge's CPU at
 * 500 events/s, and its main thread saturated (issue 14; ioredis 5.11 and 6.1 alike).
 *
 * {@link shareScriptsWithPipelines} makes a connection's pipelines share what they used to copy:
 * - each script method is found on `Pipeline.prototype` instead, as a forwarder that calls the
 *   pipeline's own connection's method with the pipeline as `this`, exactly what the copy did
 *   (a script's method sends through whatever container calls it);
 * - the sha → script map is one per connection, kept current as scripts are defined.
 * The connection's `pipeline()` and `multi()` build their Pipeline while its script set reads as
 * empty (so the constructor copies nothing), then give it the shared map. Connections it
 * `duplicate()`s (BullMQ's blocking connections) get the same treatment.
 *
 * It relies on ioredis internals (`scriptsSet`, `_shaToScript`, the Pipeline constructor reading
 * the script set it is given); when they are not as expected, or a script's name is already a
 * Pipeline method, the connection is left as ioredis made it: slower, never wrong. The spec
 * (test/integration/infra/pipeline-scripts.spec.ts) runs BullMQ-style scripts through every path
 * (auto-pipelines, pipelines, MULTI, duplicates, a NOSCRIPT reload) on the real Redis.
 */
export function shareScriptsWithPipelines<T extends Redis | Cluster>(connection: T): T {
  const internals = connection as unknown as ConnectionInternals;
  if (!hasExpectedInternals(internals)) return connection;

  const shaToScript: Record<string, ScriptInternals> = {};
  let sharing = true;
  const register = (name: string): void => {
    const script = internals.scriptsSet[name];
    if (script) shaToScript[script.sha] = script;
    if (!forwardToConnection(name) || !forwardToConnection(`${name}Buffer`)) sharing = false;
  };
  for (const name of Object.keys(internals.scriptsSet)) register(name);

  const { defineCommand, pipeline, multi, duplicate } = internals;
  internals.defineCommand = function (this: ConnectionInternals, name: string, definition: unknown) {
    defineCommand.call(this, name, definition);
    register(name);
  };
  const buildSharing = <R>(build: () => R): R => {
    if (!sharing) return build();
    const scripts = internals.scriptsSet;
    internals.scriptsSet = NO_SCRIPTS;
    let built: R;
    try {
      built = build();
    } finally {
      internals.scriptsSet = scripts;
    }
    // Pipeline.exec looks a raw EVALSHA's script up in this map (to load it first when needed).
    if (built instanceof Pipeline && '_shaToScript' in built) (built as unknown as PipelineInternals)._shaToScript = shaToScript;
    return built;
  };
  internals.pipeline = function (this: ConnectionInternals, ...args: unknown[]) {
    return buildSharing(() => pipeline.apply(this, args));
  };
  internals.multi = function (this: ConnectionInternals, ...args: unknown[]) {
    return buildSharing(() => multi.apply(this, args));
  };
  internals.duplicate = function (this: ConnectionInternals, ...args: unknown[]) {
    return shareScriptsWithPipelines(duplicate.apply(this, args) as Redis | Cluster);
  };
  return connection;
}

/** What this module reads and replaces of an ioredis connection. */
interface ConnectionInternals {
  scriptsSet: Record<string, ScriptInternals>;
  defineCommand(name: string, definition: unknown): void;
  pipeline(...args: unknown[]): unknown;
  multi(...args: unknown[]): unknown;
  duplicate(...args: unknown[]): unknown;
}
interface ScriptInternals {
  readonly sha: string;
}
interface PipelineInternals {
  _shaToScript: Record<string, ScriptInternals>;
  readonly redis: Record<string, (...args: unknown[]) => unknown>;
}

const NO_SCRIPTS: Record<string, ScriptInternals> = Object.freeze({}) as Record<string, ScriptInternals>;

function hasExpectedInternals(internals: ConnectionInternals): boolean {
  return (
    typeof internals.scriptsSet === 'object' &&
    internals.scriptsSet !== null &&
    typeof internals.defineCommand === 'function' &&
    typeof internals.pipeline === 'function' &&
    typeof internals.multi === 'function' &&
    typeof internals.duplicate === 'function'
  );
}

/** The script methods already forwarded on Pipeline.prototype, by name. */
const forwardedMethods = new Set<string>();

/**
 * Puts on Pipeline.prototype a method `name` that runs the pipeline's connection's own `name` with
 * the pipeline as `this`. False when `name` is already something else of a Pipeline (a built-in
 * command): that connection keeps ioredis's own copies.
 */
function forwardToConnection(name: string): boolean {
  if (forwardedMethods.has(name)) return true;
  if (name in Pipeline.prototype) return false;
  Object.defineProperty(Pipeline.prototype, name, {
    value: function (this: PipelineInternals, ...args: unknown[]) {
      return this.redis[name].apply(this, args);
    },
    writable: true,
    configurable: true,
  });
  forwardedMethods.add(name);
  return true;
}
