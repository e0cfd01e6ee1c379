//! Holding seats: Redis does the work in one script per request; the database is read only
//! when a concert's state is not in Redis yet (or after an admin change).

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};

use super::catalog::ConcertCatalog;
use crate::{
    clients::holds::{ConcertState, HoldOutcome, ReleaseOutcome},
    domain::{concert::ConcertStatus, reservation::ReservationStatus},
    error::{AppError, AppResult, ErrorCode},
    repositories::{concerts, reservations, seats},
    state::AppState,
};

/// Seats just held, with the catalogue that describes them.
pub struct Held {
    pub catalog: Arc<ConcertCatalog>,
    /// (seat, hold expiry), in the order asked.
    pub seats: Vec<(i64, DateTime<Utc>)>,
}

/// Holds every seat or none, for `HOLD_TTL_SECS`. Holding one's own seat again is idempotent
/// and reports the remaining time.
#[tracing::instrument(skip_all, fields(user.id = user, seats = ?seat_ids))]
pub async fn select(state: &AppState, user: i64, seat_ids: &[i64]) -> AppResult<Held> {
    let concert = state.catalogs.concert_of(&state.db, seat_ids).await?;
    let settings = &state.settings;
    let ttl_ms = settings.hold_ttl.as_millis() as i64;
    for _ in 0..3 {
        let outcome =
            state.holds.hold(concert, user, seat_ids, ttl_ms, settings.max_seats_per_user).await?;
        let (version, expiries) = match outcome {
            HoldOutcome::Held { version, expiries } => (version, expiries),
            HoldOutcome::Miss => {
                warm(state, concert).await?;
                continue;
            }
            other => return Err(refusal(other)),
        };
        metrics::counter!("ticketing_holds_total").increment(seat_ids.len() as u64);
        let catalog = state
            .catalogs
            .get(&state.db, concert, &version)
            .await?
            .ok_or(ErrorCode::CONCERT_NOT_FOUND)?;
        let seats = seat_ids
            .iter()
            .zip(expiries)
            .map(|(seat, ms)| (*seat, DateTime::from_timestamp_millis(ms).unwrap_or_default()))
            .collect();
        return Ok(Held { catalog, seats });
    }
    Err(ErrorCode::SEAT_LOCK_RETRY_NEEDED.into())
}

fn refusal(outcome: HoldOutcome) -> AppError {
    let code = match outcome {
        HoldOutcome::Deleted => ErrorCode::CONCERT_NOT_FOUND,
        HoldOutcome::NotOnSale => ErrorCode::INVALID_CONCERT_STATUS,
        HoldOutcome::NotOpenYet => ErrorCode::RESERVATION_NOT_OPEN_YET,
        HoldOutcome::Closed => ErrorCode::SALE_CLOSED,
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

/// Releases the caller's hold (compare-and-delete: someone else's hold is left alone).
#[tracing::instrument(skip_all, fields(user.id = user, seat.id = seat))]
pub async fn release(state: &AppState, user: i64, seat: i64) -> AppResult<()> {
    let concert = state.catalogs.concert_of(&state.db, &[seat]).await?;
    match state.holds.release(concert, user, seat).await? {
        ReleaseOutcome::Released => Ok(()),
        ReleaseOutcome::Reserved => Err(ErrorCode::IS_ALREADY_RESERVATION.into()),
        ReleaseOutcome::NotHeld | ReleaseOutcome::HeldByOther => {
            Err(ErrorCode::SEAT_NOT_SELECTED.into())
        }
    }
}

/// Loads the concert's sale window and seat states from the database into Redis.
#[tracing::instrument(skip_all, fields(concert.id = concert))]
pub async fn warm(state: &AppState, concert: i64) -> AppResult<()> {
    for _ in 0..3 {
        let version = state.holds.version(concert).await?;
        let mut conn = state.db.acquire().await?;
        let Some((row, deleted)) = concerts::find_any(&mut conn, concert).await? else {
            return Err(ErrorCode::CONCERT_NOT_FOUND.into());
        };
        let live = seats::live_ids(&mut conn, concert).await?;
        let active = reservations::active_seats(&mut conn, concert).await?;
        drop(conn);
        let mut sold = Vec::new();
        let mut reserved = Vec::new();
        let mut owned: HashMap<i64, i64> = HashMap::new();
        for seat in active {
            match seat.status {
                ReservationStatus::Confirmed => {
                    sold.push(seat.seat_id);
                    *owned.entry(seat.user_id).or_default() += 1;
                }
                _ => reserved.push((
                    seat.seat_id,
                    seat.user_id,
                    seat.reservation_id,
                    seat.expire_time.timestamp_millis(),
                )),
            }
        }
        let owned: Vec<(i64, i64)> = owned.into_iter().collect();
        let concert_state = ConcertState {
            open_ms: row.open_time.timestamp_millis(),
            close_ms: row.close_time.timestamp_millis(),
            status: row.status.as_str().to_owned(),
            deleted,
            queue_enabled: row.queue_enabled,
        };
        if state
            .holds
            .warm(concert, &version, &concert_state, &live, &sold, &reserved, &owned)
            .await?
        {
            tracing::info!(
                seats = live.len(),
                sold = sold.len(),
                "concert state loaded into Redis"
            );
            return Ok(());
        }
    }
    Err(ErrorCode::SEAT_LOCK_RETRY_NEEDED.into())
}

/// Whether a concert is on sale right now, by the database's word (checkout's authority).
pub fn check_on_sale(concert: &concerts::ConcertRow, now: DateTime<Utc>) -> AppResult<()> {
    if concert.status != ConcertStatus::Scheduled {
        return Err(ErrorCode::INVALID_CONCERT_STATUS.into());
    }
    if now < concert.open_time {
        return Err(ErrorCode::RESERVATION_NOT_OPEN_YET.into());
    }
    if now >= concert.close_time {
        return Err(ErrorCode::SALE_CLOSED.into());
    }
    Ok(())
}
