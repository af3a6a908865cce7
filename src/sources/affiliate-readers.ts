import type { AffiliateAmount } from '../events/affiliate.js';
import { isJsonObject } from './schema-fields.js';

/*
 * Defensive readers shared by the sources' affiliate normalizers. They run on payloads that have
 * not been schema-checked yet (the intake normalizes, the events worker checks), so a field of the
 * wrong type reads as null instead of throwing or passing a number where rules expect a string.
 */

/** The object at `value`, or an empty one: missing and mistyped objects read alike. */
export function readObject(value: unknown): Record<string, unknown> {
  return isJsonObject(value) ? value : {};
}

/** A non-blank string, trimmed; providers send `""` for "none", which reads as null. */
export function readText(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

/** An id as a string for every provider: FirstPromoter's integers (`21381518` → `"21381518"`), Rewardful's UUIDs. */
export function readId(value: unknown): string | null {
  if (Number.isSafeInteger(value)) return String(value);
  return readText(value);
}

/** A whole amount (cents, or a count of a non-cash unit); a fraction or anything else reads as null. */
export function readWholeAmount(value: unknown): number | null {
  return Number.isSafeInteger(value) ? (value as number) : null;
}

/** `first last`, from whichever parts are there; null when neither is. */
export function joinName(first: unknown, last: unknown): string | null {
  const name = [readText(first), readText(last)].filter((part) => part !== null).join(' ');
  return name === '' ? null : name;
}

/**
 * A provider's status as the canonical one through `mapping` (own keys only), or the provider's
 * own value when the mapping has no entry for it.
 */
export function mapStatus(value: unknown, mapping: Readonly<Record<string, string>>): string | null {
  const status = readText(value);
  if (status === null) return null;
  return Object.hasOwn(mapping, status) ? (mapping[status] as string) : status;
}

/** An amount object from its parts. */
export function buildAmount(id: unknown, amount: unknown, currency: unknown, status: string | null): AffiliateAmount {
  return { id: readId(id), amount_cents: readWholeAmount(amount), currency: readText(currency), status };
}

/**
 * The new value of `field` in a change set `{ field: [old, new] }` (FirstPromoter v2's `changes`),
 * or undefined when the field did not change or the set is not of that shape.
 */
export function readChangedTo(changes: unknown, field: string): unknown {
  if (!isJsonObject(changes) || !Object.hasOwn(changes, field)) return undefined;
  const change = changes[field];
  return Array.isArray(change) && change.length === 2 ? change[1] : undefined;
}
