import type * as yup from 'yup';
import type { BridgeEvent } from '../events/event.js';
import { MAX_LISTED_PROBLEMS, checkPayload } from './schema-fields.js';
import type { Source } from './source.js';

/** The schemas of one event type: its payload, and the envelope fields kept beside it (if any). */
export interface EventSchemas {
  readonly data: yup.ISchema<unknown>;
  readonly envelope?: yup.ISchema<unknown>;
}

/**
 * Checks a normalised event against its type's schemas; a source's `checkSchema` is this with its
 * own lookup. An event of an unknown type has no schemas and was quarantined by `normalize`.
 */
export function checkEventAgainst(schemas: EventSchemas | null, event: BridgeEvent): string[] {
  if (schemas === null) return [];
  const problems = checkPayload(schemas.data, event.data, 'data');
  if (schemas.envelope && event.envelope) problems.push(...checkPayload(schemas.envelope, event.envelope, 'envelope'));
  return problems;
}

/**
 * The event as rules may see it: unchanged when already quarantined or when its payload passes
 * its schema, else quarantined with the schema's problems (at most MAX_LISTED_PROBLEMS listed).
 */
export function applySchemaCheck(source: Pick<Source, 'checkSchema'>, event: BridgeEvent): BridgeEvent {
  if (event.status === 'quarantined') return event;
  const problems = source.checkSchema(event);
  if (problems.length === 0) return event;
  return { ...event, status: 'quarantined', validationErrors: listProblems(problems), quarantinedBy: 'schema' };
}

/**
 * The event a replay plans: a stored event that its payload's schema quarantined (`quarantinedBy:
 * 'schema'`) is checked again with the current schemas, so it becomes valid once they accept it
 * (a fixed schema, a newer bridge) and stays quarantined, with the problems found now, while they
 * do not. Any other event is replayed as stored: a valid one stays valid, and what intake found
 * (unknown type, unreadable envelope field, a payload too deep or an array too long to check) or
 * a conflicting duplicate cannot change, so such an event stays quarantined.
 */
export function recheckForReplay(source: Pick<Source, 'checkSchema'>, event: BridgeEvent): BridgeEvent {
  if (event.status !== 'quarantined' || event.quarantinedBy !== 'schema' || event.conflict !== undefined) return event;
  // The earlier verdict is dropped: the check below decides it afresh.
  const { validationErrors: _earlierProblems, quarantinedBy: _earlierCheck, ...unchecked } = event;
  return applySchemaCheck(source, { ...unchecked, status: 'valid' });
}

/** At most MAX_LISTED_PROBLEMS problems, and how many more there were. */
function listProblems(problems: readonly string[]): string[] {
  return problems.length > MAX_LISTED_PROBLEMS
    ? [...problems.slice(0, MAX_LISTED_PROBLEMS), `and ${problems.length - MAX_LISTED_PROBLEMS} more problems`]
    : [...problems];
}
