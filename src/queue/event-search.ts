import type { AffiliateFields } from '../events/affiliate.js';
import type { BridgeEvent } from '../events/event.js';
import type { RedisConnection } from '../infra/redis.js';
import { matchesEventPattern, parseEventPattern, type EventPattern } from '../rules/event-patterns.js';
import { describeAffiliateEvent } from '../sources/source.js';
import { sourceRegistry, type SourceRegistry } from '../sources/registry.js';
import { bridgeKeys } from './names.js';
import { decodeStoredTrace, type EventTrace } from './trace.js';

/**
 * One line of the dashboard's events list, derived from a stored trace by {@link summarizeEventTrace}
 * alone: searching and listing events add nothing to the write path.
 */
export interface EventSummary {
  readonly eventId: string;
  /** `null` (like every field below) when the trace has expired since the id was indexed. */
  readonly type: string | null;
  readonly canonicalTypes: readonly string[];
  readonly status: string | null;
  readonly receivedAt: string | null;
  /** The referred person's email (`affiliate.lead.email`). */
  readonly email: string | null;
  /** The affiliate (`affiliate.promoter`): id, email and name as the event carries them. */
  readonly promoter: { readonly id: string | null; readonly email: string | null; readonly name: string | null };
  /** The rules that matched in the latest run (a replay runs the current rules, so it may differ from the first). */
  readonly matchedRules: readonly string[];
  /** Every rule any run evaluated: matched, not matched (condition false or failed), or whose action could not be planned. */
  readonly evaluatedRules: readonly string[];
}

/** What an operator searches events by; every given field must match (an empty search matches everything). */
export interface EventSearch {
  /** Part of the lead's email, any case. */
  readonly email?: string;
  /** The promoter's id (whole), or part of its email or name (any case). */
  readonly promoter?: string;
  /** A rule id (whole): events that rule was evaluated on, matched or not. */
  readonly rule?: string;
  /** An event type or glob, as a rule's `on:` reads it: matches the type or one of the canonical types. */
  readonly type?: string;
}

/** A search checked once, ready to run on many summaries. */
export interface CompiledEventSearch {
  readonly search: EventSearch;
  readonly typePattern: EventPattern | null;
}

/** The fields of {@link EventSearch}, in the order the form shows them. */
export const EVENT_SEARCH_FIELDS = ['email', 'promoter', 'rule', 'type'] as const;

/** Longest accepted search term: longer text is no email, id or type, and is refused. */
const SEARCH_TERM_MAX_LENGTH = 200;

/** How many matches a search returns at most. @defaultValue for {@link searchRecentEvents} */
export const SEARCH_RESULTS_CAP = 50;

/** Traces read per round trip (one ZREVRANGE and one MGET): bounds the memory one page holds. */
const SEARCH_PAGE_SIZE = 250;

/**
 * The summary of a stored trace (pure). Email and promoter come from the event's canonical
 * `affiliate` fields; an event stored without them gets them from its source's normalizer, the one
 * description of those fields, so the same event reads the same whatever it was stored with.
 */
export function summarizeEventTrace(trace: EventTrace, registry: SourceRegistry = sourceRegistry): EventSummary {
  const { event, runs } = trace;
  const affiliate = affiliateOf(event, registry);
  const latest = runs.at(-1);
  const evaluated = new Set<string>();
  for (const run of runs) {
    for (const rule of run.matched) evaluated.add(rule.ruleId);
    for (const rule of run.unmatched) evaluated.add(rule.ruleId);
    for (const failure of run.failures) evaluated.add(failure.ruleId);
  }
  return {
    eventId: event.id,
    type: event.type,
    canonicalTypes: event.canonicalTypes ?? [],
    status: event.status,
    receivedAt: event.receivedAt,
    email: affiliate?.lead.email ?? null,
    promoter: { id: affiliate?.promoter.id ?? null, email: affiliate?.promoter.email ?? null, name: affiliate?.promoter.name ?? null },
    matchedRules: latest ? latest.matched.map((rule) => rule.ruleId) : [],
    evaluatedRules: [...evaluated],
  };
}

/** The line of an indexed id whose trace has expired. */
export function summarizeExpiredEvent(eventId: string): EventSummary {
  return {
    eventId, type: null, canonicalTypes: [], status: null, receivedAt: null, email: null,
    promoter: { id: null, email: null, name: null }, matchedRules: [], evaluatedRules: [],
  };
}

function affiliateOf(event: BridgeEvent, registry: SourceRegistry): AffiliateFields | null {
  if (event.affiliate) return event.affiliate;
  const source = Object.hasOwn(registry, event.source) ? registry[event.source] : undefined;
  return describeAffiliateEvent(event, source?.normalizeAffiliate).affiliate ?? null;
}

/**
 * Checks a search as typed (terms trimmed; blank ones dropped).
 * @returns the compiled search, or the exact sentence saying what is wrong with it.
 */
export function compileEventSearch(input: Readonly<Record<string, unknown>>): CompiledEventSearch | { readonly error: string } {
  const search: Record<string, string> = {};
  for (const field of EVENT_SEARCH_FIELDS) {
    const value = input[field];
    if (typeof value !== 'string' || value.trim() === '') continue;
    if (value.length > SEARCH_TERM_MAX_LENGTH) return { error: `The ${field} to search for is longer than ${SEARCH_TERM_MAX_LENGTH} characters.` };
    search[field] = value.trim();
  }
  let typePattern: EventPattern | null = null;
  if (search.type !== undefined) {
    const parsed = parseEventPattern(search.type);
    if ('error' in parsed) return { error: `The type to search for is not an event type or glob as a rule's on: takes it (${parsed.error}).` };
    typePattern = parsed;
  }
  return { search, typePattern };
}

/** Whether a search has any term. */
export function isEmptySearch(search: EventSearch): boolean {
  return EVENT_SEARCH_FIELDS.every((field) => search[field] === undefined);
}

/** Whether `summary` matches every term of the search (pure). An expired event matches no term. */
export function matchesEventSearch(summary: EventSummary, compiled: CompiledEventSearch): boolean {
  const { search, typePattern } = compiled;
  if (search.email !== undefined && !containsIgnoringCase(summary.email, search.email)) return false;
  if (search.promoter !== undefined) {
    const { id, email, name } = summary.promoter;
    if (id !== search.promoter && !containsIgnoringCase(email, search.promoter) && !containsIgnoringCase(name, search.promoter)) return false;
  }
  if (search.rule !== undefined && !summary.evaluatedRules.includes(search.rule)) return false;
  if (typePattern !== null) {
    const types = summary.type === null ? [] : [summary.type, ...summary.canonicalTypes];
    if (!types.some((type) => matchesEventPattern(typePattern, type))) return false;
  }
  return true;
}

function containsIgnoringCase(text: string | null, part: string): boolean {
  return text !== null && text.toLowerCase().includes(part.toLowerCase());
}

/** What {@link searchRecentEvents} found, and how far it looked. */
export interface EventSearchResult {
  /** The matches, newest first, at most the cap. */
  readonly events: EventSummary[];
  /** How many of the newest indexed events were read. */
  readonly searched: number;
  /** True when the cap stopped the search before the end of the index: older matches may exist. */
  readonly isCapped: boolean;
}

/**
 * Reads the recent-events index (the newest 10,000 event ids) newest first, a page of ids and one
 * MGET of their traces at a time, and keeps the events that match, until `cap` matches or the end
 * of the index. Only reads Redis.
 * @param cap most matches returned. @defaultValue SEARCH_RESULTS_CAP
 */
export async function searchRecentEvents(
  redis: RedisConnection,
  prefix: string,
  compiled: CompiledEventSearch,
  cap: number = SEARCH_RESULTS_CAP,
): Promise<EventSearchResult> {
  const events: EventSummary[] = [];
  let searched = 0;
  for (let start = 0; ; start += SEARCH_PAGE_SIZE) {
    const page = await readRecentEventSummaries(redis, prefix, start, SEARCH_PAGE_SIZE);
    for (const summary of page) {
      searched += 1;
      if (!matchesEventSearch(summary, compiled)) continue;
      events.push(summary);
      if (events.length === cap) return { events, searched, isCapped: searched < (await redis.zcard(bridgeKeys(prefix).recentEvents)) };
    }
    if (page.length < SEARCH_PAGE_SIZE) return { events, searched, isCapped: false };
  }
}

/** The summaries of `count` indexed events from position `start` (0: the newest), in one ZREVRANGE and one MGET. */
export async function readRecentEventSummaries(redis: RedisConnection, prefix: string, start: number, count: number): Promise<EventSummary[]> {
  const keys = bridgeKeys(prefix);
  const ids = await redis.zrevrange(keys.recentEvents, start, start + count - 1);
  if (ids.length === 0) return [];
  const traces = await redis.mget(...ids.map((id) => keys.trace(id)));
  return ids.map((id, index) => {
    const stored = traces[index];
    return stored ? summarizeEventTrace(decodeStoredTrace(stored)) : summarizeExpiredEvent(id);
  });
}
