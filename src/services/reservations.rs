//! Checkout, expiry, cancellation and the reservation views.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use sqlx::PgPool;

use super::{availability::Availability, catalog::Catalogs, cooldown::Cooldowns, holds, waitlist};
use crate::{
    clients::{
        gateway::PaymentGateway,
        holds::{ClaimOutcome, Holds, ReservationEnd},
        queue::Queue,
    },
    domain::{
        money::Money,
        page::{Page, PageRequest},
        reservation::{self, CANCEL_DEADLINE, PaymentMethod, Reservation, ReservationSeat},
    },
    error::{AppResult, ErrorCode},
    repositories::{concerts, outbox, payments, reservations as repo, seats},
};

/// A reservation with its seats.
pub struct ReservationView {
    pub reservation: Reservation,
    pub seats: Vec<ReservationSeat>,
}

/// A parsed checkout request.
pub struct Checkout {
    pub seat_ids: Vec<i64>,
    pub method: PaymentMethod,
    /// What the client believes it owes; must match the server's sum when given.
    pub amount: Option<Money>,
}

/// A reservation waiting for its payment.
pub struct Started {
    pub reservation_id: i64,
    pub amount: Decimal,
    pub transaction_id: String,
    pub expires_at: DateTime<Utc>,
    /// Where the fan pays, when the provider accepted the payment.
    pub checkout_url: Option<String>,
}

/// The rules of a checkout.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutRules {
    /// Time to pay after checkout.
    pub reservation_ttl: Duration,
    /// Seats one fan may hold and own per concert.
    pub max_seats_per_user: u32,
}

/// Checkout, expiry, cancellation and the reservation views.
#[derive(Clone)]
pub struct Reservations {
    db: PgPool,
    holds: Holds,
    availability: Arc<Availability>,
    queue: Queue,
    catalogs: Arc<Catalogs>,
    gateway: Arc<dyn PaymentGateway>,
    cooldowns: Cooldowns,
    rules: CheckoutRules,
}

impl Reservations {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: PgPool,
        holds: Holds,
        availability: Arc<Availability>,
        queue: Queue,
        catalogs: Arc<Catalogs>,
        gateway: Arc<dyn PaymentGateway>,
        cooldowns: Cooldowns,
        rules: CheckoutRules,
    ) -> Self {
        Reservations { db, holds, availability, queue, catalogs, gateway, cooldowns, rules }
    }

    /// Turns the caller's held seats into one `IN_PROGRESS` reservation with its payment, in one
    /// transaction. The seats stay held (for the reservation) until it ends.
    #[tracing::instrument(skip_all, fields(user.id = user, seats = ?checkout.seat_ids))]
    pub async fn checkout(&self, user: i64, checkout: Checkout) -> AppResult<Started> {
        let seat_ids = &checkout.seat_ids;
        let concert = self.catalogs.concert_of(seat_ids).await?;
        // Marks the seats as being checked out: a concurrent duplicate checkout stops here, and
        // so does a cooled-down account.
        match self.holds.claim(concert, user, seat_ids).await? {
            ClaimOutcome::Claimed => {}
            ClaimOutcome::CoolingDown(ms) => return Err(holds::cooling_down(ms)),
            ClaimOutcome::Duplicate(_) => {
                return Err(ErrorCode::RESERVATION_ALREADY_PROCESSED.into());
            }
            ClaimOutcome::NotHeld(_) => return Err(ErrorCode::SEAT_NOT_SELECTED.into()),
        }
        match self.create_reservation(user, concert, &checkout).await {
            Ok(started) => {
                let expires_ms = started.expires_at.timestamp_millis();
                if let Err(e) = self
                    .holds
                    .mark_reserved(concert, user, started.reservation_id, seat_ids, expires_ms)
                    .await
                {
                    // The reservation stands (the database owns the seats); the claim lapses.
                    tracing::warn!(error = %e, "could not mark reserved seats in Redis");
                }
                metrics::counter!("ticketing_reservations_total", "status" => "IN_PROGRESS")
                    .increment(1);
                Ok(self.start_payment(started).await)
            }
            Err(e) => {
                if let Err(revert) = self.holds.revert_claim(concert, user, seat_ids).await {
                    tracing::warn!(error = %revert, "could not give claimed seats back");
                }
                waitlist::record_outcomes_soon(&self.db, &self.holds, concert).await;
                // Redis let the caller hold a seat the database says is taken: Redis lost
                // state, so load the concert's seat states from the database again.
                if e.code() == ErrorCode::IS_ALREADY_RESERVATION
                    && let Err(repair) = self.availability.repair(concert).await
                {
                    tracing::warn!(error = %repair, "could not reload seat states");
                }
                Err(e)
            }
        }
    }

    async fn create_reservation(
        &self,
        user: i64,
        concert: i64,
        checkout: &Checkout,
    ) -> AppResult<Started> {
        let mut tx = self.db.begin().await?;
        let locked = seats::lock_for_checkout(&mut tx, &checkout.seat_ids).await?;
        if locked.len() != checkout.seat_ids.len() || locked.iter().any(|s| s.concert_id != concert)
        {
            return Err(ErrorCode::SEAT_NOT_FOUND.into());
        }
        let row =
            concerts::lock_shared(&mut tx, concert).await?.ok_or(ErrorCode::CONCERT_NOT_FOUND)?;
        let now = Utc::now();
        row.check_on_sale(now)?;
        // Holds and checkout of a concert with a waiting room need an admission.
        if row.queue_enabled && !self.queue.is_admitted(concert, user).await? {
            return Err(ErrorCode::QUEUE_NOT_ADMITTED.into());
        }
        let owned = repo::count_active_seats(&mut tx, user, concert).await?;
        if owned + locked.len() as i64 > i64::from(self.rules.max_seats_per_user) {
            return Err(ErrorCode::SEAT_LIMIT_EXCEEDED.into());
        }
        let amount: Decimal = locked.iter().map(|s| s.price).sum();
        if checkout.amount.is_some_and(|a| a.decimal() != amount) {
            return Err(ErrorCode::AMOUNT_MISMATCH.into());
        }
        let expires_at = now + self.rules.reservation_ttl;
        let reservation_id = repo::insert(&mut tx, user, concert, expires_at).await?;
        // A seat another active reservation owns violates `reservation_seat_active_uk` → 409.
        repo::insert_seats(&mut tx, reservation_id, &checkout.seat_ids).await?;
        let transaction_id = reservation::new_transaction_id();
        repo::insert_payment(&mut tx, reservation_id, checkout.method, amount, &transaction_id)
            .await?;
        tx.commit().await?;
        Ok(Started { reservation_id, amount, transaction_id, expires_at, checkout_url: None })
    }

    /// Registers the payment with the provider. Should it fail, the reservation stands and expires
    /// unpaid; the answer says `pgRequestSuccess: false`.
    async fn start_payment(&self, mut started: Started) -> Started {
        match self.gateway.start_payment(&started.transaction_id, started.amount, "KRW").await {
            Ok(p) => {
                let saved = async {
                    let mut conn = self.db.acquire().await?;
                    payments::set_checkout_url(&mut conn, &started.transaction_id, &p.checkout_url)
                        .await
                };
                if let Err(e) = saved.await {
                    tracing::warn!(error = %e, "could not store the checkout URL");
                }
                started.checkout_url = Some(p.checkout_url);
            }
            Err(e) => tracing::warn!(error = %e, "the payment provider refused the payment"),
        }
        started
    }

    /// Expires up to `batch` unpaid reservations whose time is up; returns how many. Safe to run
    /// in several instances at once (`FOR UPDATE SKIP LOCKED`).
    /// Tells Redis again that the seats of reservations confirmed before their time to pay ran
    /// out in `(after, until]` are sold. The confirming instance normally did so at once; one
    /// that died between its commit and Redis left the seats shown RESERVED (and free a
    /// minute later, to be refused at checkout). Seats Redis already shows otherwise are left
    /// alone. Returns how many reservations were looked at.
    pub async fn reconfirm_expiring(
        &self,
        after: chrono::DateTime<Utc>,
        until: chrono::DateTime<Utc>,
    ) -> AppResult<usize> {
        let mut conn = self.db.acquire().await?;
        let confirmed = repo::confirmed_expiring(&mut conn, after, until).await?;
        if confirmed.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = confirmed.iter().map(|r| r.id).collect();
        let seats = repo::seat_ids(&mut conn, &ids).await?;
        drop(conn);
        let mut by_reservation: HashMap<i64, Vec<i64>> = HashMap::new();
        for s in seats {
            by_reservation.entry(s.reservation_id).or_default().push(s.seat_id);
        }
        for r in &confirmed {
            let seats = by_reservation.remove(&r.id).unwrap_or_default();
            self.holds
                .end_reservation(r.concert_id, r.user_id, r.id, &seats, ReservationEnd::Reconfirmed)
                .await?;
        }
        Ok(confirmed.len())
    }

    pub async fn expire_due(&self, batch: i64) -> AppResult<usize> {
        let mut tx = self.db.begin().await?;
        let ended = repo::expire_due(&mut tx, batch).await?;
        if ended.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = ended.iter().map(|r| r.id).collect();
        let seats = repo::seat_ids(&mut tx, &ids).await?;
        for r in &ended {
            outbox::insert(
                &mut tx,
                "reservation_expired",
                json!({"reservationId": r.id, "userId": r.user_id, "concertId": r.concert_id}),
            )
            .await?;
        }
        tx.commit().await?;
        let mut by_reservation: HashMap<i64, Vec<i64>> = HashMap::new();
        for s in seats {
            by_reservation.entry(s.reservation_id).or_default().push(s.seat_id);
        }
        for r in &ended {
            let seats = by_reservation.remove(&r.id).unwrap_or_default();
            if let Err(e) = self
                .holds
                .end_reservation(r.concert_id, r.user_id, r.id, &seats, ReservationEnd::Expired)
                .await
            {
                // The keys lapse on their own a minute later.
                tracing::warn!(error = %e, reservation.id = r.id, "could not free expired seats in Redis");
            }
            waitlist::record_outcomes_soon(&self.db, &self.holds, r.concert_id).await;
            // An admission ends with the purchase attempt.
            if let Err(e) = self.queue.finish(r.concert_id, r.user_id).await {
                tracing::warn!(error = %e, "could not end the queue admission");
            }
        }
        let users: Vec<i64> = ended.iter().map(|r| r.user_id).collect();
        self.cooldowns.after_unpaid(&users).await;
        metrics::counter!("ticketing_reservations_expired_total").increment(ended.len() as u64);
        tracing::info!(count = ended.len(), "expired unpaid reservations");
        Ok(ended.len())
    }

    async fn with_seats(&self, rows: Vec<Reservation>) -> AppResult<Vec<ReservationView>> {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut seats: HashMap<i64, Vec<ReservationSeat>> = HashMap::new();
        for seat in repo::seats_of(&mut *self.db.acquire().await?, &ids).await? {
            seats.entry(seat.reservation_id).or_default().push(seat);
        }
        Ok(rows
            .into_iter()
            .map(|r| ReservationView {
                seats: seats.remove(&r.id).unwrap_or_default(),
                reservation: r,
            })
            .collect())
    }

    /// Reservations, newest first: the user's, a concert's, or all (admins).
    pub async fn page(
        &self,
        user: Option<i64>,
        concert: Option<i64>,
        page: PageRequest,
    ) -> AppResult<Page<ReservationView>> {
        let rows = repo::page(&mut *self.db.acquire().await?, user, concert, page).await?;
        let total = rows.total_elements;
        let views = self.with_seats(rows.content).await?;
        Ok(Page::new(views, total, page))
    }

    /// One reservation, for its owner or an admin (others get 404: they may not know it exists).
    pub async fn get(&self, id: i64, viewer: i64, is_admin: bool) -> AppResult<ReservationView> {
        let row = repo::find(&mut *self.db.acquire().await?, id)
            .await?
            .filter(|r| is_admin || r.user_id == viewer)
            .ok_or(ErrorCode::NOT_FOUND)?;
        Ok(self.with_seats(vec![row]).await?.remove(0))
    }

    /// Cancels the owner's confirmed reservation up to two hours before the show and refunds it.
    #[tracing::instrument(skip_all, fields(user.id = user, reservation.id = id))]
    pub async fn cancel(&self, user: i64, id: i64, reason: &str) -> AppResult<Decimal> {
        let mut tx = self.db.begin().await?;
        let target = repo::lock_for_cancel(&mut tx, id)
            .await?
            .filter(|r| r.user_id == user)
            .ok_or(ErrorCode::NOT_FOUND)?;
        let (owner, concert) = (target.user_id, target.concert_id);
        target.status.check_cancelable()?;
        if Utc::now() + CANCEL_DEADLINE > target.concert_date {
            return Err(ErrorCode::CANCELLATION_DEADLINE_PASSED.into());
        }
        let refund = repo::cancel(&mut tx, id, reason).await?;
        let seats: Vec<i64> =
            repo::seat_ids(&mut tx, &[id]).await?.into_iter().map(|s| s.seat_id).collect();
        outbox::insert(
            &mut tx,
            "reservation_canceled",
            json!({"reservationId": id, "userId": owner, "refundAmount": Money::from(refund)}),
        )
        .await?;
        repo::audit(
            &mut tx,
            user,
            "reservation.cancel",
            "reservation",
            id,
            json!({"reason": reason, "refund": Money::from(refund)}),
        )
        .await?;
        tx.commit().await?;
        if let Err(e) =
            self.holds.end_reservation(concert, owner, id, &seats, ReservationEnd::Canceled).await
        {
            tracing::warn!(error = %e, "could not free canceled seats in Redis");
        }
        waitlist::record_outcomes_soon(&self.db, &self.holds, concert).await;
        metrics::counter!("ticketing_reservations_total", "status" => "CANCELED").increment(1);
        Ok(refund)
    }
}
