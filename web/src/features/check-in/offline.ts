// The scanner's offline mode, as plain functions: what a device keeps for one concert (its keys,
// the revocation list, its seats and check-in lists), the local decision for a scan (signature,
// concert, revocation, grade, and what this device has already scanned), the queue of scans made
// offline, and its upload (with `force` and the scan's time) once the server is back.
//
// Nothing here talks to React or to the network directly; the page passes in the calls.
import { verifySecret, type SecretClaims } from "./secret";

export type ScanType = "entry" | "exit";

/** What the rules of a check-in list say (a subset of the server's list). */
export interface ListRules {
  id: number;
  concertId: number;
  name: string;
  /** null: every grade. */
  grades?: string[] | null;
  allowMultipleEntries: boolean;
  allowEntryAfterExit: boolean;
}

export interface SeatInfo {
  section: string;
  row: string;
  number: string;
  grade: string;
}

/** A concert's data for verifying offline, as downloaded. */
export interface OfflineData {
  concertId: number;
  /** Raw Ed25519 public keys, base64url. */
  publicKeys: string[];
  /** Revoked secrets. */
  revoked: string[];
  /** `since` for the next revocation download. */
  revokedNext: number;
  /** Seats by id (the grade decides which lists admit a ticket). */
  seats: Record<string, SeatInfo>;
  lists: ListRules[];
  downloadedAt: string;
}

/** A scan this device made or saw answered, per list (what "already scanned here" means). */
export interface ScanRecord {
  ticketId: number;
  type: ScanType;
  at: string;
  /** The server's check-in, once known (to undo it). */
  checkinId?: number;
  /** Set while the scan waits in the queue. */
  nonce?: string;
}

/** A scan made offline, waiting to be uploaded. */
export interface QueuedScan {
  nonce: string;
  secret: string;
  listId: number;
  type: ScanType;
  scannedAt: string;
  ticketId: number;
}

export type RefusalReason =
  | "invalid"
  | "revoked"
  | "canceled"
  | "already_redeemed"
  | "wrong_concert"
  | "wrong_list"
  | "invalid_time"
  | "not_inside"
  | (string & {});

export type LocalDecision =
  | { status: "ok"; claims: SecretClaims; seat?: SeatInfo }
  | { status: "error"; reason: RefusalReason; claims?: SecretClaims; seat?: SeatInfo; redeemedAt?: string; redeemedListId?: number };

/**
 * The local answer for `secret` on `list`, in the server's order: validity first (signature,
 * concert, revocation, grade), then what this device has already scanned, so a revoked ticket
 * is never reported "already in".
 */
export async function decideLocally(input: {
  secret: string;
  type: ScanType;
  list: ListRules;
  keys: readonly CryptoKey[];
  revoked: ReadonlySet<string>;
  seats: Readonly<Record<string, SeatInfo>>;
  /** This list's scans on this device, oldest first. */
  history: readonly ScanRecord[];
}): Promise<LocalDecision> {
  const secret = input.secret.trim();
  const claims = await verifySecret(secret, input.keys);
  if (!claims) return { status: "error", reason: "invalid" };
  const seat = input.seats[String(claims.seatId)];
  if (claims.concertId !== input.list.concertId) return { status: "error", reason: "wrong_concert", claims, seat };
  if (input.revoked.has(secret)) return { status: "error", reason: "revoked", claims, seat };
  const grades = input.list.grades;
  if (grades && seat && !grades.includes(seat.grade)) return { status: "error", reason: "wrong_list", claims, seat };
  // The server's rules (src/domain/checkin.rs): an entry once in (or once ever, without
  // re-entry) is refused; an exit needs the ticket inside.
  const mine = input.history.filter((s) => s.ticketId === claims.ticketId);
  const entries = mine.filter((s) => s.type === "entry");
  const inside = mine[mine.length - 1]?.type === "entry";
  if (input.type === "entry") {
    const allowed =
      entries.length === 0 || input.list.allowMultipleEntries || (input.list.allowEntryAfterExit && !inside);
    if (!allowed) {
      return { status: "error", reason: "already_redeemed", claims, seat, redeemedAt: entries[0]?.at, redeemedListId: input.list.id };
    }
  } else if (!inside) {
    return { status: "error", reason: "not_inside", claims, seat };
  }
  return { status: "ok", claims, seat };
}

/** The seats of a layout answer (columns of values and indexes), by seat id. */
export function seatsOfLayout(layout: {
  ids: number[];
  number: string[];
  section: { index: number[]; values: string[] };
  row: { index: number[]; values: string[] };
  grade: { index: number[]; values: string[] };
}): Record<string, SeatInfo> {
  const out: Record<string, SeatInfo> = {};
  const at = (column: { index: number[]; values: string[] }, i: number) => column.values[column.index[i] ?? -1] ?? "";
  layout.ids.forEach((seatId, i) => {
    out[String(seatId)] = {
      section: at(layout.section, i),
      row: at(layout.row, i),
      number: layout.number[i] ?? "",
      grade: at(layout.grade, i),
    };
  });
  return out;
}

export interface RevokedPage {
  revoked: { secret: string }[];
  next: number;
  more: boolean;
}

/**
 * Adds the revocations after `since` to `known`, page after page while the server says `more`.
 * Returns every revoked secret and the `since` of the next call.
 */
export async function syncRevoked(
  known: readonly string[],
  since: number,
  fetchPage: (since: number) => Promise<RevokedPage>,
): Promise<{ revoked: string[]; next: number }> {
  const all = new Set(known);
  let next = since;
  // A bound keeps a misbehaving server from looping us forever.
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await fetchPage(next);
    for (const r of page.revoked) all.add(r.secret);
    next = page.next;
    if (!page.more) break;
  }
  return { revoked: [...all], next };
}

/** What the server said to one uploaded scan. */
export type UploadAnswer =
  | { status: "ok"; checkinId: number; conflict?: string | null }
  | { status: "error"; reason: string };

export interface UploadReport {
  /** Scans the server recorded (conflicting or not). */
  uploaded: number;
  /** Scans the server recorded but flagged, or refused: the staff must look at these. */
  conflicts: { scan: QueuedScan; reason: string }[];
  /** Recorded scans with their check-in ids, by nonce. */
  checkins: Record<string, number>;
  /** What is still waiting (the server could not be reached). */
  remaining: QueuedScan[];
}

/**
 * Uploads the queue in scan order. A scan leaves the queue once the server has answered it (the
 * same nonce again would get the same answer); at the first network failure the rest stays.
 */
export async function uploadQueue(
  queue: readonly QueuedScan[],
  send: (scan: QueuedScan) => Promise<UploadAnswer>,
): Promise<UploadReport> {
  const report: UploadReport = { uploaded: 0, conflicts: [], checkins: {}, remaining: [] };
  const ordered = [...queue].sort((a, b) => a.scannedAt.localeCompare(b.scannedAt));
  for (let i = 0; i < ordered.length; i++) {
    const scan = ordered[i]!;
    let answer: UploadAnswer;
    try {
      answer = await send(scan);
    } catch {
      report.remaining = ordered.slice(i);
      break;
    }
    if (answer.status === "ok") {
      report.uploaded++;
      report.checkins[scan.nonce] = answer.checkinId;
      if (answer.conflict) report.conflicts.push({ scan, reason: answer.conflict });
    } else {
      report.conflicts.push({ scan, reason: answer.reason });
    }
  }
  return report;
}

/** The slice of `Storage` this module uses (localStorage in the page, a map in tests). */
export interface KeyValue {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const PREFIX = "ticketing.checkin.";

/** The device's offline data, scan history and queue, kept in `storage` (localStorage). */
export class OfflineStore {
  constructor(private readonly storage: KeyValue) {}

  private read<T>(key: string, fallback: T): T {
    try {
      const raw = this.storage.getItem(PREFIX + key);
      return raw ? (JSON.parse(raw) as T) : fallback;
    } catch {
      return fallback;
    }
  }

  private write(key: string, value: unknown): void {
    this.storage.setItem(PREFIX + key, JSON.stringify(value));
  }

  data(concertId: number): OfflineData | null {
    return this.read<OfflineData | null>(`data.${concertId}`, null);
  }

  saveData(data: OfflineData): void {
    this.write(`data.${data.concertId}`, data);
  }

  history(listId: number): ScanRecord[] {
    return this.read<ScanRecord[]>(`scans.${listId}`, []);
  }

  record(listId: number, scan: ScanRecord): void {
    this.write(`scans.${listId}`, [...this.history(listId), scan]);
  }

  /** Forgets one scan of the list (an undo): by its check-in id or its queue nonce. */
  forget(listId: number, match: { checkinId?: number; nonce?: string }): void {
    this.write(
      `scans.${listId}`,
      this.history(listId).filter(
        (s) => !((match.checkinId !== undefined && s.checkinId === match.checkinId) || (match.nonce !== undefined && s.nonce === match.nonce)),
      ),
    );
  }

  /** Notes the server's check-in id of scans uploaded from the queue. */
  settle(listId: number, checkins: Readonly<Record<string, number>>): void {
    this.write(
      `scans.${listId}`,
      this.history(listId).map((s) =>
        s.nonce && checkins[s.nonce] !== undefined ? { ...s, checkinId: checkins[s.nonce], nonce: undefined } : s,
      ),
    );
  }

  queue(): QueuedScan[] {
    return this.read<QueuedScan[]>("queue", []);
  }

  enqueue(scan: QueuedScan): void {
    this.write("queue", [...this.queue().filter((q) => q.nonce !== scan.nonce), scan]);
  }

  dequeue(nonce: string): void {
    this.write("queue", this.queue().filter((q) => q.nonce !== nonce));
  }

  replaceQueue(queue: readonly QueuedScan[]): void {
    this.write("queue", queue);
  }
}

/** A map-backed `KeyValue` (tests, or a browser without storage). */
export function memoryStorage(): KeyValue {
  const map = new Map<string, string>();
  return {
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => void map.set(key, value),
    removeItem: (key) => void map.delete(key),
  };
}
