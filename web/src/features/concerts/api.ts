import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../../lib/api/client";

export const PAGE_SIZE = 12;

export interface ConcertSearch {
  title: string;
  venue: string;
  page: number;
}

export function useConcerts({ title, venue, page }: ConcertSearch) {
  return useQuery({
    queryKey: ["concerts", { title, venue, page }],
    queryFn: () =>
      unwrap(
        api.GET("/api/concert", {
          params: { query: { title: title || undefined, venue: venue || undefined, page, size: PAGE_SIZE } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

export function useConcert(id: number) {
  return useQuery({
    queryKey: ["concert", id],
    queryFn: () => unwrap(api.GET("/api/concert/{id}", { params: { path: { id } } })),
    enabled: Number.isSafeInteger(id) && id > 0,
  });
}
