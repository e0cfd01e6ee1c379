//! Concerts: status and the validated schedule (open < close < concert date).

use chrono::{DateTime, Utc};

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
        if close_time >= concert_date {
            return Err(ErrorCode::CONCERT_DATE_AFTER_CLOSE_TIME.into());
        }
        Ok(Schedule { open_time, close_time, concert_date })
    }
}

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
    }
}
