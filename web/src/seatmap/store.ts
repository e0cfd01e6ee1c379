// The live seat states of one concert, outside React: the layout (fetched, and fetched again on a
// `layout` event or when the states name another layout), the states as one Uint8Array that
// deltas change in place, the availability version, and the seats changed since the map last
// drew. Snapshots and deltas come from the SSE stream; a delta that does not follow our version
// makes it fetch the availability; a stream the server refuses (429/503) is replaced by polling
// until it can be opened again.
import { api, unwrap } from "../lib/api/client";
import {
  applyDelta,
  buildIdIndex,
  decodeStates,
  type AvailabilityDelta,
  type SeatAvailability,
} from "./availability";
import type { SeatLayout } from "./geometry";

/** The part of `EventSource` the store uses. */
export interface StreamLike {
  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void;
  close(): void;
  readonly readyState: number;
  onerror: ((event: Event) => void) | null;
}

export interface SeatStoreDeps {
  fetchLayout(concertId: number, fresh: boolean, signal: AbortSignal): Promise<SeatLayout>;
  fetchAvailability(concertId: number, signal: AbortSignal): Promise<SeatAvailability>;
  openStream(concertId: number): StreamLike;
}

export const apiDeps: SeatStoreDeps = {
  fetchLayout: (concertId, fresh, signal) =>
    unwrap(
      api.GET("/api/seat/concert/{concertId}/layout", {
        params: { path: { concertId } },
        signal,
        // The layout may be cached for a minute; after a `layout` event ask the server (304 if same).
        cache: fresh ? "no-cache" : "default",
      }),
    ),
  fetchAvailability: (concertId, signal) =>
    unwrap(
      api.GET("/api/seat/concert/{concertId}/availability", {
        params: { path: { concertId } },
        signal,
        cache: "no-cache",
      }),
    ),
  openStream: (concertId) => new EventSource(`/api/seat/concert/${concertId}/availability/stream`),
};

export interface SeatData {
  layout?: SeatLayout;
  /** One state code per layout seat; changed in place by deltas (watch `version`). */
  states?: Uint8Array;
  version?: number;
  error?: Error;
}

const CLOSED = 2;
/** Deltas kept while the layout they need is on its way; more means fetching the availability. */
const MAX_QUEUED = 500;
export const POLL_MS = 5_000;
export const REOPEN_MS = 30_000;
export const RETRY_MS = 5_000;

export class SeatStore {
  private layout?: SeatLayout;
  private idIndex?: Map<number, number>;
  private states?: Uint8Array;
  private version?: number;
  private statesLayout?: string;
  private error?: Error;
  private queue: AvailabilityDelta[] = [];
  private stream?: StreamLike;
  private readonly abort = new AbortController();
  private fetchingLayout = false;
  private fetchingAvailability = false;
  private pollTimer?: ReturnType<typeof setInterval>;
  private reopenTimer?: ReturnType<typeof setTimeout>;
  private retryTimer?: ReturnType<typeof setTimeout>;
  private stopped = false;
  private readonly listeners = new Set<() => void>();
  private changed: number[] = [];
  private allChanged = true;
  /** What React sees; a new object after every change. */
  data: SeatData = {};

  constructor(
    readonly concertId: number,
    private readonly deps: SeatStoreDeps = apiDeps,
  ) {}

  start(): void {
    void this.loadLayout(false);
    this.openStream();
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
    this.stream?.close();
    this.stream = undefined;
    clearInterval(this.pollTimer);
    clearTimeout(this.reopenTimer);
    clearTimeout(this.retryTimer);
    this.listeners.clear();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getData = (): SeatData => this.data;

  /** Seats changed since the last call, or `"all"` (a new layout or snapshot). */
  takeChanges(): number[] | "all" {
    const result = this.allChanged ? "all" : this.changed;
    this.changed = [];
    this.allChanged = false;
    return result;
  }

  /** Whether the states belong to the layout we have. */
  private get consistent(): boolean {
    return !!this.layout && !!this.states && this.statesLayout === this.layout.version;
  }

  private notify(): void {
    const ok = this.consistent;
    this.data = {
      layout: this.layout,
      states: ok ? this.states : undefined,
      version: ok ? this.version : undefined,
      error: this.error,
    };
    for (const listener of this.listeners) listener();
  }

  private fail(error: unknown): void {
    if (this.stopped || (error instanceof DOMException && error.name === "AbortError")) return;
    this.error = error instanceof Error ? error : new Error(String(error));
    this.notify();
  }

  private async loadLayout(fresh: boolean): Promise<void> {
    if (this.fetchingLayout || this.stopped) return;
    this.fetchingLayout = true;
    try {
      const layout = await this.deps.fetchLayout(this.concertId, fresh, this.abort.signal);
      if (this.stopped) return;
      this.error = undefined;
      if (layout.version !== this.layout?.version) {
        this.layout = layout;
        this.idIndex = buildIdIndex(layout.ids);
        this.allChanged = true;
      }
      if (this.states && this.statesLayout !== layout.version) {
        // The states name another layout: one of the two is older; the availability decides.
        this.queue = [];
        void this.loadAvailability();
      } else {
        this.flushQueue();
      }
      this.notify();
    } catch (error) {
      this.fail(error);
      if (!this.stopped) this.retryTimer = setTimeout(() => void this.loadLayout(true), RETRY_MS);
    } finally {
      this.fetchingLayout = false;
    }
  }

  private async loadAvailability(): Promise<void> {
    if (this.fetchingAvailability || this.stopped) return;
    this.fetchingAvailability = true;
    try {
      const availability = await this.deps.fetchAvailability(this.concertId, this.abort.signal);
      if (!this.stopped) this.onAvailability(availability, false);
    } catch (error) {
      this.fail(error);
    } finally {
      this.fetchingAvailability = false;
    }
  }

  /** A snapshot from the stream, or a fetched availability (ignored when older than ours). */
  onAvailability(availability: SeatAvailability, fromStream = true): void {
    if (!fromStream && this.version !== undefined && availability.version <= this.version && this.consistent) {
      return;
    }
    this.states = decodeStates(availability.states, availability.count);
    this.version = availability.version;
    this.statesLayout = availability.layoutVersion;
    this.allChanged = true;
    this.queue = this.queue.filter((d) => d.toVersion > availability.version);
    if (this.layout && this.layout.version !== availability.layoutVersion) {
      this.queue = [];
      void this.loadLayout(true);
    } else {
      this.flushQueue();
    }
    this.notify();
  }

  onDelta(delta: AvailabilityDelta): void {
    if (!this.consistent) {
      this.queue.push(delta);
      if (this.queue.length > MAX_QUEUED) {
        this.queue = [];
        void this.loadAvailability();
      }
      return;
    }
    if (this.apply(delta)) this.notify();
  }

  onLayoutEvent(): void {
    void this.loadLayout(true);
  }

  private flushQueue(): void {
    if (!this.consistent) return;
    const queued = this.queue;
    this.queue = [];
    for (const delta of queued) this.apply(delta);
  }

  /** Applies one delta to consistent states; true when anything changed. */
  private apply(delta: AvailabilityDelta): boolean {
    const result = applyDelta(this.states!, this.version!, delta, this.idIndex!);
    if (result.kind === "stale") return false;
    if (result.kind === "gap") {
      void this.loadAvailability();
      return false;
    }
    this.version = result.version;
    for (const i of result.changed) this.changed.push(i);
    // A seat the layout does not know: the layout changed under us.
    if (result.unknownSeats > 0) void this.loadLayout(true);
    return true;
  }

  private openStream(): void {
    if (this.stopped) return;
    const stream = this.deps.openStream(this.concertId);
    this.stream = stream;
    const parse = <T>(event: MessageEvent<string>): T | undefined => {
      try {
        return JSON.parse(event.data) as T;
      } catch {
        return undefined;
      }
    };
    stream.addEventListener("open", () => this.stopPolling());
    stream.addEventListener("snapshot", (event) => {
      const availability = parse<SeatAvailability>(event);
      if (availability && typeof availability.states === "string") this.onAvailability(availability);
    });
    stream.addEventListener("delta", (event) => {
      const delta = parse<AvailabilityDelta>(event);
      if (delta && Array.isArray(delta.changes)) this.onDelta(delta);
    });
    stream.addEventListener("layout", () => this.onLayoutEvent());
    stream.onerror = () => {
      // EventSource reconnects by itself (with Last-Event-ID) unless the server refused it.
      if (stream.readyState !== CLOSED || this.stopped || this.stream !== stream) return;
      this.stream = undefined;
      this.startPolling();
      this.reopenTimer = setTimeout(() => this.openStream(), REOPEN_MS);
    };
  }

  private startPolling(): void {
    if (this.pollTimer !== undefined) return;
    void this.loadAvailability();
    this.pollTimer = setInterval(() => void this.loadAvailability(), POLL_MS);
  }

  private stopPolling(): void {
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }
}
