// The admin pages' server state: TanStack Query over the typed client.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../lib/api/client";

export type Concert = Schemas["ConcertResponse"];
export type Seat = Schemas["SeatResponse"];
export type Reservation = Schemas["ReservationResponse"];

/** Every admin query key starts with this, so a sign-in change can drop them all. */
export const ADMIN_KEY = "admin";

export const keys = {
  me: [ADMIN_KEY, "me"] as const,
  concerts: (page: number, size: number, title: string) =>
    [ADMIN_KEY, "concerts", page, size, title] as const,
  concert: (id: number) => [ADMIN_KEY, "concert", id] as const,
  seats: (concertId: number) => [ADMIN_KEY, "seats", concertId] as const,
  availability: (concertId: number) => [ADMIN_KEY, "availability", concertId] as const,
  concertReservations: (concertId: number) => [ADMIN_KEY, "reservations", "concert", concertId] as const,
  reservations: [ADMIN_KEY, "reservations"] as const,
};

export function useMe(enabled: boolean) {
  return useQuery({
    queryKey: keys.me,
    queryFn: () => unwrap(api.GET("/api/user/me")),
    enabled,
    retry: false,
    staleTime: 60_000,
  });
}

export function useConcerts(page: number, size: number, title = "") {
  return useQuery({
    queryKey: keys.concerts(page, size, title),
    queryFn: () =>
      unwrap(
        api.GET("/api/concert", {
          params: { query: { page, size, ...(title ? { title } : {}) } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

export function useConcert(id: number | undefined) {
  return useQuery({
    queryKey: keys.concert(id ?? -1),
    queryFn: () => unwrap(api.GET("/api/concert/{id}", { params: { path: { id: id! } } })),
    enabled: id !== undefined,
  });
}

export function useSeats(concertId: number, page: number, size: number) {
  return useQuery({
    queryKey: [...keys.seats(concertId), page, size],
    queryFn: () =>
      unwrap(
        api.GET("/api/seat/concert/{concertId}", {
          params: { path: { concertId }, query: { page, size } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

/** Every seat's state, fetched again every two seconds while the page is open. */
export function useAvailability(concertId: number) {
  return useQuery({
    queryKey: keys.availability(concertId),
    queryFn: () =>
      unwrap(
        api.GET("/api/seat/concert/{concertId}/availability", {
          params: { path: { concertId } },
        }),
      ),
    refetchInterval: 2_000,
  });
}

/** The page size the reservation lists ask for (the service's maximum). */
export const RESERVATION_PAGE = 100;

/** Every reservation of a concert, page after page (the API has no totals endpoint). */
export async function fetchConcertReservations(concertId: number): Promise<Reservation[]> {
  const all: Reservation[] = [];
  for (let page = 0; ; page++) {
    const answer = await unwrap(
      api.GET("/api/reservations/admin/concert/{concertId}", {
        params: { path: { concertId }, query: { page, size: RESERVATION_PAGE } },
      }),
    );
    all.push(...answer.content);
    if (answer.last || answer.content.length === 0) return all;
  }
}

export function useConcertReservations(concertId: number | undefined, refetchInterval?: number) {
  return useQuery({
    queryKey: keys.concertReservations(concertId ?? -1),
    queryFn: () => fetchConcertReservations(concertId!),
    enabled: concertId !== undefined,
    refetchInterval,
    placeholderData: keepPreviousData,
  });
}

export function useAllReservations(page: number, size: number, enabled: boolean) {
  return useQuery({
    queryKey: [...keys.reservations, "all", page, size],
    queryFn: () =>
      unwrap(api.GET("/api/reservations/admin/all", { params: { query: { page, size } } })),
    enabled,
    placeholderData: keepPreviousData,
  });
}
