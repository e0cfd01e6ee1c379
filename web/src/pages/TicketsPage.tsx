// The fan's ticket wallet: every ticket, newest first, each with its QR code.
import { Link } from "react-router";
import { ErrorAlert } from "../components/ErrorAlert";
import { Loading } from "../components/Loading";
import { useMyTickets } from "../features/tickets/api";
import { TicketCard } from "../features/tickets/TicketCard";
import "../features/tickets/messages";
import { useT } from "../lib/i18n";
import { usePageTitle } from "../lib/usePageTitle";

export function TicketsPage() {
  const { t } = useT();
  const tickets = useMyTickets();
  const all = tickets.data?.pages.flat() ?? [];
  usePageTitle(t("tickets.title"));

  return (
    <>
      <h1>{t("tickets.title")}</h1>
      {all.length > 0 && <p className="lead">{t("tickets.lead")}</p>}
      {tickets.isPending && <Loading />}
      <ErrorAlert error={tickets.error} onRetry={() => void tickets.refetch()} />
      {tickets.data && all.length === 0 && (
        <p>
          {t("tickets.empty")} <Link to="/concerts">{t("checkout.toConcerts")}</Link>
        </p>
      )}
      {all.length > 0 && (
        <ul className="ticket-list">
          {all.map((ticket) => (
            <TicketCard key={ticket.id} ticket={ticket} />
          ))}
        </ul>
      )}
      {tickets.hasNextPage && (
        <p>
          <button type="button" className="button" disabled={tickets.isFetchingNextPage} onClick={() => void tickets.fetchNextPage()}>
            {t("tickets.more")}
          </button>
        </p>
      )}
    </>
  );
}
