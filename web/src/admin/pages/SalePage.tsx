// The live sale of one concert: seats by state (every two seconds), seats sold per minute,
// revenue from confirmed reservations, and the waiting room when the concert has one.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useId, useState } from "react";
import { Link, useParams } from "react-router";
import { api, unwrap } from "../../lib/api/client";
import { ADMIN_KEY, useAvailability, useConcert, useConcertReservations, type Concert, type Reservation } from "../api";
import { countStates, SEAT_STATES, type StateCounts } from "../availability";
import { useAdminT } from "../i18n";
import { adminPaths } from "../paths";
import { addSample, soldPerMinute, type Sample } from "../salesRate";
import { formatSeoul } from "../time";
import { ErrorNote, formatMoney, formatNumber, Loading } from "../ui";
import type { Schemas } from "../../lib/api/client";

type ReservationStatus = Schemas["ReservationStatus"];
const RESERVATION_STATUSES: ReservationStatus[] = ["IN_PROGRESS", "CONFIRMED", "FAILED", "CANCELED", "EXPIRED"];

export function SalePage() {
  const { t } = useAdminT();
  const concertId = Number(useParams().concertId);
  const concert = useConcert(concertId);
  const headingId = useId();
  if (concert.isPending) return <Loading />;
  if (concert.isError) return <ErrorNote error={concert.error} />;
  const c = concert.data;
  return (
    <section aria-labelledby={headingId}>
      <p>
        <Link to={adminPaths.concerts}>{t("common.backToConcerts")}</Link>
      </p>
      <h1 id={headingId}>{t("sale.title", { title: c.title })}</h1>
      <p className="admin-muted">
        {t("sale.window", { open: formatSeoul(c.openTime), close: formatSeoul(c.closeTime) })} ·{" "}
        {t(`concertStatus.${c.status}`)}
      </p>
      <p className="admin-actions">
        <Link to={adminPaths.concert(concertId)}>{t("common.edit")}</Link>
        <Link to={adminPaths.seats(concertId)}>{t("concerts.seats")}</Link>
        <Link to={adminPaths.reservations(concertId)}>{t("concerts.reservations")}</Link>
      </p>
      <SeatStates concertId={concertId} />
      <Revenue concertId={concertId} />
      <WaitingRoom concert={c} />
    </section>
  );
}

function SeatStates({ concertId }: { concertId: number }) {
  const { t, lang } = useAdminT();
  const availability = useAvailability(concertId);
  const headingId = useId();
  const [samples, setSamples] = useState<Sample[]>([]);

  let counts: StateCounts | null = null;
  let decodeError: unknown = null;
  if (availability.data) {
    try {
      counts = countStates(availability.data.states, availability.data.count);
    } catch (e) {
      decodeError = e;
    }
  }
  const sold = counts?.SOLD;
  const updatedAt = availability.dataUpdatedAt;
  useEffect(() => {
    if (sold !== undefined && updatedAt > 0) {
      setSamples((s) => addSample(s, { at: updatedAt, sold }));
    }
  }, [sold, updatedAt]);

  const rate = soldPerMinute(samples);
  const total = availability.data?.count ?? 0;
  const pct = (n: number) => (total > 0 ? (n * 100) / total : 0);

  return (
    <section className="admin-panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t("sale.seats")}</h2>
      {availability.isPending ? (
        <Loading />
      ) : availability.isError && !availability.data ? (
        <ErrorNote error={availability.error} />
      ) : decodeError || !counts ? (
        <ErrorNote error={decodeError} />
      ) : (
        <>
          {availability.isError && <ErrorNote error={availability.error} title={t("sale.stale")} />}
          <div className="admin-stats">
            <Stat label={t("sale.totalSeats")} value={formatNumber(total, lang)} />
            <Stat
              label={t("sale.soldPerMinute")}
              value={rate === null ? t("sale.measuring") : formatNumber(rate, lang, 1)}
              hint={t("sale.soldPerMinuteHint")}
            />
            <Stat label={t("sale.soldShare")} value={`${formatNumber(pct(counts.SOLD), lang, 1)}%`} />
          </div>
          <div className="admin-bar" aria-hidden="true">
            {SEAT_STATES.map((s) => (
              <span key={s} className={`admin-state-${s.toLowerCase()}`} style={{ width: `${pct(counts[s])}%` }} />
            ))}
          </div>
          <table className="admin-table admin-table-compact">
            <caption className="admin-visually-hidden">{t("sale.seats")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("seat.status")}</th>
                <th scope="col">{t("sale.count")}</th>
                <th scope="col">{t("sale.share")}</th>
              </tr>
            </thead>
            <tbody>
              {SEAT_STATES.map((s) => (
                <tr key={s}>
                  <th scope="row">
                    <span className={`admin-swatch admin-state-${s.toLowerCase()}`} aria-hidden="true" />
                    {t(`seatState.${s}`)}
                  </th>
                  <td className="admin-num">{formatNumber(counts[s], lang)}</td>
                  <td className="admin-num">{formatNumber(pct(counts[s]), lang, 1)}%</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="admin-muted">
            {t("sale.updated", { time: new Date(availability.dataUpdatedAt).toLocaleTimeString(lang) })}
          </p>
        </>
      )}
    </section>
  );
}

function Stat({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <div className="admin-stat">
      <span className="admin-stat-label">{label}</span>
      <span className="admin-stat-value">{value}</span>
      {hint && <small className="admin-muted">{hint}</small>}
    </div>
  );
}

function reservationAmount(r: Reservation): number {
  return r.totalAmount ?? r.seats.reduce((sum, s) => sum + s.price, 0);
}

function Revenue({ concertId }: { concertId: number }) {
  const { t, lang } = useAdminT();
  const reservations = useConcertReservations(concertId, 15_000);
  const headingId = useId();
  const list = reservations.data ?? [];
  const confirmed = list.filter((r) => r.status === "CONFIRMED");
  const revenue = confirmed.reduce((sum, r) => sum + reservationAmount(r), 0);
  const seatsSold = confirmed.reduce((sum, r) => sum + r.seats.length, 0);
  const byStatus = RESERVATION_STATUSES.map((s) => [s, list.filter((r) => r.status === s).length] as const);

  return (
    <section className="admin-panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t("sale.revenueTitle")}</h2>
      {reservations.isPending ? (
        <Loading />
      ) : reservations.isError && !reservations.data ? (
        <ErrorNote error={reservations.error} />
      ) : (
        <>
          <div className="admin-stats">
            <Stat label={t("sale.revenue")} value={formatMoney(revenue, lang)} hint={t("sale.revenueHint")} />
            <Stat label={t("sale.confirmedReservations")} value={formatNumber(confirmed.length, lang)} />
            <Stat label={t("sale.confirmedSeats")} value={formatNumber(seatsSold, lang)} />
          </div>
          <table className="admin-table admin-table-compact">
            <caption>{t("sale.byStatus")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("reservation.status")}</th>
                <th scope="col">{t("sale.count")}</th>
              </tr>
            </thead>
            <tbody>
              {byStatus.map(([status, n]) => (
                <tr key={status}>
                  <th scope="row">{t(`reservationStatus.${status}`)}</th>
                  <td className="admin-num">{formatNumber(n, lang)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="admin-muted">{t("sale.revenueRefresh")}</p>
        </>
      )}
    </section>
  );
}

/** The line in numbers from the organisers' queue stats (`GET /api/queue/{concertId}/stats`). */
function WaitingRoom({ concert }: { concert: Concert }) {
  const { t, lang } = useAdminT();
  const headingId = useId();
  const stats = useQuery({
    queryKey: [ADMIN_KEY, "queue-stats", concert.id],
    queryFn: () =>
      unwrap(
        api.GET("/api/queue/{concertId}/stats", { params: { path: { concertId: concert.id } } }),
      ),
    enabled: concert.queueEnabled,
    refetchInterval: 2_000,
  });
  const rate = stats.data?.admissionsPerSecond;

  return (
    <section className="admin-panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t("queue.title")}</h2>
      {!concert.queueEnabled ? (
        <p>{t("queue.disabled")}</p>
      ) : stats.isPending ? (
        <Loading />
      ) : stats.isError ? (
        <ErrorNote error={stats.error} />
      ) : (
        <>
          <div className="admin-stats">
            <Stat label={t("queue.waiting")} value={formatNumber(stats.data.waiting, lang)} />
            <Stat
              label={t("queue.active")}
              value={formatNumber(stats.data.admitted, lang)}
              hint={t("queue.activeHint")}
            />
            <Stat
              label={t("queue.admittedTotal")}
              value={formatNumber(stats.data.admittedTotal, lang)}
            />
            <Stat
              label={t("queue.rate")}
              value={rate == null ? t("queue.measuring") : formatNumber(Math.round(rate * 60), lang)}
              hint={t("queue.rateHint")}
            />
          </div>
          <p className="admin-muted">{t("queue.source")}</p>
        </>
      )}
    </section>
  );
}
