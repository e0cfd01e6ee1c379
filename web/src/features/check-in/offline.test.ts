import { describe, expect, it } from "vitest";
import {
  decideLocally,
  memoryStorage,
  OfflineStore,
  seatsOfLayout,
  syncRevoked,
  uploadQueue,
  type ListRules,
  type QueuedScan,
  type ScanRecord,
  type UploadAnswer,
} from "./offline";
import { SIGNED_LEN } from "./secret";

/** A concert's key pair, made here, signing secrets the way the server does. */
async function concertKey() {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"])) as CryptoKeyPair;
  return {
    keys: [pair.publicKey],
    async secret(ticketId: number, concertId: number, seatId: number): Promise<string> {
      const signed = new Uint8Array(new ArrayBuffer(SIGNED_LEN));
      const view = new DataView(signed.buffer);
      signed[0] = 1;
      view.setBigUint64(1, BigInt(ticketId));
      view.setBigUint64(9, BigInt(concertId));
      view.setBigUint64(17, BigInt(seatId));
      crypto.getRandomValues(signed.subarray(25));
      const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, pair.privateKey, signed));
      const bytes = new Uint8Array([...signed, ...signature]);
      return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    },
  };
}

const list = (rules: Partial<ListRules> = {}): ListRules => ({
  id: 5,
  concertId: 42,
  name: "Main gate",
  grades: null,
  allowMultipleEntries: false,
  allowEntryAfterExit: false,
  ...rules,
});

const seats = { "777": { section: "A", row: "1", number: "7", grade: "VIP" } };

describe("a scan decided offline", () => {
  it("admits a ticket signed with the concert's key and shows its seat and grade", async () => {
    const key = await concertKey();
    const secret = await key.secret(1001, 42, 777);
    const decision = await decideLocally({ secret, type: "entry", list: list(), keys: key.keys, revoked: new Set(), seats, history: [] });
    expect(decision).toEqual({ status: "ok", claims: { ticketId: 1001, concertId: 42, seatId: 777 }, seat: seats["777"] });
  });

  it("refuses a secret signed by another key as invalid", async () => {
    const [mine, forger] = [await concertKey(), await concertKey()];
    const secret = await forger.secret(1001, 42, 777);
    const decision = await decideLocally({ secret, type: "entry", list: list(), keys: mine.keys, revoked: new Set(), seats, history: [] });
    expect(decision).toEqual({ status: "error", reason: "invalid" });
  });

  it("refuses another concert's ticket, a revoked one, and a grade the list does not take", async () => {
    const key = await concertKey();
    const other = await key.secret(1, 43, 777);
    const base = { type: "entry" as const, keys: key.keys, seats, history: [] };
    expect((await decideLocally({ ...base, secret: other, list: list(), revoked: new Set() })).status).toBe("error");
    expect(await decideLocally({ ...base, secret: other, list: list(), revoked: new Set() })).toMatchObject({ reason: "wrong_concert" });

    const revoked = await key.secret(2, 42, 777);
    expect(await decideLocally({ ...base, secret: revoked, list: list(), revoked: new Set([revoked]) })).toMatchObject({ reason: "revoked" });

    const vip = await key.secret(3, 42, 777);
    expect(await decideLocally({ ...base, secret: vip, list: list({ grades: ["R"] }), revoked: new Set() })).toMatchObject({
      reason: "wrong_list",
      seat: { grade: "VIP" },
    });
  });

  it("refuses a second entry with when the first was, and a revoked ticket already scanned is reported revoked, not already in", async () => {
    const key = await concertKey();
    const secret = await key.secret(1001, 42, 777);
    const history: ScanRecord[] = [{ ticketId: 1001, type: "entry", at: "2026-12-07T19:00:00Z" }];
    const base = { secret, type: "entry" as const, list: list(), keys: key.keys, seats, history };
    expect(await decideLocally({ ...base, revoked: new Set() })).toMatchObject({
      status: "error",
      reason: "already_redeemed",
      redeemedAt: "2026-12-07T19:00:00Z",
      redeemedListId: 5,
    });
    expect(await decideLocally({ ...base, revoked: new Set([secret]) })).toMatchObject({ reason: "revoked" });
  });

  it("follows the list's rules: an exit needs the ticket inside, re-entry after an exit and multiple entries only when allowed", async () => {
    const key = await concertKey();
    const secret = await key.secret(1001, 42, 777);
    const entered: ScanRecord = { ticketId: 1001, type: "entry", at: "2026-12-07T19:00:00Z" };
    const left: ScanRecord = { ticketId: 1001, type: "exit", at: "2026-12-07T20:00:00Z" };
    const reasonOf = (type: "entry" | "exit", history: ScanRecord[]) =>
      decideLocally({ secret, type, list: list(), keys: key.keys, revoked: new Set(), seats, history }).then((d) =>
        d.status === "error" ? d.reason : d.status,
      );
    expect(await reasonOf("exit", [])).toBe("not_inside");
    const decide = (type: "entry" | "exit", rules: Partial<ListRules>, history: ScanRecord[]) =>
      decideLocally({ secret, type, list: list(rules), keys: key.keys, revoked: new Set(), seats, history }).then((d) => d.status);

    expect(await decide("exit", {}, [entered])).toBe("ok");
    expect(await decide("exit", {}, [])).toBe("error");
    expect(await decide("exit", {}, [entered, left])).toBe("error");
    expect(await decide("entry", {}, [entered, left])).toBe("error");
    expect(await decide("entry", { allowEntryAfterExit: true }, [entered, left])).toBe("ok");
    expect(await decide("entry", { allowEntryAfterExit: true }, [entered])).toBe("error");
    expect(await decide("entry", { allowMultipleEntries: true }, [entered])).toBe("ok");
    // Another ticket's entry is not this one's.
    expect(await decide("entry", {}, [{ ...entered, ticketId: 1002 }])).toBe("ok");
  });
});

describe("the revocation list", () => {
  it("is fetched page after page from `since` while the server says more, without duplicates", async () => {
    const asked: number[] = [];
    const pages: Record<number, { revoked: { secret: string }[]; next: number; more: boolean }> = {
      3: { revoked: [{ secret: "b" }, { secret: "c" }], next: 5, more: true },
      5: { revoked: [{ secret: "a" }], next: 6, more: false },
    };
    const result = await syncRevoked(["a"], 3, async (since) => {
      asked.push(since);
      return pages[since]!;
    });
    expect(asked).toEqual([3, 5]);
    expect(result.next).toBe(6);
    expect(result.revoked.sort()).toEqual(["a", "b", "c"]);
  });
});

const queued = (nonce: string, scannedAt: string): QueuedScan => ({ nonce, secret: `s-${nonce}`, listId: 5, type: "entry", scannedAt, ticketId: 1 });

describe("the offline queue", () => {
  it("uploads in scan order, reports conflicts and refusals, and keeps what the server never answered", async () => {
    const sent: string[] = [];
    const answers: Record<string, UploadAnswer | "down"> = {
      a: { status: "ok", checkinId: 10, conflict: null },
      b: { status: "ok", checkinId: 11, conflict: "already_redeemed" },
      c: { status: "error", reason: "invalid" },
      d: "down",
    };
    const report = await uploadQueue(
      [queued("d", "2026-12-07T19:04:00Z"), queued("b", "2026-12-07T19:02:00Z"), queued("a", "2026-12-07T19:01:00Z"), queued("c", "2026-12-07T19:03:00Z")],
      async (scan) => {
        sent.push(scan.nonce);
        const answer = answers[scan.nonce]!;
        if (answer === "down") throw new TypeError("Failed to fetch");
        return answer;
      },
    );
    expect(sent).toEqual(["a", "b", "c", "d"]);
    expect(report.uploaded).toBe(2);
    expect(report.checkins).toEqual({ a: 10, b: 11 });
    expect(report.conflicts.map((c) => [c.scan.nonce, c.reason])).toEqual([
      ["b", "already_redeemed"],
      ["c", "invalid"],
    ]);
    expect(report.remaining.map((s) => s.nonce)).toEqual(["d"]);
  });

  it("is kept in storage with the device's scan history, which an undo and an upload update", () => {
    const storage = memoryStorage();
    const store = new OfflineStore(storage);
    store.enqueue(queued("a", "2026-12-07T19:01:00Z"));
    store.enqueue(queued("a", "2026-12-07T19:01:00Z"));
    store.enqueue(queued("b", "2026-12-07T19:02:00Z"));
    store.record(5, { ticketId: 1, type: "entry", at: "2026-12-07T19:01:00Z", nonce: "a" });
    store.record(5, { ticketId: 2, type: "entry", at: "2026-12-07T19:02:00Z", nonce: "b" });

    const again = new OfflineStore(storage);
    expect(again.queue().map((q) => q.nonce)).toEqual(["a", "b"]);
    again.dequeue("b");
    again.forget(5, { nonce: "b" });
    again.settle(5, { a: 77 });
    expect(again.queue().map((q) => q.nonce)).toEqual(["a"]);
    expect(again.history(5)).toEqual([{ ticketId: 1, type: "entry", at: "2026-12-07T19:01:00Z", checkinId: 77 }]);
    again.forget(5, { checkinId: 77 });
    expect(again.history(5)).toEqual([]);
    expect(again.history(6)).toEqual([]);
  });
});

describe("seats of a layout", () => {
  it("are read from the layout's columns", () => {
    const layout = {
      ids: [7, 8],
      number: ["1", "2"],
      section: { index: [0, 0], values: ["A"] },
      row: { index: [0, 1], values: ["1", "2"] },
      grade: { index: [1, 0], values: ["R", "VIP"] },
    };
    expect(seatsOfLayout(layout)).toEqual({
      "7": { section: "A", row: "1", number: "1", grade: "VIP" },
      "8": { section: "A", row: "2", number: "2", grade: "R" },
    });
  });
});
