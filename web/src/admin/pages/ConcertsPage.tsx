// The overview: every concert, a page at a time, with what an organiser does to each.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { api, unwrap } from "../../lib/api/client";
import { ADMIN_KEY, useConcerts, type Concert } from "../api";
import { useAdminT } from "../i18n";
import { adminPaths } from "../paths";
import { formatSeoul } from "../time";
import { ActionName, ErrorNote, Loading, Pager } from "../ui";

const PAGE_SIZE = 20;

export function ConcertsPage() {
  const { t } = useAdminT();
  const [params, setParams] = useSearchParams();
  const page = Math.max(0, Number(params.get("page")) || 0);
  const title = params.get("title") ?? "";
  const concerts = useConcerts(page, PAGE_SIZE, title);
  const headingId = useId();
  const searchId = useId();

  return (
    <section aria-labelledby={headingId}>
      <div className="admin-title-row">
        <h1 id={headingId}>{t("concerts.title")}</h1>
        <Link className="admin-button" to={adminPaths.newConcert}>
          {t("concerts.new")}
        </Link>
      </div>
      <form
        className="admin-filters"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          const value = String(new FormData(event.currentTarget).get("title") ?? "").trim();
          setParams(value ? { title: value } : {});
        }}
      >
        <div className="admin-field">
          <label htmlFor={searchId}>{t("concerts.search")}</label>
          <input id={searchId} name="title" type="search" defaultValue={title} key={title} />
        </div>
        <div className="admin-field">
          <button type="submit">{t("concerts.searchSubmit")}</button>
        </div>
      </form>
      {concerts.isPending ? (
        <Loading />
      ) : concerts.isError ? (
        <ErrorNote error={concerts.error} />
      ) : concerts.data.content.length === 0 ? (
        <p>{t("concerts.empty")}</p>
      ) : (
        <>
          <p className="admin-muted">
            {t("concerts.total", { count: concerts.data.totalElements })}
          </p>
          <div className="admin-table-wrap">
            <table className="admin-table">
              <caption className="admin-visually-hidden">{t("concerts.caption")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("concert.id")}</th>
                  <th scope="col">{t("concert.title")}</th>
                  <th scope="col">{t("concert.venue")}</th>
                  <th scope="col">{t("concert.concertDate")}</th>
                  <th scope="col">{t("concerts.saleWindow")}</th>
                  <th scope="col">{t("concert.status")}</th>
                  <th scope="col">{t("concert.queueEnabled")}</th>
                  <th scope="col">{t("common.actions")}</th>
                </tr>
              </thead>
              <tbody>
                {concerts.data.content.map((concert) => (
                  <ConcertRow key={concert.id} concert={concert} />
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            label={t("concerts.pager")}
            page={page}
            totalPages={concerts.data.totalPages}
            onPage={(next) => setParams(title ? { title, page: String(next) } : { page: String(next) })}
          />
        </>
      )}
    </section>
  );
}

function ConcertRow({ concert }: { concert: Concert }) {
  const { t } = useAdminT();
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const remove = useMutation({
    mutationFn: () =>
      unwrap(api.DELETE("/api/concert/{id}", { params: { path: { id: concert.id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: [ADMIN_KEY] }),
    onError: setError,
  });

  return (
    <tr>
      <td>{concert.id}</td>
      <th scope="row">
        <Link to={adminPaths.concert(concert.id)}>{concert.title}</Link>
      </th>
      <td>{concert.venue}</td>
      <td>{formatSeoul(concert.concertDate)}</td>
      <td>
        {formatSeoul(concert.openTime)} – {formatSeoul(concert.closeTime)}
      </td>
      <td>
        <span className={`admin-badge admin-badge-${concert.status.toLowerCase()}`}>
          {t(`concertStatus.${concert.status}`)}
        </span>
      </td>
      <td>{concert.queueEnabled ? t("common.yes") : t("common.no")}</td>
      <td>
        <div className="admin-actions">
          <Link to={adminPaths.concert(concert.id)}>
            <ActionName action={t("common.edit")} target={concert.title} />
          </Link>
          <Link to={adminPaths.seats(concert.id)}>
            <ActionName action={t("concerts.seats")} target={concert.title} />
          </Link>
          <Link to={adminPaths.sale(concert.id)}>
            <ActionName action={t("concerts.sale")} target={concert.title} />
          </Link>
          <Link to={adminPaths.reservations(concert.id)}>
            <ActionName action={t("concerts.reservations")} target={concert.title} />
          </Link>
          <button
            type="button"
            className="admin-danger"
            disabled={remove.isPending}
            onClick={() => {
              setError(null);
              if (window.confirm(t("concerts.confirmDelete", { title: concert.title }))) {
                remove.mutate();
              }
            }}
          >
            <ActionName action={t("common.delete")} target={concert.title} />
          </button>
        </div>
        <ErrorNote error={error} />
      </td>
    </tr>
  );
}
