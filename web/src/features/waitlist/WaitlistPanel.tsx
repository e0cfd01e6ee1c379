// The waitlist on a concert's page (issue 18): join when nothing is left, the fan's place while
// waiting, and an offer (seats held in the fan's name) with its countdown and a checkout that
// starts from it. While the fan has an active entry the waitlist stream feeds the entries'
// cache, so an offer shows the moment it is made; while the stream is down the list is polled as
// before, and while it is up only slowly (the stream carries offers and ends, not the place).
import { type QueryClient, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { useNavigate } from "react-router";
import { Countdown } from "../../components/Countdown";
import { ErrorAlert, Notice } from "../../components/ErrorAlert";
import { api, unwrap, type Schemas } from "../../lib/api/client";
import { errorCode } from "../../lib/errors";
import { useT } from "../../lib/i18n";
import { MAX_SEATS, newIdempotencyKey } from "../checkout/holds";
import { connectWaitlistStream } from "./waitlistStream";

type Entry = Schemas["WaitlistEntryResponse"];

const waitlistKey = ["me", "waitlist"] as const;
/** How often the entries are read while the stream is down. */
const POLL_MS = 5_000;
/** How often while it is up: only for the place in line, which the stream does not send. */
const LIVE_POLL_MS = 30_000;

/** Changes one cached entry; false when it is not in the cache (then read the list again). */
function patchEntry(client: QueryClient, id: number, patch: Partial<Entry>): boolean {
  let found = false;
  client.setQueryData<Entry[]>(waitlistKey, (entries) =>
    entries?.map((e) => {
      if (e.id !== id) return e;
      found = true;
      return { ...e, ...patch };
    }),
  );
  return found;
}

const TEXT = {
  ko: {
    title: "대기자 명단",
    intro: "남은 좌석이 없으면 대기자 명단에 들어가세요. 좌석이 나오는 대로 순서대로 먼저 드립니다.",
    quantity: "매수",
    join: "대기자 명단에 들어가기",
    available: "지금 선택할 수 있는 좌석이 있습니다. 좌석을 선택해주세요.",
    position: (n: number) => `대기 순서: ${n}번째`,
    leave: "대기 취소",
    offered: "기다리시던 좌석이 준비되었습니다. 아래 시간 안에 결제해주세요.",
    pay: "결제하기",
  },
  en: {
    title: "Waitlist",
    intro: "No seats left? Join the waitlist: seats that come back are offered in order, before anyone else.",
    quantity: "Seats",
    join: "Join the waitlist",
    available: "Seats can be chosen right now. Please choose seats.",
    position: (n: number) => `Your place: ${n}`,
    leave: "Leave the waitlist",
    offered: "The seats you waited for are held for you. Pay before the time runs out.",
    pay: "Pay now",
  },
};

export function WaitlistPanel({ concertId }: { concertId: number }) {
  const { lang } = useT();
  const text = lang === "en" ? TEXT.en : TEXT.ko;
  const navigate = useNavigate();
  const client = useQueryClient();
  const [quantity, setQuantity] = useState(1);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const checkoutKey = useRef(newIdempotencyKey());
  const [live, setLive] = useState(false);
  const mine = useQuery({
    queryKey: waitlistKey,
    queryFn: () => unwrap(api.GET("/api/waitlist/my")),
    refetchInterval: live ? LIVE_POLL_MS : POLL_MS,
  });
  const entry = mine.data?.find(
    (e) => e.concertId === concertId && (e.status === "WAITING" || e.status === "OFFERED"),
  );
  const refresh = () => client.invalidateQueries({ queryKey: waitlistKey });
  const active = entry !== undefined;

  useEffect(() => {
    if (!active) return;
    const stop = connectWaitlistStream({
      onOffer: (offer) => {
        const patch = {
          status: "OFFERED",
          position: 0,
          offerExpiresAt: offer.expiresAt,
          offeredSeatIds: offer.seatIds,
        };
        if (!patchEntry(client, offer.entryId, patch)) void client.invalidateQueries({ queryKey: waitlistKey });
      },
      onStatus: (change) => {
        patchEntry(client, change.entryId, { status: change.status, position: 0 });
        void client.invalidateQueries({ queryKey: waitlistKey });
      },
      onLive: setLive,
    });
    return () => {
      stop();
      setLive(false);
    };
  }, [active, client]);

  async function run(action: () => Promise<unknown>) {
    setError(null);
    setBusy(true);
    try {
      await action();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
      void refresh();
    }
  }

  const join = () =>
    run(() =>
      unwrap(api.POST("/api/concert/{id}/waitlist", { params: { path: { id: concertId } }, body: { quantity } })),
    );
  const leave = (id: number) =>
    run(() => unwrap(api.DELETE("/api/waitlist/{id}", { params: { path: { id } } })));
  const pay = (seatIds: number[]) =>
    run(async () => {
      const answer = await unwrap(
        api.POST("/api/payment", {
          params: { header: { "Idempotency-Key": checkoutKey.current } },
          body: { seatIds, paymentMethod: "CREDIT_CARD" },
        }),
      );
      navigate(`/checkout/${encodeURIComponent(answer.transactionId)}`);
      if (answer.pgRequestSuccess && answer.checkoutUrl) window.location.assign(answer.checkoutUrl);
    });

  return (
    <section className="waitlist-panel" aria-label={text.title}>
      <h2>{text.title}</h2>
      {errorCode(error) === "SEATS_AVAILABLE" ? (
        <Notice kind="info">{text.available}</Notice>
      ) : (
        <ErrorAlert error={error} />
      )}
      {!entry && (
        <>
          <p>{text.intro}</p>
          <label>
            {text.quantity}{" "}
            <select value={quantity} onChange={(e) => setQuantity(Number(e.target.value))} disabled={busy}>
              {Array.from({ length: MAX_SEATS }, (_, i) => i + 1).map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>{" "}
          <button type="button" className="button button-primary" onClick={join} disabled={busy}>
            {text.join}
          </button>
        </>
      )}
      {entry?.status === "WAITING" && (
        <>
          <p className="waitlist-position">{text.position(entry.position)}</p>
          <button type="button" className="button" onClick={() => leave(entry.id)} disabled={busy}>
            {text.leave}
          </button>
        </>
      )}
      {entry?.status === "OFFERED" && (
        <>
          <Notice kind="success">{text.offered}</Notice>
          {entry.offerExpiresAt && <Countdown to={entry.offerExpiresAt} />}{" "}
          <button
            type="button"
            className="button button-primary button-large"
            onClick={() => pay(entry.offeredSeatIds)}
            disabled={busy || entry.offeredSeatIds.length === 0}
          >
            {text.pay}
          </button>{" "}
          <button type="button" className="button" onClick={() => leave(entry.id)} disabled={busy}>
            {text.leave}
          </button>
        </>
      )}
    </section>
  );
}
