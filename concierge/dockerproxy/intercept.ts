import type { RefusalRule } from './counters.js';
import type { ProxyError } from './errors.js';
import type { RequestHead } from './http1.js';

/**
 * The seam between the data path and the Docker-aware layer. The data path asks `route` for every
 * request head; undefined means "forward untouched", the fast path.
 */
export interface Interceptor {
  route(head: RequestHead): RouteHandler | undefined;
}

export interface RouteHandler {
  /** Largest body read whole before `handle` (0: `handle` sees the head only and the body streams). */
  readonly maxBody: number;
  handle(head: RequestHead, body: Buffer | undefined): Promise<Outcome>;
}

export type Outcome = Forward | Refusal | Reply;

/** Send this head (and body, when the handler read and rewrote it) to dockerd. */
export interface Forward {
  head: Buffer;
  body?: Buffer | undefined;
  onAnswer?: ((status: number) => void) | undefined;
  /**
   * The client's body (when not given here) follows in the proxy's own framing: chunks are re-encoded
   * from their data alone, so nothing of the client's chunk lines (extensions, spacing) reaches dockerd.
   */
  reframe?: boolean;
  /**
   * The Docker-aware layer changed the request or watches its answer (for the counters); a request it
   * only read and rebuilt counts as forwarded.
   */
  decided?: boolean;
}

/** Answer the client with a Docker-style error (JSON unless `error` says otherwise); nothing reaches dockerd. */
export interface Refusal {
  status: number;
  message: string;
  /** For the counters; by default read from the status. */
  rule?: RefusalRule;
  error?: ProxyError;
}

/**
 * Answer the client with this (made or fetched by the Docker-aware layer); nothing more reaches dockerd.
 * The data path adds the framing: Content-Length for a buffer, chunked for a stream (which it ends
 * early, with `return()`, when the client goes away).
 */
export interface Reply {
  reply: {
    status: number;
    /** dockerd's own header lines, without framing headers (Content-Length, Transfer-Encoding, Connection). */
    headers: ReadonlyArray<readonly [string, string]>;
    body: Buffer | AsyncIterable<Buffer>;
  };
}
