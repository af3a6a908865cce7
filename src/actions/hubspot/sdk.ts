import type * as HubspotSdk from '@hubspot/api-client';

/*
 * @hubspot/api-client is imported on first use, not at start-up: commands that only read rules
 * (`check`, `test`, `simulate`) never need it, and loading it costs a noticeable part of a CLI
 * start. A client starts the import when it is built (connect), and waits for it on its first call.
 */

let loading: Promise<typeof HubspotSdk> | undefined;

/** Imports @hubspot/api-client once; later calls return the same promise. */
export function loadHubspotSdk(): Promise<typeof HubspotSdk> {
  loading ??= import('@hubspot/api-client');
  return loading;
}
