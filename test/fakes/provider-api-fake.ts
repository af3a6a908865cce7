import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * What the FirstPromoter and Rewardful API fakes share: an HTTP server on a free loopback port, the
 * objects it lists, a log of requests and of webhook deliveries, statuses queued by `failNext`, the
 * provider's sliding request window, and posting a webhook to the bridge. Each fake keeps its own
 * documented behaviour (authentication, 429 shape, pagination, webhook envelope) and its citations.
 */

/** A webhook the fake sent, with the bridge's answer, or `lost` when it never reached the bridge. */
export interface FakeDelivery {
  readonly eventId: string;
  readonly type: string;
  readonly status: number | 'lost';
}

export abstract class ProviderApiFake<Collection extends string> {
  readonly #server: Server;
  readonly #objects: Record<Collection, Record<string, unknown>[]>;
  readonly #failures: number[] = [];
  readonly #recent: number[] = [];
  /** Every request, for assertions: path with query, and the status answered. */
  readonly requests: Array<{ url: string; status: number }> = [];
  /** Webhooks the fake posted (or "lost"), with the bridge's answer. */
  readonly deliveries: FakeDelivery[] = [];
  /** Where `deliver` posts (the bridge's webhook URL); a restarted bridge may have a new port. */
  webhookUrl: string | undefined;

  protected constructor(collections: readonly Collection[], webhookUrl: string | undefined) {
    this.#server = createServer((request, response) => this.handle(request, response));
    this.#objects = Object.fromEntries(collections.map((collection) => [collection, []])) as unknown as Record<Collection, Record<string, unknown>[]>;
    this.webhookUrl = webhookUrl;
  }

  /** Listens on a free loopback port; `start` of each fake builds it, then calls this. */
  protected async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  /** `http://127.0.0.1:<port>`: each fake adds its API's base path. */
  protected get origin(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** The next requests answer these statuses instead (e.g. 429, 503), one each, in order. */
  failNext(...statuses: number[]): void {
    this.#failures.push(...statuses);
  }

  add(collection: Collection, object: Record<string, unknown>): Record<string, unknown> {
    this.#objects[collection].push(object);
    return object;
  }

  /** Replaces an object's fields (a state change at the provider). */
  update(collection: Collection, id: unknown, changes: Record<string, unknown>): Record<string, unknown> {
    const object = this.#objects[collection].find((candidate) => candidate.id === id);
    if (!object) throw new Error(`no ${collection} ${String(id)}`);
    Object.assign(object, changes);
    return object;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** The objects of a collection, in the order they were added. */
  protected objectsOf(collection: Collection): readonly Record<string, unknown>[] {
    return this.#objects[collection];
  }

  /** The status queued by `failNext` for this request, if any. */
  protected takeFailure(): number | undefined {
    return this.#failures.shift();
  }

  /**
   * Counts a request against the provider's limit of `limit` requests per sliding `windowMs`.
   * @returns null when it is admitted, else the ms until the oldest request in the window leaves it.
   */
  protected admit(limit: number, windowMs: number): number | null {
    const now = Date.now();
    while (this.#recent.length > 0 && this.#recent[0]! <= now - windowMs) this.#recent.shift();
    if (this.#recent.length >= limit) return this.#recent[0]! + windowMs - now;
    this.#recent.push(now);
    return null;
  }

  /**
   * Posts a webhook body to the bridge and records the outcome. With `lost`, no URL, or nothing
   * listening (the bridge is down), the delivery is recorded as lost: FirstPromoter's classic and
   * Rewardful's exhausted deliveries are never sent again.
   */
  protected async post(delivery: { eventId: string; type: string; body: string; headers?: Record<string, string>; lost?: boolean }): Promise<number | 'lost'> {
    const record = (status: number | 'lost') => {
      this.deliveries.push({ eventId: delivery.eventId, type: delivery.type, status });
      return status;
    };
    if (delivery.lost || !this.webhookUrl) return record('lost');
    try {
      const response = await fetch(this.webhookUrl, { method: 'POST', headers: { 'Content-Type': 'application/json', ...delivery.headers }, body: delivery.body });
      await response.arrayBuffer();
      return record(response.status);
    } catch {
      return record('lost');
    }
  }

  protected abstract handle(request: IncomingMessage, response: ServerResponse): void;
}
