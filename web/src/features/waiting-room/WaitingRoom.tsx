// The waiting room panel of a concert page: join, the live place and estimate, leave, and what
// happened when the place ended.
import { Link } from "react-router";
import { ErrorAlert, Notice } from "../../components/ErrorAlert";
import { Loading } from "../../components/Loading";
import { formatWait } from "../../lib/format";
import { useT } from "../../lib/i18n";
import { useWaitingRoom } from "./useWaitingRoom";

export function WaitingRoom({ concertId, seatsPath, onAdmitted }: { concertId: number; seatsPath: string; onAdmitted: () => void }) {
  const { t, lang } = useT();
  const room = useWaitingRoom(concertId, true, onAdmitted);
  const { place } = room;

  if (room.status.isPending) return <Loading />;

  return (
    <section className="card waiting-room" aria-labelledby="queue-title">
      <h2 id="queue-title">{t("queue.title")}</h2>
      <ErrorAlert error={room.status.error ?? room.actionError} />
      {place?.canEnter ? (
        <>
          <Notice kind="success">{t("queue.admitted")}</Notice>
          <Link to={seatsPath} className="button button-primary button-large">
            {t("concert.chooseSeats")}
          </Link>
        </>
      ) : place ? (
        <>
          <dl className="queue-stats" aria-live="polite">
            <div>
              <dt>{t("queue.position")}</dt>
              <dd>{t("queue.positionValue", { position: place.position.toLocaleString() })}</dd>
            </div>
            <div>
              <dt>{t("queue.total")}</dt>
              <dd>{t("queue.totalValue", { total: place.totalQueue.toLocaleString() })}</dd>
            </div>
            <div>
              <dt>{t("queue.estimate")}</dt>
              <dd>
                {place.estimatedWaitTime == null ? t("queue.estimateUnknown") : formatWait(place.estimatedWaitTime, lang)}
              </dd>
            </div>
          </dl>
          {room.reconnecting ? <Notice kind="warning">{t("queue.reconnecting")}</Notice> : <p className="muted">{t("queue.keepOpen")}</p>}
          <button type="button" className="button button-quiet" onClick={() => void room.leave()}>
            {t("queue.leave")}
          </button>
        </>
      ) : (
        <>
          {room.ended === "left" && <Notice kind="info">{t("queue.left")}</Notice>}
          {room.ended === "lost" && <Notice kind="warning">{t("queue.lost")}</Notice>}
          {!room.ended && <p>{t("queue.intro")}</p>}
          <button type="button" className="button button-primary button-large" disabled={room.joining} onClick={() => void room.join()}>
            {room.checking ? t("challenge.checking") : room.joining ? t("queue.joining") : room.ended ? t("queue.rejoin") : t("queue.join")}
          </button>
          {room.checking && (
            <p role="status" className="muted">
              {t("challenge.explain")}
            </p>
          )}
        </>
      )}
    </section>
  );
}
