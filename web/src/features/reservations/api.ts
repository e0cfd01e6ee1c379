import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../../lib/api/client";

export type Reservation = Schemas["ReservationResponse"];

export function useMyReservations(page: number) {
  return useQuery({
    queryKey: ["me", "reservations", page],
    queryFn: () => unwrap(api.GET("/api/reservations/my", { params: { query: { page, size: 10 } } })),
    placeholderData: keepPreviousData,
  });
}

export function useCancelReservation() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Schemas["CancelRequest"]) => unwrap(api.POST("/api/reservations/cancel", { body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["me", "reservations"] }),
  });
}
