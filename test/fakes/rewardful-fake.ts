import { createHmac, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProviderApiFake } from './provider-api-fake.js';

/*
 * Rewardful as a REST API (v1) server and a webhook sender, for reconciliation. Each behaviour cites
 * developers.rewardful.com (rest-api/overview, the list pages of rest-api/*, webhooks/*; older
 * revisions in github.com/rewardful/rest-api-docs):
 *
 * - `GET /v1/referrals`, `/v1/commissions`, `/v1/affiliates`, `/v1/payouts`.
 * - "HTTP Basic Auth … Provide your API Secret as the basic auth username value. You do not need to
 *   provide a password"; missing or invalid: 401 `{ "error": "Invalid API Secret." }` (overview).
 * - Lists take `page` and `limit` ("Default is 25, maximum is 100") and answer
 *   `{ pagination: { previous_page, current_page, next_page, count, limit, total_pages, total_count }, data }`.
 *   A `limit` over 100 is capped (the docs say only the maximum).
 * - Lists are "sorted by creation date, with the most recent … first" (commissions/list; the fake
 *   sorts every list so). No date filter is documented: none is honoured.
 * - "In most cases the API rate limit is 45 requests per 30 second window"; a 429 carries the
 *   RateLimit header fields of draft-polli-ratelimit-headers-02 (`RateLimit-Limit`,
 *   `RateLimit-Remaining`, `RateLimit-Reset` in seconds); no Retry-After is promised, none is sent.
 * - Webhooks: `{ event: { id, type, created_at, api_version }, object }` signed with
 *   `X-Rewardful-Signature`, the hex HMAC-SHA256 of the body (webhooks/requests, signed-webhooks).
 *   `deliver(…, { lost: true })` records a delivery the bridge never got: Rewardful gives up after
 *   3 days of failures, after which the event is gone.
 */

export type RewardfulCollection = 'referrals' | 'commissions' | 'affiliates' | 'payouts';

/** "45 requests per 30 second window". */
export const REWARDFUL_REQUESTS_PER_WINDOW = 45;
const WINDOW_MS = 30_000;

export interface RewardfulApiFakeOptions {
  readonly apiSecret: string;
  /** The bridge's webhook URL; `deliver` posts there. @defaultValue none */
  readonly webhookUrl?: string;
  /** The endpoint's signing secret. @defaultValue none (deliveries unsigned) */
  readonly signingSecret?: string;
  /** @defaultValue REWARDFUL_REQUESTS_PER_WINDOW */
  readonly requestsPerWindow?: number;
}

export class RewardfulApiFake extends ProviderApiFake<RewardfulCollection> {
  readonly #options: RewardfulApiFakeOptions;

  private constructor(options: RewardfulApiFakeOptions) {
    super(['referrals', 'commissions', 'affiliates', 'payouts'], options.webhookUrl);
    this.#options = options;
  }

  static start(options: RewardfulApiFakeOptions): Promise<RewardfulApiFake> {
    return new RewardfulApiFake(options).listen();
  }

  /** REWARDFUL_API_URL for the bridge. */
  get url(): string {
    return `${this.origin}/v1`;
  }

  /** Replaces an object's fields; Rewardful's objects carry the time of their last change. */
  override update(collection: RewardfulCollection, id: string, changes: Record<string, unknown>): Record<string, unknown> {
    return super.update(collection, id, { ...changes, updated_at: new Date().toISOString() });
  }

  /** Posts the signed webhook of `type` about the object, or records it as lost. */
  deliver(type: string, object: Record<string, unknown>, options: { lost?: boolean } = {}): Promise<number | 'lost'> {
    const eventId = randomUUID();
    const body = JSON.stringify({ event: { id: eventId, type, created_at: new Date().toISOString(), api_version: 'v1' }, object });
    const headers: Record<string, string> = this.#options.signingSecret
      ? { 'X-Rewardful-Signature': createHmac('sha256', this.#options.signingSecret).update(body).digest('hex') }
      : {};
    return this.post({ eventId, type, body, headers, lost: options.lost });
  }

  protected handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://fake');
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({ url: `${url.pathname}${url.search}`, status });
      response.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
    };
    const expected = `Basic ${Buffer.from(`${this.#options.apiSecret}:`).toString('base64')}`;
    if (request.headers.authorization !== expected) return answer(401, { error: 'Invalid API Secret.' });
    const limit = this.#options.requestsPerWindow ?? REWARDFUL_REQUESTS_PER_WINDOW;
    const rateLimitHeaders = (resetSeconds: number) => ({ 'RateLimit-Limit': String(limit), 'RateLimit-Remaining': '0', 'RateLimit-Reset': String(resetSeconds) });
    const waitMs = this.admit(limit, WINDOW_MS);
    if (waitMs !== null) return answer(429, { error: 'Too many requests' }, rateLimitHeaders(Math.max(1, Math.ceil(waitMs / 1000))));
    const failure = this.takeFailure();
    if (failure !== undefined) {
      return answer(failure, { error: failure === 429 ? 'Too many requests' : 'Internal server error' }, failure === 429 ? rateLimitHeaders(1) : {});
    }
    const match = /^\/v1\/(referrals|commissions|affiliates|payouts)$/.exec(url.pathname);
    if (request.method !== 'GET' || !match) return answer(404, { error: 'Not found' });
    const items = [...this.objectsOf(match[1] as RewardfulCollection)].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('limit') ?? 25) || 25));
    const totalPages = Math.max(1, Math.ceil(items.length / perPage));
    const data = items.slice((page - 1) * perPage, page * perPage);
    return answer(200, {
      pagination: {
        previous_page: page > 1 ? page - 1 : null,
        current_page: page,
        next_page: page < totalPages ? page + 1 : null,
        count: data.length,
        limit: perPage,
        total_pages: totalPages,
        total_count: items.length,
      },
      data,
    });
  }
}

/** A referral as the API lists it (rest-api/referrals, "The referral object"). */
export function fakeRewardfulReferral(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    id: randomUUID(),
    link: null,
    visits: 1,
    customer: null,
    affiliate: null,
    created_at: now,
    updated_at: now,
    became_lead_at: null,
    became_conversion_at: null,
    expires_at: null,
    deactivated_at: null,
    conversion_state: 'visitor',
    stripe_account_id: null,
    stripe_customer_id: null,
    ...overrides,
  };
}

/** A commission as the API lists it (rest-api/commissions, "The commission object"). */
export function fakeRewardfulCommission(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    id: randomUUID(),
    amount: 1500,
    currency: 'USD',
    state: 'pending',
    due_at: null,
    paid_at: null,
    voided_at: null,
    created_at: now,
    updated_at: now,
    campaign: null,
    sale: null,
    affiliate: null,
    ...overrides,
  };
}
