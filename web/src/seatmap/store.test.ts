import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { encodeStates, type SeatAvailability } from "./availability";
import { makeLayout } from "./fixtures";
import type { SeatLayout } from "./geometry";
import { POLL_MS, SeatStore, type SeatStoreDeps, type StreamLike } from "./store";

class FakeStream implements StreamLike {
  readyState = 1;
  onerror: ((event: Event) => void) | null = null;
  closed = false;
  private listeners = new Map<string, ((event: MessageEvent<string>) => void)[]>();
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
}

const layoutV1 = makeLayout([{ name: "A", rows: [4], grade: "VIP", price: 150_000 }], 7, 101);
const layoutV2: SeatLayout = { ...makeLayout([{ name: "A", rows: [5], grade: "VIP", price: 150_000 }], 7, 101), version: "v2" };

function availability(version: number, codes: number[], layoutVersion = layoutV1.version): SeatAvailability {
  return { concertId: 7, version, layoutVersion, count: codes.length, encoding: "2bit-base64", states: encodeStates(codes) };
}

function setup(opts: { layouts?: SeatLayout[]; availabilities?: SeatAvailability[] } = {}) {
  const layouts = [...(opts.layouts ?? [layoutV1])];
  const availabilities = [...(opts.availabilities ?? [])];
  const streams: FakeStream[] = [];
  const calls = { layout: [] as boolean[], availability: 0 };
  const deps: SeatStoreDeps = {
    fetchLayout: async (_id, fresh) => {
      calls.layout.push(fresh);
      return (layouts.length > 1 ? layouts.shift() : layouts[0])!;
    },
    fetchAvailability: async () => {
      calls.availability++;
      const next = availabilities.shift();
      if (!next) throw new Error("no availability");
      return next;
    },
    openStream: () => {
      const s = new FakeStream();
      streams.push(s);
      return s;
    },
  };
  const store = new SeatStore(7, deps);
  store.start();
  return { store, streams, calls, stream: () => streams[streams.length - 1]! };
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("SeatStore", () => {
  beforeEach(() => vi.useRealTimers());
  afterEach(() => vi.useRealTimers());

  it("shows states once the layout and a snapshot of that layout are in, then applies deltas", async () => {
    const { store, stream } = setup();
    stream().emit("snapshot", availability(10, [0, 0, 0, 0]));
    expect(store.data.states).toBeUndefined(); // the layout is still on its way
    stream().emit("delta", { fromVersion: 10, toVersion: 11, changes: [[102, "HELD"]] }); // queued
    await flush();
    expect(store.data.layout?.version).toBe(layoutV1.version);
    expect([...store.data.states!]).toEqual([0, 1, 0, 0]);
    expect(store.data.version).toBe(11);
    expect(store.takeChanges()).toBe("all");

    stream().emit("delta", { fromVersion: 11, toVersion: 12, changes: [[104, "SOLD"], [101, "RESERVED"]] });
    expect([...store.data.states!]).toEqual([2, 1, 0, 3]);
    expect(store.data.version).toBe(12);
    expect(store.takeChanges()).toEqual([3, 0]);
    expect(store.takeChanges()).toEqual([]);
  });

  it("ignores deltas it has and fetches the availability when one does not follow", async () => {
    const { store, stream, calls } = setup({ availabilities: [availability(20, [3, 3, 0, 0])] });
    await flush();
    stream().emit("snapshot", availability(10, [0, 0, 0, 0]));
    stream().emit("delta", { fromVersion: 9, toVersion: 10, changes: [[101, "SOLD"]] });
    expect(store.data.version).toBe(10);
    expect(calls.availability).toBe(0);
    stream().emit("delta", { fromVersion: 15, toVersion: 16, changes: [[101, "SOLD"]] });
    await flush();
    expect(calls.availability).toBe(1);
    expect(store.data.version).toBe(20);
    expect([...store.data.states!]).toEqual([3, 3, 0, 0]);
    stream().emit("delta", { fromVersion: 20, toVersion: 21, changes: [[103, "HELD"]] });
    expect([...store.data.states!]).toEqual([3, 3, 1, 0]);
  });

  it("fetches the layout again on a layout event and shows states only for that layout", async () => {
    const { store, stream, calls } = setup({ layouts: [layoutV1, layoutV2] });
    stream().emit("snapshot", availability(10, [0, 1, 0, 0]));
    await flush();
    expect(store.data.states).toBeDefined();
    stream().emit("layout", { layoutVersion: "v2" });
    await flush();
    expect(calls.layout).toEqual([false, true]);
    expect(store.data.layout?.version).toBe("v2");
    expect(store.data.states).toBeUndefined(); // the states are still the old layout's
    stream().emit("snapshot", availability(11, [0, 0, 0, 0, 2], "v2"));
    expect([...store.data.states!]).toEqual([0, 0, 0, 0, 2]);
    expect(store.takeChanges()).toBe("all");
  });

  it("fetches the layout again when a snapshot names another layout", async () => {
    const { store, stream, calls } = setup({ layouts: [layoutV1, layoutV2] });
    await flush();
    stream().emit("snapshot", availability(11, [0, 0, 0, 0, 2], "v2"));
    expect(store.data.states).toBeUndefined();
    await flush();
    expect(calls.layout).toEqual([false, true]);
    expect(store.data.states?.length).toBe(5);
  });

  it("polls the availability while the server refuses the stream, and closes everything on stop", async () => {
    vi.useFakeTimers();
    const { store, stream, streams, calls } = setup({
      availabilities: [availability(10, [0, 0, 0, 0]), availability(12, [1, 0, 0, 0]), availability(13, [1, 1, 0, 0])],
    });
    await vi.advanceTimersByTimeAsync(0);
    const first = stream();
    first.readyState = 2; // a 429: EventSource gives up
    first.onerror?.(new Event("error"));
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.availability).toBe(1);
    expect(store.data.version).toBe(10);
    await vi.advanceTimersByTimeAsync(POLL_MS);
    expect(store.data.version).toBe(12);
    expect([...store.data.states!]).toEqual([1, 0, 0, 0]);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(streams.length).toBe(2); // tried the stream again
    store.stop();
    expect(stream().closed).toBe(true);
    const before = calls.availability;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls.availability).toBe(before);
  });
});
