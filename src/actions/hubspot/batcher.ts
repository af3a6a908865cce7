import { PermanentActionError, RetryableActionError } from '../../errors.js';
import { abortedError } from '../pacing.js';
import { HubspotPermanentError } from './errors.js';

/** One input of `POST /crm/v3/objects/contacts/batch/upsert`. */
export interface ContactUpsertInput {
  readonly id: string;
  readonly idProperty: 'email';
  readonly properties: Record<string, string>;
}

/** What one upsert came to. */
export interface ContactUpsertOutcome {
  /** HubSpot's contact id, when the answer named one. */
  readonly contactId?: string;
  /** Whether HubSpot created the contact (`new` in its answer). */
  readonly isNew?: boolean;
}

/**
 * Sends one batch call (pacing included) and returns the outcome per merge key (lower-cased email)
 * that HubSpot reported. Throws PermanentActionError / RetryableActionError for the whole call.
 */
export type ContactBatchSender = (inputs: readonly ContactUpsertInput[]) => Promise<Map<string, ContactUpsertOutcome>>;

/** Options of {@link ContactUpsertBatcher}. */
export interface ContactUpsertBatcherOptions {
  readonly send: ContactBatchSender;
  /** How long the first waiting upsert waits for company, in ms. @defaultValue 50 */
  readonly windowMs?: number;
  /** A batch is sent at once when it holds this many distinct emails. @defaultValue 100 (HubSpot's maximum) */
  readonly maxInputs?: number;
}

interface Waiter {
  settled: boolean;
  resolve(outcome: ContactUpsertOutcome): void;
  reject(error: unknown): void;
}

interface PendingContact {
  readonly key: string;
  /** The email as the first caller gave it; HubSpot matches emails case-insensitively. */
  readonly email: string;
  readonly properties: Record<string, string>;
  readonly waiters: Waiter[];
}

/** The merge key of an email: HubSpot treats emails case-insensitively. */
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
 * - Upserts of the same email (case-insensitive) merge into one input, later properties winning;
 *   HubSpot rejects a batch naming the same id twice.
 * - Each caller's promise settles with its own outcome. When a batch fails with a 400, the failure
 *   may concern a single input (an invalid email, a property that does not exist in one rule's
 *   update), so the batch is split in halves and retried until the bad inputs stand alone: one bad
 *   email among n costs about 2·log2(n) calls, not n, and fails only its own callers. Every other
 *   failure (401/403, 429, 5xx, timeout) concerns the whole call and fails every caller alike.
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

  constructor(options: ContactUpsertBatcherOptions) {
    if (typeof options.send !== 'function') throw new TypeError('ContactUpsertBatcher needs a send function');
    const { windowMs = 50, maxInputs = 100 } = options;
    this.#send = options.send;
    this.#windowMs = windowMs;
    this.#maxInputs = Math.max(1, Math.min(100, maxInputs));
  }

  /** Queues one upsert; resolves or rejects with this caller's own outcome. */
  upsert(email: string, properties: Record<string, string>, signal?: AbortSignal): Promise<ContactUpsertOutcome> {
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
      const existing = this.#pending.get(key);
      if (existing) {
        Object.assign(existing.properties, properties);
        existing.waiters.push(waiter);
      } else {
        this.#pending.set(key, { key, email, properties: { ...properties }, waiters: [waiter] });
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
    const inputs = batch.map<ContactUpsertInput>((contact) => ({
      id: contact.email,
      idProperty: 'email',
      properties: contact.properties,
    }));
    let outcomes: Map<string, ContactUpsertOutcome>;
    try {
      outcomes = await this.#send(inputs);
    } catch (error) {
      if (batch.length > 1 && isPossiblyPerInput(error)) {
        await this.#bisect(batch);
        return;
      }
      for (const contact of batch) for (const waiter of contact.waiters) waiter.reject(error);
      return;
    }
    const missing = batch.filter((contact) => !outcomes.has(contact.key));
    for (const contact of batch) {
      const outcome = outcomes.get(contact.key);
      if (outcome) for (const waiter of contact.waiters) waiter.resolve(outcome);
    }
    if (missing.length === 0) return;
    // A 207 answer lists errors for some inputs: isolate them the same way as a 400.
    if (missing.length > 1 || batch.length > 1) {
      await (missing.length > 1 ? this.#bisect(missing) : this.#sendBatch(missing));
      return;
    }
    const error = new PermanentActionError('upsert_rejected', 'HubSpot accepted the call but reported no result for this contact');
    for (const waiter of missing[0].waiters) waiter.reject(error);
  }

  async #bisect(batch: readonly PendingContact[]): Promise<void> {
    const middle = Math.ceil(batch.length / 2);
    // Sequential halves: both would wait for pacing slots anyway, and the first half's answer often
    // settles most callers early.
    await this.#sendBatch(batch.slice(0, middle));
    await this.#sendBatch(batch.slice(middle));
  }
}

/** A 400/422 (VALIDATION_ERROR) may concern a single input of a batch; other failures concern all. */
function isPossiblyPerInput(error: unknown): boolean {
  return error instanceof HubspotPermanentError && (error.status === 400 || error.status === 422);
}
