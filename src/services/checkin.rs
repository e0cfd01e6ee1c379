//! Door check-in (issue 17): check-in lists, redeeming a scanned secret exactly once per list,
//! offline uploads flagged when they conflict, and undo with an audit.
//!
//! Every scan of one ticket on one list takes the row lock of its `checkin_presence` row
//! first, so simultaneous scans are decided one after another on what the previous committed;
//! on a single-entry list the unique index `checkins_single_entry_uk` is the final word.

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use serde_json::json;
use sqlx::{PgConnection, PgPool};

pub use crate::repositories::checkin::{ListRow, ListStatus, ScanTicket};
use crate::{
    domain::{
        checkin::{self as rules, ListRules, Presence, Refusal, ScanFacts, ScanType},
        ticket_secret,
    },
    error::{AppResult, ErrorCode},
    repositories::{
        checkin::{self as repo, NewCheckin, StoredNonce},
        reservations, tickets,
    },
};

/// Check-in lists and scans. Cheap to clone.
#[derive(Clone)]
pub struct Checkin {
    db: PgPool,
}

/// A list to create.
#[derive(Debug, Clone)]
pub struct NewList {
    pub concert_id: i64,
    pub name: String,
    pub grades: Option<Vec<String>>,
    pub rules: ListRules,
}

/// A scan to redeem.
#[derive(Debug, Clone)]
pub struct Redeem {
    pub secret: String,
    pub list_id: i64,
    pub scan: ScanType,
    pub nonce: String,
    /// When the scanner saw the ticket (now when absent).
    pub scanned_at: Option<DateTime<Utc>>,
    /// Record the scan even if it would be refused (an offline scan already let through).
    pub force: bool,
}

/// What a scan is answered.
#[derive(Debug, Clone)]
pub enum RedeemAnswer {
    /// Recorded.
    Ok {
        checkin_id: i64,
        ticket: ScanTicket,
        forced: bool,
        /// What a forced upload would have been refused for.
        conflict: Option<Refusal>,
    },
    /// Refused; `Invalid` has no ticket.
    Refused {
        reason: Refusal,
        ticket: Option<ScanTicket>,
        /// `AlreadyRedeemed`: when the ticket entered on this list.
        redeemed_at: Option<DateTime<Utc>>,
        redeemed_list_id: Option<i64>,
    },
}

impl RedeemAnswer {
    fn refused(reason: Refusal, ticket: Option<ScanTicket>) -> RedeemAnswer {
        RedeemAnswer::Refused { reason, ticket, redeemed_at: None, redeemed_list_id: None }
    }
}

impl Checkin {
    pub fn new(db: PgPool) -> Checkin {
        // Every series the dashboard reads exists from the start, at zero.
        for scan in [ScanType::Entry, ScanType::Exit] {
            metrics::counter!("ticketing_checkins_total", "type" => scan.as_str()).increment(0);
        }
        for reason in Refusal::ALL {
            metrics::counter!("ticketing_checkin_refusals_total", "reason" => reason.as_str())
                .increment(0);
        }
        Checkin { db }
    }

    /// Creates a list for a concert (an admin).
    #[tracing::instrument(skip_all, fields(concert.id = list.concert_id))]
    pub async fn create_list(&self, admin: i64, list: NewList) -> AppResult<ListRow> {
        let mut tx = self.db.begin().await?;
        if !tickets::concert_exists(&mut tx, list.concert_id).await? {
            return Err(ErrorCode::CONCERT_NOT_FOUND.into());
        }
        let row = repo::insert_list(
            &mut tx,
            &repo::NewList {
                concert_id: list.concert_id,
                name: &list.name,
                grades: list.grades.as_deref(),
                allow_multiple_entries: list.rules.allow_multiple_entries,
                allow_entry_after_exit: list.rules.allow_entry_after_exit,
                created_by: admin,
            },
        )
        .await?;
        reservations::audit(
            &mut tx,
            admin,
            "checkin_list.create",
            "checkin_list",
            row.id,
            json!({"concertId": row.concert_id, "name": row.name, "grades": row.grades}),
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// The concert's lists.
    pub async fn lists(&self, concert: i64) -> AppResult<Vec<ListRow>> {
        let mut conn = self.db.acquire().await?;
        if !tickets::concert_exists(&mut conn, concert).await? {
            return Err(ErrorCode::CONCERT_NOT_FOUND.into());
        }
        Ok(repo::lists_of_concert(&mut conn, concert).await?)
    }

    /// One list.
    pub async fn list(&self, id: i64) -> AppResult<ListRow> {
        let mut conn = self.db.acquire().await?;
        Ok(repo::find_list(&mut conn, id).await?.ok_or(ErrorCode::CHECKIN_LIST_NOT_FOUND)?)
    }

    /// Deletes a list (its scans stay, for the record).
    #[tracing::instrument(skip_all, fields(checkin_list.id = id))]
    pub async fn delete_list(&self, admin: i64, id: i64) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        if !repo::delete_list(&mut tx, id).await? {
            return Err(ErrorCode::CHECKIN_LIST_NOT_FOUND.into());
        }
        reservations::audit(&mut tx, admin, "checkin_list.delete", "checkin_list", id, json!({}))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The list's live counts.
    pub async fn status(&self, id: i64) -> AppResult<ListStatus> {
        let mut conn = self.db.acquire().await?;
        if repo::find_list(&mut conn, id).await?.is_none() {
            return Err(ErrorCode::CHECKIN_LIST_NOT_FOUND.into());
        }
        Ok(repo::list_status(&mut conn, id).await?)
    }

    /// Redeems a scan: verified, checked for validity, then for duplicates under the ticket's
    /// lock on the list, recorded, and its answer kept under the nonce.
    #[tracing::instrument(skip_all, fields(checkin_list.id = r.list_id, forced = r.force))]
    pub async fn redeem(&self, staff: i64, r: Redeem) -> AppResult<RedeemAnswer> {
        let now = Utc::now();
        let mut tx = self.db.begin().await?;
        let list =
            repo::find_list(&mut tx, r.list_id).await?.ok_or(ErrorCode::CHECKIN_LIST_NOT_FOUND)?;
        let scan_type = r.scan.as_str();
        if !repo::claim_nonce(&mut tx, list.id, &r.nonce, staff, &r.secret, scan_type).await? {
            let stored = repo::stored_nonce(&mut tx, list.id, &r.nonce)
                .await?
                .ok_or_else(|| anyhow::anyhow!("a claimed nonce vanished"))?;
            if stored.secret != r.secret || stored.scan_type != scan_type {
                return Err(ErrorCode::CHECKIN_NONCE_REUSED.into());
            }
            metrics::counter!("ticketing_checkin_replays_total").increment(1);
            return replay(&mut tx, list.id, stored).await;
        }
        let answer = decide(&mut tx, staff, &list, &r, now).await?;
        let (outcome, checkin, ticket, redeemed_at) = match &answer {
            RedeemAnswer::Ok { checkin_id, ticket, .. } => {
                ("ok", Some(*checkin_id), Some(ticket.id), None)
            }
            RedeemAnswer::Refused { reason, ticket, redeemed_at, .. } => {
                (reason.as_str(), None, ticket.as_ref().map(|t| t.id), *redeemed_at)
            }
        };
        repo::settle_nonce(&mut tx, list.id, &r.nonce, outcome, checkin, ticket, redeemed_at)
            .await?;
        let inside = match answer {
            RedeemAnswer::Ok { .. } => Some(repo::inside_count(&mut tx, list.id).await?),
            RedeemAnswer::Refused { .. } => None,
        };
        tx.commit().await?;
        match &answer {
            RedeemAnswer::Ok { conflict, .. } => {
                metrics::counter!("ticketing_checkins_total", "type" => scan_type).increment(1);
                if let Some(c) = conflict {
                    metrics::counter!("ticketing_checkin_conflicts_total", "reason" => c.as_str())
                        .increment(1);
                }
            }
            RedeemAnswer::Refused { reason, .. } => {
                metrics::counter!("ticketing_checkin_refusals_total", "reason" => reason.as_str())
                    .increment(1);
            }
        }
        if let Some(inside) = inside {
            set_inside_gauge(list.id, inside);
        }
        Ok(answer)
    }

    /// Undoes a scan (staff), recording who did it.
    #[tracing::instrument(skip_all, fields(checkin.id = id))]
    pub async fn undo(&self, staff: i64, id: i64) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        let found = repo::find_checkin(&mut tx, id)
            .await?
            .filter(|c| c.undone_at.is_none())
            .ok_or(ErrorCode::CHECKIN_NOT_FOUND)?;
        // The ticket's lock on the list first, as a scan takes it.
        repo::lock_presence(&mut tx, found.list_id, found.ticket_id).await?;
        if !repo::undo_checkin(&mut tx, id, staff).await? {
            return Err(ErrorCode::CHECKIN_NOT_FOUND.into());
        }
        repo::refresh_presence(&mut tx, found.list_id, found.ticket_id).await?;
        reservations::audit(
            &mut tx,
            staff,
            "checkin.undo",
            "checkin",
            id,
            json!({"listId": found.list_id, "ticketId": found.ticket_id, "type": found.scan_type}),
        )
        .await?;
        let inside = repo::inside_count(&mut tx, found.list_id).await?;
        tx.commit().await?;
        tracing::info!(checkin = id, by = staff, "check-in undone");
        metrics::counter!("ticketing_checkins_undone_total").increment(1);
        set_inside_gauge(found.list_id, inside);
        Ok(())
    }
}

fn set_inside_gauge(list: i64, inside: i64) {
    metrics::gauge!("ticketing_checkin_inside", "list" => list.to_string()).set(inside as f64);
}

/// The ticket a secret names, if the secret is one of ours: signed by a key of the concert it
/// names, and the ticket's current secret.
async fn verified_ticket(conn: &mut PgConnection, secret: &str) -> AppResult<Option<ScanTicket>> {
    let Ok(claims) = ticket_secret::decode_unverified(secret) else { return Ok(None) };
    let keys = tickets::public_keys(conn, claims.concert_id).await?;
    let signed = keys.iter().any(|k| {
        <[u8; 32]>::try_from(k.public_key.as_slice())
            .ok()
            .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
            .is_some_and(|key| ticket_secret::verify(secret, &key).is_ok())
    });
    if !signed {
        return Ok(None);
    }
    let ticket = repo::ticket_for_scan(conn, claims.ticket_id).await?;
    Ok(ticket.filter(|t| t.secret == secret && t.concert_id == claims.concert_id))
}

/// Decides and records a first-time scan.
async fn decide(
    tx: &mut PgConnection,
    staff: i64,
    list: &ListRow,
    r: &Redeem,
    now: DateTime<Utc>,
) -> AppResult<RedeemAnswer> {
    let Some(ticket) = verified_ticket(tx, &r.secret).await? else {
        return Ok(RedeemAnswer::refused(Refusal::Invalid, None));
    };
    let scanned_at = r.scanned_at.unwrap_or(now);
    let validity = rules::check_validity(&ScanFacts {
        ticket_revoked: ticket.revoked,
        booking_confirmed: ticket.booking_confirmed,
        concert_cancelled: ticket.concert_cancelled,
        ticket_concert: ticket.concert_id,
        list_concert: list.concert_id,
        grade: &ticket.grade,
        list_grades: list.grades.as_deref(),
        concert_date: ticket.concert_date,
        scanned_at,
        now,
    });
    if let Err(reason) = validity
        && !r.force
    {
        return Ok(RedeemAnswer::refused(reason, Some(ticket)));
    }
    let list_rules = ListRules {
        allow_multiple_entries: list.allow_multiple_entries,
        allow_entry_after_exit: list.allow_entry_after_exit,
    };
    let (entries, inside) = repo::lock_presence(tx, list.id, ticket.id).await?;
    let duplicate = rules::check_duplicate(list_rules, Presence { entries, inside }, r.scan);
    if let Err(reason) = duplicate
        && !r.force
    {
        return refused_duplicate(tx, reason, list.id, ticket).await;
    }
    let conflict = validity.err().or(duplicate.err());
    let recorded = repo::insert_checkin(
        tx,
        &NewCheckin {
            list_id: list.id,
            ticket_id: ticket.id,
            scan_type: r.scan.as_str(),
            single_entry: list_rules.single_entry(),
            // A forced scan from a clock running ahead (flagged `invalid_time`) is kept at now,
            // so it cannot stand as the ticket's latest scan for hours.
            scanned_at: scanned_at.min(now),
            staff_id: staff,
            forced: r.force,
            conflict: conflict.map(Refusal::as_str),
        },
    )
    .await?;
    let Some(checkin_id) = recorded else {
        // The presence lock makes this unreachable; the unique index has the last word anyway.
        tracing::warn!(ticket = ticket.id, "the single-entry index refused a second entry");
        return refused_duplicate(tx, Refusal::AlreadyRedeemed, list.id, ticket).await;
    };
    repo::refresh_presence(tx, list.id, ticket.id).await?;
    let ticket = repo::ticket_for_scan(tx, ticket.id).await?.unwrap_or(ticket);
    Ok(RedeemAnswer::Ok { checkin_id, ticket, forced: r.force, conflict })
}

async fn refused_duplicate(
    tx: &mut PgConnection,
    reason: Refusal,
    list: i64,
    ticket: ScanTicket,
) -> AppResult<RedeemAnswer> {
    if reason != Refusal::AlreadyRedeemed {
        return Ok(RedeemAnswer::refused(reason, Some(ticket)));
    }
    let redeemed_at = repo::last_entry(tx, list, ticket.id).await?;
    Ok(RedeemAnswer::Refused {
        reason,
        ticket: Some(ticket),
        redeemed_at,
        redeemed_list_id: Some(list),
    })
}

/// The answer a nonce got the first time.
async fn replay(
    conn: &mut PgConnection,
    list: i64,
    stored: StoredNonce,
) -> AppResult<RedeemAnswer> {
    let ticket = match stored.ticket_id {
        Some(id) => repo::ticket_for_scan(conn, id).await?,
        None => None,
    };
    let outcome = stored.outcome.as_deref().unwrap_or("invalid");
    if outcome == "ok" {
        let checkin = match stored.checkin_id {
            Some(id) => repo::find_checkin(conn, id).await?,
            None => None,
        };
        let (Some(checkin), Some(ticket)) = (checkin, ticket) else {
            return Err(anyhow::anyhow!("nonce answer of list {list} lost its check-in").into());
        };
        return Ok(RedeemAnswer::Ok {
            checkin_id: checkin.id,
            ticket,
            forced: checkin.forced,
            conflict: checkin.conflict.as_deref().and_then(Refusal::parse),
        });
    }
    let reason = Refusal::parse(outcome).unwrap_or(Refusal::Invalid);
    let already = reason == Refusal::AlreadyRedeemed;
    Ok(RedeemAnswer::Refused {
        reason,
        ticket,
        redeemed_at: stored.redeemed_at,
        redeemed_list_id: already.then_some(list),
    })
}
