//! The fan's live waitlist events (issue 18): an `offer` when seats are offered to them, a
//! `status` when an entry ends. Whichever instance records an outcome adds one notice to the
//! `waitlist:notices` stream in Redis; one task per instance (while anyone there has a waitlist
//! stream open) follows it and fans each notice out to the local streams through a broadcast
//! channel, each stream keeping its own fan's — the seat map's fan-out design.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::{
    sync::{broadcast, watch},
    time::Instant,
};
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use super::{
    stream_caps::{StreamCaps, StreamLimits, StreamSlot},
    stream_tickets::StreamTickets,
};
use crate::{
    clients::holds::{Holds, WaitlistNotice},
    domain::time::serialize_kst,
    error::{AppResult, ErrorCode},
};

/// How long one read of the notices waits (under the Redis client's 500 ms response timeout).
const BLOCK: Duration = Duration::from_millis(200);
/// A follower with no stream for this long stops.
const IDLE: Duration = Duration::from_secs(5);
/// Notices a slow stream may fall behind by before it is ended (to reconnect and start again
/// from the fan's current entries).
const CHANNEL: usize = 1024;

/// The SSE event of an offer.
pub const OFFER: &str = "offer";
/// The SSE event of an entry that ended.
pub const STATUS: &str = "status";

/// `offer`: seats are held in the fan's name until `expiresAt`; check out with
/// `POST /api/payment`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitlistOfferEvent {
    pub entry_id: i64,
    pub concert_id: i64,
    pub seat_ids: Vec<i64>,
    #[serde(serialize_with = "serialize_kst")]
    #[schema(value_type = String)]
    pub expires_at: DateTime<Utc>,
}

/// `status`: the entry ended (`EXPIRED`, `PURCHASED` or `CANCELLED`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitlistStatusEvent {
    pub entry_id: i64,
    pub concert_id: i64,
    pub status: String,
}

/// Any event of the waitlist stream (for the document: the stream names each by `event:`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum WaitlistStreamEvent {
    Offer(WaitlistOfferEvent),
    Status(WaitlistStatusEvent),
}

/// Tells the fan's streams, on every instance, that seats were offered to them. A failure is
/// logged: the fan still has the entry (`GET /api/waitlist/my`) and the email.
pub async fn notify_offer(holds: &Holds, user: i64, offer: &WaitlistOfferEvent) {
    notify(holds, user, OFFER, serde_json::to_string(offer).unwrap_or_default()).await;
}

/// Tells the fan's streams, on every instance, that an entry ended.
pub async fn notify_status(holds: &Holds, user: i64, entry: i64, concert: i64, status: &str) {
    let event = WaitlistStatusEvent { entry_id: entry, concert_id: concert, status: status.into() };
    notify(holds, user, STATUS, serde_json::to_string(&event).unwrap_or_default()).await;
}

async fn notify(holds: &Holds, user: i64, kind: &str, data: String) {
    if let Err(e) = holds.waitlist_notify(user, kind, &data).await {
        tracing::warn!(error = %e, user.id = user, kind, "could not send a waitlist event");
    }
}

struct Follower {
    tx: broadcast::Sender<Arc<WaitlistNotice>>,
    /// True once the follower knows where the notices end (what a stream then misses is only
    /// what its first read shows anyway).
    ready: watch::Sender<bool>,
    watchers: AtomicUsize,
}

/// This instance's waitlist streams: their caps, their tickets and the follower of the notices.
pub struct WaitlistFeeds {
    holds: Holds,
    /// Streams per user and per instance.
    caps: Arc<StreamCaps<i64>>,
    tickets: StreamTickets,
    shutdown: CancellationToken,
    follower: Mutex<Option<Arc<Follower>>>,
}

/// One open stream: counted against the caps until dropped.
pub struct Listener {
    follower: Arc<Follower>,
    user: i64,
    rx: broadcast::Receiver<Arc<WaitlistNotice>>,
    _slot: StreamSlot<i64>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.follower.watchers.fetch_sub(1, Ordering::SeqCst);
        metrics::gauge!("ticketing_waitlist_streams_open").decrement(1.0);
    }
}

/// What a listener gets next.
pub enum Next {
    Notice(Arc<WaitlistNotice>),
    /// The stream fell too far behind, or the follower stopped: end it (the client
    /// reconnects and starts from the fan's entries again).
    End,
}

impl Listener {
    /// The next notice for this listener's fan.
    pub async fn next(&mut self) -> Next {
        loop {
            match self.rx.recv().await {
                Ok(notice) if notice.user == self.user => return Next::Notice(notice),
                Ok(_) => {}
                Err(_) => return Next::End,
            }
        }
    }
}

impl WaitlistFeeds {
    pub fn new(
        holds: Holds,
        limits: StreamLimits,
        tickets: StreamTickets,
        shutdown: CancellationToken,
    ) -> Arc<WaitlistFeeds> {
        Arc::new(WaitlistFeeds {
            holds,
            caps: StreamCaps::new(limits, "ticketing_waitlist_streams_refused_total", "user"),
            tickets,
            shutdown,
            follower: Mutex::default(),
        })
    }

    /// Fires when the service shuts down (streams end with it).
    pub fn shutdown(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// A stream ticket for the user's own waitlist stream, and how long it is good for.
    pub fn issue_ticket(&self, user: i64) -> AppResult<(String, Duration)> {
        Ok((self.tickets.issue_for_user(user)?, self.tickets.ttl))
    }

    /// The user a waitlist stream ticket names, if it is valid.
    pub fn redeem_ticket(&self, ticket: &str) -> Option<i64> {
        self.tickets.verify_for_user(ticket)
    }

    /// Opens a stream of the user's waitlist events within the caps (429 past the user's, 503
    /// past the instance's), starting the follower on first use. Returns once the follower
    /// knows where the notices end, so every notice added from then on reaches the stream
    /// (503 `SERVICE_UNAVAILABLE` if Redis does not answer in time).
    pub async fn listen(self: &Arc<Self>, user: i64) -> AppResult<Listener> {
        let slot = self.caps.acquire(user)?;
        let follower = {
            let mut current = self.follower.lock().expect("lock");
            let follower = current.get_or_insert_with(|| {
                let follower = Arc::new(Follower {
                    tx: broadcast::channel(CHANNEL).0,
                    ready: watch::channel(false).0,
                    watchers: AtomicUsize::new(0),
                });
                tokio::spawn(self.clone().follow(follower.clone()));
                follower
            });
            follower.watchers.fetch_add(1, Ordering::SeqCst);
            follower.clone()
        };
        metrics::gauge!("ticketing_waitlist_streams_open").increment(1.0);
        let listener = Listener { rx: follower.tx.subscribe(), follower, user, _slot: slot };
        let mut ready = listener.follower.ready.subscribe();
        match tokio::time::timeout(Duration::from_secs(5), ready.wait_for(|r| *r)).await {
            Ok(Ok(_)) => Ok(listener),
            _ => Err(ErrorCode::SERVICE_UNAVAILABLE.into()),
        }
    }

    /// Follows the notices while anyone here listens.
    async fn follow(self: Arc<Self>, follower: Arc<Follower>) {
        let mut last = loop {
            match self.holds.waitlist_notices_last().await {
                Ok(id) => break id,
                Err(e) => {
                    if self.failed(e).await {
                        return self.stop(&follower);
                    }
                }
            }
        };
        follower.ready.send_replace(true);
        let mut idle_since: Option<Instant> = None;
        while !self.shutdown.is_cancelled() {
            if follower.watchers.load(Ordering::SeqCst) == 0 {
                let since = *idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= IDLE {
                    let mut current = self.follower.lock().expect("lock");
                    // Only stop if nobody subscribed meanwhile.
                    if follower.watchers.load(Ordering::SeqCst) == 0 {
                        current.take();
                        return;
                    }
                }
            } else {
                idle_since = None;
            }
            let read = tokio::select! {
                _ = self.shutdown.cancelled() => break,
                read = self.holds.wait_waitlist_notices(&last, BLOCK) => read,
            };
            match read {
                Ok(notices) => {
                    for notice in notices {
                        last.clone_from(&notice.id);
                        let _ = follower.tx.send(Arc::new(notice));
                    }
                }
                Err(e) => {
                    self.failed(e).await;
                }
            }
        }
    }

    /// Logs a failed read and waits a second; true when the service is shutting down.
    async fn failed(&self, e: crate::error::AppError) -> bool {
        tracing::warn!(error = %e, "waitlist notices read failed");
        tokio::select! {
            _ = self.shutdown.cancelled() => true,
            _ = tokio::time::sleep(Duration::from_secs(1)) => false,
        }
    }

    /// Forgets a follower that never started (the service is stopping).
    fn stop(&self, follower: &Arc<Follower>) {
        let mut current = self.follower.lock().expect("lock");
        if current.as_ref().is_some_and(|f| Arc::ptr_eq(f, follower)) {
            current.take();
        }
    }
}
