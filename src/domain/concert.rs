//! Concerts: status and the validated schedule (open < close < concert date).

use chrono::{DateTime, Datelike, Utc};

use crate::error::{AppResult, ErrorCode};

crate::text_enum! {
    /// Where a concert stands.
    pub enum ConcertStatus {
        Scheduled = "SCHEDULED",
        SoldOut = "SOLD_OUT",
        Completed = "COMPLETED",
        Cancelled = "CANCELLED",
    }
}

/// A live concert of the catalogue.
#[derive(Debug, Clone)]
pub struct Concert {
    pub id: i64,
    pub title: String,
    pub venue: String,
    pub concert_date: DateTime<Utc>,
    pub open_time: DateTime<Utc>,
    pub close_time: DateTime<Utc>,
    pub status: ConcertStatus,
    pub queue_enabled: bool,
    /// Leading zero bits of the proof of work for joining the waiting room (0: none).
    pub challenge_difficulty: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Why a concert is not on sale at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotOnSale {
    /// Not `SCHEDULED` (sold out, completed, cancelled).
    Status,
    /// Before `openTime`.
    NotOpenYet,
    /// At or after `closeTime`.
    Closed,
}

impl NotOnSale {
    pub fn code(self) -> ErrorCode {
        match self {
            NotOnSale::Status => ErrorCode::INVALID_CONCERT_STATUS,
            NotOnSale::NotOpenYet => ErrorCode::RESERVATION_NOT_OPEN_YET,
            NotOnSale::Closed => ErrorCode::SALE_CLOSED,
        }
    }
}

/// The sale rule: a `SCHEDULED` concert is on sale from `open` (inclusive) to `close`
/// (exclusive). The hold script in Redis repeats it (`clients::holds`); a test ties the two.
pub fn sale_state(
    status: ConcertStatus,
    open: DateTime<Utc>,
    close: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), NotOnSale> {
    if status != ConcertStatus::Scheduled {
        return Err(NotOnSale::Status);
    }
    if sale_closed(close, now) {
        return Err(NotOnSale::Closed);
    }
    if !sale_window_open(open, close, now) {
        return Err(NotOnSale::NotOpenYet);
    }
    Ok(())
}

/// Whether the sale is over at `now` (`close` is exclusive); fans may still join a line before
/// it opens, never after it closed.
pub fn sale_closed(close: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now >= close
}

/// Whether `now` falls in the sale window `[open, close)`, whatever the status.
pub fn sale_window_open(open: DateTime<Utc>, close: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    open <= now && !sale_closed(close, now)
}

impl Concert {
    /// Whether the concert is on sale at `now` (checkout's authority: the database row).
    pub fn check_on_sale(&self, now: DateTime<Utc>) -> AppResult<()> {
        sale_state(self.status, self.open_time, self.close_time, now).map_err(|e| e.code().into())
    }
}

/// A concert as an admin defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConcertDraft {
    pub title: String,
    pub venue: String,
    pub schedule: Schedule,
    /// `None` keeps the current status (new concerts start `SCHEDULED`).
    pub status: Option<ConcertStatus>,
    /// `None` keeps the current setting (new concerts start without a queue).
    pub queue_enabled: Option<bool>,
    /// Proof-of-work difficulty for joining the line, at most `challenge::MAX_DIFFICULTY`;
    /// `None` keeps the current one (new concerts start at 0, no check).
    pub challenge_difficulty: Option<u8>,
}

/// Sale window and show time, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub open_time: DateTime<Utc>,
    pub close_time: DateTime<Utc>,
    pub concert_date: DateTime<Utc>,
}

impl Schedule {
    pub fn new(
        open_time: DateTime<Utc>,
        close_time: DateTime<Utc>,
        concert_date: DateTime<Utc>,
    ) -> AppResult<Schedule> {
        if open_time >= close_time {
            return Err(ErrorCode::CLOSE_TIME_AFTER_OPEN_TIME.into());
        }
        if close_time > concert_date {
            return Err(ErrorCode::CONCERT_DATE_AFTER_CLOSE_TIME.into());
        }
        if [open_time, close_time, concert_date].iter().any(|t| !YEARS.contains(&t.year())) {
            return Err(ErrorCode::DATE_OUT_OF_RANGE.into());
        }
        Ok(Schedule { open_time, close_time, concert_date })
    }
}

/// The years a concert's dates may fall in.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

pub const TITLE_LEN: (usize, usize) = (1, 200);
pub const VENUE_LEN: (usize, usize) = (1, 200);

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::error::AppError;

    #[test]
    fn schedule_must_be_in_order() {
        let t = Utc::now();
        let h = Duration::hours(1);
        assert!(Schedule::new(t, t + h, t + h * 2).is_ok());
        let err = Schedule::new(t + h, t, t + h * 2).unwrap_err();
        assert!(matches!(err, AppError::Rejected(ErrorCode::CLOSE_TIME_AFTER_OPEN_TIME)));
        let err = Schedule::new(t, t + h * 2, t + h).unwrap_err();
        assert!(matches!(err, AppError::Rejected(ErrorCode::CONCERT_DATE_AFTER_CLOSE_TIME)));
        assert!(Schedule::new(t, t + h, t + h).is_ok(), "the sale may close as the show starts");
        let ancient = DateTime::parse_from_rfc3339("0276-01-01T00:00:00Z").unwrap().to_utc();
        let err = Schedule::new(ancient, t, t + h).unwrap_err();
        assert!(matches!(err, AppError::Rejected(ErrorCode::DATE_OUT_OF_RANGE)));
    }

    #[test]
    fn on_sale_from_open_inclusive_to_close_exclusive_when_scheduled() {
        let t = Utc::now();
        let (open, close) = (t, t + Duration::hours(1));
        let on = |status, now| sale_state(status, open, close, now);
        assert_eq!(on(ConcertStatus::Scheduled, open), Ok(()));
        assert_eq!(
            on(ConcertStatus::Scheduled, open - Duration::milliseconds(1)),
            Err(NotOnSale::NotOpenYet)
        );
        assert_eq!(on(ConcertStatus::Scheduled, close - Duration::milliseconds(1)), Ok(()));
        assert_eq!(on(ConcertStatus::Scheduled, close), Err(NotOnSale::Closed));
        assert_eq!(on(ConcertStatus::SoldOut, open), Err(NotOnSale::Status));
        assert_eq!(on(ConcertStatus::Cancelled, close), Err(NotOnSale::Status));
    }
}
