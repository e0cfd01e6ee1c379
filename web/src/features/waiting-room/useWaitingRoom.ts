// The fan's place in a concert's waiting room. The place is server state, kept in the query
// cache: read once with `status`, then fed live by the stream (`queue-update`,
// `queue-complete`, `queue-left`), which `connectQueueStream` opens with a short-lived stream
// ticket (never the access token in the URL) and reopens with a new one when refused.
import { useQueryClient, useQuery } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { api, unwrap } from "../../lib/api/client";
import { connectQueueStream, fetchQueueStatus, type QueueStatus } from "./queueStream";
import { proveHuman } from "../../lib/challenge/proof";

export type { QueueStatus } from "./queueStream";
export type QueueEnd = "left" | "lost" | null;

export const queueKey = (concertId: number) => ["me", "queue", concertId] as const;

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
    const set = (next: QueueStatus | null) => queryClient.setQueryData(queueKey(concertId), next);
    return connectQueueStream(concertId, {
      onPlace: set,
      onAdmitted: () => admittedRef.current(),
      onGone: () => {
        setEnded(leaving.current ? "left" : "lost");
        set(null);
      },
      onReconnecting: setReconnecting,
    });
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
