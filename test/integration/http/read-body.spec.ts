import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { readRequestBody } from '../../../src/http/read-body.js';
import { waitFor } from '../../support/redis.js';

/**
 * The webhook body reader on Node's real HTTP server, fed by raw sockets so every framing a
 * sender can choose (Content-Length, chunked, none, cut short) is exercised.
 */
describe('readRequestBody: the webhook body, bounded (real HTTP server, raw sockets)', () => {
  const LIMIT = 64;
  let server: Server;
  let port: number;
  let outcomes: { error: { status?: number; type?: string } | null; body: string }[];

  beforeEach(async () => {
    outcomes = [];
    server = createServer((request, response) => {
      readRequestBody(request, LIMIT, (error, body) => {
        const failure = error as { status?: number; type?: string } | null;
        outcomes.push({ error: failure === null ? null : { status: failure.status, type: failure.type }, body: body.toString('utf8') });
        response.writeHead(failure === null ? 200 : (failure.status ?? 500), { Connection: 'close' }).end(body);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Sends `head` and then `parts` one by one; resolves with the status line the server answered (or '' if none). */
  async function send(head: string, parts: (string | Buffer)[] = [], options: { endSocket?: boolean } = {}): Promise<string> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.write(head);
    for (const part of parts) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      socket.write(part);
    }
    if (options.endSocket) socket.destroy();
    else await Promise.race([once(socket, 'close'), new Promise((resolve) => setTimeout(resolve, 2_000))]);
    socket.destroy();
    return answer.split('\r\n')[0] ?? '';
  }

  const post = (headers: string) => `POST / HTTP/1.1\r\nHost: x\r\n${headers}\r\n`;

  it('gives the exact bytes of a body sent in pieces, up to the limit included', async () => {
    const body = 'é'.repeat(LIMIT / 2); // 64 bytes in UTF-8
    const bytes = Buffer.from(body);
    expect(await send(post(`Content-Length: ${bytes.length}\r\n`), [bytes.subarray(0, 10), bytes.subarray(10)])).to.equal('HTTP/1.1 200 OK');
    expect(await send(post('Transfer-Encoding: chunked\r\n'), ['5\r\nhello\r\n', '6\r\n world\r\n', '0\r\n\r\n'])).to.equal('HTTP/1.1 200 OK');
    expect(outcomes.map((outcome) => outcome.body)).to.deep.equal([body, 'hello world']);
  });

  it('gives an empty body when none is sent', async () => {
    expect(await send(post(''))).to.equal('HTTP/1.1 200 OK');
    expect(outcomes).to.deep.equal([{ error: null, body: '' }]);
  });

  it('refuses a declared length over the limit with 413 entity.too.large, and answers once the rest is read off', async () => {
    expect(await send(post(`Content-Length: ${LIMIT + 1}\r\n`), ['x'.repeat(LIMIT + 1)])).to.equal('HTTP/1.1 413 Payload Too Large');
    expect(outcomes).to.deep.equal([{ error: { status: 413, type: 'entity.too.large' }, body: '' }]);
  });

  it('refuses a chunked body that grows past the limit with 413 entity.too.large', async () => {
    const chunk = `${(40).toString(16)}\r\n${'x'.repeat(40)}\r\n`;
    expect(await send(post('Transfer-Encoding: chunked\r\n'), [chunk, chunk, '0\r\n\r\n'])).to.equal('HTTP/1.1 413 Payload Too Large');
    expect(outcomes).to.deep.equal([{ error: { status: 413, type: 'entity.too.large' }, body: '' }]);
  });

  it('reports a body the client abandons as request.aborted', async () => {
    await send(post('Content-Length: 50\r\n'), ['only twenty bytes...'], { endSocket: true });
    await waitFor(() => outcomes.length === 1, 2_000);
    expect(outcomes).to.deep.equal([{ error: { status: 400, type: 'request.aborted' }, body: '' }]);
  });
});
