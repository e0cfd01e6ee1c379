// Small pieces shared by the admin pages.
import { useId, type ReactNode } from "react";
import { ApiError } from "../lib/api/client";
import { formatMoney as formatWon } from "../lib/format";
import { useAdminT, type AdminLang } from "./i18n";

/** The server's message for an API error, or a generic one (network, unexpected). */
export function ErrorNote({
  error,
  title,
  shownBeside = [],
}: {
  error: unknown;
  title?: string;
  /** Fields whose message the form already shows beside the input. */
  shownBeside?: readonly string[];
}) {
  const { t } = useAdminT();
  if (!error) return null;
  const message =
    error instanceof ApiError ? error.message : t("error.network");
  const fields = (error instanceof ApiError ? (error.body?.fields ?? []) : []).filter(
    (f) => !shownBeside.includes(f.field),
  );
  return (
    <div className="admin-error" role="alert">
      {title && <strong>{title} </strong>}
      {message}
      {fields.length > 0 && (
        <ul>
          {fields.slice(0, 20).map((f, i) => (
            <li key={i}>
              <code>{f.field}</code>: {f.message}
            </li>
          ))}
          {fields.length > 20 && <li>{t("error.moreFields", { count: fields.length - 20 })}</li>}
        </ul>
      )}
    </div>
  );
}

export function Loading() {
  const { t } = useAdminT();
  return (
    <p className="admin-muted" role="status">
      {t("common.loading")}
    </p>
  );
}

/** Previous / next page, with the position read out. Pages are zero-based. */
export function Pager({
  page,
  totalPages,
  onPage,
  label,
}: {
  page: number;
  totalPages: number;
  onPage: (page: number) => void;
  label: string;
}) {
  const { t } = useAdminT();
  if (totalPages <= 1) return null;
  return (
    <nav className="admin-pager" aria-label={label}>
      <button type="button" onClick={() => onPage(page - 1)} disabled={page <= 0}>
        {t("pager.previous")}
      </button>
      <span aria-live="polite">{t("pager.position", { page: page + 1, total: totalPages })}</span>
      <button type="button" onClick={() => onPage(page + 1)} disabled={page + 1 >= totalPages}>
        {t("pager.next")}
      </button>
    </nav>
  );
}

/** A labelled form control with its field error beside it. */
export function Field({
  label,
  error,
  hint,
  children,
}: {
  label: string;
  error?: string | undefined;
  hint?: string;
  children: (props: {
    id: string;
    "aria-invalid": boolean | undefined;
    "aria-describedby": string | undefined;
  }) => ReactNode;
}) {
  const id = useId();
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const describedBy = [hint ? hintId : null, error ? errorId : null].filter(Boolean).join(" ");
  return (
    <div className={error ? "admin-field admin-field-invalid" : "admin-field"}>
      <label htmlFor={id}>{label}</label>
      {children({
        id,
        "aria-invalid": error ? true : undefined,
        "aria-describedby": describedBy || undefined,
      })}
      {hint && (
        <small id={hintId} className="admin-muted">
          {hint}
        </small>
      )}
      {error && (
        <small id={errorId} className="admin-field-error">
          {error}
        </small>
      )}
    </div>
  );
}

function locale(lang: AdminLang): string {
  return lang === "ko" ? "ko-KR" : "en-US";
}

/** Money as the fan pages write it: `150,000원` in Korean, `₩150,000` in English. */
export function formatMoney(amount: number | null | undefined, lang: AdminLang): string {
  if (amount === null || amount === undefined) return "—";
  return formatWon(amount, lang);
}

export function formatNumber(value: number, lang: AdminLang, digits = 0): string {
  return new Intl.NumberFormat(locale(lang), { maximumFractionDigits: digits }).format(value);
}

/** An action's visible word, with what it acts on for screen readers ("Edit" + " Concert A"). */
export function ActionName({ action, target }: { action: string; target: string }) {
  return (
    <>
      {action}
      <span className="admin-visually-hidden"> {target}</span>
    </>
  );
}
