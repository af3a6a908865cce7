import { createServer, type RequestListener, type Server } from 'node:http';

/** Bounds on what any client can make the HTTP server hold: time and connections. */
export interface HttpServerLimits {
  /** How long a client may take to send its request headers, in ms (HTTP_HEADERS_TIMEOUT). */
  readonly headersTimeoutMs: number;
  /** How long a client may take to send the whole request, body included, in ms (HTTP_REQUEST_TIMEOUT). */
  readonly requestTimeoutMs: number;
  /** Connections open at once; a connection beyond it is closed as soon as it opens (HTTP_MAX_CONNECTIONS). */
  readonly maxConnections: number;
}

/**
 * How often Node looks for requests past their timeouts. Its default (30 s) would let a slow
 * sender hold a connection up to 30 s past HTTP_REQUEST_TIMEOUT; 1 s keeps the bound close.
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/**
 * An HTTP server whose clients cannot hold it: headers and whole requests must arrive within
 * their timeouts (Node answers 408 and closes the connection otherwise), idle keep-alive
 * connections close after 5 s (Node's default), and connections past `maxConnections` are closed
 * on arrival. Listening is the caller's.
 */
export function createBoundedServer(listener: RequestListener, limits: HttpServerLimits): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    listener,
  );
  server.maxConnections = limits.maxConnections;
  return server;
}
