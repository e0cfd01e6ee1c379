//! E-tickets (issue 17): issued with the confirmation, signed with the concert's Ed25519 key,
//! revoked by the database when their reservation or seat goes, verifiable offline.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use ed25519_dalek::SigningKey;
use sqlx::{PgConnection, PgPool};

pub use crate::repositories::tickets::{PublicKey, Revocation, TicketRow};
use crate::{
    domain::{sealed, ticket_secret},
    error::{AppResult, ErrorCode},
    repositories::{
        reservations,
        tickets::{self as repo, NewTicket, StoredKey},
    },
};

/// Issues and shows tickets. Cheap to clone.
#[derive(Clone)]
pub struct Tickets {
    db: PgPool,
    /// Seals the signing keys at rest (`TICKET_KEY_ENCRYPTION_KEY`).
    kek: Arc<[u8; 32]>,
    /// Opened signing keys of committed rows, by concert: confirmations need not unseal.
    keys: Arc<Mutex<HashMap<i64, (String, SigningKey)>>>,
}

/// A page of revocations for scanners.
#[derive(Debug)]
pub struct RevocationPage {
    pub revoked: Vec<Revocation>,
    /// The `since` to ask with next.
    pub next: i64,
    /// Whether more follow right away.
    pub more: bool,
}

/// The context a sealed seed is bound to: its key id.
fn seal_context(key_id: &str) -> Vec<u8> {
    format!("ticketing concert signing key {key_id}").into_bytes()
}

impl Tickets {
    pub fn new(db: PgPool, kek: [u8; 32]) -> Tickets {
        Tickets { db, kek: Arc::new(kek), keys: Arc::default() }
    }

    /// Writes one ticket per seat of a reservation that this transaction confirms, each with a
    /// fresh secret signed by the concert's key (made on the concert's first confirmation).
    pub async fn issue(
        &self,
        conn: &mut PgConnection,
        reservation: i64,
        concert: i64,
        user: i64,
    ) -> AppResult<usize> {
        let seats: Vec<i64> = reservations::seat_ids(conn, &[reservation])
            .await?
            .into_iter()
            .map(|s| s.seat_id)
            .collect();
        if seats.is_empty() {
            return Ok(0);
        }
        let (key_id, key) = self.signing_key(conn, concert).await?;
        let ids = repo::next_ids(conn, seats.len() as i64).await?;
        let tickets: Vec<NewTicket> = ids
            .iter()
            .zip(&seats)
            .map(|(&id, &seat_id)| NewTicket {
                id,
                seat_id,
                secret: ticket_secret::Claims::new(id, concert, seat_id).sign(&key),
            })
            .collect();
        repo::insert_tickets(conn, reservation, concert, user, &key_id, &tickets).await?;
        metrics::counter!("ticketing_tickets_issued_total").increment(tickets.len() as u64);
        Ok(tickets.len())
    }

    /// The concert's active key: from the cache, from the database, or made now.
    async fn signing_key(
        &self,
        conn: &mut PgConnection,
        concert: i64,
    ) -> AppResult<(String, SigningKey)> {
        if let Some(found) = self.keys.lock().expect("key cache").get(&concert) {
            return Ok(found.clone());
        }
        if let Some(stored) = repo::active_key(conn, concert).await? {
            let opened = self.open(&stored)?;
            self.keys.lock().expect("key cache").insert(concert, opened.clone());
            return Ok(opened);
        }
        let key = ticket_secret::generate_key();
        let key_id = ticket_secret::key_id(&key.verifying_key());
        let stored = StoredKey {
            sealed_seed: sealed::seal(&self.kek, &seal_context(&key_id), key.as_bytes()),
            public_key: key.verifying_key().as_bytes().to_vec(),
            key_id: key_id.clone(),
        };
        if repo::insert_key(conn, concert, &stored).await? {
            // Not cached: this transaction may still roll back.
            tracing::info!(concert, %key_id, "ticket signing key created");
            return Ok((key_id, key));
        }
        // Another confirmation of this concert created it first (and committed).
        let stored = repo::active_key(conn, concert)
            .await?
            .ok_or_else(|| anyhow::anyhow!("concert {concert}'s signing key vanished"))?;
        let opened = self.open(&stored)?;
        self.keys.lock().expect("key cache").insert(concert, opened.clone());
        Ok(opened)
    }

    fn open(&self, stored: &StoredKey) -> AppResult<(String, SigningKey)> {
        let seed = sealed::open(&self.kek, &seal_context(&stored.key_id), &stored.sealed_seed)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "signing key {} does not open with TICKET_KEY_ENCRYPTION_KEY (was the key changed?)",
                    stored.key_id
                )
            })?;
        let seed: [u8; 32] =
            seed.try_into().map_err(|_| anyhow::anyhow!("signing key seed is not 32 bytes"))?;
        Ok((stored.key_id.clone(), SigningKey::from_bytes(&seed)))
    }

    /// The user's tickets, newest first.
    pub async fn mine(
        &self,
        user: i64,
        before: Option<i64>,
        limit: i64,
    ) -> AppResult<Vec<TicketRow>> {
        let mut conn = self.db.acquire().await?;
        Ok(repo::of_user(&mut conn, user, before, limit).await?)
    }

    /// One ticket, for its owner or an admin; 404 for anyone else.
    pub async fn get(&self, id: i64, viewer: i64, is_admin: bool) -> AppResult<TicketRow> {
        let mut conn = self.db.acquire().await?;
        match repo::find(&mut conn, id).await? {
            Some(t) if is_admin || t.user_id == viewer => Ok(t),
            _ => Err(ErrorCode::TICKET_NOT_FOUND.into()),
        }
    }

    /// A reservation's tickets (for its email).
    pub async fn of_reservation(
        &self,
        conn: &mut PgConnection,
        reservation: i64,
    ) -> AppResult<Vec<TicketRow>> {
        Ok(repo::of_reservation(conn, reservation).await?)
    }

    /// The concert's verification keys (public).
    pub async fn keys(&self, concert: i64) -> AppResult<Vec<PublicKey>> {
        let mut conn = self.db.acquire().await?;
        if !repo::concert_exists(&mut conn, concert).await? {
            return Err(ErrorCode::CONCERT_NOT_FOUND.into());
        }
        Ok(repo::public_keys(&mut conn, concert).await?)
    }

    /// The concert's revoked secrets after `since`.
    pub async fn revoked(&self, concert: i64, since: i64, limit: i64) -> AppResult<RevocationPage> {
        let mut conn = self.db.acquire().await?;
        if !repo::concert_exists(&mut conn, concert).await? {
            return Err(ErrorCode::CONCERT_NOT_FOUND.into());
        }
        let mut revoked = repo::revocations(&mut conn, concert, since, limit + 1).await?;
        let more = revoked.len() as i64 > limit;
        revoked.truncate(limit as usize);
        let next = revoked.last().map_or(since, |r| r.seq);
        Ok(RevocationPage { revoked, next, more })
    }
}
