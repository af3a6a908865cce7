import type * as SlackSdk from '@slack/web-api';

/*
 * @slack/web-api is imported on first use, not at start-up: commands that only read rules
 * (`check`, `test`, `simulate`) never need it, and it is the heaviest dependency the bridge loads.
 * A client starts the import when it is built (connect), and waits for it on its first call.
 * The package is CommonJS, so every importer shares one instance (one set of error classes).
 */

let loading: Promise<typeof SlackSdk> | undefined;
let loaded: typeof SlackSdk | undefined;

/** Imports @slack/web-api once; later calls return the same promise. */
export function loadSlackSdk(): Promise<typeof SlackSdk> {
  loading ??= import('@slack/web-api').then((sdk) => (loaded = sdk));
  return loading;
}

/** The SDK once {@link loadSlackSdk} has resolved; undefined before (nothing can have thrown its errors yet). */
export function getLoadedSlackSdk(): typeof SlackSdk | undefined {
  return loaded;
}
