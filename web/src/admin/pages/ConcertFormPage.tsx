// Create a concert, or edit one (with its status) and delete it.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, unwrap, type Schemas } from "../../lib/api/client";
import { MAX_DIFFICULTY, RECOMMENDED_DIFFICULTY } from "../../lib/challenge/solver";
import { ADMIN_KEY, keys, useConcert, type Concert } from "../api";
import { CODE_FIELD, errorCode, fieldErrors } from "../errors";
import { useAdminT } from "../i18n";
import { adminPaths } from "../paths";
import { fromSeoulInput, toSeoulInput } from "../time";
import { ErrorNote, Field, Loading } from "../ui";

type ConcertStatus = Schemas["ConcertStatus"];
const STATUSES: ConcertStatus[] = ["SCHEDULED", "SOLD_OUT", "COMPLETED", "CANCELLED"];

const FORM_FIELDS = ["title", "venue", "concertDate", "openTime", "closeTime", "queueEnabled", "challengeDifficulty", "status"];

interface Draft {
  title: string;
  venue: string;
  concertDate: string;
  openTime: string;
  closeTime: string;
  queueEnabled: boolean;
  /** As typed; empty means 0. */
  challengeDifficulty: string;
  status: ConcertStatus;
}

function draftOf(concert: Concert | undefined): Draft {
  return {
    title: concert?.title ?? "",
    venue: concert?.venue ?? "",
    concertDate: concert ? toSeoulInput(concert.concertDate) : "",
    openTime: concert ? toSeoulInput(concert.openTime) : "",
    closeTime: concert ? toSeoulInput(concert.closeTime) : "",
    queueEnabled: concert?.queueEnabled ?? false,
    challengeDifficulty: String(concert?.challengeDifficulty ?? 0),
    status: concert?.status ?? "SCHEDULED",
  };
}

export function ConcertFormPage() {
  const { concertId } = useParams();
  const id = concertId === undefined ? undefined : Number(concertId);
  const concert = useConcert(id);
  if (id !== undefined && concert.isPending) return <Loading />;
  if (id !== undefined && concert.isError) return <ErrorNote error={concert.error} />;
  // Keyed so that another concert starts a fresh draft (a refetch of this one does not).
  return <ConcertForm key={concert.data?.id ?? "new"} concert={concert.data} />;
}

function ConcertForm({ concert }: { concert: Concert | undefined }) {
  const { t } = useAdminT();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const headingId = useId();
  const [draft, setDraft] = useState<Draft>(() => draftOf(concert));
  const [saved, setSaved] = useState(false);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => {
    setSaved(false);
    setDraft((d) => ({ ...d, [key]: value }));
  };

  const save = useMutation({
    mutationFn: async (d: Draft) => {
      const body = {
        title: d.title,
        venue: d.venue,
        concertDate: fromSeoulInput(d.concertDate),
        openTime: fromSeoulInput(d.openTime),
        closeTime: fromSeoulInput(d.closeTime),
        queueEnabled: d.queueEnabled,
        challengeDifficulty: d.challengeDifficulty.trim() === "" ? 0 : Number(d.challengeDifficulty),
      };
      if (!concert) return unwrap(api.POST("/api/concert", { body }));
      return unwrap(
        api.PUT("/api/concert/{id}", {
          params: { path: { id: concert.id } },
          body: { ...body, status: d.status },
        }),
      );
    },
    onSuccess: async (result) => {
      await queryClient.invalidateQueries({ queryKey: [ADMIN_KEY] });
      if (!concert) navigate(adminPaths.seats(result.id));
      else {
        setDraft(draftOf(result));
        setSaved(true);
      }
    },
  });

  const remove = useMutation({
    mutationFn: (id: number) => unwrap(api.DELETE("/api/concert/{id}", { params: { path: { id } } })),
    onSuccess: (_, id) => {
      navigate(adminPaths.concerts);
      queryClient.removeQueries({ queryKey: keys.concert(id) });
      void queryClient.invalidateQueries({ queryKey: [ADMIN_KEY] });
    },
  });

  const fields = fieldErrors(save.error);
  const codeField = CODE_FIELD[errorCode(save.error) ?? ""];
  if (codeField && save.error instanceof Error) fields[codeField] ??= save.error.message;
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate(draft);
  };

  return (
    <section aria-labelledby={headingId}>
      <p>
        <Link to={adminPaths.concerts}>{t("common.backToConcerts")}</Link>
      </p>
      <h1 id={headingId}>
        {concert ? t("concertForm.editTitle", { title: concert.title }) : t("concertForm.newTitle")}
      </h1>
      {concert && (
        <p className="admin-actions">
          <Link to={adminPaths.seats(concert.id)}>{t("concerts.seats")}</Link>
          <Link to={adminPaths.sale(concert.id)}>{t("concerts.sale")}</Link>
          <Link to={adminPaths.reservations(concert.id)}>{t("concerts.reservations")}</Link>
        </p>
      )}
      <form className="admin-form" onSubmit={onSubmit} noValidate>
        <Field label={t("concert.title")} error={fields.title}>
          {(p) => (
            <input {...p} type="text" required maxLength={200} value={draft.title}
              onChange={(e) => set("title", e.target.value)} />
          )}
        </Field>
        <Field label={t("concert.venue")} error={fields.venue}>
          {(p) => (
            <input {...p} type="text" required maxLength={200} value={draft.venue}
              onChange={(e) => set("venue", e.target.value)} />
          )}
        </Field>
        <Field label={t("concert.openTime")} hint={t("concertForm.kst")} error={fields.openTime}>
          {(p) => (
            <input {...p} type="datetime-local" required value={draft.openTime}
              onChange={(e) => set("openTime", e.target.value)} />
          )}
        </Field>
        <Field label={t("concert.closeTime")} hint={t("concertForm.kst")} error={fields.closeTime}>
          {(p) => (
            <input {...p} type="datetime-local" required value={draft.closeTime}
              onChange={(e) => set("closeTime", e.target.value)} />
          )}
        </Field>
        <Field label={t("concert.concertDate")} hint={t("concertForm.dateOrder")} error={fields.concertDate}>
          {(p) => (
            <input {...p} type="datetime-local" required value={draft.concertDate}
              onChange={(e) => set("concertDate", e.target.value)} />
          )}
        </Field>
        <div className="admin-field admin-check">
          <input id={`${headingId}-queue`} type="checkbox" checked={draft.queueEnabled}
            onChange={(e) => set("queueEnabled", e.target.checked)} />
          <label htmlFor={`${headingId}-queue`}>{t("concert.queueEnabled")}</label>
          {fields.queueEnabled && <small className="admin-field-error">{fields.queueEnabled}</small>}
        </div>
        <Field
          label={t("concert.challengeDifficulty")}
          hint={t("concertForm.challengeHint", { recommended: RECOMMENDED_DIFFICULTY })}
          error={fields.challengeDifficulty}
        >
          {(p) => (
            <input {...p} type="number" inputMode="numeric" min={0} max={MAX_DIFFICULTY} step={1}
              value={draft.challengeDifficulty}
              onChange={(e) => set("challengeDifficulty", e.target.value)} />
          )}
        </Field>
        {concert && (
          <Field label={t("concert.status")} error={fields.status}>
            {(p) => (
              <select {...p} value={draft.status}
                onChange={(e) => set("status", e.target.value as ConcertStatus)}>
                {STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {t(`concertStatus.${s}`)}
                  </option>
                ))}
              </select>
            )}
          </Field>
        )}
        {save.isError && !codeField && (
          <ErrorNote error={save.error} shownBeside={FORM_FIELDS} />
        )}
        {saved && (
          <p className="admin-success" role="status">
            {t("concertForm.saved")}
          </p>
        )}
        <div className="admin-actions">
          <button type="submit" className="admin-primary" disabled={save.isPending}>
            {save.isPending ? t("common.saving") : concert ? t("common.save") : t("concertForm.create")}
          </button>
          {concert && (
            <button
              type="button"
              className="admin-danger"
              disabled={remove.isPending}
              onClick={() => {
                if (window.confirm(t("concerts.confirmDelete", { title: concert.title }))) {
                  remove.mutate(concert.id);
                }
              }}
            >
              {t("concertForm.delete")}
            </button>
          )}
        </div>
        <ErrorNote error={remove.error} />
      </form>
    </section>
  );
}
