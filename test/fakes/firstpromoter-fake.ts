import { randomInt, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProviderApiFake } from './provider-api-fake.js';

/**
 * FirstPromoter as a webhook *sender*: posts deliveries to an endpoint URL the way FirstPromoter
 * does, and reads the answers the way its documentation says it does. Each behaviour cites its
 * source (github.com/firstpromoter/docs, published at docs.firstpromoter.com):
 *
 * - Classic (v1) deliveries go to a URL configured per campaign, which FirstPromoter echoes back
 *   inside payloads as `data.campaign.default_webhook_url` (webhooks/promoter-accepted.mdx,
 *   webhooks/fulfilment-pending.mdx examples). The bridge authenticates FirstPromoter with a
 *   `?token=` in that URL, so the token travels inside the payload. The documentation shows a
 *   placeholder URL; the less forgiving reading is that the real one is echoed whole, query included.
 * - Classic events other than `fulfilment_pending` are never retried: "For events other than
 *   fulfilment_pending, if your endpoint is unavailable at the time of delivery the event will not
 *   be re-sent" (webhooks/deliveries.mdx, "Retry behaviour"). A non-2xx loses the event.
 * - `fulfilment_pending` (webhooks/deliveries.mdx, "The fulfilment_pending response protocol"):
 *   200 marks the reward fulfilled; another 2xx keeps it pending and "the event will fire again on
 *   the next fulfilment check"; any other status is an error, retried "up to 7 times throughout the
 *   day", after which `has_issues` is set on the reward.
 * - v2 test deliveries (webhooks-v2/deliveries.mdx, "Sending a test delivery"): a real envelope with
 *   `"data": { "test": true }`. The documentation promises no event id or timestamp for the sample
 *   envelope; `sendTest` can leave them out (the less forgiving reading). Like any v2 delivery, a
 *   2xx marks it `delivered`, anything else `retrying`/`failed` (webhooks-v2/deliveries.mdx).
 */

/** What FirstPromoter concluded from the answers to one classic delivery. */
export type ClassicOutcome =
  /** 2xx: acknowledged. */
  | 'delivered'
  /** Non-2xx to an event FirstPromoter never retries: the event is gone. */
  | 'lost';

/** The reward's state in FirstPromoter after a `fulfilment_pending` delivery and its retries. */
export type FulfilmentState =
  /** The endpoint answered 200. */
  | 'fulfilled'
  /** Another 2xx: still pending; the event fires again at the next fulfilment check. */
  | 'pending'
  /** Every attempt failed: `has_issues` is set. */
  | 'has_issues';

/** "up to 7 retries spread throughout the day" after the first attempt. */
export const FULFILMENT_RETRIES = 7;

export interface SentDelivery {
  readonly body: Record<string, unknown>;
  /** The status of every attempt, in order. */
  readonly statuses: readonly number[];
}

export class FirstPromoterSender {
  /** Every attempt's status, for assertions (one entry per POST). */
  readonly attempts: number[] = [];

  /**
   * @param endpointUrl the webhook URL as configured in FirstPromoter, `?token=` included; it is
   *   what payloads echo as `default_webhook_url`.
   */
  constructor(readonly endpointUrl: string) {}

  /** A classic delivery of `type`, once: FirstPromoter does not retry these. */
  async sendClassic(type: string, data: Record<string, unknown>): Promise<SentDelivery & { outcome: ClassicOutcome }> {
    const body = this.classicEnvelope(type, data);
    const status = await this.post(body);
    return { body, statuses: [status], outcome: is2xx(status) ? 'delivered' : 'lost' };
  }

  /**
   * A `fulfilment_pending` delivery with its documented retries: up to 7 more attempts while the
   * answer is neither 2xx; the retries of a real day are sent back to back here.
   */
  async sendFulfilmentPending(data: Record<string, unknown>): Promise<SentDelivery & { state: FulfilmentState }> {
    const body = this.classicEnvelope('fulfilment_pending', data);
    const statuses: number[] = [];
    for (let attempt = 0; attempt <= FULFILMENT_RETRIES; attempt += 1) {
      const status = await this.post(body);
      statuses.push(status);
      if (status === 200) return { body, statuses, state: 'fulfilled' };
      if (is2xx(status)) return { body, statuses, state: 'pending' };
    }
    return { body, statuses, state: 'has_issues' };
  }

  /**
   * A v2 test delivery for `eventType`, as "Send test" sends it. `withIds: false` leaves out the
   * event id and timestamp, which the documentation does not promise for the sample envelope.
   */
  async sendTest(eventType: string, options: { withIds?: boolean } = {}): Promise<SentDelivery & { deliveryStatus: 'delivered' | 'retrying' }> {
    const entity = eventType.slice(0, eventType.indexOf('.'));
    const body: Record<string, unknown> = {
      ...(options.withIds === false ? {} : { event_id: randomUUID() }),
      event_type: eventType,
      action: eventType.slice(eventType.lastIndexOf('.') + 1),
      entity_type: entity,
      entity_id: null,
      changes: {},
      data: { test: true },
      ...(options.withIds === false ? {} : { timestamp: new Date().toISOString() }),
    };
    const status = await this.post(body);
    return { body, statuses: [status], deliveryStatus: is2xx(status) ? 'delivered' : 'retrying' };
  }

  /**
   * The campaign object FirstPromoter puts in `promoter_accepted` and `fulfilment_pending`, with
   * the receiving URL echoed as `default_webhook_url` (see the class comment).
   */
  campaign(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      id: 17476,
      name: 'Campaign Name',
      landing_url: 'https://www.your-company.com',
      description: 'Private campaign with 2 plans',
      private: false,
      color: '#42a5f5',
      default_webhook_url: this.endpointUrl,
      auto_approve_rewards: true,
      auto_approve_promoters: false,
      offer: null,
      referral_reward: null,
      promotion_reward: null,
      target_reward: null,
      ...overrides,
    };
  }

  private classicEnvelope(type: string, data: Record<string, unknown>): Record<string, unknown> {
    return { event: { id: randomInt(100_000_000, 999_999_999), type, created_at: new Date().toISOString() }, data };
  }

  private async post(body: Record<string, unknown>): Promise<number> {
    const response = await fetch(this.endpointUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    await response.arrayBuffer();
    this.attempts.push(response.status);
    return response.status;
  }
}

function is2xx(status: number): boolean {
  return status >= 200 && status < 300;
}


/*
 * FirstPromoter as a REST API (v2) *server*, for reconciliation. Each behaviour cites
 * github.com/firstpromoter/docs, api-reference-v2/api-admin/:
 *
 * - Paths under `/api/v2/company`: `GET /referrals`, `/commissions`, `/promoters`, `/payouts`
 *   (openapi-v2-*.json `servers` and `paths`).
 * - Authentication: `Authorization: Bearer <API key>` and `Account-ID` on every request
 *   (authentication.mdx; the OpenAPI `AccountId` parameter is `required: true`). 401 "the Bearer
 *   access token is missing, invalid, expired, or revoked. No JSON response body is returned."
 *   A missing or wrong Account-ID is answered 401 too (the docs do not say which status; refusing is
 *   the less forgiving reading).
 * - Pagination: `page` (default 1), `per_page` (default 20, max 100) (introduction.mdx,
 *   "Pagination Parameters"). Nothing says what a `per_page` over 100 does: the fake caps it.
 * - Referrals, commissions and payouts answer a bare JSON array; promoters `{ data, meta }`
 *   (the 200 response schemas).
 * - Filters by day, inclusive, `YYYY-MM-DD`: referrals `filters[created_at|customer_since|cancelled_at][from|to]`,
 *   commissions `filters[created_at][…]`, promoters `filters[joined_at][…]`, payouts
 *   `filters[period_end][…]`. A date-time value is refused with 400 (the format is `date`).
 * - "400 requests per minute per account. Exceeding these limits will result in a 429 Too Many
 *   Requests response" (introduction.mdx). No Retry-After is documented, so none is sent.
 *
 * Objects are added with `add` and changed with `update`; `deliver` posts the matching v2 webhook
 * to the bridge. A delivery nobody answers (the bridge is down), or one sent with `lost: true`, is
 * recorded as lost: classic webhooks are never re-sent, and v2 ones only up to `max_retries`
 * (webhooks/deliveries.mdx, webhooks-v2/deliveries.mdx), after which the event is gone.
 */

/** The four lists reconciliation reads. */
export type FirstPromoterCollection = 'referrals' | 'commissions' | 'promoters' | 'payouts';

/** "400 requests per minute per account". */
export const FIRSTPROMOTER_REQUESTS_PER_MINUTE = 400;

const COLLECTION_FILTERS: Readonly<Record<FirstPromoterCollection, readonly string[]>> = {
  referrals: ['created_at', 'customer_since', 'cancelled_at'],
  commissions: ['created_at'],
  promoters: ['joined_at'],
  payouts: ['period_end'],
};

export interface FirstPromoterApiFakeOptions {
  readonly apiKey: string;
  readonly accountId: string;
  /** The bridge's webhook URL (token included); `deliver` posts there. @defaultValue none */
  readonly webhookUrl?: string;
  /** @defaultValue FIRSTPROMOTER_REQUESTS_PER_MINUTE */
  readonly requestsPerMinute?: number;
}

export class FirstPromoterApiFake extends ProviderApiFake<FirstPromoterCollection> {
  readonly #options: FirstPromoterApiFakeOptions;

  private constructor(options: FirstPromoterApiFakeOptions) {
    super(['referrals', 'commissions', 'promoters', 'payouts'], options.webhookUrl);
    this.#options = options;
  }

  static start(options: FirstPromoterApiFakeOptions): Promise<FirstPromoterApiFake> {
    return new FirstPromoterApiFake(options).listen();
  }

  /** FIRSTPROMOTER_API_URL for the bridge. */
  get url(): string {
    return `${this.origin}/api/v2/company`;
  }

  /**
   * Posts the v2 webhook FirstPromoter sends for `eventType` about the object (as it is now), or,
   * with `lost`, records that it never reached the bridge.
   */
  deliver(eventType: string, object: Record<string, unknown>, options: { lost?: boolean } = {}): Promise<number | 'lost'> {
    const dot = eventType.indexOf('.');
    const action = eventType.slice(dot + 1);
    const body = {
      event_id: randomUUID(),
      event_type: eventType,
      action: action === 'created' ? 'created' : 'updated',
      entity_type: eventType.slice(0, dot),
      entity_id: object.id,
      changes: {},
      data: object,
      timestamp: new Date().toISOString(),
    };
    return this.post({ eventId: body.event_id, type: eventType, body: JSON.stringify(body), lost: options.lost });
  }

  protected handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://fake');
    const answer = (status: number, body?: unknown) => {
      this.requests.push({ url: `${url.pathname}${url.search}`, status });
      if (body === undefined) response.writeHead(status).end();
      else response.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    };
    // Authentication first: both headers (authentication.mdx).
    if (request.headers.authorization !== `Bearer ${this.#options.apiKey}` || request.headers['account-id'] !== this.#options.accountId) {
      return answer(401);
    }
    // The documented limit, per account, over a sliding minute.
    if (this.admit(this.#options.requestsPerMinute ?? FIRSTPROMOTER_REQUESTS_PER_MINUTE, 60_000) !== null) {
      return answer(429, { message: 'Too Many Requests' });
    }
    const failure = this.takeFailure();
    if (failure !== undefined) return answer(failure, failure === 429 ? { message: 'Too Many Requests' } : { message: 'Internal Server Error' });

    const match = /^\/api\/v2\/company\/(referrals|commissions|promoters|payouts)$/.exec(url.pathname);
    if (request.method !== 'GET' || !match) return answer(404, { message: 'Not found' });
    const collection = match[1] as FirstPromoterCollection;
    let items = this.objectsOf(collection);
    for (const field of COLLECTION_FILTERS[collection]) {
      for (const bound of ['from', 'to'] as const) {
        const value = url.searchParams.get(`filters[${field}][${bound}]`);
        if (value === null) continue;
        if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return answer(400, { message: `filters[${field}][${bound}] must be a date (YYYY-MM-DD)` });
        items = items.filter((item) => {
          const day = typeof item[field] === 'string' ? (item[field] as string).slice(0, 10) : null;
          return day !== null && (bound === 'from' ? day >= value : day <= value);
        });
      }
    }
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 20) || 20));
    const slice = items.slice((page - 1) * perPage, page * perPage);
    return answer(200, collection === 'promoters' ? { data: slice, meta: { pending_count: 0 } } : slice);
  }
}

let nextFirstPromoterId = 30_000_000;

/** A v2 referral as the API lists it (openapi-v2-referrals.json `Referral`). */
export function fakeFirstPromoterReferral(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  nextFirstPromoterId += 1;
  return {
    id: nextFirstPromoterId,
    email: `lead${nextFirstPromoterId}@example.com`,
    uid: `cus_${nextFirstPromoterId}`,
    state: 'signup',
    metadata: {},
    entry_source: 'cookie',
    created_at: new Date().toISOString(),
    updated_at: new Date().toISOString(),
    customer_since: null,
    fraud_check: 'no_suspicion',
    username: null,
    is_expired: false,
    ...overrides,
  };
}

/** A v2 commission as the API lists it (openapi-v2-commissions.json `Commission`). */
export function fakeFirstPromoterCommission(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  nextFirstPromoterId += 1;
  const now = new Date().toISOString();
  return {
    id: nextFirstPromoterId,
    status: 'pending',
    commission_type: 'sale',
    sale_amount: 10_000,
    amount: 2_000,
    unit: 'cash',
    is_paid: false,
    fraud_check: 'no_suspicion',
    created_at: now,
    updated_at: now,
    status_updated_at: now,
    referral: { id: 1, email: 'lead@example.com', uid: 'cus_1' },
    ...overrides,
  };
}
