// The answer to a scan, readable from arm's length: green with the seat and grade, or red with
// the reason in words (for "already redeemed": when, and on which list).
import { errorMessage } from "../../lib/errors";
import { formatDateTime } from "../../lib/format";
import { useT, type TFunction } from "../../lib/i18n";
import type { RefusalReason } from "./offline";
import type { ScanResult } from "./useScanner";
import "./messages";

const KNOWN: readonly string[] = [
  "invalid",
  "revoked",
  "canceled",
  "already_redeemed",
  "wrong_concert",
  "wrong_list",
  "invalid_time",
  "not_inside",
];

/** The refusal in words. */
export function reasonText(
  t: TFunction,
  reason: RefusalReason,
  detail: { when?: string; list?: string } = {},
): string {
  if (reason === "already_redeemed" && detail.when) {
    return t("scan.reason.already_redeemedAt", { when: detail.when, list: detail.list ?? "—" });
  }
  return KNOWN.includes(reason) ? t(`scan.reason.${reason}`) : t("scan.reason.other", { reason });
}

/** The scan's time of day in Seoul, to the second. */
function clock(iso: string, lang: string): string {
  return new Date(iso).toLocaleTimeString(lang === "ko" ? "ko-KR" : "en-US", {
    timeZone: "Asia/Seoul",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });
}

export function ScanResultPanel({
  result,
  listName,
}: {
  result: ScanResult | null;
  /** The name of a list by id (for "already redeemed at …"). */
  listName: (id: number) => string | undefined;
}) {
  const { t, lang } = useT();
  let body = null;
  if (!result) {
    // The live region stays in the page, so the first answer is announced too.
  } else if (result.kind === "ok" || result.kind === "refused") {
    const ok = result.kind === "ok";
    const title = ok ? t(`scan.ok.${result.type}`) : result.type === "exit" ? t("scan.refusedExit") : t("scan.refused");
    body = (
      <div className={`scan-result ${ok ? "scan-result-ok" : "scan-result-refused"}`}>
        <p className="scan-result-title">
          <span aria-hidden="true">{ok ? "✓" : "✕"}</span> {title}
        </p>
        {result.kind === "refused" && (
          <p className="scan-result-reason">
            {reasonText(t, result.reason, {
              when: result.redeemedAt ? formatDateTime(result.redeemedAt, lang) : undefined,
              list: result.redeemedListId !== undefined ? (listName(result.redeemedListId) ?? `#${result.redeemedListId}`) : undefined,
            })}
          </p>
        )}
        {result.seat && (
          <p className="scan-result-seat">
            <span>{t("seats.seat", { section: result.seat.section, row: result.seat.row, number: result.seat.number })}</span>
            <span className="scan-result-grade">{result.seat.grade}</span>
          </p>
        )}
        <p className="scan-result-ticket">
          {result.ticketId !== undefined && <>{t("scan.ticketNo", { id: result.ticketId })} · </>}
          <time dateTime={result.at}>{clock(result.at, lang)}</time>
        </p>
        {result.offline && (
          <p className="scan-result-note">{result.unreachable ? t("scan.serverUnreachable") : t("scan.checkedOffline")}</p>
        )}
      </div>
    );
  } else if (result.kind === "noOfflineData") {
    body = (
      <div className="scan-result scan-result-refused">
        <p className="scan-result-reason">{t("scan.noOfflineData")}</p>
      </div>
    );
  } else if (result.kind === "undone") {
    body = (
      <div className="scan-result scan-result-neutral">
        <p className="scan-result-reason">{t("scan.undone")}</p>
      </div>
    );
  } else {
    body = (
      <div className="scan-result scan-result-refused">
        <p className="scan-result-reason">{errorMessage(result.error, t)}</p>
      </div>
    );
  }
  return (
    <div role="status" aria-live="assertive" aria-atomic="true" aria-label={t("scan.result")}>
      {body}
    </div>
  );
}
