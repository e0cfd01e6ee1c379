// A concert's status and sale window, with a live countdown to the opening (or the close).
import type { Schemas } from "../../lib/api/client";
import { Countdown } from "../../components/Countdown";
import { formatDateTime, salePhase } from "../../lib/format";
import { useT } from "../../lib/i18n";
import { useNow } from "../../lib/useNow";

type Concert = Pick<Schemas["ConcertResponse"], "status" | "openTime" | "closeTime" | "queueEnabled">;

/** The badge a fan reads first: the concert's own status unless it is simply scheduled. */
export function StatusBadge({ concert }: { concert: Concert }) {
  const { t } = useT();
  const now = useNow();
  if (concert.status !== "SCHEDULED") {
    return <span className={`badge badge-${concert.status.toLowerCase()}`}>{t(`status.${concert.status}`)}</span>;
  }
  const phase = salePhase(concert.openTime, concert.closeTime, now);
  return <span className={`badge badge-${phase}`}>{t(`sale.${phase}`)}</span>;
}

export function SaleCountdown({ concert }: { concert: Concert }) {
  const { t } = useT();
  const now = useNow();
  if (concert.status !== "SCHEDULED") return null;
  const phase = salePhase(concert.openTime, concert.closeTime, now);
  if (phase === "closed") return null;
  const [key, to] = phase === "upcoming" ? (["concerts.opensIn", concert.openTime] as const) : (["concerts.closesIn", concert.closeTime] as const);
  const [before, after] = t(key, { time: "\u0000" }).split("\u0000");
  return (
    <p className={`sale-countdown sale-countdown-${phase}`}>
      {before}
      <Countdown to={to} />
      {after}
    </p>
  );
}

export function SaleWindow({ concert }: { concert: Concert }) {
  const { t, lang } = useT();
  return (
    <>
      {t("concerts.saleRange", {
        open: formatDateTime(concert.openTime, lang),
        close: formatDateTime(concert.closeTime, lang),
      })}
    </>
  );
}

/** A concert's date, venue and sale window, as the list and the concert page show them. */
export function ConcertFacts({
  concert,
  large = false,
}: {
  concert: Concert & Pick<Schemas["ConcertResponse"], "concertDate" | "venue">;
  large?: boolean;
}) {
  const { t, lang } = useT();
  return (
    <dl className={large ? "facts facts-large" : "facts"}>
      <div>
        <dt>{t("concerts.date")}</dt>
        <dd>{formatDateTime(concert.concertDate, lang, true)}</dd>
      </div>
      <div>
        <dt>{t("concerts.venue")}</dt>
        <dd>{concert.venue}</dd>
      </div>
      <div>
        <dt>{t("concerts.saleWindow")}</dt>
        <dd>
          <SaleWindow concert={concert} />
        </dd>
      </div>
    </dl>
  );
}
