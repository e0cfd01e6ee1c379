import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../lib/api/client";
import { connectQueueStream, REOPEN_MS, RETRY_MS, type QueueStatus, type QueueStreamDeps, type QueueStreamLike } from "./queueStream";

class FakeStream implements QueueStreamLike {
  readyState = 1;
  onerror: ((event: Event) => void) | null = null;
  closed = false;
  private listeners = new Map<string, ((event: MessageEvent<string>) => void)[]>();
  constructor(readonly url: string) {}
  addEventListener(type: string, listener: (event: MessageEvent<string>) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  emit(type: string, data: unknown) {
    for (const l of this.listeners.get(type) ?? []) l({ data: JSON.stringify(data) } as MessageEvent<string>);
  }
  /** The connection dropped; the browser is retrying by itself (same URL). */
  drop() {
    this.readyState = 0;
    this.onerror?.(new Event("error"));
  }
  /** The server refused the stream (an expired ticket, a cap): the browser gives up. */
  refuse() {
    this.readyState = 2;
    this.onerror?.(new Event("error"));
  }
}

const place = (position: number, canEnter = false): QueueStatus => ({
  concertId: 7,
  userId: 1,
  position,
  totalQueue: 10,
  estimatedWaitTime: null,
  canEnter,
  timestamp: "2026-12-02T12:00:00+09:00",
});

const notJoined = () =>
  new ApiError(404, { status: 404, error: "NOT_FOUND", code: "QUEUE_NOT_JOINED", message: "not in line" });

function setup(opts: { tickets?: (string | Error)[]; status?: (QueueStatus | null)[] } = {}) {
  const tickets = [...(opts.tickets ?? ["t1", "t2", "t3"])];
  const statuses = [...(opts.status ?? [])];
  const streams: FakeStream[] = [];
  const events = { places: [] as number[], admitted: 0, gone: 0, reconnecting: [] as boolean[] };
  const deps: QueueStreamDeps = {
    fetchTicket: async () => {
      const next = tickets.shift();
      if (next === undefined) throw new Error("no ticket");
      if (next instanceof Error) throw next;
      return next;
    },
    fetchStatus: async () => {
      const next = statuses.shift();
      if (next === undefined) throw new Error("no status");
      return next;
    },
    openStream: (url) => {
      const s = new FakeStream(url);
      streams.push(s);
      return s;
    },
  };
  const stop = connectQueueStream(
    7,
    {
      onPlace: (p) => events.places.push(p.position),
      onAdmitted: () => events.admitted++,
      onGone: () => events.gone++,
      onReconnecting: (r) => events.reconnecting.push(r),
    },
    deps,
  );
  return { stop, streams, events, stream: () => streams[streams.length - 1]! };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe("connectQueueStream", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("opens the stream with a stream ticket, never with the access token", async () => {
    const { streams, stream, events } = setup();
    await flush();
    expect(streams).toHaveLength(1);
    expect(stream().url).toBe("/api/queue/7/stream?ticket=t1");
    expect(stream().url).not.toContain("token=");
    stream().emit("queue-update", place(3));
    stream().emit("queue-complete", place(0, true));
    expect(events.places).toEqual([3, 0]);
    expect(events.admitted).toBe(1);
    expect(stream().closed).toBe(true);
  });

  it("lets the browser reconnect with the same ticket, and opens with a new ticket once refused", async () => {
    const { streams, stream, events } = setup({ status: [place(2)] });
    await flush();
    stream().drop();
    expect(streams).toHaveLength(1);
    expect(events.reconnecting).toEqual([true]);

    stream().refuse();
    await flush();
    expect(events.places).toEqual([2]);
    vi.advanceTimersByTime(REOPEN_MS);
    await flush();
    expect(streams).toHaveLength(2);
    expect(streams[0]!.closed).toBe(true);
    expect(stream().url).toBe("/api/queue/7/stream?ticket=t2");
  });

  it("ends when the ticket is refused because the fan is no longer in line", async () => {
    const { streams, events } = setup({ tickets: [notJoined()] });
    await flush();
    expect(streams).toHaveLength(0);
    expect(events.gone).toBe(1);
  });

  it("retries a ticket that could not be had, and stops when asked", async () => {
    const { streams, stop } = setup({ tickets: [new Error("offline"), "t2", "t3"] });
    await flush();
    expect(streams).toHaveLength(0);
    vi.advanceTimersByTime(RETRY_MS);
    await flush();
    expect(streams).toHaveLength(1);
    stop();
    expect(streams[0]!.closed).toBe(true);
  });
});
