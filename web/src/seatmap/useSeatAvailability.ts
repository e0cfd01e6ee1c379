import { useEffect, useState, useSyncExternalStore } from "react";
import { SeatStore, type SeatData } from "./store";

const EMPTY: SeatData = {};
const noSubscribe = () => () => {};
const empty = () => EMPTY;

/** The live store of one concert's seats: created on mount, closed (stream and all) on unmount. */
export function useSeatStore(concertId: number): SeatStore | undefined {
  const [store, setStore] = useState<SeatStore>();
  useEffect(() => {
    const next = new SeatStore(concertId);
    next.start();
    setStore(next);
    return () => {
      next.stop();
      setStore((current) => (current === next ? undefined : current));
    };
  }, [concertId]);
  return store?.concertId === concertId ? store : undefined;
}

/** The data of a store, re-rendering on every change (a new layout, snapshot or delta). */
export function useSeatData(store: SeatStore | undefined): SeatData {
  return useSyncExternalStore(store?.subscribe ?? noSubscribe, store?.getData ?? empty, empty);
}

/**
 * One concert's layout and live seat states: `states` is one state code per layout seat (changed
 * in place by the stream; `version` tells when), undefined until states for this layout arrive.
 */
export function useSeatAvailability(concertId: number): {
  layout?: SeatData["layout"];
  states?: Uint8Array;
  version?: number;
  error?: Error;
} {
  return useSeatData(useSeatStore(concertId));
}
