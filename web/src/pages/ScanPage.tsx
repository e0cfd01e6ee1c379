// The door staff's scanner: choose the concert and check-in list, entry or exit, then scan with
// the camera (where the browser has `BarcodeDetector`) or type the ticket code; the answer is a
// big green or red panel. Offline (no network, the server out of reach, or offline mode chosen)
// tickets are verified on the device and the scans queued, then uploaded when back online.
import { useRef, useState } from "react";
import { useSearchParams } from "react-router";
import { ErrorAlert } from "../components/ErrorAlert";
import { Loading } from "../components/Loading";
import { useCheckinLists, useConcertList, useListStatus } from "../features/check-in/api";
import { Camera } from "../features/check-in/Camera";
import { ScanResultPanel, reasonText } from "../features/check-in/ScanResultPanel";
import { useScanner } from "../features/check-in/useScanner";
import type { ScanType } from "../features/check-in/offline";
import "../features/check-in/messages";
import { formatDateTime } from "../lib/format";
import { useT } from "../lib/i18n";
import { usePageTitle } from "../lib/usePageTitle";

const idParam = (value: string | null): number | null => {
  const n = Number(value);
  return value && Number.isSafeInteger(n) && n > 0 ? n : null;
};

export default function ScanPage() {
  const { t, lang } = useT();
  usePageTitle(t("scan.title"));
  const [params, setParams] = useSearchParams();
  const concertId = idParam(params.get("concert"));
  const listId = idParam(params.get("list"));
  const [type, setType] = useState<ScanType>("entry");
  const [code, setCode] = useState("");
  const codeInput = useRef<HTMLTextAreaElement>(null);

  const concerts = useConcertList();
  const lists = useCheckinLists(concertId);
  const scanner = useScanner(concertId, listId, lists.data);
  const list = scanner.list;
  const status = useListStatus(list?.id ?? null, scanner.online);
  const listName = (id: number) => scanner.lists.find((l) => l.id === id)?.name;

  const choose = (next: { concert?: number | null; list?: number | null }) => {
    const out = new URLSearchParams(params);
    if (next.concert !== undefined) {
      if (next.concert === null) out.delete("concert");
      else out.set("concert", String(next.concert));
      out.delete("list");
    }
    if (next.list !== undefined) {
      if (next.list === null) out.delete("list");
      else out.set("list", String(next.list));
    }
    setParams(out, { replace: true });
  };

  const submit = async (value: string) => {
    if (!value.trim()) return;
    await scanner.scan(value, type);
    setCode("");
    codeInput.current?.focus();
  };

  const concertOptions = concerts.data?.content ?? [];
  const knownConcert = concertId === null || concertOptions.some((c) => c.id === concertId);

  return (
    <div className="scan-page">
      <div className="scan-head">
        <h1>{t("scan.title")}</h1>
        <span className={`badge ${scanner.online ? "badge-online" : "badge-offline"}`} role="status">
          {scanner.online ? t("scan.online") : t("scan.offline")}
        </span>
      </div>

      <section className="card scan-setup" aria-label={t("scan.setup")}>
        <div className="field">
          <label htmlFor="scan-concert">{t("scan.concert")}</label>
          <select
            id="scan-concert"
            value={concertId ?? ""}
            onChange={(e) => choose({ concert: idParam(e.target.value) })}
          >
            <option value="">{t("scan.chooseConcert")}</option>
            {!knownConcert && <option value={concertId!}>#{concertId}</option>}
            {concertOptions.map((c) => (
              <option key={c.id} value={c.id}>
                {c.title} · {formatDateTime(c.concertDate, lang)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="scan-list">{t("scan.list")}</label>
          <select
            id="scan-list"
            value={list?.id ?? ""}
            disabled={concertId === null}
            onChange={(e) => choose({ list: idParam(e.target.value) })}
          >
            <option value="">{t("scan.chooseList")}</option>
            {scanner.lists.map((l) => (
              <option key={l.id} value={l.id}>
                {l.name} · {l.grades?.length ? t("scan.listGrades", { grades: l.grades.join(", ") }) : t("scan.listAllGrades")}
              </option>
            ))}
          </select>
          {concertId !== null && lists.data?.length === 0 && <p className="field-hint">{t("scan.noLists")}</p>}
        </div>
        <ErrorAlert error={concerts.error ?? (scanner.online ? lists.error : null)} />
        <div className="scan-toggles">
          <div role="group" aria-label={t("scan.type")} className="segmented">
            {(["entry", "exit"] as const).map((value) => (
              <button key={value} type="button" aria-pressed={type === value} onClick={() => setType(value)}>
                {t(`scan.${value}`)}
              </button>
            ))}
          </div>
          <label className="checkbox">
            <input type="checkbox" checked={scanner.forceOffline} onChange={(e) => scanner.setForceOffline(e.target.checked)} />
            {t("scan.forceOffline")}
          </label>
        </div>
      </section>

      <div className="scan-grid">
        <div className="scan-main">
          <ScanResultPanel result={scanner.result} listName={listName} />
          {scanner.canUndo && (
            <p className="scan-undo">
              <button type="button" className="button button-quiet" disabled={scanner.busy} onClick={() => void scanner.undo()}>
                {scanner.busy ? t("scan.undoing") : t("scan.undo")}
              </button>
            </p>
          )}

          <section className="card scan-input" aria-labelledby="scan-input-title">
            <h2 id="scan-input-title">{t("scan.camera")}</h2>
            <Camera onCode={(value) => void submit(value)} />
            <form
              className="scan-manual"
              onSubmit={(e) => {
                e.preventDefault();
                void submit(code);
              }}
            >
              <label htmlFor="scan-code">{t("scan.manual")}</label>
              <textarea
                id="scan-code"
                ref={codeInput}
                rows={3}
                spellCheck={false}
                autoComplete="off"
                autoCapitalize="off"
                aria-describedby="scan-code-hint"
                value={code}
                onChange={(e) => setCode(e.target.value)}
                onKeyDown={(e) => {
                  if (e.key === "Enter" && !e.shiftKey) {
                    e.preventDefault();
                    void submit(code);
                  }
                }}
              />
              <p id="scan-code-hint" className="field-hint">
                {list ? t("scan.manualHint") : t("scan.needList")}
              </p>
              <button type="submit" className="button button-primary button-large" disabled={!list || scanner.busy || !code.trim()}>
                {scanner.busy ? t("scan.checking") : t("scan.submit")}
              </button>
            </form>
          </section>
        </div>

        <aside className="scan-side">
          <section className="card" aria-labelledby="scan-status-title">
            <h2 id="scan-status-title">{t("scan.statusTitle")}</h2>
            {!list ? (
              <p className="muted">{t("scan.needList")}</p>
            ) : !scanner.online ? (
              <p className="muted">{t("scan.statusOffline")}</p>
            ) : status.data ? (
              <dl className="scan-counts">
                <div>
                  <dt>{t("scan.statusTickets")}</dt>
                  <dd>{status.data.tickets}</dd>
                </div>
                <div>
                  <dt>{t("scan.statusCheckedIn")}</dt>
                  <dd>{status.data.checkedIn}</dd>
                </div>
                <div>
                  <dt>{t("scan.statusInside")}</dt>
                  <dd>{status.data.inside}</dd>
                </div>
              </dl>
            ) : status.isError ? (
              <ErrorAlert error={status.error} />
            ) : (
              <Loading />
            )}
          </section>

          <section className="card scan-offline" aria-labelledby="scan-offline-title">
            <h2 id="scan-offline-title">{t("scan.offlineTitle")}</h2>
            <p className="muted">{t("scan.offlineHelp")}</p>
            {scanner.verifies === false && <p className="alert alert-warning">{t("scan.noEd25519")}</p>}
            <p role="status">
              {scanner.data
                ? t("scan.offlineData", {
                    keys: scanner.keyCount,
                    revoked: scanner.data.revoked.length,
                    time: formatDateTime(scanner.data.downloadedAt, lang),
                  })
                : t("scan.offlineNone")}
            </p>
            {concertId !== null && (
              <button
                type="button"
                className="button button-quiet"
                disabled={!scanner.browserOnline || scanner.downloading}
                onClick={() => void scanner.download()}
              >
                {scanner.downloading ? t("scan.offlineDownloading") : t("scan.offlineRefresh")}
              </button>
            )}
            {scanner.browserOnline && <ErrorAlert error={scanner.downloadError} />}
            <p className="scan-queue" role="status">
              {scanner.queue.length > 0 ? t("scan.queue", { count: scanner.queue.length }) : t("scan.queueEmpty")}
            </p>
            {scanner.queue.length > 0 && (
              <button type="button" className="button" disabled={!scanner.online || scanner.uploading} onClick={() => void scanner.upload()}>
                {scanner.uploading ? t("scan.uploading") : t("scan.upload")}
              </button>
            )}
            {scanner.report && (
              <div className="scan-report">
                <p>{t("scan.uploaded", { count: scanner.report.uploaded })}</p>
                {scanner.report.conflicts.length > 0 && (
                  <div className="alert alert-warning" role="alert">
                    <strong>{t("scan.conflicts", { count: scanner.report.conflicts.length })}</strong>
                    <ul>
                      {scanner.report.conflicts.map(({ scan, reason }) => (
                        <li key={scan.nonce}>
                          {t("scan.conflict", {
                            id: scan.ticketId,
                            time: formatDateTime(scan.scannedAt, lang),
                            reason: reasonText(t, reason),
                          })}
                        </li>
                      ))}
                    </ul>
                  </div>
                )}
              </div>
            )}
          </section>
        </aside>
      </div>
    </div>
  );
}
