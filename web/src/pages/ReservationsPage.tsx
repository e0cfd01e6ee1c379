// The fan's bookings: status, seats, amount; a confirmed booking can be cancelled until two
// hours before the show, and the refund is shown.
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { ErrorAlert, Notice } from "../components/ErrorAlert";
import { Loading } from "../components/Loading";
import { Pagination } from "../components/Pagination";
import { Field } from "../components/Field";
import { useCancelReservation, useMyReservations, type Reservation } from "../features/reservations/api";
import { canCancel, formatDateTime, formatMoney } from "../lib/format";
import { useT } from "../lib/i18n";
import { useNow } from "../lib/useNow";
import { usePageTitle } from "../lib/usePageTitle";

export function ReservationsPage() {
  const { t } = useT();
  const [params, setParams] = useSearchParams();
  const page = Math.max(0, Number.parseInt(params.get("page") ?? "0", 10) || 0);
  const list = useMyReservations(page);
  usePageTitle(t("reservations.title"));

  return (
    <>
      <h1>{t("reservations.title")}</h1>
      {list.isPending && <Loading />}
      <ErrorAlert error={list.error} onRetry={() => void list.refetch()} />
      {list.data &&
        (list.data.content.length === 0 ? (
          <p>
            {t("reservations.empty")} <Link to="/concerts">{t("checkout.toConcerts")}</Link>
          </p>
        ) : (
          <ul className="reservation-list">
            {list.data.content.map((r) => (
              <ReservationItem key={r.reservationId} reservation={r} />
            ))}
          </ul>
        ))}
      {list.data && (
        <Pagination page={list.data.number} totalPages={list.data.totalPages} onPage={(p) => setParams({ page: String(p) })} />
      )}
    </>
  );
}

function ReservationItem({ reservation: r }: { reservation: Reservation }) {
  const { t, lang } = useT();
  const now = useNow();
  const cancel = useCancelReservation();
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState("");
  const cancellable = canCancel(r.status, r.concertDate, now);
  const headingId = `reservation-${r.reservationId}`;

  return (
    <li className="card reservation" aria-labelledby={headingId}>
      <div className="reservation-head">
        <h2 id={headingId}>
          <Link to={`/concerts/${r.concertId}`}>{r.concertTitle}</Link>
        </h2>
        <span className={`badge badge-r-${r.status.toLowerCase()}`}>{t(`reservation.${r.status}`)}</span>
      </div>
      <dl className="facts">
        <div>
          <dt>{t("concerts.date")}</dt>
          <dd>{formatDateTime(r.concertDate, lang, true)}</dd>
        </div>
        <div>
          <dt>{t("reservations.reservedAt")}</dt>
          <dd>{formatDateTime(r.reservationTime, lang)}</dd>
        </div>
        <div>
          <dt>{t("reservations.amount")}</dt>
          <dd>{r.totalAmount == null ? "—" : formatMoney(r.totalAmount, lang)}</dd>
        </div>
        {r.paymentStatus && (
          <div>
            <dt>{t("reservations.payment")}</dt>
            <dd>{t(`payment.${r.paymentStatus}`)}</dd>
          </div>
        )}
      </dl>
      <ul className="seat-chips" aria-label={t("reservations.seats")}>
        {r.seats.map((s) => (
          <li key={s.seatId}>
            {t("seats.seat", { section: s.section, row: s.row, number: s.number })} · {s.grade} ·{" "}
            {formatMoney(s.price, lang)}
          </li>
        ))}
      </ul>
      {r.status === "CONFIRMED" && (
        <p>
          <Link to="/tickets">{t("reservations.tickets")}</Link>
        </p>
      )}
      {r.cancelReason && <p className="muted">{t("reservations.cancelReasonShown", { reason: r.cancelReason })}</p>}
      {r.status === "IN_PROGRESS" && r.transactionId && (
        <p>
          {t("reservations.payBefore", { time: formatDateTime(r.expireTime, lang) })}{" "}
          <Link to={`/checkout/${encodeURIComponent(r.transactionId)}`}>{t("reservations.continuePayment")}</Link>
        </p>
      )}
      {cancel.data && <Notice kind="success">{cancel.data.message} {t("reservations.refundAmount", { amount: formatMoney(cancel.data.refundAmount, lang) })}</Notice>}
      <ErrorAlert error={cancel.error} />
      {cancellable && !confirming && (
        <div className="actions">
          <button type="button" className="button button-danger" onClick={() => setConfirming(true)}>
            {t("reservations.cancel")}
          </button>
          <span className="muted">{t("reservations.cancelDeadline")}</span>
        </div>
      )}
      {cancellable && confirming && (
        <form
          className="cancel-form"
          onSubmit={(e) => {
            e.preventDefault();
            cancel.mutate(
              { reservationId: r.reservationId, cancelReason: reason.trim() || null },
              { onSuccess: () => setConfirming(false) },
            );
          }}
        >
          <p>{t("reservations.refundAmount", { amount: r.totalAmount == null ? "—" : formatMoney(r.totalAmount, lang) })}</p>
          <Field label={t("reservations.cancelReason")} maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} />
          <div className="actions">
            <button type="submit" className="button button-danger" disabled={cancel.isPending}>
              {cancel.isPending ? t("reservations.cancelling") : t("reservations.cancelConfirm")}
            </button>
            <button type="button" className="button button-quiet" onClick={() => setConfirming(false)}>
              {t("reservations.cancelKeep")}
            </button>
          </div>
        </form>
      )}
    </li>
  );
}
