import type { IncomingMessage } from 'node:http';

/**
 * Why a body could not be read. `status` and `type` are those body-parser's raw parser (raw-body)
 * gave the same failure, which `mapErrorToAnswer` reads: `entity.too.large` (413),
 * `request.size.invalid` and `request.aborted` (400).
 */
export class BodyReadError extends Error {
  constructor(
    readonly status: 400 | 413,
    readonly type: 'entity.too.large' | 'request.size.invalid' | 'request.aborted',
    message: string,
  ) {
    super(message);
    this.name = 'BodyReadError';
  }
}

/**
 * Reads a request's whole body into one Buffer of at most `limitBytes`, with the outcomes of
 * body-parser's `express.raw({ limit, inflate: false })`, which the webhook route used before,
 * without its per-request machinery (content-type parsing, async-resource binding, error wrapping):
 * - a declared Content-Length over the limit fails at once, before a byte is read; a body that
 *   grows past it while read fails then (413, `entity.too.large`);
 * - a body shorter or longer than its Content-Length fails (400, `request.size.invalid`), as does
 *   a request the client abandoned (400, `request.aborted`); a stream error is passed on as is;
 * - a request with no body gives an empty Buffer.
 * After a failure the rest of the request is read off and dropped before `done` is called, as
 * body-parser did, so the answer follows the request (HTTP_REQUEST_TIMEOUT bounds how long).
 * Compressed bodies are refused before this runs (see webhook-router.ts) and are read as bytes.
 */
export function readRequestBody(request: IncomingMessage, limitBytes: number, done: (error: unknown, body: Buffer) => void): void {
  const header = request.headers['content-length'];
  const declared = header === undefined || Number.isNaN(Number(header)) ? null : Number(header);
  const chunks: Buffer[] = [];
  let received = 0;
  let isSettled = false;

  const cleanUp = () => {
    request.off('data', onData);
    request.off('end', onEnd);
    request.off('error', onError);
    request.off('aborted', onAborted);
  };
  const fail = (error: unknown) => {
    isSettled = true;
    cleanUp();
    chunks.length = 0;
    request.pause();
    drain(request, () => done(error, EMPTY));
  };
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received > limitBytes) fail(new BodyReadError(413, 'entity.too.large', 'request entity too large'));
    else chunks.push(chunk);
  };
  const onEnd = () => {
    if (isSettled) return;
    if (declared !== null && received !== declared) return fail(new BodyReadError(400, 'request.size.invalid', 'request size did not match content length'));
    isSettled = true;
    cleanUp();
    done(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
  };
  const onError = (error: unknown) => {
    if (!isSettled) fail(error);
  };
  const onAborted = () => {
    if (!isSettled) fail(new BodyReadError(400, 'request.aborted', 'request aborted'));
  };

  if (declared !== null && declared > limitBytes) {
    // As raw-body: answered on the next tick, the request's data never read.
    process.nextTick(() => fail(new BodyReadError(413, 'entity.too.large', 'request entity too large')));
    return;
  }
  request.on('data', onData);
  request.on('end', onEnd);
  request.on('error', onError);
  request.on('aborted', onAborted);
}

const EMPTY = Buffer.alloc(0);

/** Reads off and drops what is left of the request, then calls `then` (once). */
function drain(request: IncomingMessage, then: () => void): void {
  if (request.complete || request.destroyed || request.readableEnded || request.socket?.readable === false) {
    then();
    return;
  }
  let isCalled = false;
  const once = () => {
    if (isCalled) return;
    isCalled = true;
    then();
  };
  request.once('end', once);
  request.once('close', once);
  // A stream error while draining ends in 'close' too; nothing more to report.
  request.on('error', () => undefined);
  request.resume();
}
