// The fan's live waitlist events: an `offer` the moment seats are held for them, a `status` when
// an entry ends. As with the waiting room, the access token never goes in the URL: every time
// this code opens the stream it first asks for a short-lived stream ticket
// (`POST /api/waitlist/my/stream-ticket`, through the client, which refreshes the session) and
// puts that in `?ticket=`. The browser's own reconnects reuse the URL while the ticket lasts;
// once the server refuses the stream (an expired ticket, a cap) this code opens it again with a
// new ticket. Whenever the stream is down the caller polls instead (`onLive(false)`).
import { api, unwrap, type Schemas } from "../../lib/api/client";

export type WaitlistOffer = Schemas["WaitlistOfferEvent"];
export type WaitlistStatus = Schemas["WaitlistStatusEvent"];

/** What the code needs of an `EventSource`. */
export interface WaitlistStreamLike {
  readyState: number;
  onopen: ((event: Event) => void) | null;
  onerror: ((event: Event) => void) | null;
  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void;
  close(): void;
}

export interface WaitlistStreamDeps {
  fetchTicket: () => Promise<string>;
  openStream: (url: string) => WaitlistStreamLike;
}

export interface WaitlistStreamHandlers {
  onOffer: (offer: WaitlistOffer) => void;
  onStatus: (status: WaitlistStatus) => void;
  /** The stream is open (true) or down (false: poll meanwhile). */
  onLive: (live: boolean) => void;
}

export const REOPEN_MS = 3_000;
const CONNECTING = 0;

export const apiDeps: WaitlistStreamDeps = {
  fetchTicket: async () => (await unwrap(api.POST("/api/waitlist/my/stream-ticket"))).ticket,
  openStream: (url) => new EventSource(url),
};

/** Follows the fan's waitlist events until the returned function is called. */
export function connectWaitlistStream(
  handlers: WaitlistStreamHandlers,
  deps: WaitlistStreamDeps = apiDeps,
): () => void {
  let source: WaitlistStreamLike | null = null;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const reopenLater = () => {
    timer = setTimeout(() => !closed && void open(), REOPEN_MS);
  };

  const open = async () => {
    let ticket: string;
    try {
      ticket = await deps.fetchTicket();
    } catch {
      if (closed) return;
      handlers.onLive(false);
      return reopenLater();
    }
    if (closed) return;
    const stream = deps.openStream(`/api/waitlist/my/events?ticket=${encodeURIComponent(ticket)}`);
    source = stream;
    stream.onopen = () => {
      if (!closed && source === stream) handlers.onLive(true);
    };
    stream.addEventListener("offer", (e) => handlers.onOffer(JSON.parse(e.data) as WaitlistOffer));
    stream.addEventListener("status", (e) => handlers.onStatus(JSON.parse(e.data) as WaitlistStatus));
    stream.onerror = () => {
      if (closed || source !== stream) return;
      handlers.onLive(false);
      // The browser retries by itself, with the same ticket.
      if (stream.readyState === CONNECTING) return;
      // Refused: open again later with a new ticket.
      stream.close();
      source = null;
      reopenLater();
    };
  };
  void open();
  return () => {
    closed = true;
    clearTimeout(timer);
    source?.close();
  };
}
