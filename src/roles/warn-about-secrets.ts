import type { Logger } from 'pino';
import type { ActionRegistry } from '../actions/registry.js';
import type { BridgeConfig } from '../config/config.js';
import { readSettings } from '../config/env-variable.js';
import { readWebhookSecrets, type SourceRegistry } from '../sources/registry.js';

/** What {@link warnAboutUnsetSecrets} reads. */
export interface SecretWarningOptions {
  /** The loaded configuration. */
  readonly config: BridgeConfig;
  /** Which roles this process runs: the API warns about webhook secrets, workers about credentials. */
  readonly roles: { readonly api: boolean; readonly workers: boolean };
  /** Where the warnings go. */
  readonly logger: Logger;
  /** The webhook providers served. */
  readonly sources: SourceRegistry;
  /** The actions run. */
  readonly actions: ActionRegistry;
}

/**
 * One start-up line per unset secret, saying what follows from it: a webhook route that answers
 * 401 (or, with ALLOW_UNSIGNED_WEBHOOKS, accepts anything), an integration that runs as dry-run.
 */
export function warnAboutUnsetSecrets({ config, roles, logger, sources, actions }: SecretWarningOptions): void {
  if (roles.api) {
    for (const [source, secret] of Object.entries(readWebhookSecrets(config, sources))) {
      if (secret !== null) continue;
      const variable = sources[source].webhookSecret;
      if (config.allowUnsignedWebhooks) {
        logger.warn(`${variable} is unset and ALLOW_UNSIGNED_WEBHOOKS=true: /webhooks/${source} accepts UNAUTHENTICATED deliveries (local trials only)`);
      } else {
        logger.warn(`${variable} is unset: /webhooks/${source} answers 401 to every delivery`);
      }
    }
  }
  if (roles.workers) {
    // Once per integration: its actions share the credential.
    const unset = new Map<string, string>();
    for (const action of Object.values(actions)) {
      if (readSettings(config, action.env)[action.credential] === null) unset.set(action.credential, action.title);
    }
    for (const [variable, title] of unset) logger.warn(`${variable} is unset: ${title} actions run as dry-run (logged, nothing sent)`);
  }
}
