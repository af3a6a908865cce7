import type { EnvDeclaration } from '../config/env-variable.js';
import type { Action, ActionName } from './action.js';

/**
 * One kind of action as its folder declares it (actions/<integration>/) and actions/registry.ts
 * lists it: the action itself plus what the rest of the bridge needs to know about its
 * integration, so that config, start-up warnings and the CLI never name an integration.
 *
 * `connect` must not load the integration's SDK at import time: it imports its client lazily, so
 * commands that only read rules (`check`, `test`, `simulate`) never load @slack/web-api or
 * @hubspot/api-client.
 */
export interface ActionDescriptor<P, E extends EnvDeclaration = EnvDeclaration> extends Action<P> {
  /** The integration's own spelling, for messages: `Slack`. */
  readonly title: string;
  /**
   * The environment variables the integration reads. Several actions of one integration share
   * one declaration object (a variable is declared once, whatever the number of actions).
   */
  readonly env: E;
  /** The variable without which the action runs as dry-run (logged, nothing sent). */
  readonly credential: keyof E & string;
}

/** Every action a rule may name, by name; the shipped one is `actionRegistry`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds descriptors of different params and env types
export type ActionRegistry = Readonly<Record<ActionName, ActionDescriptor<any, any>>>;

/**
 * Declares an action. Checks what the type system cannot (the credential is one of its secret
 * variables, the name is `<integration>.<verb_object>`) and freezes the result.
 * @throws TypeError naming the problem, at import time, so a broken descriptor never starts.
 */
export function defineAction<P, E extends EnvDeclaration>(descriptor: ActionDescriptor<P, E>): ActionDescriptor<P, E> {
  if (!/^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/.test(descriptor.name)) {
    throw new TypeError(`action name ${descriptor.name} must be <integration>.<verb_object> in lowercase`);
  }
  if (!descriptor.env[descriptor.credential]?.isSecret) {
    throw new TypeError(`action ${descriptor.name}: credential ${descriptor.credential} must be one of its secret variables`);
  }
  return Object.freeze(descriptor);
}
