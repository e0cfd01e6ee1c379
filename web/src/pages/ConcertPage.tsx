// One concert: its facts, status, sale window and countdown, then the way in — the waiting room
// when the concert has one, otherwise straight to the seats.
import { useCallback, type ReactNode } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { ErrorAlert, Notice } from "../components/ErrorAlert";
import { Loading } from "../components/Loading";
import { useConcert } from "../features/concerts/api";
import { ConcertFacts, SaleCountdown, StatusBadge } from "../features/concerts/SaleInfo";
import { WaitingRoom } from "../features/waiting-room/WaitingRoom";
import { WaitlistPanel } from "../features/waitlist/WaitlistPanel";
import { useAuth } from "../lib/auth";
import { salePhase } from "../lib/format";
import { useT } from "../lib/i18n";
import { useNow } from "../lib/useNow";
import { usePageTitle } from "../lib/usePageTitle";

export function ConcertPage() {
  const { t } = useT();
  const { user } = useAuth();
  const navigate = useNavigate();
  const concertId = Number(useParams().concertId);
  const concert = useConcert(concertId);
  usePageTitle(concert.data?.title ?? t("concerts.title"));
  const now = useNow();
  const seatsPath = `/concerts/${concertId}/seats`;
  const onAdmitted = useCallback(() => navigate(seatsPath), [navigate, seatsPath]);

  if (concert.isPending && Number.isSafeInteger(concertId)) return <Loading />;
  if (!concert.data) {
    return (
      <>
        <h1>{t("concert.notFound")}</h1>
        <ErrorAlert error={concert.error} />
        <Link to="/concerts">{t("notFound.home")}</Link>
      </>
    );
  }
  const c = concert.data;
  const phase = salePhase(c.openTime, c.closeTime, now);

  let action: ReactNode;
  // A sold-out concert in its sale window: the waitlist (issue 18).
  const waitlist = !!user && phase === "open" && (c.status === "SCHEDULED" || c.status === "SOLD_OUT");
  if (c.status === "SOLD_OUT" && waitlist) {
    action = null;
  } else if (c.status !== "SCHEDULED") {
    action = <Notice kind="info">{t("concert.unavailable")}</Notice>;
  } else if (phase === "closed") {
    action = <Notice kind="info">{t("concert.saleClosed")}</Notice>;
  } else if (!user) {
    action = (
      <Link to="/signin" state={{ from: `/concerts/${concertId}` }} className="button button-primary button-large">
        {t("concert.signinToBook")}
      </Link>
    );
  } else if (phase === "upcoming") {
    action = <Notice kind="info">{t("concert.notOpenYet")}</Notice>;
  } else if (c.queueEnabled) {
    action = <WaitingRoom concertId={concertId} seatsPath={seatsPath} onAdmitted={onAdmitted} />;
  } else {
    action = (
      <Link to={seatsPath} className="button button-primary button-large">
        {t("concert.chooseSeats")}
      </Link>
    );
  }

  return (
    <article className="concert-page">
      <p>
        <Link to="/concerts">← {t("nav.concerts")}</Link>
      </p>
      <div className="concert-card-head">
        <StatusBadge concert={c} />
        {c.queueEnabled && <span className="badge badge-queue">{t("concerts.queue")}</span>}
      </div>
      <h1>{c.title}</h1>
      <ConcertFacts concert={c} large />
      <SaleCountdown concert={c} />
      <div className="concert-action">{action}</div>
      {waitlist && <WaitlistPanel concertId={concertId} />}
    </article>
  );
}
