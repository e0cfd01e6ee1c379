// The concert list: search by title and venue, pages, each concert with its status, sale window
// and a live countdown to the opening. The search lives in the address, so it can be shared.
import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { ErrorAlert } from "../components/ErrorAlert";
import { Field } from "../components/Field";
import { Loading } from "../components/Loading";
import { Pagination } from "../components/Pagination";
import { useConcerts } from "../features/concerts/api";
import { ConcertFacts, SaleCountdown, StatusBadge } from "../features/concerts/SaleInfo";
import { useT } from "../lib/i18n";
import { usePageTitle } from "../lib/usePageTitle";

export function ConcertsPage() {
  const { t } = useT();
  const [params, setParams] = useSearchParams();
  const title = params.get("title") ?? "";
  const venue = params.get("venue") ?? "";
  const page = Math.max(0, Number.parseInt(params.get("page") ?? "0", 10) || 0);
  const [draftTitle, setDraftTitle] = useState(title);
  const [draftVenue, setDraftVenue] = useState(venue);
  const concerts = useConcerts({ title, venue, page });
  usePageTitle(t("concerts.title"));

  function search(e: FormEvent) {
    e.preventDefault();
    const next = new URLSearchParams();
    if (draftTitle.trim()) next.set("title", draftTitle.trim());
    if (draftVenue.trim()) next.set("venue", draftVenue.trim());
    setParams(next);
  }

  function goTo(p: number) {
    const next = new URLSearchParams(params);
    next.set("page", String(p));
    setParams(next);
  }

  return (
    <>
      <h1>{t("concerts.title")}</h1>
      <form role="search" className="search-form" onSubmit={search} aria-label={t("concerts.search")}>
          <Field label={t("concerts.searchTitle")} type="search" name="title" value={draftTitle} onChange={(e) => setDraftTitle(e.target.value)} />
          <Field label={t("concerts.searchVenue")} type="search" name="venue" value={draftVenue} onChange={(e) => setDraftVenue(e.target.value)} />
          <div className="search-actions">
            <button type="submit" className="button button-primary">
              {t("concerts.searchSubmit")}
            </button>
            {(title || venue) && (
              <button
                type="button"
                className="button button-quiet"
                onClick={() => {
                  setDraftTitle("");
                  setDraftVenue("");
                  setParams(new URLSearchParams());
                }}
              >
                {t("concerts.searchReset")}
              </button>
            )}
          </div>
      </form>

      {concerts.isPending && <Loading />}
      <ErrorAlert error={concerts.error} onRetry={() => void concerts.refetch()} />
      {concerts.data && (
        <>
          <p className="muted" aria-live="polite">
            {t("concerts.count", { count: concerts.data.totalElements })}
          </p>
          {concerts.data.content.length === 0 ? (
            <p>{t("concerts.empty")}</p>
          ) : (
            <ul className="concert-grid">
              {concerts.data.content.map((c) => (
                <li key={c.id} className="card concert-card">
                  <div className="concert-card-head">
                    <StatusBadge concert={c} />
                    {c.queueEnabled && <span className="badge badge-queue">{t("concerts.queue")}</span>}
                  </div>
                  <h2>
                    <Link to={`/concerts/${c.id}`}>{c.title}</Link>
                  </h2>
                  <ConcertFacts concert={c} />
                  <SaleCountdown concert={c} />
                </li>
              ))}
            </ul>
          )}
          <Pagination page={concerts.data.number} totalPages={concerts.data.totalPages} onPage={goTo} />
        </>
      )}
    </>
  );
}
