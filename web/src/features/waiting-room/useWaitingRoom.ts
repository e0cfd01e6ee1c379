// The fan's place in a concert's waiting room. The place is server state, kept in the query
// cache: read once with `status`, then fed live by the stream (`queue-update`,
// `queue-complete`, `queue-left`). An `EventSource` cannot send headers, so the access token
// goes in `?token=`; when the stream is refused (an expired token), one status call through the
// client refreshes the session and the stream reopens with the new token.
import { useQueryClient, useQuery } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, currentSession, unwrap, type Schemas } from "../../lib/api/client";
import { proveHuman } from "../../lib/challenge/proof";

export type QueueStatus = Schemas["QueueStatusResponse"];
export type QueueEnd = "left" | "lost" | null;

export const queueKey = (concertId: number) => ["me", "queue", concertId] as const;

/** The place, or null when the fan is not in line (`QUEUE_NOT_JOINED`). */
export async function fetchQueueStatus(concertId: number): Promise<QueueStatus | null> {
  try {
    return await unwrap(api.GET("/api/queue/{concertId}/status", { params: { path: { concertId } } }));
  } catch (e) {
    if (e instanceof ApiError && e.code === "QUEUE_NOT_JOINED") return null;
    throw e;
  }
}

export function useQueueStatus(concertId: number, enabled: boolean) {
  return useQuery({
    queryKey: queueKey(concertId),
    queryFn: () => fetchQueueStatus(concertId),
    enabled,
    staleTime: 5_000,
  });
}

export function useWaitingRoom(concertId: number, enabled: boolean, onAdmitted: () => void) {
  const queryClient = useQueryClient();
  const status = useQueueStatus(concertId, enabled);
  const [ended, setEnded] = useState<QueueEnd>(null);
  const [reconnecting, setReconnecting] = useState(false);
  const [actionError, setActionError] = useState<unknown>(null);
  const [joining, setJoining] = useState(false);
  const [checking, setChecking] = useState(false);
  const leaving = useRef(false);
  const admittedRef = useRef(onAdmitted);
  admittedRef.current = onAdmitted;

  const place = status.data ?? null;
  const waiting = enabled && place !== null && !place.canEnter;

  useEffect(() => {
    if (!waiting) return;
    let source: EventSource | null = null;
    let closed = false;
    const set = (next: QueueStatus | null) => queryClient.setQueryData(queueKey(concertId), next);

    const open = () => {
      const token = currentSession()?.token ?? "";
      source = new EventSource(`/api/queue/${concertId}/stream?token=${encodeURIComponent(token)}`);
      const onPlace = (e: MessageEvent<string>) => {
        setReconnecting(false);
        const next = JSON.parse(e.data) as QueueStatus;
        set(next);
        if (next.canEnter) {
          source?.close();
          admittedRef.current();
        }
      };
      source.addEventListener("queue-update", onPlace);
      source.addEventListener("queue-complete", onPlace);
      source.addEventListener("queue-left", () => {
        source?.close();
        setEnded(leaving.current ? "left" : "lost");
        set(null);
      });
      source.onerror = () => {
        if (closed) return;
        if (source?.readyState === EventSource.CONNECTING) {
          // The browser retries by itself.
          setReconnecting(true);
          return;
        }
        // Refused (expired token, place gone): ask once through the client, which refreshes.
        source?.close();
        setReconnecting(true);
        fetchQueueStatus(concertId)
          .then((next) => {
            if (closed) return;
            setReconnecting(false);
            if (next === null) {
              setEnded(leaving.current ? "left" : "lost");
              set(null);
            } else if (next.canEnter) {
              set(next);
              admittedRef.current();
            } else {
              set(next);
              window.setTimeout(() => !closed && open(), 1000);
            }
          })
          .catch(() => {
            if (!closed) window.setTimeout(open, 3000);
          });
      };
    };
    open();
    return () => {
      closed = true;
      source?.close();
    };
  }, [waiting, concertId, queryClient]);

  const join = useCallback(async () => {
    setJoining(true);
    setActionError(null);
    setEnded(null);
    leaving.current = false;
    try {
      // A concert may ask for a bot check first (its `challengeDifficulty`): about a second of
      // work in a worker.
      const header = await proveHuman({ purpose: "QUEUE", concertId }, setChecking);
      await unwrap(api.POST("/api/queue", { body: { concertId }, params: { header } }));
      const next = await fetchQueueStatus(concertId);
      queryClient.setQueryData(queueKey(concertId), next);
      if (next?.canEnter) admittedRef.current();
    } catch (e) {
      setActionError(e);
    } finally {
      setJoining(false);
    }
  }, [concertId, queryClient]);

  const leave = useCallback(async () => {
    setActionError(null);
    leaving.current = true;
    try {
      await unwrap(api.DELETE("/api/queue/{concertId}", { params: { path: { concertId } } }));
      queryClient.setQueryData(queueKey(concertId), null);
      setEnded("left");
    } catch (e) {
      leaving.current = false;
      setActionError(e);
    }
  }, [concertId, queryClient]);

  return { status, place, ended, reconnecting, joining, checking, actionError, join, leave };
}
