import { readSettings, type EnvDeclaration } from '../config/env-variable.js';
import type { Secret } from '../secret.js';

/** What replaces every occurrence of a configured secret inside a payload's strings and keys. */
export const REDACTED_MARKER = '[redacted]';

/**
 * Replaces the occurrences of configured secrets in a string. Built once per set of secrets
 * (`createSecretScrubber`); `scrub` returns its argument unchanged (the same string) when no
 * secret occurs in it, so callers can tell cheaply whether anything was replaced.
 */
export interface SecretScrubber {
  scrub(text: string): string;
  /** Whether `text` holds any form of a configured secret. */
  isFoundIn(text: string): boolean;
}

/**
 * The spellings of a secret that may appear in a payload: the value itself, and the value as a URL
 * query parameter encodes it. FirstPromoter echoes the receiving URL inside payloads
 * (`data.campaign.default_webhook_url`, see docs.firstpromoter.com/webhooks/promoter-accepted and
 * /webhooks/fulfilment-pending), and a token holding `+`, `/` or `=` sits there percent-encoded.
 * JSON escapes need no form of their own: the payload is scrubbed after `JSON.parse` decoded them.
 */
export function listSecretForms(value: string): string[] {
  const forms = new Set([value, encodeURIComponent(value)]);
  // `application/x-www-form-urlencoded` writes a space as `+`.
  forms.add(encodeURIComponent(value).replace(/%20/g, '+'));
  return [...forms];
}

/**
 * A scrubber for `secrets` (unset ones left out), or null when there is nothing to scrub. Longer
 * forms are replaced first, so a secret that contains another one is replaced whole.
 */
export function createSecretScrubber(secrets: readonly (Secret | null | undefined)[]): SecretScrubber | null {
  const forms = [
    ...new Set(
      secrets
        .filter((secret): secret is Secret => secret !== null && secret !== undefined && secret.reveal() !== '')
        .flatMap((secret) => listSecretForms(secret.reveal())),
    ),
  ].sort((a, b) => b.length - a.length);
  if (forms.length === 0) return null;
  return {
    scrub(text) {
      let result = text;
      // `includes` first: nearly every string of a payload holds no secret, and it is the cheap test.
      // Stryker disable next-line ConditionalExpression: a fast path only; splitting on an absent form changes nothing.
      for (const form of forms) if (result.includes(form)) result = result.split(form).join(REDACTED_MARKER);
      return result;
    },
    isFoundIn: (text) => forms.some((form) => text.includes(form)),
  };
}

/**
 * The value of every secret variable the sources of `registry` declare (webhook secrets, API keys),
 * set ones only: what the HTTP layer scrubs from payloads by value.
 * @throws TypeError when `config` was not loaded with these sources (see `readSettings`).
 */
// Structural types for the registry and the config: importing theirs would close import cycles.
export function collectSourceSecrets(
  registry: Readonly<Record<string, { readonly env: EnvDeclaration }>>,
  config: { readonly integrations: Readonly<Record<string, unknown>> },
): Secret[] {
  const secrets: Secret[] = [];
  for (const source of Object.values(registry)) {
    const settings = readSettings(config, source.env) as Record<string, unknown>;
    for (const [name, variable] of Object.entries(source.env)) {
      const value = settings[name];
      if (variable.isSecret && value !== null && value !== undefined) secrets.push(value as Secret);
    }
  }
  return secrets;
}
