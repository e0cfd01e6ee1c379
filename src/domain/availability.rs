//! Seat states packed 2 bits a seat, in layout order: seat `i` is in byte `i / 4`, most
//! significant pair first (bits 7–6 for `i % 4 == 0`, then 5–4, 3–2, 1–0), with the codes of
//! `SeatStatus::code` (0 AVAILABLE, 1 HELD, 2 RESERVED, 3 SOLD). Redis keeps the same bytes
//! (`BITFIELD … u2 #i`), so they travel unchanged; the API sends them in base64.

use serde::Serialize;
use utoipa::ToSchema;

use super::seat::SeatStatus;

/// The name of the encoding, as the answer states it.
pub const ENCODING: &str = "2bit-base64";

/// Every seat's state at one availability version.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatAvailability {
    pub concert_id: i64,
    /// Grows by one with every change of any seat's state (a reload may jump ahead).
    pub version: u64,
    /// The layout these states follow (`SeatLayout.version`): when it is not the layout the
    /// client has, fetch the layout again.
    pub layout_version: String,
    /// Seats in the layout.
    pub count: usize,
    /// Always `2bit-base64`.
    #[schema(example = "2bit-base64")]
    pub encoding: String,
    /// Base64 (standard alphabet, padded) of 2 bits a seat in layout order: seat `i` is in byte
    /// `i / 4`, most significant pair first; 0 AVAILABLE, 1 HELD, 2 RESERVED, 3 SOLD.
    pub states: String,
}

/// One change batch of the live stream: apply `changes` in order to the states at
/// `fromVersion` to get the states at `toVersion`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AvailabilityDelta {
    pub from_version: u64,
    pub to_version: u64,
    /// `[seatId, state]` pairs, in the order they happened.
    #[schema(value_type = Vec<Vec<serde_json::Value>>, example = json!([[101, "HELD"], [102, "SOLD"]]))]
    pub changes: Vec<(i64, SeatStatus)>,
}

/// Bytes needed for `count` seats.
pub fn packed_len(count: usize) -> usize {
    count.div_ceil(4)
}

/// The state of seat `index`; AVAILABLE past the end.
pub fn state_at(packed: &[u8], index: usize) -> SeatStatus {
    let byte = packed.get(index / 4).copied().unwrap_or(0);
    SeatStatus::from_code(byte >> (6 - 2 * (index % 4)))
}

/// Sets the state of seat `index`, growing the bytes when needed.
pub fn set_state(packed: &mut Vec<u8>, index: usize, state: SeatStatus) {
    if packed.len() <= index / 4 {
        packed.resize(index / 4 + 1, 0);
    }
    let shift = 6 - 2 * (index % 4);
    let byte = &mut packed[index / 4];
    *byte = (*byte & !(0b11 << shift)) | (state.code() << shift);
}

/// Packs states given in layout order.
pub fn pack(states: impl IntoIterator<Item = SeatStatus>) -> Vec<u8> {
    let mut packed = Vec::new();
    for (i, s) in states.into_iter().enumerate() {
        set_state(&mut packed, i, s);
    }
    packed
}

/// The states of `count` seats.
pub fn unpack(packed: &[u8], count: usize) -> Vec<SeatStatus> {
    (0..count).map(|i| state_at(packed, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use SeatStatus::*;

    #[test]
    fn states_pack_two_bits_a_seat_most_significant_pair_first() {
        let states = [Held, Available, Sold, Reserved, Sold];
        let packed = pack(states);
        assert_eq!(packed, [0b01_00_11_10, 0b11_00_00_00]);
        assert_eq!(packed.len(), packed_len(states.len()));
        assert_eq!(unpack(&packed, 5), states);
        assert_eq!(state_at(&packed, 99), Available, "past the end");
    }

    #[test]
    fn setting_a_state_changes_only_that_seat() {
        let mut packed = pack([Sold; 9]);
        set_state(&mut packed, 6, Available);
        let got = unpack(&packed, 9);
        for (i, s) in got.iter().enumerate() {
            assert_eq!(*s, if i == 6 { Available } else { Sold }, "seat {i}");
        }
    }
}
