import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { FetchFunction } from '@slack/web-api';
import { createSlackTransport } from '../../../src/actions/slack/transport.js';
import { findFreePort } from '../../support/redis-server.js';
import { rejectionOf } from './support.js';

/**
 * The Slack WebClient's transport (src/actions/slack/transport.ts): undici's `request` behind the
 * SDK's documented `fetch` option must answer what fetch would for everything the SDK reads: the
 * status and headers, a redirect never followed, fetch's errors for timeouts, aborts and refused
 * connections. Against a plain HTTP server on 127.0.0.1.
 */
describe('Slack transport: what the SDK reads of fetch, from undici\'s request', () => {
  let server: http.Server;
  let baseUrl: string;
  let transport: ReturnType<typeof createSlackTransport>;
  const seen: { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

  beforeEach(async () => {
    seen.length = 0;
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        if (req.url === '/api/redirect') {
          res.writeHead(302, { location: '/api/elsewhere' }).end();
        } else if (req.url === '/api/limited') {
          res.writeHead(429, { 'Retry-After': '7', 'X-Repeated': ['a', 'b'] }).end('{"ok":false,"error":"ratelimited"}');
        } else if (req.url === '/api/silent') {
          // Never answers: the transport's timeout must end the call.
        } else {
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end('{"ok":true,"ts":"1.2"}');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    transport = createSlackTransport({ timeoutMs: 300 });
  });

  afterEach(async () => {
    await transport.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends the SDK\'s method, headers and form body, and answers status, headers and body', async () => {
    const response = await transport.fetch(`${baseUrl}/api/chat.postMessage`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: 'Bearer xoxb-transport' },
      body: 'channel=C1&text=hi',
      redirect: 'error',
    });
    expect(seen).to.have.length(1);
    expect(seen[0]).to.include({ method: 'POST', url: '/api/chat.postMessage', body: 'channel=C1&text=hi' });
    expect(seen[0].headers).to.include({ 'content-type': 'application/x-www-form-urlencoded', authorization: 'Bearer xoxb-transport' });
    expect(response).to.include({ ok: true, status: 200, statusText: 'OK', url: `${baseUrl}/api/chat.postMessage` });
    expect(response.headers.get('Content-Type')).to.equal('application/json; charset=utf-8');
    expect(await response.json()).to.deep.equal({ ok: true, ts: '1.2' });
    expect(await response.text()).to.equal('{"ok":true,"ts":"1.2"}');
    expect(Buffer.from(await response.arrayBuffer()).toString('utf8')).to.equal('{"ok":true,"ts":"1.2"}');
  });

  it('reads headers as fetch does (any case, repeated values joined), for 429s the SDK leaves unread, call after call', async () => {
    for (let call = 0; call < 3; call += 1) {
      const response = await transport.fetch(`${baseUrl}/api/limited`, { method: 'POST', body: '' });
      expect(response).to.include({ ok: false, status: 429 });
      expect(response.headers.get('retry-after')).to.equal('7');
      expect(response.headers.get('RETRY-AFTER')).to.equal('7');
      expect(response.headers.get('x-repeated')).to.equal('a, b');
      expect(response.headers.get('x-absent')).to.equal(null);
      expect(Object.fromEntries(response.headers.entries())).to.include({ 'retry-after': '7' });
    }
    expect(seen).to.have.length(3);
  });

  it('never follows a redirect: the SDK gets the 3xx', async () => {
    const response = await transport.fetch(`${baseUrl}/api/redirect`, { method: 'POST', body: '', redirect: 'error' });
    expect(response).to.include({ ok: false, status: 302 });
    expect(seen.map((request) => request.url)).to.deep.equal(['/api/redirect']);
  });

  it('ends a call without an answer after its timeout with fetch\'s TimeoutError', async () => {
    const started = Date.now();
    const error = await rejectionOf(transport.fetch(`${baseUrl}/api/silent`, { method: 'POST', body: '' }));
    expect(error).to.include({ name: 'TimeoutError' });
    expect(Date.now() - started).to.be.within(250, 2_000);
  });

  it('aborts with the signal\'s own reason', async () => {
    const controller = new AbortController();
    const reason = new Error('job lock lost');
    setTimeout(() => controller.abort(reason), 50);
    expect(await rejectionOf(transport.fetch(`${baseUrl}/api/silent`, { method: 'POST', body: '', signal: controller.signal }))).to.equal(reason);
  });

  it('fails a refused connection as fetch does: TypeError "fetch failed", the socket\'s code in its cause', async () => {
    const closedPort = await findFreePort();
    const error = await rejectionOf(transport.fetch(`http://127.0.0.1:${closedPort}/api/chat.postMessage`, { method: 'POST', body: '' }));
    expect(error).to.be.instanceOf(TypeError);
    expect(error).to.include({ message: 'fetch failed' });
    expect((error as { cause?: { code?: string } }).cause).to.include({ code: 'ECONNREFUSED' });
  });

  it('hands a body it does not send (FormData: file uploads) to the fallback fetch', async () => {
    const handed: unknown[] = [];
    const fallbackFetch: FetchFunction = async (url, init) => {
      handed.push({ url: String(url), body: init?.body });
      return transport.fetch(`${baseUrl}/api/fallback`, { method: 'POST', body: '' });
    };
    const withFallback = createSlackTransport({ timeoutMs: 300, fallbackFetch });
    try {
      const form = new FormData();
      form.set('file', 'content');
      const response = await withFallback.fetch(`${baseUrl}/api/files.upload`, { method: 'POST', body: form });
      expect(response.status).to.equal(200);
      expect(handed).to.deep.equal([{ url: `${baseUrl}/api/files.upload`, body: form }]);
      expect(seen.map((request) => request.url)).to.deep.equal(['/api/fallback']);
    } finally {
      await withFallback.close();
    }
  });
});
