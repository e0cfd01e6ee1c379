import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { connectWaitlistStream, REOPEN_MS, type WaitlistStreamDeps, type WaitlistStreamLike } from "./waitlistStream";

class FakeStream implements WaitlistStreamLike {
  readyState = 0;
  onopen: ((event: Event) => void) | null = null;
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
  open() {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }
  emit(type: string, data: unknown) {
    for (const l of this.listeners.get(type) ?? []) l({ data: JSON.stringify(data) } as MessageEvent<string>);
  }
  /** The server refused the stream (an expired ticket, a cap): the browser gives up. */
  refuse() {
    this.readyState = 2;
    this.onerror?.(new Event("error"));
  }
}

function setup(tickets: (string | Error)[] = ["t1", "t2"]) {
  const queue = [...tickets];
  const streams: FakeStream[] = [];
  const seen = { offers: [] as number[], statuses: [] as string[], live: [] as boolean[] };
  const deps: WaitlistStreamDeps = {
    fetchTicket: async () => {
      const next = queue.shift();
      if (next === undefined || next instanceof Error) throw next ?? new Error("no ticket");
      return next;
    },
    openStream: (url) => {
      const s = new FakeStream(url);
      streams.push(s);
      return s;
    },
  };
  const stop = connectWaitlistStream(
    {
      onOffer: (o) => seen.offers.push(o.entryId),
      onStatus: (s) => seen.statuses.push(s.status),
      onLive: (live) => seen.live.push(live),
    },
    deps,
  );
  return { streams, seen, stop };
}

describe("the waitlist stream", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("opens with a ticket in the URL and passes offers and status changes on", async () => {
    const { streams, seen } = setup();
    await vi.runOnlyPendingTimersAsync();
    expect(streams[0]?.url).toBe("/api/waitlist/my/events?ticket=t1");
    streams[0]!.open();
    streams[0]!.emit("offer", { entryId: 5, concertId: 1, seatIds: [9], expiresAt: "2026-12-08T09:00:00+09:00" });
    streams[0]!.emit("status", { entryId: 5, concertId: 1, status: "PURCHASED" });
    expect(seen).toEqual({ offers: [5], statuses: ["PURCHASED"], live: [true] });
  });

  it("when refused, says so (the panel polls) and opens again with a new ticket", async () => {
    const { streams, seen } = setup();
    await vi.runOnlyPendingTimersAsync();
    streams[0]!.open();
    streams[0]!.refuse();
    expect(seen.live).toEqual([true, false]);
    expect(streams[0]!.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(REOPEN_MS);
    expect(streams[1]?.url).toBe("/api/waitlist/my/events?ticket=t2");
  });

  it("without a ticket, polls meanwhile and tries again later", async () => {
    const { streams, seen } = setup([new Error("offline"), "t2"]);
    await vi.runOnlyPendingTimersAsync();
    expect(seen.live).toEqual([false]);
    await vi.advanceTimersByTimeAsync(REOPEN_MS);
    expect(streams.map((s) => s.url)).toEqual(["/api/waitlist/my/events?ticket=t2"]);
  });

  it("stops for good when the panel is done with it", async () => {
    const { streams, stop } = setup();
    await vi.runOnlyPendingTimersAsync();
    stop();
    expect(streams[0]!.closed).toBe(true);
  });
});
