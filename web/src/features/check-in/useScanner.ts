// The scanner's state: online or not, the concert's offline data (downloaded while online and
// kept in localStorage), the scan itself (the server when it answers, the device otherwise),
// the queue of offline scans and its upload, and undo of the last scan.
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiError } from "../../lib/api/client";
import { downloadOfflineData, redeem, undoCheckin, type CheckinList } from "./api";
import {
  decideLocally,
  memoryStorage,
  OfflineStore,
  uploadQueue,
  type ListRules,
  type OfflineData,
  type QueuedScan,
  type RefusalReason,
  type ScanType,
  type SeatInfo,
  type UploadAnswer,
  type UploadReport,
} from "./offline";
import { ed25519Supported, importPublicKey } from "./secret";

/** What the big result panel shows. */
export type ScanResult =
  | {
      kind: "ok";
      type: ScanType;
      /** When it was scanned (two answers in a row stay distinguishable). */
      at: string;
      ticketId: number;
      seat?: SeatInfo;
      /** Decided on this device (queued for upload). */
      offline: boolean;
      /** The server could not be reached (rather than offline mode chosen). */
      unreachable?: boolean;
    }
  | {
      kind: "refused";
      type: ScanType;
      at: string;
      reason: RefusalReason;
      ticketId?: number;
      seat?: SeatInfo;
      redeemedAt?: string;
      redeemedListId?: number;
      offline: boolean;
      unreachable?: boolean;
    }
  | { kind: "error"; error: unknown }
  | { kind: "noOfflineData" }
  | { kind: "undone" };

/** The last admitted scan, for undo: a server check-in or a queued offline scan. */
interface LastScan {
  listId: number;
  checkinId?: number;
  nonce?: string;
}

function storage() {
  try {
    return globalThis.localStorage ?? memoryStorage();
  } catch {
    return memoryStorage();
  }
}

const FORCE_OFFLINE_KEY = "ticketing.checkin.forceOffline";

/** `navigator.onLine`, following the browser's online/offline events. */
function useBrowserOnline(): boolean {
  const [online, setOnline] = useState(() => globalThis.navigator?.onLine ?? true);
  useEffect(() => {
    const update = () => setOnline(navigator.onLine);
    window.addEventListener("online", update);
    window.addEventListener("offline", update);
    return () => {
      window.removeEventListener("online", update);
      window.removeEventListener("offline", update);
    };
  }, []);
  return online;
}

const nonce = () =>
  globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

const isUnreachable = (error: unknown) =>
  error instanceof TypeError || (error instanceof ApiError && error.status >= 500);

const rulesOf = (l: CheckinList): ListRules => ({
  id: l.id,
  concertId: l.concertId,
  name: l.name,
  grades: l.grades ?? null,
  allowMultipleEntries: l.allowMultipleEntries,
  allowEntryAfterExit: l.allowEntryAfterExit,
});

/**
 * The scanner of one concert and list. `serverLists` are the concert's lists as the server
 * answered (absent offline: the lists downloaded with the offline data stand in).
 */
export function useScanner(concertId: number | null, listId: number | null, serverLists: CheckinList[] | undefined) {
  const store = useMemo(() => new OfflineStore(storage()), []);
  const queryClient = useQueryClient();
  const browserOnline = useBrowserOnline();
  const [forceOffline, setForceOfflineState] = useState(() => storage().getItem(FORCE_OFFLINE_KEY) === "true");
  const online = browserOnline && !forceOffline;

  const [data, setData] = useState<OfflineData | null>(null);
  const [keys, setKeys] = useState<CryptoKey[]>([]);
  const [downloading, setDownloading] = useState(false);
  const [downloadError, setDownloadError] = useState<unknown>(null);
  const [verifies, setVerifies] = useState<boolean | null>(null);
  const [queue, setQueue] = useState<QueuedScan[]>(() => store.queue());
  const [uploading, setUploading] = useState(false);
  const [report, setReport] = useState<UploadReport | null>(null);
  const [result, setResult] = useState<ScanResult | null>(null);
  const [busy, setBusy] = useState(false);
  const [last, setLast] = useState<LastScan | null>(null);
  const uploadingRef = useRef(false);
  const lists: ListRules[] = serverLists?.length ? serverLists.map(rulesOf) : (data?.lists ?? []);
  const list = lists.find((l) => l.id === listId) ?? null;

  const setForceOffline = useCallback((value: boolean) => {
    storage().setItem(FORCE_OFFLINE_KEY, String(value));
    setForceOfflineState(value);
  }, []);

  useEffect(() => {
    void ed25519Supported().then(setVerifies);
  }, []);

  // The stored data of the chosen concert, then a fresh download while online.
  const download = useCallback(async () => {
    if (concertId === null) return;
    setDownloading(true);
    setDownloadError(null);
    try {
      const next = await downloadOfflineData(concertId, store.data(concertId));
      store.saveData(next);
      setData(next);
    } catch (error) {
      setDownloadError(error);
    } finally {
      setDownloading(false);
    }
  }, [concertId, store]);

  useEffect(() => {
    setData(concertId === null ? null : store.data(concertId));
    if (concertId !== null && online) void download();
    // Revocations keep coming during the evening: ask for the new ones every minute.
    if (concertId === null || !online) return;
    const timer = setInterval(() => void download(), 60_000);
    return () => clearInterval(timer);
  }, [concertId, online, download, store]);

  useEffect(() => {
    let stale = false;
    void Promise.all((data?.publicKeys ?? []).map((k) => importPublicKey(k).catch(() => null))).then((imported) => {
      if (!stale) setKeys(imported.filter((k): k is CryptoKey => k !== null));
    });
    return () => {
      stale = true;
    };
  }, [data]);

  const refreshStatus = useCallback(
    () => queryClient.invalidateQueries({ queryKey: ["checkin", "status"] }),
    [queryClient],
  );

  const decideHere = useCallback(
    async (secret: string, type: ScanType, listId: number, id: string, scannedAt: string, unreachable: boolean): Promise<void> => {
      const rules = data?.lists.find((l) => l.id === listId) ?? (list?.id === listId ? list : null);
      if (!data || !rules || keys.length === 0) {
        setResult({ kind: "noOfflineData" });
        return;
      }
      const decision = await decideLocally({
        secret,
        type,
        list: rules,
        keys,
        revoked: new Set(data.revoked),
        seats: data.seats,
        history: store.history(listId),
      });
      if (decision.status === "ok") {
        const scan: QueuedScan = { nonce: id, secret, listId, type, scannedAt, ticketId: decision.claims.ticketId };
        store.record(listId, { ticketId: scan.ticketId, type, at: scannedAt, nonce: id });
        store.enqueue(scan);
        setQueue(store.queue());
        setLast({ listId, nonce: id });
        setResult({ kind: "ok", type, at: scannedAt, ticketId: scan.ticketId, seat: decision.seat, offline: true, unreachable });
      } else {
        setLast(null);
        setResult({
          kind: "refused",
          type,
          at: scannedAt,
          reason: decision.reason,
          ticketId: decision.claims?.ticketId,
          seat: decision.seat,
          redeemedAt: decision.redeemedAt,
          redeemedListId: decision.redeemedListId,
          offline: true,
          unreachable,
        });
      }
    },
    [data, keys, list, store],
  );

  /** Checks one scanned or typed secret on the chosen list. */
  const scan = useCallback(
    async (raw: string, type: ScanType) => {
      const secret = raw.trim();
      if (!secret || !list || busy) return;
      setBusy(true);
      const id = nonce();
      const scannedAt = new Date().toISOString();
      try {
        if (online) {
          try {
            const answer = await redeem({ secret, listId: list.id, type, nonce: id });
            if (answer.kind === "ok") {
              const t = answer.body.ticket;
              store.record(list.id, { ticketId: t.id, type, at: scannedAt, checkinId: answer.body.checkinId });
              setLast({ listId: list.id, checkinId: answer.body.checkinId });
              setResult({
                kind: "ok",
                type,
                at: scannedAt,
                ticketId: t.id,
                seat: { section: t.section, row: t.row, number: t.number, grade: t.grade },
                offline: false,
              });
            } else {
              const b = answer.body;
              const t = b.ticket;
              setLast(null);
              setResult({
                kind: "refused",
                type,
                at: scannedAt,
                reason: b.reason,
                ticketId: t?.id,
                seat: t ? { section: t.section, row: t.row, number: t.number, grade: t.grade } : undefined,
                redeemedAt: b.redeemedAt ?? undefined,
                redeemedListId: b.redeemedListId ?? undefined,
                offline: false,
              });
            }
            void refreshStatus();
            return;
          } catch (error) {
            if (!isUnreachable(error)) {
              setResult({ kind: "error", error });
              return;
            }
            // The server is out of reach: decide here, as offline.
            await decideHere(secret, type, list.id, id, scannedAt, true);
            return;
          }
        }
        await decideHere(secret, type, list.id, id, scannedAt, false);
      } finally {
        setBusy(false);
      }
    },
    [busy, decideHere, list, online, refreshStatus, store],
  );

  /** Uploads the offline scans with `force` and their scan time; conflicts are reported. */
  const upload = useCallback(async () => {
    const pending = store.queue();
    if (uploadingRef.current || pending.length === 0) return;
    uploadingRef.current = true;
    setUploading(true);
    try {
      const send = async (s: QueuedScan): Promise<UploadAnswer> => {
        try {
          const answer = await redeem({ secret: s.secret, listId: s.listId, type: s.type, nonce: s.nonce, scannedAt: s.scannedAt, force: true });
          return answer.kind === "ok"
            ? { status: "ok", checkinId: answer.body.checkinId, conflict: answer.body.conflict ?? null }
            : { status: "error", reason: answer.body.reason };
        } catch (error) {
          if (isUnreachable(error)) throw error;
          return { status: "error", reason: error instanceof ApiError ? (error.code ?? String(error.status)) : "error" };
        }
      };
      const done = await uploadQueue(pending, send);
      const left = new Set(done.remaining.map((s) => s.nonce));
      for (const s of pending) if (!left.has(s.nonce)) store.dequeue(s.nonce);
      for (const listId of new Set(pending.map((s) => s.listId))) store.settle(listId, done.checkins);
      setQueue(store.queue());
      setLast((prev) => {
        const checkinId = prev?.nonce ? done.checkins[prev.nonce] : undefined;
        return prev && checkinId !== undefined ? { listId: prev.listId, checkinId } : prev;
      });
      if (done.uploaded > 0 || done.conflicts.length > 0) {
        setReport((prev) => ({
          uploaded: (prev?.uploaded ?? 0) + done.uploaded,
          conflicts: [...(prev?.conflicts ?? []), ...done.conflicts],
          checkins: { ...prev?.checkins, ...done.checkins },
          remaining: done.remaining,
        }));
      }
      void refreshStatus();
    } finally {
      uploadingRef.current = false;
      setUploading(false);
    }
  }, [refreshStatus, store]);

  // Back online: upload at once, then retry every 10 s while something waits.
  useEffect(() => {
    if (!online || queue.length === 0) return;
    void upload();
    const timer = setInterval(() => void upload(), 10_000);
    return () => clearInterval(timer);
  }, [online, queue.length, upload]);

  /** Takes back the last admitted scan (on the server, or out of the queue). */
  const undo = useCallback(async () => {
    if (!last || busy) return;
    setBusy(true);
    try {
      if (last.checkinId !== undefined) {
        await undoCheckin(last.checkinId);
        store.forget(last.listId, { checkinId: last.checkinId });
        void refreshStatus();
      } else if (last.nonce) {
        store.dequeue(last.nonce);
        store.forget(last.listId, { nonce: last.nonce });
        setQueue(store.queue());
      }
      setLast(null);
      setResult({ kind: "undone" });
    } catch (error) {
      setResult({ kind: "error", error });
    } finally {
      setBusy(false);
    }
  }, [busy, last, refreshStatus, store]);

  return {
    lists,
    list,
    online,
    browserOnline,
    forceOffline,
    setForceOffline,
    data,
    keyCount: keys.length,
    verifies,
    download,
    downloading,
    downloadError,
    queue,
    upload,
    uploading,
    report,
    result,
    busy,
    scan,
    canUndo: last !== null && (last.checkinId === undefined || online),
    undo,
  };
}
