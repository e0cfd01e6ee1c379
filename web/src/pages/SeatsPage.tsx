// Seat selection (loaded on demand): the live seat map, the fan's picks held one by one on the
// server (released on un-pick), their prices and total, the hold countdown, and checkout to the
// payment provider.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { Countdown } from "../components/Countdown";
import { ErrorAlert, Notice } from "../components/ErrorAlert";
import { Loading } from "../components/Loading";
import { useConcert } from "../features/concerts/api";
import {
  MAX_SEATS,
  earliestExpiry,
  loadHolds,
  newIdempotencyKey,
  saveHolds,
  totalPrice,
  type Hold,
} from "../features/checkout/holds";
import { useQueueStatus } from "../features/waiting-room/useWaitingRoom";
import { api, ApiError, unwrap, type Schemas } from "../lib/api/client";
import { errorCode } from "../lib/errors";
import { formatMoney } from "../lib/format";
import { useT } from "../lib/i18n";
import { useNow } from "../lib/useNow";
import { SeatMap } from "./SeatMapSlot";
import { usePageTitle } from "../lib/usePageTitle";

type PaymentMethod = Schemas["PaymentMethod"];
const METHODS: readonly PaymentMethod[] = ["CREDIT_CARD", "BANK_TRANSFER"];

export default function SeatsPage() {
  const { t } = useT();
  const concertId = Number(useParams().concertId);
  const concert = useConcert(concertId);
  const queue = useQueueStatus(concertId, concert.data?.queueEnabled === true);
  usePageTitle(t("seats.title"));

  if (concert.isPending || (concert.data?.queueEnabled && queue.isPending)) return <Loading />;
  if (!concert.data) {
    return (
      <>
        <h1>{t("concert.notFound")}</h1>
        <ErrorAlert error={concert.error} />
      </>
    );
  }
  if (concert.data.queueEnabled && !queue.data?.canEnter) {
    return (
      <>
        <h1>{t("seats.title")}</h1>
        <p className="lead">{concert.data.title}</p>
        <ErrorAlert error={queue.error} />
        <Notice kind="warning">{t("queue.notAdmitted")}</Notice>
        <Link to={`/concerts/${concertId}`} className="button button-primary">
          {t("queue.title")}
        </Link>
      </>
    );
  }
  return <SeatSelection concertId={concertId} title={concert.data.title} />;
}

function SeatSelection({ concertId, title }: { concertId: number; title: string }) {
  const { t, lang } = useT();
  const navigate = useNavigate();
  const now = useNow();
  const [holds, setHolds] = useState<Hold[]>(() => loadHolds(concertId, Date.now()));
  const [pending, setPending] = useState<ReadonlySet<number>>(new Set());
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [method, setMethod] = useState<PaymentMethod>("CREDIT_CARD");
  const [paying, setPaying] = useState(false);
  const checkoutKey = useRef<{ seats: string; key: string } | null>(null);

  useEffect(() => saveHolds(concertId, holds), [concertId, holds]);

  // Seats remembered from before a reload: hold them again (idempotent for one's own hold, and
  // it answers the time left); keep only those the server confirms.
  useEffect(() => {
    const remembered = loadHolds(concertId, Date.now());
    if (!remembered.length) return;
    let cancelled = false;
    void Promise.all(
      remembered.map((h) =>
        unwrap(api.POST("/api/seat/{id}/select", { params: { path: { id: h.id } } })).catch(() => null),
      ),
    ).then((answers) => {
      if (!cancelled) setHolds(answers.filter((a): a is Hold => a !== null));
    });
    return () => {
      cancelled = true;
    };
  }, [concertId]);

  // Holds that ran out are gone on the server: drop them here and say so.
  const expiry = earliestExpiry(holds);
  useEffect(() => {
    if (expiry !== null && now >= expiry) {
      setHolds((hs) => hs.filter((h) => Date.parse(h.expiresAt) > now));
      setNotice(t("seats.holdExpired"));
    }
  }, [expiry, now, t]);

  const selected = useMemo(() => holds.map((h) => h.id), [holds]);

  const setPendingSeat = (id: number, on: boolean) =>
    setPending((p) => {
      const next = new Set(p);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });

  const onToggle = useCallback(
    async (seatId: number) => {
      if (pending.has(seatId) || paying) return;
      setError(null);
      setNotice(null);
      const isHeld = holds.some((h) => h.id === seatId);
      if (!isHeld && holds.length >= MAX_SEATS) {
        setNotice(t("seats.limitReached", { max: MAX_SEATS }));
        return;
      }
      setPendingSeat(seatId, true);
      try {
        if (isHeld) {
          try {
            await unwrap(api.DELETE("/api/seat/{id}/select", { params: { path: { id: seatId } } }));
          } catch (e) {
            // Already not ours (expired, released elsewhere): un-pick all the same.
            if (!(e instanceof ApiError && (e.status === 404 || e.status === 409))) throw e;
          }
          setHolds((hs) => hs.filter((h) => h.id !== seatId));
        } else {
          const hold = await unwrap(api.POST("/api/seat/{id}/select", { params: { path: { id: seatId } } }));
          setHolds((hs) => [...hs.filter((h) => h.id !== seatId), hold]);
        }
      } catch (e) {
        setError(e);
      } finally {
        setPendingSeat(seatId, false);
      }
    },
    [holds, pending, paying, t],
  );

  const total = totalPrice(holds);

  async function checkout() {
    setError(null);
    setNotice(null);
    setPaying(true);
    const seatIds = holds.map((h) => h.id).sort((a, b) => a - b);
    const seats = seatIds.join(",");
    // A retry of the same checkout (a lost answer) reuses its key; other seats get a new one.
    if (checkoutKey.current?.seats !== seats) checkoutKey.current = { seats, key: newIdempotencyKey() };
    try {
      const answer = await unwrap(
        api.POST("/api/payment", {
          params: { header: { "Idempotency-Key": checkoutKey.current.key } },
          body: { seatIds, paymentMethod: method, amount: total },
        }),
      );
      saveHolds(concertId, []);
      // The app's page for this payment goes into the history first, so coming back from the
      // provider (or pressing Back there) lands on it.
      navigate(`/checkout/${encodeURIComponent(answer.transactionId)}`);
      if (answer.pgRequestSuccess && answer.checkoutUrl) window.location.assign(answer.checkoutUrl);
    } catch (e) {
      setError(e);
      setPaying(false);
    }
  }

  const queueLost = errorCode(error) === "QUEUE_NOT_ADMITTED";

  return (
    <>
      <p>
        <Link to={`/concerts/${concertId}`}>← {t("seats.backToConcert")}</Link>
      </p>
      <h1>{t("seats.title")}</h1>
      <p className="lead">{title}</p>
      <div className="seats-layout">
        <section className="seat-map-panel" aria-label={t("seats.mapLabel")}>
          <p className="muted">{t("seats.limit", { max: MAX_SEATS })}</p>
          <SeatMap
            concertId={concertId}
            selected={selected}
            maxSelectable={MAX_SEATS}
            onToggle={(id) => void onToggle(id)}
            lang={lang}
          />
        </section>
        <aside className="card summary" aria-labelledby="summary-title">
          <h2 id="summary-title">{t("seats.selected")}</h2>
          <div aria-live="polite">
            <ErrorAlert error={error} />
            {queueLost && (
              <p>
                <Link to={`/concerts/${concertId}`}>{t("queue.title")}</Link>
              </p>
            )}
            {notice && <Notice kind="warning">{notice}</Notice>}
          </div>
          {holds.length === 0 ? (
            <p className="muted">{t("seats.none")}</p>
          ) : (
            <>
              {expiry !== null && (
                <p className="hold-timer">
                  {t("seats.holdLeft")} <Countdown to={expiry} />
                </p>
              )}
              <ul className="picked">
                {holds.map((h) => {
                  const label = t("seats.seat", { section: h.section, row: h.row, number: h.number });
                  return (
                    <li key={h.id}>
                      <div>
                        <span className="picked-seat">{label}</span>
                        <span className="picked-grade muted">{t("seats.grade", { grade: h.grade })}</span>
                      </div>
                      <span className="picked-price">{formatMoney(h.price, lang)}</span>
                      <button
                        type="button"
                        className="button button-quiet button-small"
                        aria-label={t("seats.releaseSeat", { seat: label })}
                        disabled={pending.has(h.id) || paying}
                        onClick={() => void onToggle(h.id)}
                      >
                        {t("seats.release")}
                      </button>
                    </li>
                  );
                })}
              </ul>
              <p className="total">
                <span>{t("seats.total")}</span> <strong>{formatMoney(total, lang)}</strong>
              </p>
              <fieldset className="methods">
                <legend>{t("seats.method")}</legend>
                {METHODS.map((m) => (
                  <label key={m} className="radio">
                    <input type="radio" name="method" value={m} checked={method === m} onChange={() => setMethod(m)} />
                    {t(`seats.method.${m}`)}
                  </label>
                ))}
              </fieldset>
              <button
                type="button"
                className="button button-primary button-large button-block"
                disabled={paying || pending.size > 0}
                onClick={() => void checkout()}
              >
                {paying ? t("seats.checkingOut") : t("seats.checkout", { amount: formatMoney(total, lang) })}
              </button>
            </>
          )}
        </aside>
      </div>
    </>
  );
}
