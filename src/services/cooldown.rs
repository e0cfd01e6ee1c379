//! The checkout cool-down: an account whose checkouts keep ending unpaid may not hold seats or
//! check out for a while (`CHECKOUT_COOLDOWN_*`).
//!
//! Counted from the database, where a checkout ends: every time some of an account's
//! reservations end unpaid (the expiry sweeper, a declined payment), the account's unpaid ends
//! within the window are counted again, after the commit, and when they reach the threshold the
//! cool-down starts (again) in the registry, one Redis sorted set (account → end). Each
//! instance keeps a copy of it, read every second (`workers::cooldowns`), and holds and
//! checkouts check the copy, so the hot path pays nothing extra: the instance that starts a
//! cool-down applies it at once, the others within a second. Counting after
//! the commit makes it exact across instances: of two sweepers ending an account's reservations
//! at once, the one that counts last sees both.
//!
//! What counts: a reservation that expired unpaid (not one whose money came late and was
//! refunded), and a payment declined in the second half of the time to pay (a decline at the
//! last moment locks the seats as long as an expiry; a card that bounces at once frees them at
//! once, and a fan retrying a card is not punished). A cancellation never counts: only a paid
//! reservation can be canceled.

use std::time::Duration;

use sqlx::PgPool;

use crate::{clients::holds::Holds, error::AppResult, repositories::reservations as repo};

/// How often each instance reads the cool-down registry into its copy: a cool-down started by
/// another instance applies here at most this late.
pub const COOLDOWN_REFRESH: Duration = Duration::from_secs(1);

/// The cool-down's rule.
#[derive(Debug, Clone, Copy)]
pub struct CooldownRules {
    /// Unpaid ends within `window` that start a cool-down; 0: never.
    pub after: u32,
    pub window: Duration,
    /// How long a cool-down lasts.
    pub length: Duration,
}

/// Starts cool-downs when checkouts end unpaid.
#[derive(Clone)]
pub struct Cooldowns {
    db: PgPool,
    holds: Holds,
    rules: CooldownRules,
}

impl Cooldowns {
    pub fn new(db: PgPool, holds: Holds, rules: CooldownRules) -> Self {
        Cooldowns { db, holds, rules }
    }

    /// After reservations of `users` ended unpaid (and that was committed): cools down those
    /// who reached the threshold. A failure is logged, never passed on: the reservations'
    /// ends stand, and the next unpaid end counts again.
    pub async fn after_unpaid(&self, users: &[i64]) {
        if self.rules.after == 0 || users.is_empty() {
            return;
        }
        if let Err(e) = self.count_and_start(users).await {
            tracing::warn!(error = %e, "could not update checkout cool-downs");
        }
    }

    async fn count_and_start(&self, users: &[i64]) -> AppResult<()> {
        let mut users = users.to_vec();
        users.sort_unstable();
        users.dedup();
        let due = repo::users_with_unpaid_ends(
            &mut *self.db.acquire().await?,
            &users,
            self.rules.window.as_secs_f64(),
            i64::from(self.rules.after),
        )
        .await?;
        if due.is_empty() {
            return Ok(());
        }
        self.holds.start_cooldowns(&due, self.rules.length.as_millis() as u64).await?;
        metrics::counter!("ticketing_checkout_cooldowns_total").increment(due.len() as u64);
        tracing::info!(users = ?due, "checkout cool-down started");
        Ok(())
    }
}
