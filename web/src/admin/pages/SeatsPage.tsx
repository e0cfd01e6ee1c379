// A concert's seats: generate them in bulk (sections × rows × numbers), then list, edit or
// delete single seats.
import { useQueryClient } from "@tanstack/react-query";
import { useId, useRef, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { api, unwrap } from "../../lib/api/client";
import { keys, useConcert } from "../api";
import { useAdminT } from "../i18n";
import { adminPaths } from "../paths";
import {
  BATCH_LIMIT,
  batches,
  parseSections,
  planCount,
  planSeats,
  type SeatPlan,
  type SectionPrice,
} from "../seatPlan";
import { ErrorNote, Field, formatNumber, Loading } from "../ui";
import { SeatList } from "./SeatList";

export function SeatsPage() {
  const { t } = useAdminT();
  const concertId = Number(useParams().concertId);
  const concert = useConcert(concertId);
  const headingId = useId();
  if (concert.isPending) return <Loading />;
  if (concert.isError) return <ErrorNote error={concert.error} />;
  return (
    <section aria-labelledby={headingId}>
      <p>
        <Link to={adminPaths.concerts}>{t("common.backToConcerts")}</Link>
      </p>
      <h1 id={headingId}>{t("seats.title", { title: concert.data.title })}</h1>
      <p className="admin-actions">
        <Link to={adminPaths.concert(concertId)}>{t("common.edit")}</Link>
        <Link to={adminPaths.sale(concertId)}>{t("concerts.sale")}</Link>
      </p>
      <SeatGenerator concertId={concertId} />
      <SeatList concertId={concertId} />
    </section>
  );
}

interface Progress {
  done: number;
  total: number;
  batch: number;
  batches: number;
}

function SeatGenerator({ concertId }: { concertId: number }) {
  const { t, lang } = useAdminT();
  const queryClient = useQueryClient();
  const headingId = useId();
  const [sectionsText, setSectionsText] = useState("A,B,C");
  const [range, setRange] = useState({ rowFrom: "1", rowTo: "20", numberFrom: "1", numberTo: "30" });
  // Grade and price by section name, kept when the list of sections is edited.
  const [prices, setPrices] = useState<Record<string, { grade: string; price: string }>>({});
  const [progress, setProgress] = useState<Progress | null>(null);
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [finished, setFinished] = useState<number | null>(null);
  const stopRequested = useRef(false);

  const names = parseSections(sectionsText);
  const sectionPrice = (name: string) => prices[name] ?? { grade: "R", price: "100000" };
  const sections: SectionPrice[] = names.map((section) => {
    const p = sectionPrice(section);
    return { section, grade: p.grade.trim(), price: Number(p.price) };
  });
  const plan: SeatPlan = {
    sections,
    rowFrom: Number(range.rowFrom),
    rowTo: Number(range.rowTo),
    numberFrom: Number(range.numberFrom),
    numberTo: Number(range.numberTo),
  };
  const count = planCount(plan);
  const requests = Math.ceil(count / BATCH_LIMIT);
  const invalidSection = sections.some((s) => s.grade === "" || !(s.price > 0));
  const canSubmit = count > 0 && !invalidSection && !running;

  const run = async (event: FormEvent) => {
    event.preventDefault();
    if (!canSubmit) return;
    if (!window.confirm(t("generate.confirm", { count: formatNumber(count, lang) }))) return;
    const parts = batches(planSeats(plan, concertId));
    stopRequested.current = false;
    setRunning(true);
    setError(null);
    setFinished(null);
    let done = 0;
    setProgress({ done, total: count, batch: 0, batches: parts.length });
    try {
      for (const [index, part] of parts.entries()) {
        if (stopRequested.current) break;
        setProgress({ done, total: count, batch: index + 1, batches: parts.length });
        await unwrap(api.POST("/api/seat/batch", { body: part }));
        done += part.length;
        setProgress({ done, total: count, batch: index + 1, batches: parts.length });
      }
      setFinished(done);
    } catch (e) {
      setError(e);
      setFinished(done);
    } finally {
      setRunning(false);
      await queryClient.invalidateQueries({ queryKey: keys.seats(concertId) });
      await queryClient.invalidateQueries({ queryKey: keys.availability(concertId) });
    }
  };

  const rangeField = (key: keyof typeof range, label: string) => (
    <Field label={label}>
      {(p) => (
        <input {...p} type="number" min={0} step={1} inputMode="numeric" required value={range[key]}
          onChange={(e) => setRange((r) => ({ ...r, [key]: e.target.value }))} />
      )}
    </Field>
  );

  return (
    <section className="admin-panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t("generate.title")}</h2>
      <form onSubmit={run} noValidate>
        <Field label={t("generate.sections")} hint={t("generate.sectionsHint")}>
          {(p) => (
            <input {...p} type="text" value={sectionsText} onChange={(e) => setSectionsText(e.target.value)} />
          )}
        </Field>
        <fieldset className="admin-inline">
          <legend>{t("generate.rows")}</legend>
          {rangeField("rowFrom", t("generate.from"))}
          {rangeField("rowTo", t("generate.to"))}
        </fieldset>
        <fieldset className="admin-inline">
          <legend>{t("generate.numbers")}</legend>
          {rangeField("numberFrom", t("generate.from"))}
          {rangeField("numberTo", t("generate.to"))}
        </fieldset>
        {names.length > 0 && (
          <div className="admin-table-wrap">
            <table className="admin-table admin-table-compact">
              <caption>{t("generate.pricesCaption")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("seat.section")}</th>
                  <th scope="col">{t("seat.grade")}</th>
                  <th scope="col">{t("seat.price")}</th>
                </tr>
              </thead>
              <tbody>
                {names.map((name) => {
                  const p = sectionPrice(name);
                  const update = (patch: Partial<typeof p>) =>
                    setPrices((all) => ({ ...all, [name]: { ...p, ...patch } }));
                  return (
                    <tr key={name}>
                      <th scope="row">{name}</th>
                      <td>
                        <input type="text" maxLength={20} value={p.grade}
                          aria-label={t("generate.gradeOf", { section: name })}
                          aria-invalid={p.grade.trim() === "" || undefined}
                          onChange={(e) => update({ grade: e.target.value })} />
                      </td>
                      <td>
                        <input type="number" min={0} step="any" inputMode="decimal" value={p.price}
                          aria-label={t("generate.priceOf", { section: name })}
                          aria-invalid={!(Number(p.price) > 0) || undefined}
                          onChange={(e) => update({ price: e.target.value })} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        <p className="admin-preview" aria-live="polite">
          {count > 0
            ? t("generate.preview", {
                count: formatNumber(count, lang),
                sections: names.length,
                requests,
              })
            : t("generate.previewEmpty")}
          {invalidSection && <span className="admin-field-error"> {t("generate.invalidSection")}</span>}
        </p>
        <div className="admin-actions">
          <button type="submit" className="admin-primary" disabled={!canSubmit}>
            {t("generate.submit")}
          </button>
          {running && (
            <button type="button" onClick={() => (stopRequested.current = true)}>
              {t("generate.stop")}
            </button>
          )}
        </div>
      </form>
      {progress && (
        <div className="admin-progress">
          <label htmlFor={`${headingId}-progress`}>
            {t("generate.progress", {
              done: formatNumber(progress.done, lang),
              total: formatNumber(progress.total, lang),
              batch: progress.batch,
              batches: progress.batches,
            })}
          </label>
          <progress id={`${headingId}-progress`} max={progress.total} value={progress.done} />
        </div>
      )}
      {finished !== null && !error && (
        <p className="admin-success" role="status">
          {t("generate.finished", { count: formatNumber(finished, lang) })}
        </p>
      )}
      <ErrorNote
        error={error}
        title={error ? t("generate.failed", { done: formatNumber(finished ?? 0, lang) }) : undefined}
      />
    </section>
  );
}
