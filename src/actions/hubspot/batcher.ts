import { PermanentActionError, RetryableActionError } from '../../errors.js';
import { abortedError } from '../pacing.js';
import { HubspotPermanentError } from './errors.js';

/** One input of `POST /crm/v3/objects/contacts/batch/upsert`. */
export interface ContactUpsertInput {
  /** The normalized email (see normalizeEmail). */
  readonly id: string;
  readonly idProperty: 'email';
  /**
   * Unique within its call. With one on every input HubSpot answers a batch with some bad inputs
   * 207, listing each bad input's error under `context.objectWriteTraceId`, instead of failing the
   * whole batch with 400 (https://developers.hubspot.com/docs/api-reference/error-handling,
   * "Multi-status errors"); results carry it too, and results are paired by it, never by position.
   */
  readonly objectWriteTraceId: string;
  readonly properties: Record<string, string>;
  /**
   * Properties to write only where the contact has no value (`write: if_empty`); the sender reads
   * the contacts first and drops those that hold one. Never sent on the wire.
   */
  readonly writeIfEmpty?: readonly string[];
}

/** What one upsert came to. */
export interface ContactUpsertOutcome {
  /** HubSpot's contact id, when the answer named one. */
  readonly contactId?: string;
  /** Whether HubSpot created the contact (`new` in its answer). */
  readonly isNew?: boolean;
  /** `write: if_empty` properties left out because the contact already had a value. */
  readonly keptExisting?: readonly string[];
}

/** What one batch call answered, per input (by objectWriteTraceId). */
export interface ContactBatchAnswer {
  readonly results: ReadonlyMap<string, ContactUpsertOutcome>;
  /** Inputs HubSpot refused in a 207 answer, each with its own error. */
  readonly errors: ReadonlyMap<string, PermanentActionError>;
}

/**
 * Sends one batch call (pacing included) and returns the outcome per objectWriteTraceId that
 * HubSpot reported. Throws PermanentActionError / RetryableActionError for the whole call.
 */
export type ContactBatchSender = (inputs: readonly ContactUpsertInput[]) => Promise<ContactBatchAnswer>;

/** HubSpot's limit of inputs per batch call: the default and the cap of `maxInputs`. */
const MAX_BATCH_INPUTS = 100;

/** How long the first waiting upsert waits for company, in ms, unless `windowMs` says otherwise. */
const DEFAULT_WINDOW_MS = 50;

/** Options of {@link ContactUpsertBatcher}. */
export interface ContactUpsertBatcherOptions {
  /** Sends one batch call, pacing included; required (the constructor throws TypeError without it). */
  readonly send: ContactBatchSender;
  /** How long the first waiting upsert waits for company, in ms. @defaultValue 50 (DEFAULT_WINDOW_MS) */
  readonly windowMs?: number;
  /** A batch is sent at once when it holds this many distinct emails; at most 100. @defaultValue 100 (MAX_BATCH_INPUTS, HubSpot's maximum) */
  readonly maxInputs?: number;
}

interface Waiter {
  settled: boolean;
  resolve(outcome: ContactUpsertOutcome): void;
  reject(error: unknown): void;
}

interface PendingContact {
  /** The normalized email: merge key and upsert id. */
  readonly key: string;
  readonly properties: Record<string, string>;
  /** The names among `properties` whose last writer said `write: if_empty`. */
  readonly writeIfEmpty: Set<string>;
  readonly waiters: Waiter[];
}

/** The merge key of an email: the normalized email the action sends. */
export function contactKey(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * Collects concurrent contact upserts of this process into batch calls.
 *
 * - The first upsert opens a window (`windowMs`); everything arriving meanwhile joins one call,
 *   which leaves early when `maxInputs` distinct emails are waiting. One call costs one pacing slot
 *   instead of one per contact: at HubSpot's 100 requests per 10 s that is the difference between
 *   10 and 1000 contacts per second.
 * - Upserts of the same email merge into one input, later properties winning; HubSpot rejects a
 *   batch naming the same id twice.
 * - Every input carries an objectWriteTraceId, so a batch with bad inputs is answered 207 with one
 *   error per bad input: each caller gets its own input's error, the others their results, in one
 *   call. Results and errors are paired by that id, never by position.
 * - When HubSpot still fails the whole call for one input's sake, the batch is split:
 *   - 400/422 naming properties (PROPERTY_DOESNT_EXIST because `hubspot setup-properties` never
 *     ran, READ_ONLY_VALUE): every input carrying one of them fails with that error at once, and
 *     the rest go again together. A batch whose inputs all fail for one reason costs 1 call, not
 *     2n−1; k distinct bad properties cost at most k+1.
 *   - any other 400/422, and 409 CONFLICT (`Contact already exists. Existing ID: …`, which HubSpot
 *     answers for the whole batch and which names no input): halves, until the bad input stands
 *     alone: about 2·log2(n) calls for one bad input among n, failing only its own callers.
 *   Every other failure (401/403, 429, 5xx, timeout) concerns the whole call and fails every caller alike.
 * - A caller whose signal aborts is rejected at once (retryable `timeout`); its input may still be
 *   sent with the batch, which is harmless for an idempotent upsert.
 */
export class ContactUpsertBatcher {
  readonly #send: ContactBatchSender;
  readonly #windowMs: number;
  readonly #maxInputs: number;
  #pending = new Map<string, PendingContact>();
  #timer: NodeJS.Timeout | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  #isClosed = false;
  #nextTraceId = 0;

  constructor(options: ContactUpsertBatcherOptions) {
    if (typeof options.send !== 'function') throw new TypeError('ContactUpsertBatcher needs a send function');
    const { windowMs = DEFAULT_WINDOW_MS, maxInputs = MAX_BATCH_INPUTS } = options;
    this.#send = options.send;
    this.#windowMs = windowMs;
    this.#maxInputs = Math.max(1, Math.min(MAX_BATCH_INPUTS, maxInputs));
  }

  /**
   * Queues one upsert; resolves or rejects with this caller's own outcome. `writeIfEmpty` names the
   * properties written only where the contact has none; merged upserts keep each property's last
   * writer's mode, as they keep its last value.
   */
  upsert(email: string, properties: Record<string, string>, signal?: AbortSignal, writeIfEmpty: readonly string[] = []): Promise<ContactUpsertOutcome> {
    if (this.#isClosed) {
      return Promise.reject(new RetryableActionError('shutting_down', 'the HubSpot batcher is closed'));
    }
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    return new Promise<ContactUpsertOutcome>((resolve, reject) => {
      const waiter: Waiter = {
        settled: false,
        resolve: (outcome) => {
          if (waiter.settled) return;
          waiter.settled = true;
          signal?.removeEventListener('abort', onAbort);
          resolve(outcome);
        },
        reject: (error) => {
          if (waiter.settled) return;
          waiter.settled = true;
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      const onAbort = () => waiter.reject(abortedError(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });

      const key = contactKey(email);
      let contact = this.#pending.get(key);
      if (contact) {
        Object.assign(contact.properties, properties);
        contact.waiters.push(waiter);
      } else {
        contact = { key, properties: { ...properties }, writeIfEmpty: new Set(), waiters: [waiter] };
        this.#pending.set(key, contact);
      }
      for (const name of Object.keys(properties)) {
        if (writeIfEmpty.includes(name)) contact.writeIfEmpty.add(name);
        else contact.writeIfEmpty.delete(name);
      }
      if (this.#pending.size >= this.#maxInputs) this.flush();
      else this.#timer ??= setTimeout(() => this.flush(), this.#windowMs);
    });
  }

  /** Sends whatever is waiting now, without waiting for the window to close. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending.values()];
    this.#pending = new Map();
    const run = this.#sendBatch(batch).finally(() => this.#inFlight.delete(run));
    this.#inFlight.add(run);
  }

  /** Sends what is waiting and waits for every call in flight; later upserts are refused. */
  async close(): Promise<void> {
    this.#isClosed = true;
    this.flush();
    await Promise.all([...this.#inFlight]);
  }

  async #sendBatch(batch: readonly PendingContact[]): Promise<void> {
    // Trace ids are unique per call: a counter is enough, and it never carries customer data.
    const byTraceId = new Map<string, PendingContact>();
    const inputs = batch.map<ContactUpsertInput>((contact) => {
      const objectWriteTraceId = `t${(this.#nextTraceId += 1)}`;
      byTraceId.set(objectWriteTraceId, contact);
      return {
        id: contact.key,
        idProperty: 'email',
        objectWriteTraceId,
        properties: contact.properties,
        ...(contact.writeIfEmpty.size > 0 ? { writeIfEmpty: [...contact.writeIfEmpty] } : {}),
      };
    });
    let answer: ContactBatchAnswer;
    try {
      answer = await this.#send(inputs);
    } catch (error) {
      if (batch.length > 1 && isPossiblyPerInput(error)) {
        await this.#split(batch, error);
        return;
      }
      rejectAll(batch, error);
      return;
    }
    const missing: PendingContact[] = [];
    for (const [traceId, contact] of byTraceId) {
      const outcome = answer.results.get(traceId);
      const error = answer.errors.get(traceId);
      if (outcome) for (const waiter of contact.waiters) waiter.resolve(outcome);
      else if (error) for (const waiter of contact.waiters) waiter.reject(error);
      else missing.push(contact);
    }
    if (missing.length === 0) return;
    // HubSpot named neither a result nor an error for these: ask again, in halves when it said
    // nothing about any of them (each round is smaller, so this ends).
    if (missing.length < batch.length) {
      await this.#sendBatch(missing);
      return;
    }
    if (batch.length > 1) {
      await this.#halves(batch);
      return;
    }
    rejectAll(missing, new PermanentActionError('upsert_rejected', 'HubSpot accepted the call but reported no result for this contact'));
  }

  /** Splits a batch HubSpot failed as a whole for what may be one input's sake (see the class doc). */
  async #split(batch: readonly PendingContact[], error: HubspotPermanentError): Promise<void> {
    const named = new Set(error.invalidProperties);
    if (named.size > 0) {
      const carrying = batch.filter((contact) => Object.keys(contact.properties).some((name) => named.has(name)));
      if (carrying.length > 0) {
        rejectAll(carrying, error);
        const rest = batch.filter((contact) => !carrying.includes(contact));
        if (rest.length > 0) await this.#sendBatch(rest);
        return;
      }
    }
    await this.#halves(batch);
  }

  async #halves(batch: readonly PendingContact[]): Promise<void> {
    const middle = Math.ceil(batch.length / 2);
    // Sequential halves: both would wait for pacing slots anyway, and the first half's answer often
    // settles most callers early.
    await this.#sendBatch(batch.slice(0, middle));
    await this.#sendBatch(batch.slice(middle));
  }
}

function rejectAll(batch: readonly PendingContact[], error: unknown): void {
  for (const contact of batch) for (const waiter of contact.waiters) waiter.reject(error);
}

/**
 * A 400/422 (VALIDATION_ERROR) or a 409 (CONFLICT) may concern a single input of a batch; other
 * failures concern all.
 */
function isPossiblyPerInput(error: unknown): error is HubspotPermanentError {
  return error instanceof HubspotPermanentError && (error.status === 400 || error.status === 422 || error.status === 409);
}
