// Pure helpers for the fan's held seats: totals, the earliest expiry, and the copy kept in
// sessionStorage so a reload does not lose track of seats still held.
import type { Schemas } from "../../lib/api/client";

export type Hold = Schemas["SeatSelectResponse"];

/** Seats one fan may hold and buy per concert (`MAX_SEATS_PER_USER`, not exposed by the API). */
export const MAX_SEATS = 4;

export function totalPrice(holds: readonly Hold[]): number {
  // Prices have at most two decimals: add in cents to avoid float drift.
  return holds.reduce((sum, h) => sum + Math.round(h.price * 100), 0) / 100;
}

/** The earliest end of the holds in ms, or null when there are none. */
export function earliestExpiry(holds: readonly Hold[]): number | null {
  let earliest: number | null = null;
  for (const h of holds) {
    const at = Date.parse(h.expiresAt);
    if (!Number.isNaN(at) && (earliest === null || at < earliest)) earliest = at;
  }
  return earliest;
}

const storageKey = (concertId: number) => `ticketing.holds.${concertId}`;

export function loadHolds(concertId: number, now: number): Hold[] {
  try {
    const raw = globalThis.sessionStorage?.getItem(storageKey(concertId));
    const holds = raw ? (JSON.parse(raw) as Hold[]) : [];
    return holds.filter((h) => Date.parse(h.expiresAt) > now);
  } catch {
    return [];
  }
}

export function saveHolds(concertId: number, holds: readonly Hold[]): void {
  try {
    if (holds.length) globalThis.sessionStorage?.setItem(storageKey(concertId), JSON.stringify(holds));
    else globalThis.sessionStorage?.removeItem(storageKey(concertId));
  } catch {
    // best effort
  }
}

/** A fresh `Idempotency-Key`. */
export function newIdempotencyKey(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}
