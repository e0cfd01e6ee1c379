// Every reservation, or one concert's, filtered by status, a page at a time.
import { useId } from "react";
import { Link, useSearchParams } from "react-router";
import type { Schemas } from "../../lib/api/client";
import { useAllReservations, useConcertReservations, useConcerts, type Reservation } from "../api";
import { useAdminT } from "../i18n";
import { adminPaths } from "../paths";
import { formatSeoul } from "../time";
import { ErrorNote, formatMoney, formatNumber, Loading, Pager } from "../ui";

type ReservationStatus = Schemas["ReservationStatus"];
const STATUSES: ReservationStatus[] = ["IN_PROGRESS", "CONFIRMED", "FAILED", "CANCELED", "EXPIRED"];
const PAGE_SIZE = 20;

function isStatus(value: string | null): value is ReservationStatus {
  return STATUSES.includes(value as ReservationStatus);
}

export function ReservationsPage() {
  const { t, lang } = useAdminT();
  const [params, setParams] = useSearchParams();
  const concertParam = Number(params.get("concert"));
  const concertId = Number.isInteger(concertParam) && concertParam > 0 ? concertParam : undefined;
  const statusParam = params.get("status");
  const status = isStatus(statusParam) ? statusParam : undefined;
  const page = Math.max(0, Number(params.get("page")) || 0);
  const headingId = useId();
  const concertSelectId = useId();
  const statusSelectId = useId();

  const concerts = useConcerts(0, 100);
  // One concert: every reservation of it is loaded, so the status filter and the pages are exact.
  const ofConcert = useConcertReservations(concertId);
  // Every concert: the service pages (newest first) and has no status filter, so the filter
  // narrows the page shown.
  const all = useAllReservations(page, PAGE_SIZE, concertId === undefined);

  const update = (patch: Record<string, string | undefined>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined || value === "") next.delete(key);
      else next.set(key, value);
    }
    if (!("page" in patch)) next.delete("page");
    setParams(next);
  };

  let rows: Reservation[] = [];
  let totalPages = 0;
  let total = 0;
  const query = concertId === undefined ? all : ofConcert;
  if (concertId !== undefined && ofConcert.data) {
    const filtered = status ? ofConcert.data.filter((r) => r.status === status) : ofConcert.data;
    total = filtered.length;
    totalPages = Math.ceil(total / PAGE_SIZE);
    rows = filtered.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
  } else if (concertId === undefined && all.data) {
    rows = status ? all.data.content.filter((r) => r.status === status) : all.data.content;
    total = all.data.totalElements;
    totalPages = all.data.totalPages;
  }

  return (
    <section aria-labelledby={headingId}>
      <h1 id={headingId}>{t("reservations.title")}</h1>
      <form className="admin-filters" role="search" aria-label={t("reservations.filters")} onSubmit={(e) => e.preventDefault()}>
        <div className="admin-field">
          <label htmlFor={concertSelectId}>{t("reservations.concert")}</label>
          <select
            id={concertSelectId}
            value={concertId ?? ""}
            onChange={(e) => update({ concert: e.target.value })}
          >
            <option value="">{t("reservations.allConcerts")}</option>
            {concertId !== undefined &&
              !concerts.data?.content.some((c) => c.id === concertId) && (
                <option value={concertId}>#{concertId}</option>
              )}
            {concerts.data?.content.map((c) => (
              <option key={c.id} value={c.id}>
                {c.title} (#{c.id})
              </option>
            ))}
          </select>
        </div>
        <div className="admin-field">
          <label htmlFor={statusSelectId}>{t("reservation.status")}</label>
          <select id={statusSelectId} value={status ?? ""} onChange={(e) => update({ status: e.target.value })}>
            <option value="">{t("reservations.allStatuses")}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`reservationStatus.${s}`)}
              </option>
            ))}
          </select>
        </div>
      </form>
      {concertId === undefined && status && (
        <p className="admin-muted">{t("reservations.pageFilterNote")}</p>
      )}
      {concertId !== undefined && (
        <p className="admin-actions">
          <Link to={adminPaths.sale(concertId)}>{t("concerts.sale")}</Link>
        </p>
      )}
      {query.isPending ? (
        <Loading />
      ) : query.isError ? (
        <ErrorNote error={query.error} />
      ) : (
        <>
          <p className="admin-muted" role="status">
            {t("reservations.total", { count: formatNumber(total, lang) })}
          </p>
          {rows.length === 0 ? (
            <p>{t("reservations.empty")}</p>
          ) : (
            <div className="admin-table-wrap">
              <table className="admin-table">
                <caption className="admin-visually-hidden">{t("reservations.title")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("reservation.id")}</th>
                    <th scope="col">{t("reservation.concert")}</th>
                    <th scope="col">{t("reservation.user")}</th>
                    <th scope="col">{t("reservation.seats")}</th>
                    <th scope="col">{t("reservation.amount")}</th>
                    <th scope="col">{t("reservation.status")}</th>
                    <th scope="col">{t("reservation.payment")}</th>
                    <th scope="col">{t("reservation.time")}</th>
                    <th scope="col">{t("reservation.expires")}</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r) => (
                    <tr key={r.reservationId}>
                      <th scope="row">{r.reservationId}</th>
                      <td>{r.concertTitle}</td>
                      <td>{r.userEmail}</td>
                      <td>{r.seats.map((s) => `${s.section}-${s.row}-${s.number}`).join(", ")}</td>
                      <td className="admin-num">{formatMoney(r.totalAmount, lang)}</td>
                      <td>
                        <span className={`admin-badge admin-res-${r.status.toLowerCase()}`}>
                          {t(`reservationStatus.${r.status}`)}
                        </span>
                        {r.cancelReason && <small className="admin-muted"> {r.cancelReason}</small>}
                      </td>
                      <td>{r.paymentStatus ? t(`paymentStatus.${r.paymentStatus}`) : "—"}</td>
                      <td>{formatSeoul(r.reservationTime)}</td>
                      <td>{formatSeoul(r.expireTime)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <Pager
            label={t("reservations.pager")}
            page={page}
            totalPages={totalPages}
            onPage={(next) => update({ page: String(next) })}
          />
        </>
      )}
    </section>
  );
}
