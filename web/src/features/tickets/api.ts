// The fan's tickets: pages of `GET /api/tickets/my` (newest first, `before` = the last id) and
// each ticket's QR code as SVG (it needs the fan's token, so it is fetched, not linked).
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../../lib/api/client";

export type Ticket = Schemas["TicketResponse"];

/** The server's page size of `/api/tickets/my`. */
const PAGE = 100;

export function useMyTickets() {
  return useInfiniteQuery({
    queryKey: ["me", "tickets"],
    queryFn: ({ pageParam }) =>
      unwrap(api.GET("/api/tickets/my", { params: { query: { before: pageParam } } })),
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (last) => (last.length >= PAGE ? last[last.length - 1]?.id : undefined),
  });
}

/** The ticket's QR code, as an SVG document. */
export function useTicketQr(id: number) {
  return useQuery({
    queryKey: ["me", "tickets", id, "qr"],
    queryFn: () =>
      unwrap(api.GET("/api/tickets/{id}/qr.svg", { params: { path: { id } }, parseAs: "text" })) as Promise<string>,
    // The code of a secret never changes; a re-issued ticket is another ticket.
    staleTime: Infinity,
  });
}
