// The live connection to a fan's place in line. An `EventSource` cannot send headers, and a URL
// ends up in proxy logs, so the access token never goes in it: every time this code opens the
// stream it first asks for a short-lived stream ticket (`POST …/stream-ticket`, through the
// client, which refreshes the session) and puts that in `?ticket=`. The browser's own
// reconnects reuse the URL, which works while the ticket lasts; once the server refuses the
// stream (an expired ticket, a cap, the place gone) the connection is closed and this code asks
// where the fan stands, then opens again with a new ticket.
import { api, ApiError, unwrap, type Schemas } from "../../lib/api/client";

export type QueueStatus = Schemas["QueueStatusResponse"];

/** What the code needs of an `EventSource`. */
export interface QueueStreamLike {
  readyState: number;
  onerror: ((event: Event) => void) | null;
  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void;
  close(): void;
}

export interface QueueStreamDeps {
  /** A stream ticket for the fan and the concert; rejects with `QUEUE_NOT_JOINED` when not in line. */
  fetchTicket: (concertId: number) => Promise<string>;
  /** The fan's place, or null when not in line. */
  fetchStatus: (concertId: number) => Promise<QueueStatus | null>;
  openStream: (url: string) => QueueStreamLike;
}

export interface QueueStreamHandlers {
  /** A new place (from the stream or after a reconnect). */
  onPlace: (place: QueueStatus) => void;
  /** It is the fan's turn: the stream is closed. */
  onAdmitted: () => void;
  /** The fan is no longer in line: the stream is closed. */
  onGone: () => void;
  /** The connection dropped (true) or works again (false). */
  onReconnecting: (reconnecting: boolean) => void;
}

export const REOPEN_MS = 1_000;
export const RETRY_MS = 3_000;
const CONNECTING = 0;

const notJoined = (e: unknown) => e instanceof ApiError && e.code === "QUEUE_NOT_JOINED";

/** The place, or null when the fan is not in line (`QUEUE_NOT_JOINED`). */
export async function fetchQueueStatus(concertId: number): Promise<QueueStatus | null> {
  try {
    return await unwrap(api.GET("/api/queue/{concertId}/status", { params: { path: { concertId } } }));
  } catch (e) {
    if (notJoined(e)) return null;
    throw e;
  }
}

export const apiDeps: QueueStreamDeps = {
  fetchTicket: async (concertId) =>
    (await unwrap(api.POST("/api/queue/{concertId}/stream-ticket", { params: { path: { concertId } } }))).ticket,
  fetchStatus: fetchQueueStatus,
  openStream: (url) => new EventSource(url),
};

/** Follows the fan's place until admitted or gone; returns what stops it. */
export function connectQueueStream(concertId: number, handlers: QueueStreamHandlers, deps: QueueStreamDeps = apiDeps): () => void {
  let source: QueueStreamLike | null = null;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const later = (ms: number, run: () => void) => {
    timer = setTimeout(() => !closed && run(), ms);
  };
  const finish = (then: () => void) => {
    source?.close();
    source = null;
    then();
  };

  const open = async () => {
    let ticket: string;
    try {
      ticket = await deps.fetchTicket(concertId);
    } catch (e) {
      if (closed) return;
      if (notJoined(e)) return finish(handlers.onGone);
      handlers.onReconnecting(true);
      return later(RETRY_MS, () => void open());
    }
    if (closed) return;
    const stream = deps.openStream(`/api/queue/${concertId}/stream?ticket=${encodeURIComponent(ticket)}`);
    source = stream;
    const onPlace = (e: MessageEvent<string>) => {
      handlers.onReconnecting(false);
      const next = JSON.parse(e.data) as QueueStatus;
      handlers.onPlace(next);
      if (next.canEnter) finish(handlers.onAdmitted);
    };
    stream.addEventListener("queue-update", onPlace);
    stream.addEventListener("queue-complete", onPlace);
    stream.addEventListener("queue-left", () => finish(handlers.onGone));
    stream.onerror = () => {
      if (closed || source !== stream) return;
      handlers.onReconnecting(true);
      // The browser retries by itself, with the same ticket.
      if (stream.readyState === CONNECTING) return;
      // Refused: ask where the fan stands, then open again with a new ticket.
      stream.close();
      source = null;
      deps
        .fetchStatus(concertId)
        .then((next) => {
          if (closed) return;
          if (next === null) return handlers.onGone();
          handlers.onReconnecting(false);
          handlers.onPlace(next);
          if (next.canEnter) return handlers.onAdmitted();
          later(REOPEN_MS, () => void open());
        })
        .catch(() => later(RETRY_MS, () => void open()));
    };
  };
  void open();
  return () => {
    closed = true;
    clearTimeout(timer);
    source?.close();
  };
}
