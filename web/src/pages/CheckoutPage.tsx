// Where the fan lands back from the payment provider: the payment's state, asked every second
// until the webhook has settled it — confirmed, declined or expired — with no manual refresh.
import { Link, useParams } from "react-router";
import { ErrorAlert, Notice } from "../components/ErrorAlert";
import { Loading } from "../components/Loading";
import { usePayment } from "../features/checkout/usePayment";
import { formatDateTime, formatMoney } from "../lib/format";
import { useT } from "../lib/i18n";
import { usePageTitle } from "../lib/usePageTitle";

export function CheckoutPage() {
  const { t, lang } = useT();
  const transactionId = useParams().transactionId ?? "";
  const payment = usePayment(transactionId);
  const p = payment.data;
  usePageTitle(t("checkout.title"));

  return (
    <>
      <h1>{t("checkout.title")}</h1>
      {payment.isPending && <Loading />}
      <ErrorAlert error={payment.error} onRetry={() => void payment.refetch()} />
      {p && (
        <section className="card checkout-card" aria-live="polite">
          {p.reservationStatus === "IN_PROGRESS" && (
            <>
              {p.checkoutUrl ? (
                <>
                  <p className="checkout-state" role="status">
                    <span className="spinner" aria-hidden="true" /> {t("checkout.waiting")}
                  </p>
                  <p className="muted">{t("checkout.waitingHelp")}</p>
                  <a className="button button-primary" href={p.checkoutUrl}>
                    {t("checkout.openProvider")}
                  </a>
                </>
              ) : (
                <Notice kind="warning">{t("checkout.providerFailed")}</Notice>
              )}
            </>
          )}
          {p.reservationStatus === "CONFIRMED" && (
            <>
              <Notice kind="success">
                <strong>{t("checkout.confirmed")}</strong>
              </Notice>
              <p>{t("checkout.confirmedBody")}</p>
            </>
          )}
          {(p.reservationStatus === "FAILED" || p.reservationStatus === "EXPIRED" || p.reservationStatus === "CANCELED") && (
            <Notice kind="error">
              <strong>
                {p.reservationStatus === "FAILED"
                  ? t("checkout.failed")
                  : p.reservationStatus === "EXPIRED"
                    ? t("checkout.expired")
                    : t("checkout.canceled")}
              </strong>{" "}
              {t("checkout.released")}
              {p.status === "REFUNDED" && <> {t("checkout.refunded")}</>}
            </Notice>
          )}
          <dl className="facts">
            <div>
              <dt>{t("checkout.amount")}</dt>
              <dd>{formatMoney(p.amount, lang)}</dd>
            </div>
            <div>
              <dt>{t("checkout.paymentStatus")}</dt>
              <dd>
                {t(`payment.${p.status}`)}
                {p.paidAt && <> · {formatDateTime(p.paidAt, lang)}</>}
              </dd>
            </div>
            <div>
              <dt>{t("checkout.reservation")}</dt>
              <dd>#{p.reservationId}</dd>
            </div>
            <div>
              <dt>{t("checkout.transaction")}</dt>
              <dd>
                <code>{p.transactionId}</code>
              </dd>
            </div>
          </dl>
          <p className="actions">
            {p.reservationStatus === "CONFIRMED" && (
              <Link to="/tickets" className="button button-primary">
                {t("checkout.toTickets")}
              </Link>
            )}
            <Link to="/me/reservations" className="button">
              {t("checkout.toReservations")}
            </Link>
            <Link to="/concerts" className="button button-quiet">
              {t("checkout.toConcerts")}
            </Link>
          </p>
        </section>
      )}
    </>
  );
}
