import { Pipeline, type Cluster, type Redis } from 'ioredis';

/**
 * ioredis gives each new Pipeline its own copy of every Lua script defined on its connection: two
 * methods per script and a sha → script map, set one property at a time in the constructor. BullMQ
 * defines 64 scripts on each of its connections, and with auto-pipelining every event-loop turn
 * that sends a command builds a Pipeline: those copies were about a tenth of the bridge's CPU at
 * 500 events/s, and its main thread saturated (issue 14; ioredis 5.11 and 6.1 alike).
 *
 * {@link shareScriptsWithPipelines} makes a connection's pipelines find the script methods on
 * `Pipeline.prototype` instead, as forwarders that call the pipeline's own connection's method with
 * the pipeline as `this`, exactly what the copy did (a script's method sends through whatever
 * container calls it). The connection's `pipeline()` and `multi()` build their Pipeline while its
 * script set reads as empty, so the constructor copies nothing. The sha map is left empty: nothing
 * in ioredis reads it after the constructor (5.11 and 6.1). Connections it `duplicate()`s (BullMQ's
 * blocking connections) get the same treatment.
 *
 * It relies on ioredis internals (`scriptsSet`, the Pipeline constructor reading the script set it
 * is given); when they are not as expected, or a script's name is already a
 * Pipeline method, the connection is left as ioredis made it: slower, never wrong. The spec
 * (test/integration/infra/pipeline-scripts.spec.ts) runs BullMQ-style scripts through every path
 * (auto-pipelines, pipelines, MULTI, duplicates, a NOSCRIPT reload) on the real Redis.
 */
export function shareScriptsWithPipelines<T extends Redis | Cluster>(connection: T): T {
  const internals = connection as unknown as ConnectionInternals;
  if (!hasExpectedInternals(internals)) return connection;

  let sharing = true;
  const register = (name: string): void => {
    if (!forwardToConnection(name) || !forwardToConnection(`${name}Buffer`)) sharing = false;
  };
  for (const name of Object.keys(internals.scriptsSet)) register(name);

  const { defineCommand, pipeline, multi, duplicate } = internals;
  internals.defineCommand = function (this: ConnectionInternals, name: string, definition: unknown) {
    defineCommand.call(this, name, definition);
    register(name);
  };
  // Called for every auto-pipelined turn: no closure per call.
  const buildSharing = (build: (...args: unknown[]) => unknown, self: ConnectionInternals, args: unknown[]): unknown => {
    if (!sharing) return build.apply(self, args);
    const scripts = internals.scriptsSet;
    internals.scriptsSet = NO_SCRIPTS;
    try {
      return build.apply(self, args);
    } finally {
      internals.scriptsSet = scripts;
    }
  };
  internals.pipeline = function (this: ConnectionInternals, ...args: unknown[]) {
    return buildSharing(pipeline, this, args);
  };
  internals.multi = function (this: ConnectionInternals, ...args: unknown[]) {
    return buildSharing(multi, this, args);
  };
  internals.duplicate = function (this: ConnectionInternals, ...args: unknown[]) {
    return shareScriptsWithPipelines(duplicate.apply(this, args) as Redis | Cluster);
  };
  return connection;
}

/** What this module reads and replaces of an ioredis connection. */
interface ConnectionInternals {
  scriptsSet: Record<string, unknown>;
  defineCommand(name: string, definition: unknown): void;
  pipeline(...args: unknown[]): unknown;
  multi(...args: unknown[]): unknown;
  duplicate(...args: unknown[]): unknown;
}
interface PipelineInternals {
  readonly redis: Record<string, (...args: unknown[]) => unknown>;
}

const NO_SCRIPTS: Record<string, unknown> = Object.freeze({});

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
