//! The waiting room's vocabulary.

/// Where a user stands after joining a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// Newly in line at `position` of `total`.
    New { position: u64, total: u64 },
    /// Already in line.
    Waiting { position: u64, total: u64 },
    /// Already admitted.
    Active { total: u64 },
}
