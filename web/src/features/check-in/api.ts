// The scanner's server calls: a concert's check-in lists, a list's live status, redeem and
// undo, and the offline download (keys, revocations, seats). Types come from the generated
// client (by path, so a renamed schema does not break them).
import { useQuery } from "@tanstack/react-query";
import { api, ApiError, unwrap, type ErrorBody } from "../../lib/api/client";
import type { paths } from "../../lib/api/schema";
import { seatsOfLayout, syncRevoked, type OfflineData } from "./offline";

type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;

export type CheckinList = Json<paths["/api/checkin/lists/{listId}"]["get"]["responses"][200]>;
export type ListStatus = Json<paths["/api/checkin/lists/{listId}/status"]["get"]["responses"][200]>;
export type RedeemRequest = NonNullable<paths["/api/checkin/redeem"]["post"]["requestBody"]>["content"]["application/json"];
type Responses = paths["/api/checkin/redeem"]["post"]["responses"];
export type Redeemed = Json<Responses[201]>;
export type Refused = Json<Responses[200]>;

export function useConcertList() {
  return useQuery({
    queryKey: ["checkin", "concerts"],
    queryFn: () => unwrap(api.GET("/api/concert", { params: { query: { size: 100 } } })),
  });
}

export function useCheckinLists(concertId: number | null) {
  return useQuery({
    queryKey: ["checkin", "lists", concertId],
    queryFn: () => unwrap(api.GET("/api/concert/{id}/checkin-lists", { params: { path: { id: concertId! } } })),
    enabled: concertId !== null,
  });
}

/** The list's live counts, asked again every few seconds while the page is open. */
export function useListStatus(listId: number | null, online: boolean) {
  return useQuery({
    queryKey: ["checkin", "status", listId],
    queryFn: () => unwrap(api.GET("/api/checkin/lists/{listId}/status", { params: { path: { listId: listId! } } })),
    enabled: listId !== null && online,
    refetchInterval: 3_000,
    retry: false,
  });
}

/** The server's answer to a scan: admitted, refused (with the reason), or no answer at all. */
export type RedeemAnswer = { kind: "ok"; body: Redeemed } | { kind: "refused"; body: Refused };

/**
 * Redeems a scan. A refusal is an answer (200, or 404 `invalid`); any other failure throws: an
 * `ApiError` for an error body (e.g. an unknown list), a `TypeError` when the server is out of
 * reach.
 */
export async function redeem(body: RedeemRequest): Promise<RedeemAnswer> {
  const { data, error, response } = await api.POST("/api/checkin/redeem", { body });
  if (response.status === 201) return { kind: "ok", body: data as Redeemed };
  if (response.status === 200) return { kind: "refused", body: data as Refused };
  const refusal = error as { status?: string; reason?: string } | undefined;
  if (response.status === 404 && refusal?.status === "error" && typeof refusal.reason === "string") {
    return { kind: "refused", body: refusal as Refused };
  }
  throw new ApiError(response.status, error as ErrorBody | undefined);
}

export async function undoCheckin(checkinId: number): Promise<void> {
  await unwrap(api.DELETE("/api/checkin/{checkinId}", { params: { path: { checkinId } } }));
}

/**
 * Everything the scanner needs to decide offline for one concert: its public keys, the revoked
 * secrets (only those after what `previous` has), its seats (for the grade) and its lists.
 */
export async function downloadOfflineData(concertId: number, previous: OfflineData | null): Promise<OfflineData> {
  const path = { path: { id: concertId } };
  const [keys, layout, lists] = await Promise.all([
    unwrap(api.GET("/api/concert/{id}/checkin/keys", { params: path })),
    unwrap(api.GET("/api/seat/concert/{concertId}/layout", { params: { path: { concertId } } })),
    unwrap(api.GET("/api/concert/{id}/checkin-lists", { params: path })),
  ]);
  const revoked = await syncRevoked(previous?.revoked ?? [], previous?.revokedNext ?? 0, (since) =>
    unwrap(api.GET("/api/concert/{id}/checkin/revoked", { params: { path: { id: concertId }, query: { since } } })),
  );
  return {
    concertId,
    publicKeys: keys.keys.map((k) => k.publicKey),
    revoked: revoked.revoked,
    revokedNext: revoked.next,
    seats: seatsOfLayout(layout),
    lists: lists.map((l) => ({
      id: l.id,
      concertId: l.concertId,
      name: l.name,
      grades: l.grades ?? null,
      allowMultipleEntries: l.allowMultipleEntries,
      allowEntryAfterExit: l.allowEntryAfterExit,
    })),
    downloadedAt: new Date().toISOString(),
  };
}
