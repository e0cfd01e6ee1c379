import { useQuery } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "../../lib/api/client";

export type PaymentStatus = Schemas["PaymentStatusResponse"];

/** A reservation is settled once it left `IN_PROGRESS` (confirmed, failed, expired, canceled). */
export function isSettled(p: Pick<PaymentStatus, "reservationStatus">): boolean {
  return p.reservationStatus !== "IN_PROGRESS";
}

/** The payment, asked every second until the provider's webhook has settled it. */
export function usePayment(transactionId: string) {
  return useQuery({
    queryKey: ["me", "payment", transactionId],
    queryFn: () => unwrap(api.GET("/api/payment/{transactionId}", { params: { path: { transactionId } } })),
    refetchInterval: (query) => (query.state.data && isSettled(query.state.data) ? false : 1000),
    refetchIntervalInBackground: false,
    refetchOnWindowFocus: true,
    staleTime: 0,
  });
}
