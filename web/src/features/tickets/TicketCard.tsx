// One ticket in the wallet: its QR code as large as the screen allows, the seat and grade in
// big type for the person at the door, the status (a used or revoked ticket says so plainly)
// and the ticket code in text, for when a camera cannot read the screen.
import { useState } from "react";
import { formatDateTime } from "../../lib/format";
import { useT } from "../../lib/i18n";
import { useTicketQr, type Ticket } from "./api";
import "./messages";

export function TicketCard({ ticket }: { ticket: Ticket }) {
  const { t, lang } = useT();
  const qr = useTicketQr(ticket.id);
  const [copied, setCopied] = useState(false);
  const seat = t("seats.seat", { section: ticket.section, row: ticket.row, number: ticket.number });
  const status = ticket.status.toLowerCase();
  const headingId = `ticket-${ticket.id}`;
  const codeId = `ticket-code-${ticket.id}`;

  return (
    <li className={`card ticket ticket-${status}`} aria-labelledby={headingId}>
      <div className="ticket-head">
        <h2 id={headingId}>{ticket.concertTitle}</h2>
        <span className={`badge badge-t-${status}`}>{t(`tickets.status.${ticket.status}`)}</span>
      </div>
      <p className="ticket-when">
        {formatDateTime(ticket.concertDate, lang, true)} · {ticket.venue}
      </p>
      <div className="ticket-qr">
        {qr.data ? (
          <img
            src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(qr.data)}`}
            alt={t("tickets.qr", { seat })}
            width={320}
            height={320}
          />
        ) : qr.isError ? (
          <p className="muted">{t("tickets.qrFailed")}</p>
        ) : (
          <p className="muted" role="status">
            {t("tickets.qrLoading")}
          </p>
        )}
        {ticket.status !== "VALID" && (
          <p className="ticket-stamp" aria-hidden="true">
            {t(`tickets.status.${ticket.status}`)}
          </p>
        )}
      </div>
      {ticket.status === "USED" && <p className="ticket-note">{t("tickets.usedNote")}</p>}
      {ticket.status === "REVOKED" && <p className="ticket-note ticket-note-revoked">{t("tickets.revokedNote")}</p>}
      <dl className="ticket-seat">
        <div>
          <dt>{t("tickets.seat")}</dt>
          <dd>{seat}</dd>
        </div>
        <div>
          <dt>{t("tickets.grade")}</dt>
          <dd>{ticket.grade}</dd>
        </div>
      </dl>
      <div className="ticket-code">
        <span id={codeId} className="ticket-code-label">
          {t("tickets.code")}
        </span>
        <code aria-labelledby={codeId}>{ticket.secret}</code>
        <button
          type="button"
          className="button button-quiet button-small"
          onClick={() => {
            void navigator.clipboard
              ?.writeText(ticket.secret)
              .then(() => setCopied(true))
              .catch(() => undefined);
          }}
        >
          {copied ? t("tickets.copied") : t("tickets.copy")}
        </button>
      </div>
      <p className="muted ticket-issued">
        {t("tickets.issuedAt")} {formatDateTime(ticket.issuedAt, lang)} · #{ticket.id}
      </p>
    </li>
  );
}
