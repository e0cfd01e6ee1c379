//! Door check-in rules (issue 17): what a scan of a ticket on a check-in list is answered.
//! Validity (the ticket, the list, the time) is decided before duplicates, so a revoked
//! ticket is never reported as "already in".

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};

use super::time::kst;

/// A scan's direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanType {
    Entry,
    Exit,
}

impl ScanType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanType::Entry => "entry",
            ScanType::Exit => "exit",
        }
    }

    pub fn parse(s: &str) -> Option<ScanType> {
        match s {
            "entry" => Some(ScanType::Entry),
            "exit" => Some(ScanType::Exit),
            _ => None,
        }
    }
}

/// Why a scan is refused (or, for a forced offline upload, what conflict it is flagged with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Not a secret of ours: malformed, a bad signature, or no such ticket.
    Invalid,
    /// The ticket was revoked (its booking cancelled or refunded, its seat removed).
    Revoked,
    /// The concert was cancelled, or the booking is no longer confirmed.
    Canceled,
    /// On this list already (entry) and the list's rules do not let it in again.
    AlreadyRedeemed,
    /// The list belongs to another concert.
    WrongConcert,
    /// The ticket's seat grade is not on the list.
    WrongList,
    /// Scanned after the concert's day, or at a time in the future.
    InvalidTime,
    /// An exit of a ticket that is not inside.
    NotInside,
}

impl Refusal {
    pub const ALL: &'static [Refusal] = &[
        Refusal::Invalid,
        Refusal::Revoked,
        Refusal::Canceled,
        Refusal::AlreadyRedeemed,
        Refusal::WrongConcert,
        Refusal::WrongList,
        Refusal::InvalidTime,
        Refusal::NotInside,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Invalid => "invalid",
            Refusal::Revoked => "revoked",
            Refusal::Canceled => "canceled",
            Refusal::AlreadyRedeemed => "already_redeemed",
            Refusal::WrongConcert => "wrong_concert",
            Refusal::WrongList => "wrong_list",
            Refusal::InvalidTime => "invalid_time",
            Refusal::NotInside => "not_inside",
        }
    }

    pub fn parse(s: &str) -> Option<Refusal> {
        Refusal::ALL.iter().copied().find(|r| r.as_str() == s)
    }
}

/// A list's re-entry rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListRules {
    /// Any number of entries, whatever came between.
    pub allow_multiple_entries: bool,
    /// Back in after an exit (otherwise one entry only).
    pub allow_entry_after_exit: bool,
}

impl ListRules {
    /// One entry per ticket, ever: what the database's unique index enforces.
    pub fn single_entry(self) -> bool {
        !self.allow_multiple_entries && !self.allow_entry_after_exit
    }
}

/// Where a ticket stands on one list: its entries not undone, and whether its latest scan not
/// undone is an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Presence {
    pub entries: i32,
    pub inside: bool,
}

/// The duplicate rules: an entry is refused once the ticket is in (or has been, on a list that
/// does not allow re-entry); an exit needs the ticket inside.
pub fn check_duplicate(
    rules: ListRules,
    presence: Presence,
    scan: ScanType,
) -> Result<(), Refusal> {
    match scan {
        ScanType::Entry => {
            let allowed = presence.entries == 0
                || rules.allow_multiple_entries
                || (rules.allow_entry_after_exit && !presence.inside);
            if allowed { Ok(()) } else { Err(Refusal::AlreadyRedeemed) }
        }
        ScanType::Exit if presence.inside => Ok(()),
        ScanType::Exit => Err(Refusal::NotInside),
    }
}

/// How far ahead of the server's clock a scanner's `scannedAt` may be.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);
/// Scans are taken at least this long after the concert starts, even when its day ends sooner.
pub const MIN_AFTER_START: Duration = Duration::hours(6);

/// The end of a concert's scanning window: the end of its day in Seoul (midnight after), but
/// never less than [`MIN_AFTER_START`] after it starts.
pub fn window_end(concert_date: DateTime<Utc>) -> DateTime<Utc> {
    let local = concert_date.with_timezone(&kst());
    let next_day = local.date_naive().succ_opt().unwrap_or(local.date_naive());
    let midnight = kst()
        .with_ymd_and_hms(next_day.year(), next_day.month(), next_day.day(), 0, 0, 0)
        .single()
        .map_or(concert_date, |t| t.with_timezone(&Utc));
    midnight.max(concert_date + MIN_AFTER_START)
}

/// What a scan's validity depends on.
#[derive(Debug, Clone)]
pub struct ScanFacts<'a> {
    pub ticket_revoked: bool,
    /// The booking is still `CONFIRMED`.
    pub booking_confirmed: bool,
    pub concert_cancelled: bool,
    pub ticket_concert: i64,
    pub list_concert: i64,
    pub grade: &'a str,
    /// The list's grades (`None`: every grade).
    pub list_grades: Option<&'a [String]>,
    pub concert_date: DateTime<Utc>,
    pub scanned_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// Validity, in order: revoked, canceled, wrong concert, wrong list (grade), invalid time.
pub fn check_validity(f: &ScanFacts<'_>) -> Result<(), Refusal> {
    if f.ticket_revoked {
        return Err(Refusal::Revoked);
    }
    if f.concert_cancelled || !f.booking_confirmed {
        return Err(Refusal::Canceled);
    }
    if f.ticket_concert != f.list_concert {
        return Err(Refusal::WrongConcert);
    }
    if let Some(grades) = f.list_grades
        && !grades.iter().any(|g| g == f.grade)
    {
        return Err(Refusal::WrongList);
    }
    if f.scanned_at > f.now + CLOCK_SKEW || f.scanned_at >= window_end(f.concert_date) {
        return Err(Refusal::InvalidTime);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONCE: ListRules =
        ListRules { allow_multiple_entries: false, allow_entry_after_exit: false };
    const REENTRY: ListRules =
        ListRules { allow_multiple_entries: false, allow_entry_after_exit: true };
    const ANY: ListRules =
        ListRules { allow_multiple_entries: true, allow_entry_after_exit: false };

    fn at(entries: i32, inside: bool) -> Presence {
        Presence { entries, inside }
    }

    #[test]
    fn a_single_entry_list_lets_a_ticket_in_once_and_out_only_when_inside() {
        assert!(ONCE.single_entry() && !REENTRY.single_entry() && !ANY.single_entry());
        assert_eq!(check_duplicate(ONCE, at(0, false), ScanType::Entry), Ok(()));
        assert_eq!(
            check_duplicate(ONCE, at(1, true), ScanType::Entry),
            Err(Refusal::AlreadyRedeemed)
        );
        assert_eq!(
            check_duplicate(ONCE, at(1, false), ScanType::Entry),
            Err(Refusal::AlreadyRedeemed)
        );
        assert_eq!(check_duplicate(ONCE, at(1, true), ScanType::Exit), Ok(()));
        assert_eq!(check_duplicate(ONCE, at(0, false), ScanType::Exit), Err(Refusal::NotInside));
    }

    #[test]
    fn re_entry_needs_an_exit_and_multiple_entries_need_nothing() {
        assert_eq!(check_duplicate(REENTRY, at(1, false), ScanType::Entry), Ok(()));
        assert_eq!(
            check_duplicate(REENTRY, at(1, true), ScanType::Entry),
            Err(Refusal::AlreadyRedeemed)
        );
        assert_eq!(check_duplicate(ANY, at(3, true), ScanType::Entry), Ok(()));
        assert_eq!(check_duplicate(ANY, at(3, false), ScanType::Exit), Err(Refusal::NotInside));
    }

    #[test]
    fn the_window_ends_at_seoul_midnight_after_the_show_or_six_hours_after_its_start_if_later() {
        // 14:00 KST → the next midnight KST (15:00 UTC the same day).
        let matinee = Utc.with_ymd_and_hms(2026, 12, 25, 5, 0, 0).unwrap();
        assert_eq!(window_end(matinee), Utc.with_ymd_and_hms(2026, 12, 25, 15, 0, 0).unwrap());
        // 22:30 KST → six hours later (04:30 KST).
        let late = Utc.with_ymd_and_hms(2026, 12, 25, 13, 30, 0).unwrap();
        assert_eq!(window_end(late), late + Duration::hours(6));
    }

    #[test]
    fn validity_is_checked_in_order() {
        let now = Utc::now();
        let grades = vec!["VIP".to_owned()];
        let ok = ScanFacts {
            ticket_revoked: false,
            booking_confirmed: true,
            concert_cancelled: false,
            ticket_concert: 1,
            list_concert: 1,
            grade: "VIP",
            list_grades: Some(&grades),
            concert_date: now + Duration::days(1),
            scanned_at: now,
            now,
        };
        assert_eq!(check_validity(&ok), Ok(()));
        let all_wrong = ScanFacts {
            ticket_revoked: true,
            booking_confirmed: false,
            ticket_concert: 2,
            grade: "R",
            scanned_at: now + Duration::hours(1),
            ..ok.clone()
        };
        assert_eq!(check_validity(&all_wrong), Err(Refusal::Revoked));
        let f = ScanFacts { ticket_revoked: false, ..all_wrong };
        assert_eq!(check_validity(&f), Err(Refusal::Canceled));
        let f = ScanFacts { booking_confirmed: true, ..f };
        assert_eq!(check_validity(&f), Err(Refusal::WrongConcert));
        let f = ScanFacts { ticket_concert: 1, ..f };
        assert_eq!(check_validity(&f), Err(Refusal::WrongList));
        let f = ScanFacts { list_grades: None, ..f };
        assert_eq!(check_validity(&f), Err(Refusal::InvalidTime), "an hour in the future");
        let f = ScanFacts { scanned_at: now + Duration::minutes(4), ..f };
        assert_eq!(check_validity(&f), Ok(()), "within the clock skew");
        let f = ScanFacts { concert_date: now - Duration::days(2), ..f };
        assert_eq!(check_validity(&f), Err(Refusal::InvalidTime), "after the concert's day");
    }

    #[test]
    fn reasons_read_back() {
        for r in Refusal::ALL {
            assert_eq!(Refusal::parse(r.as_str()), Some(*r));
        }
        assert_eq!(ScanType::parse("exit"), Some(ScanType::Exit));
        assert_eq!(ScanType::parse("EXIT"), None);
    }
}
