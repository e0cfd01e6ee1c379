// A failed call, as the server explained it (its `message`, already in the fan's language).
import type { ReactNode } from "react";
import { errorMessage } from "../lib/errors";
import { useT } from "../lib/i18n";

export function ErrorAlert({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useT();
  if (!error) return null;
  return (
    <div className="alert alert-error" role="alert">
      <span>{errorMessage(error, t)}</span>
      {onRetry && (
        <button type="button" className="button button-quiet" onClick={onRetry}>
          {t("common.retry")}
        </button>
      )}
    </div>
  );
}

export function Notice({ kind = "info", children }: { kind?: "info" | "success" | "warning" | "error"; children: ReactNode }) {
  return (
    <div className={`alert alert-${kind}`} role={kind === "error" || kind === "warning" ? "alert" : "status"}>
      {children}
    </div>
  );
}
