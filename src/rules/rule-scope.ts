import { DEFAULT_EVENT_ORIGIN, emptyAffiliateFields, type AffiliateFields, type EventOrigin } from '../events/affiliate.js';
import type { BridgeEvent } from '../events/event.js';

/** What conditions and templates see: `event`, `data` and `affiliate`. (A type, not an interface: templates take it as a record.) */
export type RuleScope = {
  /** The event, `origin` always set. */
  readonly event: BridgeEvent & { readonly origin: EventOrigin };
  /** The provider's payload (`event.data`). */
  readonly data: Record<string, unknown>;
  /** The normalized affiliate fields: every key always there, null where the event has no value. */
  readonly affiliate: AffiliateFields;
};

/**
 * The scope of one event, shared by every condition and template of every rule. An event stored
 * before origins and the affiliate model existed reads as a webhook's, with every affiliate field
 * null: conditions and templates never meet a missing `event.origin` or `affiliate.lead`.
 */
export function buildRuleScope(event: BridgeEvent): RuleScope {
  const withOrigin = event.origin === undefined ? { ...event, origin: DEFAULT_EVENT_ORIGIN } : (event as RuleScope['event']);
  return { event: withOrigin, data: event.data, affiliate: event.affiliate ?? emptyAffiliateFields(event.source) };
}
