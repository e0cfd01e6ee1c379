//! Seats: position (section, row, number), grade and price, and their status on the map.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{money::Money, reservation::ReservationStatus, time::serialize_kst};

/// Lengths of the seat's text fields.
pub const LABEL_LEN: (usize, usize) = (1, 20);

/// The largest seat batch one request may create.
pub const MAX_BATCH: usize = 5_000;

/// A seat as an admin defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatDraft {
    pub section: String,
    pub row: String,
    pub number: String,
    pub grade: String,
    pub price: Money,
}

impl SeatDraft {
    /// Two drafts name the same seat when section, row and number match (case and all).
    pub fn position(&self) -> (&str, &str, &str) {
        (&self.section, &self.row, &self.number)
    }
}

/// A live seat's fixed facts (what an admin defines, plus its identity).
#[derive(Debug, Clone)]
pub struct Seat {
    pub id: i64,
    pub concert_id: i64,
    pub section: String,
    pub row: String,
    pub number: String,
    pub grade: String,
    pub price: Money,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A seat with its concert's title and the status of the active reservation that owns it.
#[derive(Debug, Clone)]
pub struct SeatWithState {
    pub seat: Seat,
    pub concert_title: String,
    /// The active reservation's status (`IN_PROGRESS` or `CONFIRMED`), if one owns the seat.
    pub reservation: Option<ReservationStatus>,
}

/// A seat as every answer shows it (one struct for the single seat, lists, the seat map and
/// the hold answer): its facts and its live status. `reserved` and `status` come last, so the
/// seat map can render the rest once and append the state (`json_head`, `json_tail`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SeatResponse)]
pub struct SeatView {
    pub id: i64,
    pub concert_id: i64,
    pub concert_title: String,
    pub section: String,
    pub row: String,
    pub number: String,
    pub grade: String,
    pub price: Money,
    #[serde(serialize_with = "serialize_kst")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serialize_kst")]
    pub updated_at: DateTime<Utc>,
    /// True unless the seat is AVAILABLE.
    pub reserved: bool,
    pub status: SeatStatus,
}

/// The state part of a `SeatView`, serialized on its own for the seat map.
#[derive(Serialize)]
struct StatePart {
    reserved: bool,
    status: SeatStatus,
}

impl SeatView {
    pub fn new(seat: &Seat, concert_title: &str, status: SeatStatus) -> SeatView {
        SeatView {
            id: seat.id,
            concert_id: seat.concert_id,
            concert_title: concert_title.to_owned(),
            section: seat.section.clone(),
            row: seat.row.clone(),
            number: seat.number.clone(),
            grade: seat.grade.clone(),
            price: seat.price,
            created_at: seat.created_at,
            updated_at: seat.updated_at,
            reserved: status != SeatStatus::Available,
            status,
        }
    }

    /// The seat's view from the database's word and whether a fan holds it right now.
    pub fn from_state(s: &SeatWithState, held: bool) -> SeatView {
        SeatView::new(&s.seat, &s.concert_title, SeatStatus::of(s.reservation, held))
    }

    /// The JSON of this view without its state fields and closing brace.
    pub fn json_head(&self) -> String {
        let full = serde_json::to_string(self).unwrap_or_default();
        let tail = json_tail(self.status);
        // The state fields are the last two, so the tail is exactly where they begin.
        debug_assert!(full.ends_with(&tail), "state fields must come last");
        full[..full.len() - tail.len()].to_owned()
    }
}

/// `,"reserved":…,"status":"…"}`: what `json_head` leaves out, for a status.
pub fn json_tail(status: SeatStatus) -> &'static str {
    static TAILS: std::sync::LazyLock<[String; 4]> = std::sync::LazyLock::new(|| {
        [SeatStatus::Available, SeatStatus::Held, SeatStatus::Reserved, SeatStatus::Sold].map(
            |status| {
                let part = StatePart { reserved: status != SeatStatus::Available, status };
                let json = serde_json::to_string(&part).unwrap_or_default();
                format!(",{}", &json[1..])
            },
        )
    });
    &TAILS[status as usize]
}

/// Distinct values and, per seat, the index of its value: a column of repeated labels (sections,
/// rows, grades, prices) costs a small number per seat.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Column<T> {
    /// The distinct values, in order of first appearance.
    pub values: Vec<T>,
    /// Per seat, in layout order, the index of its value in `values`.
    pub index: Vec<u32>,
}

impl<T: PartialEq + Clone> Column<T> {
    fn of(items: impl Iterator<Item = T>) -> Column<T> {
        let mut values: Vec<T> = Vec::new();
        let mut index = Vec::new();
        for item in items {
            // Few distinct values: a linear search is cheaper than hashing.
            let i = values.iter().rposition(|v| *v == item).unwrap_or_else(|| {
                values.push(item.clone());
                values.len() - 1
            });
            index.push(i as u32);
        }
        Column { values, index }
    }
}

/// A concert's seats as static facts, by column, in natural seat order: what a seat map draws.
/// It changes only when an admin edits the concert's seats or prices; `version` is a digest of
/// the contents, so equal layouts have equal versions on every instance.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatLayout {
    pub concert_id: i64,
    /// Changes exactly when the contents change (also the `ETag`).
    pub version: String,
    /// Seats in the layout.
    pub count: usize,
    /// Seat ids, in natural order (section, row, number; 2 before 10).
    pub ids: Vec<i64>,
    pub section: Column<String>,
    pub row: Column<String>,
    /// Seat numbers, one per seat.
    pub number: Vec<String>,
    pub grade: Column<String>,
    #[schema(value_type = Column<f64>)]
    pub price: Column<Money>,
}

impl SeatLayout {
    /// The layout of `seats` (already in natural order).
    pub fn new<'a>(concert_id: i64, seats: impl Iterator<Item = &'a Seat> + Clone) -> SeatLayout {
        let mut layout = SeatLayout {
            concert_id,
            version: String::new(),
            count: seats.clone().count(),
            ids: seats.clone().map(|s| s.id).collect(),
            section: Column::of(seats.clone().map(|s| s.section.clone())),
            row: Column::of(seats.clone().map(|s| s.row.clone())),
            number: seats.clone().map(|s| s.number.clone()).collect(),
            grade: Column::of(seats.clone().map(|s| s.grade.clone())),
            price: Column::of(seats.map(|s| s.price)),
        };
        use sha2::{Digest, Sha256};
        let contents = serde_json::to_vec(&layout).unwrap_or_default();
        layout.version = hex::encode(&Sha256::digest(&contents)[..12]);
        layout
    }
}

/// What a fan sees for a seat on the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SeatStatus {
    /// Free to hold.
    Available,
    /// Held by a fan for a few minutes.
    Held,
    /// In a reservation being paid.
    Reserved,
    /// Paid.
    Sold,
}

impl SeatStatus {
    /// The state's 2-bit code in packed availability (`domain::availability`).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The state of a 2-bit code (only the low two bits count).
    pub fn from_code(code: u8) -> SeatStatus {
        match code & 0b11 {
            0 => SeatStatus::Available,
            1 => SeatStatus::Held,
            2 => SeatStatus::Reserved,
            _ => SeatStatus::Sold,
        }
    }

    /// A seat in an active reservation: SOLD once paid (`CONFIRMED`), RESERVED while being
    /// paid. Redis repeats this when it loads seat states (`s` vs `r:` keys); a test ties them.
    pub fn of_reservation(status: ReservationStatus) -> SeatStatus {
        match status {
            ReservationStatus::Confirmed => SeatStatus::Sold,
            _ => SeatStatus::Reserved,
        }
    }

    /// A seat's status: its active reservation decides; otherwise held or available.
    pub fn of(reservation: Option<ReservationStatus>, held: bool) -> SeatStatus {
        match reservation {
            Some(status) => SeatStatus::of_reservation(status),
            None if held => SeatStatus::Held,
            None => SeatStatus::Available,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(status: SeatStatus) -> SeatView {
        let seat = Seat {
            id: 7,
            concert_id: 3,
            section: "A".into(),
            row: "1".into(),
            number: "10".into(),
            grade: "VIP".into(),
            price: Money::from(rust_decimal::Decimal::from(150_000)),
            created_at: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
            updated_at: DateTime::from_timestamp(1_790_000_100, 0).unwrap(),
        };
        SeatView::new(&seat, "Show \"quoted\"", status)
    }

    #[test]
    fn head_and_tail_make_the_whole_view_for_every_status() {
        for status in
            [SeatStatus::Available, SeatStatus::Held, SeatStatus::Reserved, SeatStatus::Sold]
        {
            let v = view(status);
            let glued = format!("{}{}", view(SeatStatus::Available).json_head(), json_tail(status));
            assert_eq!(glued, serde_json::to_string(&v).unwrap());
        }
    }

    #[test]
    fn a_layout_keeps_seat_order_in_every_column_and_its_version_follows_the_contents() {
        let seat = |id: i64, section: &str, number: &str, price: i64| Seat {
            id,
            concert_id: 3,
            section: section.into(),
            row: "1".into(),
            number: number.into(),
            grade: "R".into(),
            price: Money::from(rust_decimal::Decimal::from(price)),
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            updated_at: DateTime::from_timestamp(0, 0).unwrap(),
        };
        let seats = [seat(5, "A", "2", 10), seat(6, "A", "10", 10), seat(9, "B", "1", 20)];
        let layout = SeatLayout::new(3, seats.iter());
        assert_eq!(layout.ids, [5, 6, 9]);
        assert_eq!(layout.section.values, ["A", "B"]);
        assert_eq!(layout.section.index, [0, 0, 1]);
        assert_eq!(layout.number, ["2", "10", "1"]);
        assert_eq!(layout.price.index, [0, 0, 1]);
        assert_eq!(layout.version, SeatLayout::new(3, seats.iter()).version, "same contents");
        let moved = [seat(5, "A", "2", 10), seat(6, "A", "10", 15), seat(9, "B", "1", 20)];
        assert_ne!(layout.version, SeatLayout::new(3, moved.iter()).version, "a price changed");
    }

    #[test]
    fn the_active_reservation_decides_then_the_hold() {
        use ReservationStatus as R;
        assert_eq!(SeatStatus::of(Some(R::Confirmed), true), SeatStatus::Sold);
        assert_eq!(SeatStatus::of(Some(R::InProgress), false), SeatStatus::Reserved);
        assert_eq!(SeatStatus::of(None, true), SeatStatus::Held);
        assert_eq!(SeatStatus::of(None, false), SeatStatus::Available);
    }
}
