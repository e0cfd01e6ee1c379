//! Holding seats: Redis does the work in one script per request; the database is read only
//! when a concert's state is not in Redis yet (or after an admin change), by `Availability`.

use std::{net::IpAddr, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};

use super::{availability::Availability, catalog::Catalogs};
use crate::{
    clients::holds::{HoldAttempt, HoldOutcome, HoldVelocity, Holds, ReleaseOutcome},
    domain::{
        concert::NotOnSale,
        seat::{SeatStatus, SeatView},
    },
    error::{AppError, AppResult, ErrorCode},
};

/// A seat just held: how it looks now, and when the hold ends.
pub struct HeldSeat {
    pub view: SeatView,
    pub expires_at: DateTime<Utc>,
}

/// The rules of a hold.
#[derive(Debug, Clone, Copy)]
pub struct HoldRules {
    pub ttl: Duration,
    /// Seats one fan may hold and own per concert.
    pub max_seats_per_user: u32,
    /// Hold attempts per account and per client address per window.
    pub velocity: HoldVelocity,
}

/// Seat holds: what `POST /api/seat/…/select` does.
#[derive(Clone)]
pub struct SeatHolds {
    holds: Holds,
    catalogs: Arc<Catalogs>,
    availability: Arc<Availability>,
    rules: HoldRules,
}

impl SeatHolds {
    pub fn new(
        holds: Holds,
        catalogs: Arc<Catalogs>,
        availability: Arc<Availability>,
        rules: HoldRules,
    ) -> Self {
        SeatHolds { holds, catalogs, availability, rules }
    }

    /// Holds every seat or none, for `HOLD_TTL_SECS`. Holding one's own seat again is
    /// idempotent and reports the remaining time. Answers in the order asked. A cooled-down
    /// account, or an attempt over the velocity limits of the account or of `client`, is
    /// refused with 429 before anything is held.
    #[tracing::instrument(skip_all, fields(user.id = user, seats = ?seat_ids))]
    pub async fn select(
        &self,
        user: i64,
        client: IpAddr,
        seat_ids: &[i64],
    ) -> AppResult<Vec<HeldSeat>> {
        let concert = self.catalogs.concert_of(seat_ids).await?;
        let ttl_ms = self.rules.ttl.as_millis() as i64;
        let client = client.to_string();
        for attempt in 0..3 {
            // Only the first try of a request counts towards the velocity limits.
            let attempt =
                HoldAttempt { client: &client, velocity: self.rules.velocity, count: attempt == 0 };
            let outcome = self
                .holds
                .hold(concert, user, seat_ids, ttl_ms, self.rules.max_seats_per_user, &attempt)
                .await?;
            let (version, expiries) = match outcome {
                HoldOutcome::Held { version, expiries } => (version, expiries),
                HoldOutcome::Miss => {
                    self.availability.load_if_missing(concert).await?;
                    continue;
                }
                other => return Err(refusal(other)),
            };
            metrics::counter!("ticketing_holds_total").increment(seat_ids.len() as u64);
            let catalog =
                self.catalogs.get(concert, &version).await?.ok_or(ErrorCode::CONCERT_NOT_FOUND)?;
            return seat_ids
                .iter()
                .zip(expiries)
                .map(|(id, ms)| {
                    // A seat added after this instance's catalogue was loaded is not in it yet.
                    let seat = &catalog.seat(*id).ok_or(ErrorCode::SEAT_LOCK_RETRY_NEEDED)?.seat;
                    Ok(HeldSeat {
                        view: SeatView::new(seat, &catalog.concert.title, SeatStatus::Held),
                        expires_at: DateTime::from_timestamp_millis(ms).unwrap_or_default(),
                    })
                })
                .collect();
        }
        Err(ErrorCode::SEAT_LOCK_RETRY_NEEDED.into())
    }

    /// Releases the caller's hold (compare-and-delete: someone else's hold is left alone).
    #[tracing::instrument(skip_all, fields(user.id = user, seat.id = seat))]
    pub async fn release(&self, user: i64, seat: i64) -> AppResult<()> {
        let concert = self.catalogs.concert_of(&[seat]).await?;
        match self.holds.release(concert, user, seat).await? {
            ReleaseOutcome::Released => Ok(()),
            ReleaseOutcome::Reserved => Err(ErrorCode::IS_ALREADY_RESERVATION.into()),
            ReleaseOutcome::NotHeld | ReleaseOutcome::HeldByOther => {
                Err(ErrorCode::SEAT_NOT_SELECTED.into())
            }
        }
    }
}

/// The error a refused hold answers with.
pub fn refusal(outcome: HoldOutcome) -> AppError {
    let code = match outcome {
        HoldOutcome::CoolingDown(ms) => return cooling_down(ms),
        HoldOutcome::TooFast(ms) => {
            metrics::counter!("ticketing_hold_rate_limited_total").increment(1);
            return AppError::RateLimited { retry_after_secs: ms.div_ceil(1000) };
        }
        HoldOutcome::Deleted => ErrorCode::CONCERT_NOT_FOUND,
        HoldOutcome::NotOnSale => NotOnSale::Status.code(),
        HoldOutcome::NotOpenYet => NotOnSale::NotOpenYet.code(),
        HoldOutcome::Closed => NotOnSale::Closed.code(),
        HoldOutcome::NotAdmitted => ErrorCode::QUEUE_NOT_ADMITTED,
        HoldOutcome::NoSuchSeat(_) => ErrorCode::SEAT_NOT_FOUND,
        HoldOutcome::LockedByOther(_) => ErrorCode::SEAT_ALREADY_LOCKED,
        HoldOutcome::Reserved(_) => ErrorCode::IS_ALREADY_RESERVATION,
        HoldOutcome::LimitReached(_) => ErrorCode::SEAT_LIMIT_EXCEEDED,
        HoldOutcome::Held { .. } | HoldOutcome::Miss => ErrorCode::SEAT_LOCK_RETRY_NEEDED,
    };
    if code == ErrorCode::SEAT_ALREADY_LOCKED || code == ErrorCode::IS_ALREADY_RESERVATION {
        metrics::counter!("ticketing_hold_conflicts_total").increment(1);
    }
    code.into()
}

/// The answer to a cooled-down account: 429 `CHECKOUT_COOLDOWN` with `Retry-After`.
pub fn cooling_down(ms: u64) -> AppError {
    metrics::counter!("ticketing_cooldown_refusals_total").increment(1);
    AppError::Throttled { code: ErrorCode::CHECKOUT_COOLDOWN, retry_after_secs: ms.div_ceil(1000) }
}
