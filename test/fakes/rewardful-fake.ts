import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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

export class RewardfulApiFake {
  readonly #server: Server;
  readonly #options: RewardfulApiFakeOptions;
  readonly #objects: Record<RewardfulCollection, Record<string, unknown>[]> = { referrals: [], commissions: [], affiliates: [], payouts: [] };
  readonly requests: Array<{ url: string; status: number }> = [];
  readonly deliveries: Array<{ eventId: string; type: string; status: number | 'lost' }> = [];
  readonly #failures: number[] = [];
  readonly #recent: number[] = [];
  /** Where `deliver` posts (the bridge's webhook URL); a restarted bridge may have a new port. */
  webhookUrl: string | undefined;

  private constructor(server: Server, options: RewardfulApiFakeOptions) {
    this.#server = server;
    this.#options = options;
    this.webhookUrl = options.webhookUrl;
  }

  static async start(options: RewardfulApiFakeOptions): Promise<RewardfulApiFake> {
    const holder: { fake?: RewardfulApiFake } = {};
    const server = createServer((request, response) => holder.fake!.handle(request, response));
    const fake = new RewardfulApiFake(server, options);
    holder.fake = fake;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  /** REWARDFUL_API_URL for the bridge. */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/v1`;
  }

  /** The next requests answer these statuses instead, one each, in order. */
  failNext(...statuses: number[]): void {
    this.#failures.push(...statuses);
  }

  add(collection: RewardfulCollection, object: Record<string, unknown>): Record<string, unknown> {
    this.#objects[collection].push(object);
    return object;
  }

  update(collection: RewardfulCollection, id: string, changes: Record<string, unknown>): Record<string, unknown> {
    const object = this.#objects[collection].find((candidate) => candidate.id === id);
    if (!object) throw new Error(`no ${collection} ${id}`);
    Object.assign(object, changes, { updated_at: new Date().toISOString() });
    return object;
  }

  /** Posts the signed webhook of `type` about the object, or records it as lost. */
  async deliver(type: string, object: Record<string, unknown>, options: { lost?: boolean } = {}): Promise<number | 'lost'> {
    const body = JSON.stringify({ event: { id: randomUUID(), type, created_at: new Date().toISOString(), api_version: 'v1' }, object });
    const eventId = (JSON.parse(body) as { event: { id: string } }).event.id;
    if (options.lost || !this.webhookUrl) {
      this.deliveries.push({ eventId, type, status: 'lost' });
      return 'lost';
    }
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (this.#options.signingSecret) headers['X-Rewardful-Signature'] = createHmac('sha256', this.#options.signingSecret).update(body).digest('hex');
    let response: Response;
    try {
      response = await fetch(this.webhookUrl, { method: 'POST', headers, body });
      await response.arrayBuffer();
    } catch {
      // Nothing listens (the bridge is down): FirstPromoter's classic and Rewardful's exhausted
      // deliveries are never sent again.
      this.deliveries.push({ eventId: eventId, type: type, status: 'lost' });
      return 'lost';
    }
    this.deliveries.push({ eventId, type, status: response.status });
    return response.status;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://fake');
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({ url: `${url.pathname}${url.search}`, status });
      response.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
    };
    const expected = `Basic ${Buffer.from(`${this.#options.apiSecret}:`).toString('base64')}`;
    if (request.headers.authorization !== expected) return answer(401, { error: 'Invalid API Secret.' });
    const now = Date.now();
    while (this.#recent.length > 0 && this.#recent[0]! <= now - WINDOW_MS) this.#recent.shift();
    const limit = this.#options.requestsPerWindow ?? REWARDFUL_REQUESTS_PER_WINDOW;
    if (this.#recent.length >= limit) {
      const resetSeconds = Math.max(1, Math.ceil((this.#recent[0]! + WINDOW_MS - now) / 1000));
      return answer(429, { error: 'Too many requests' }, { 'RateLimit-Limit': String(limit), 'RateLimit-Remaining': '0', 'RateLimit-Reset': String(resetSeconds) });
    }
    this.#recent.push(now);
    const failure = this.#failures.shift();
    if (failure !== undefined) {
      return answer(failure, { error: failure === 429 ? 'Too many requests' : 'Internal server error' }, failure === 429 ? { 'RateLimit-Limit': String(limit), 'RateLimit-Remaining': '0', 'RateLimit-Reset': '1' } : {});
    }
    const match = /^\/v1\/(referrals|commissions|affiliates|payouts)$/.exec(url.pathname);
    if (request.method !== 'GET' || !match) return answer(404, { error: 'Not found' });
    const items = [...this.#objects[match[1] as RewardfulCollection]].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
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
