use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::domain::reservation::{Payment, PaymentMethod, PaymentStatus, ReservationStatus};

/// A payment with its reservation, locked for a webhook.
#[derive(Debug, Clone)]
pub struct LockedPayment {
    pub id: i64,
    pub reservation_id: i64,
    pub status: PaymentStatus,
    pub amount: Decimal,
    pub currency: String,
    pub transaction_id: String,
    pub reservation_status: ReservationStatus,
    pub expire_time: DateTime<Utc>,
    pub user_id: i64,
    pub concert_id: i64,
}

/// Locks the payment and its reservation (in that order, everywhere), so deliveries for one
/// transaction apply one after another.
pub async fn lock_by_transaction(
    conn: &mut PgConnection,
    transaction_id: &str,
) -> sqlx::Result<Option<LockedPayment>> {
    sqlx::query_as!(
        LockedPayment,
        r#"select p.id, p.reservation_id, p.status as "status: PaymentStatus", p.amount,
                  p.currency as "currency!", p.transaction_id,
                  r.status as "reservation_status: ReservationStatus", r.expire_time, r.user_id, r.concert_id
           from payments p join reservation r on r.id = p.reservation_id
           where p.transaction_id = $1
           for update of p, r"#,
        transaction_id,
    )
    .fetch_optional(conn)
    .await
}

/// A stored webhook result.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub outcome: String,
    pub response: serde_json::Value,
}

pub async fn find_event(
    conn: &mut PgConnection,
    event_id: &str,
) -> sqlx::Result<Option<StoredEvent>> {
    sqlx::query_as!(
        StoredEvent,
        "select outcome, response from webhook_events where event_id = $1",
        event_id
    )
    .fetch_optional(conn)
    .await
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_event(
    conn: &mut PgConnection,
    event_id: &str,
    transaction_id: &str,
    status: &str,
    amount: Decimal,
    currency: &str,
    occurred_at: Option<DateTime<Utc>>,
    outcome: &str,
    response: &serde_json::Value,
    payload: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into webhook_events (event_id, transaction_id, status, amount, currency, occurred_at, outcome, response, payload)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        event_id,
        transaction_id,
        status,
        amount,
        currency,
        occurred_at,
        outcome,
        response,
        payload,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn confirm(
    conn: &mut PgConnection,
    payment: &LockedPayment,
    ticket_code: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update payments set status = 'SUCCESS', paid_at = now(), updated_at = now() where id = $1",
        payment.id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "update reservation set status = 'CONFIRMED', confirmed_at = now(), ticket_code = $2, updated_at = now()
         where id = $1",
        payment.reservation_id,
        ticket_code,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The provider says the payment failed: reservation and payment `FAILED` (seats freed).
pub async fn fail(conn: &mut PgConnection, payment: &LockedPayment) -> sqlx::Result<()> {
    sqlx::query!(
        "update payments set status = 'FAILED', updated_at = now() where id = $1",
        payment.id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "update reservation set status = 'FAILED', updated_at = now() where id = $1 and status = 'IN_PROGRESS'",
        payment.reservation_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Money arrived for a reservation that can no longer be confirmed: the payment is refunded
/// (the refund worker asks the provider), and an unpaid reservation past its time expires.
pub async fn refund_late(conn: &mut PgConnection, payment: &LockedPayment) -> sqlx::Result<()> {
    sqlx::query!(
        "update payments set status = 'REFUNDED', paid_at = now(), refunded_at = now(), refund_amount = amount,
                updated_at = now()
         where id = $1",
        payment.id,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "update reservation set status = 'EXPIRED', updated_at = now() where id = $1 and status = 'IN_PROGRESS'",
        payment.reservation_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn flag(conn: &mut PgConnection, payment_id: i64, reason: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "update payments set flagged_reason = $2, updated_at = now() where id = $1",
        payment_id,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_checkout_url(
    conn: &mut PgConnection,
    transaction_id: &str,
    url: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update payments set checkout_url = $2 where transaction_id = $1",
        transaction_id,
        url
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find_view(
    conn: &mut PgConnection,
    transaction_id: &str,
) -> sqlx::Result<Option<Payment>> {
    sqlx::query_as!(
        Payment,
        r#"select p.transaction_id, p.reservation_id, r.user_id, p.status as "status: PaymentStatus",
                  p.method as "method: PaymentMethod", p.amount, p.currency as "currency!", p.checkout_url,
                  p.paid_at, p.refunded_at, p.refund_amount, p.refund_confirmed_at, p.flagged_reason,
                  r.status as "reservation_status: ReservationStatus", p.created_at
           from payments p join reservation r on r.id = p.reservation_id
           where p.transaction_id = $1"#,
        transaction_id,
    )
    .fetch_optional(conn)
    .await
}

/// A refund the provider has not confirmed yet.
#[derive(Debug, Clone)]
pub struct PendingRefund {
    pub id: i64,
    pub transaction_id: String,
    pub amount: Decimal,
}

/// Refunds not yet confirmed by the provider, locked (others skip them).
pub async fn pending_refunds(
    conn: &mut PgConnection,
    limit: i64,
) -> sqlx::Result<Vec<PendingRefund>> {
    sqlx::query_as!(
        PendingRefund,
        r#"select id, transaction_id, coalesce(refund_amount, amount) as "amount!" from payments
           where status = 'REFUNDED' and refund_confirmed_at is null
           order by id limit $1 for update skip locked"#,
        limit,
    )
    .fetch_all(conn)
    .await
}

pub async fn confirm_refund(conn: &mut PgConnection, id: i64) -> sqlx::Result<()> {
    sqlx::query!("update payments set refund_confirmed_at = now() where id = $1", id)
        .execute(conn)
        .await?;
    Ok(())
}
