import type { ActionRegistry } from '../actions/registry.js';
import type { BridgeConfig } from '../config/config.js';
import { readSettings } from '../config/env-variable.js';
import { readWebhookSecrets, type SourceRegistry } from '../sources/registry.js';

/** What {@link describeStart} reads. */
export interface StartDescriptionOptions {
  /** Where the bridge answers, e.g. `http://localhost:3000`. */
  readonly baseUrl: string;
  /** The loaded configuration: which secrets are set, whether the dashboard is on. */
  readonly config: Pick<BridgeConfig, 'integrations' | 'allowUnsignedWebhooks' | 'adminToken'>;
  /** The webhook providers served. */
  readonly sources: SourceRegistry;
  /** The actions run, grouped by integration (their shared credential). */
  readonly actions: ActionRegistry;
}

/**
 * The lines `start` prints on a terminal once it is up, for someone who just ran `npm start`: where
 * it answers, which sources accept deliveries, which integrations are live, the dashboard, and what
 * to do next. Names the variables to set, never their values.
 */
export function describeStart({ baseUrl, config, sources, actions }: StartDescriptionOptions): string[] {
  const secrets = readWebhookSecrets(config, sources);
  const refusing = Object.values(sources).filter((source) => secrets[source.name] === null && !config.allowUnsignedWebhooks);
  const webhookRows = Object.values(sources).map((source) => {
    const variable = source.webhookSecret;
    let state: string;
    if (secrets[source.name] !== null) state = `accepts deliveries (${variable} is set)`;
    else if (config.allowUnsignedWebhooks) state = `accepts deliveries WITHOUT checking them (${variable} is unset, ALLOW_UNSIGNED_WEBHOOKS=true: local trials only)`;
    else state = `refuses deliveries (401) until ${variable} is set`;
    return [source.title, `${baseUrl}/webhooks/${source.name}`, state];
  });

  // One row per integration: its actions share the credential.
  const integrations = new Map<string, string[]>();
  for (const action of Object.values(actions)) {
    if (integrations.has(action.title)) continue;
    const isLive = readSettings(config, action.env)[action.credential] !== null;
    integrations.set(action.title, [action.title, isLive ? `live (${action.credential} is set)` : `dry-run: actions are logged, nothing is sent (set ${action.credential} to go live)`]);
  }

  return [
    `affiliate-bridge is running at ${baseUrl}`,
    '',
    'Webhooks (the URLs to give the providers):',
    ...alignColumns(webhookRows).map((row) => `  ${row}`),
    '',
    'Integrations:',
    ...alignColumns([...integrations.values()]).map((row) => `  ${row}`),
    '',
    config.adminToken ? `Dashboard: ${baseUrl}/admin (sign in with ADMIN_TOKEN)` : 'Dashboard: off (set ADMIN_TOKEN to turn it on)',
    '',
    refusing.length === 0
      ? 'Next: run `npm run demo` in another terminal to send the example deliveries, and watch them arrive here.'
      : // The demo signs its deliveries with the same variables: without them it only collects 401s.
        `Next: export ${refusing.map((source) => source.webhookSecret).join(' and ')} in this terminal and in another one (README: "Send the seed events"), start again, then run \`npm run demo\` in the other one to send the example deliveries.`,
  ];
}

/** Pads every column but the last to its widest cell, two spaces apart. */
function alignColumns(rows: readonly (readonly string[])[]): string[] {
  const widths = rows.reduce<number[]>((max, row) => row.map((cell, index) => Math.max(cell.length, max[index] ?? 0)), []);
  return rows.map((row) => row.map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index]))).join('  '));
}
