//! Transaction-scoped advisory locks: one instance at a time for start-up chores.

use sqlx::PgConnection;

/// What an advisory lock guards. Each has its own key, so the chores never wait on each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chore {
    /// Creating the bootstrap admin: two replicas starting together create one.
    BootstrapAdmin,
    /// Seeding the demo concerts: created once, whatever the number of replicas.
    SeedDemoData,
}

impl Chore {
    /// The lock's key: "ticketing" in the high bytes, the chore in the low ones.
    const fn key(self) -> i64 {
        const NAMESPACE: i64 = 0x7469_636B_0000_0000;
        NAMESPACE
            | match self {
                Chore::BootstrapAdmin => 1,
                Chore::SeedDemoData => 2,
            }
    }
}

/// Waits for the chore's lock; the transaction's end releases it.
pub async fn lock_for_transaction(conn: &mut PgConnection, chore: Chore) -> sqlx::Result<()> {
    sqlx::query!("select pg_advisory_xact_lock($1)", chore.key()).execute(conn).await?;
    Ok(())
}
