//! The one retry schedule: a delay that doubles with each failed attempt, up to a ceiling.

use std::time::Duration;

/// `base × 2^failures`, at most `max`. `failures` counts the failed attempts so far (0 before
/// the first retry).
pub fn exponential(base: Duration, failures: u32, max: Duration) -> Duration {
    base.saturating_mul(1u32 << failures.min(20)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_stays_at_the_ceiling() {
        let ms = Duration::from_millis;
        let delays: Vec<_> = (0..5).map(|n| exponential(ms(200), n, ms(2_000))).collect();
        assert_eq!(delays, [ms(200), ms(400), ms(800), ms(1_600), ms(2_000)]);
        assert_eq!(exponential(ms(1_000), 60, ms(60_000)), ms(60_000), "no overflow");
    }
}
