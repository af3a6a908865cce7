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
  const listed =
    problems.length > MAX_LISTED_PROBLEMS
      ? [...problems.slice(0, MAX_LISTED_PROBLEMS), `and ${problems.length - MAX_LISTED_PROBLEMS} more problems`]
      : problems;
  return { ...event, status: 'quarantined', validationErrors: listed };
}
