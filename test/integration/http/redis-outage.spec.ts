import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { OwnRedisServer } from '../../support/redis-server.js';
import { waitFor } from '../../support/redis.js';
import { postFirstPromoter, readJson, startIntakeApp } from '../../support/intake-app.js';
import { eventsOfJob } from '../../../src/queue/event-intake.js';

const leadSignup = readFileSync(new URL('../../fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8');
const withEventId = (id: number) => {
  const body = JSON.parse(leadSignup);
  body.event.id = id;
  return JSON.stringify(body);
};

describe('intake while Redis is down (own redis-server)', function () {
  this.timeout(60_000);
  let redisServer: OwnRedisServer;
  let app: Awaited<ReturnType<typeof startIntakeApp>>;

  before(async () => {
    redisServer = await OwnRedisServer.start({ appendOnly: true });
    app = await startIntakeApp({ redisUrl: redisServer.url, prefix: 'outage' });
  });

  after(async () => {
    await app?.close();
    await redisServer?.destroy();
  });

  it('answers 503 with Retry-After and never 2xx while Redis is stopped, and recovers without a restart', async () => {
    expect((await postFirstPromoter(app.baseUrl, withEventId(1))).status).to.equal(202);

    await redisServer.stop();
    const whileDown = await Promise.all([2, 3, 4, 5, 6].map((id) => postFirstPromoter(app.baseUrl, withEventId(id))));
    for (const response of whileDown) {
      expect(response.status).to.equal(503);
      expect(response.headers.get('retry-after')).to.equal('5');
    }
    const ready = await fetch(`${app.baseUrl}/readyz`);
    expect(ready.status).to.equal(503);
    expect((await readJson(ready)).reasons).to.deep.equal(['Redis does not answer']);

    await redisServer.start();
    // The first requests after Redis returns may still find the connection reconnecting.
    await waitFor(async () => (await postFirstPromoter(app.baseUrl, withEventId(7))).status === 202, 15_000, 200);
    expect((await fetch(`${app.baseUrl}/readyz`)).status).to.equal(200);
    const ids = (await app.queue.getJobs(['waiting'])).flatMap((job) => eventsOfJob(job.data).map((event) => event.id)).sort();
    // Event 1 was acknowledged, so it survived the restart (AOF); 2–6 were never acknowledged.
    expect(ids).to.deep.equal(['firstpromoter-1', 'firstpromoter-7']);
  });
});
