//! The live seat map: one task per concert per instance follows the concert's change stream in
//! Redis and fans every batch out to the local streams through a broadcast channel, at most
//! once per `BATCH` — the waiting room's fan-out design.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{
    sync::{broadcast, watch},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::{
    availability::{Availability, Snapshot},
    stream_caps::{StreamCaps, StreamLimits, StreamSlot},
};
use crate::{
    clients::holds::{ChangeEntry, ChangeKind, Holds},
    domain::{
        availability::{self, AvailabilityDelta},
        seat::SeatStatus,
    },
    error::{AppError, AppResult, ErrorCode},
};

/// Changes are sent at most this often.
pub const BATCH: Duration = Duration::from_millis(250);
/// How long one read of the change stream waits (under the Redis client's 500 ms response
/// timeout).
const BLOCK: Duration = Duration::from_millis(200);
/// With no change for this long, the task checks the version anyway (Redis may have restarted).
const RECHECK: Duration = Duration::from_secs(5);
/// A feed with no stream for this long stops.
const IDLE: Duration = Duration::from_secs(5);

/// What a stream sends.
#[derive(Clone)]
pub enum FeedEvent {
    /// All states: the first event, and whenever a client cannot follow by deltas.
    Snapshot(Arc<Snapshot>),
    /// The layout changed (an admin edit): fetch it again; then these states.
    Layout(Arc<Snapshot>),
    /// Changes from one version to a later one: the whole SSE frame, rendered once and shared
    /// by every stream.
    Delta(bytes::Bytes),
    /// The concert was deleted: streams end.
    End,
}

/// What a feed's read of the current states found.
enum Read {
    States(Arc<Snapshot>),
    /// The concert was deleted.
    Gone,
    /// Redis failed (logged); try again.
    Failed,
}

struct Feed {
    /// The states every local stream has reached; `None` until the first read.
    current: watch::Sender<Option<Arc<Snapshot>>>,
    tx: broadcast::Sender<FeedEvent>,
    /// Serializes "apply and send" with "read current and subscribe".
    order: Mutex<()>,
    watchers: AtomicUsize,
}

/// Every concert's feed on this instance.
pub struct SeatFeeds {
    availability: Arc<Availability>,
    holds: Holds,
    window: u64,
    /// Streams per client address and per instance.
    caps: Arc<StreamCaps<IpAddr>>,
    shutdown: CancellationToken,
    feeds: Mutex<HashMap<i64, Arc<Feed>>>,
}

/// One open stream: counted against the caps until dropped.
pub struct Watcher {
    feeds: Arc<SeatFeeds>,
    concert: i64,
    feed: Arc<Feed>,
    _slot: StreamSlot<IpAddr>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.feed.watchers.fetch_sub(1, Ordering::SeqCst);
        metrics::gauge!("ticketing_seat_streams_open").decrement(1.0);
    }
}

impl SeatFeeds {
    pub fn new(
        availability: Arc<Availability>,
        holds: Holds,
        window: u64,
        limits: StreamLimits,
        shutdown: CancellationToken,
    ) -> Arc<SeatFeeds> {
        Arc::new(SeatFeeds {
            availability,
            holds,
            window,
            caps: StreamCaps::new(limits, "ticketing_seat_streams_refused_total", "client"),
            shutdown,
            feeds: Mutex::default(),
        })
    }

    /// Fires when the service shuts down (streams end with it).
    pub fn shutdown(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Opens a stream of the concert for a client, within the caps (429 past the per-client
    /// cap, 503 past the instance's); starts the concert's feed on first use.
    pub fn watch(self: &Arc<Self>, concert: i64, client: IpAddr) -> AppResult<Watcher> {
        let slot = self.caps.acquire(client)?;
        let feed = {
            let mut feeds = self.feeds.lock().expect("lock");
            let feed = feeds.entry(concert).or_insert_with(|| {
                let feed = Arc::new(Feed {
                    current: watch::channel(None).0,
                    tx: broadcast::channel(64).0,
                    order: Mutex::new(()),
                    watchers: AtomicUsize::new(0),
                });
                tokio::spawn(self.clone().run(concert, feed.clone()));
                feed
            });
            feed.watchers.fetch_add(1, Ordering::SeqCst);
            feed.clone()
        };
        metrics::gauge!("ticketing_seat_streams_open").increment(1.0);
        Ok(Watcher { feeds: self.clone(), concert, feed, _slot: slot })
    }

    /// Follows the concert's changes while anyone watches.
    async fn run(self: Arc<Self>, concert: i64, feed: Arc<Feed>) {
        let mut current: Option<Arc<Snapshot>> = None;
        let mut last_change = Instant::now();
        let mut idle_since: Option<Instant> = None;
        while !self.shutdown.is_cancelled() {
            if feed.watchers.load(Ordering::SeqCst) == 0 {
                let since = *idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= IDLE {
                    let mut feeds = self.feeds.lock().expect("lock");
                    // Only stop if nobody subscribed meanwhile.
                    if feed.watchers.load(Ordering::SeqCst) == 0 {
                        feeds.remove(&concert);
                        return;
                    }
                }
            } else {
                idle_since = None;
            }
            let Some(snapshot) = current.clone() else {
                match self.read(concert).await {
                    Read::States(s) => {
                        let _order = feed.order.lock().expect("lock");
                        feed.current.send_replace(Some(s.clone()));
                        current = Some(s);
                    }
                    Read::Gone => return self.end(concert, &feed),
                    Read::Failed => {}
                }
                continue;
            };
            let read = tokio::select! {
                _ = self.shutdown.cancelled() => break,
                read = self.holds.wait_changes(concert, snapshot.version, BLOCK) => read,
            };
            let entries = match read {
                Ok(entries) => entries,
                Err(e) => {
                    self.failed(concert, e).await;
                    continue;
                }
            };
            if entries.is_empty() {
                if last_change.elapsed() >= RECHECK {
                    last_change = Instant::now();
                    // Redis may have restarted with versions this feed will never read, or
                    // the concert may be gone.
                    match self.read(concert).await {
                        Read::States(fresh) if fresh.version != snapshot.version => {
                            current = Some(self.send_reset(&feed, &snapshot, fresh));
                        }
                        Read::Gone => return self.end(concert, &feed),
                        Read::States(_) | Read::Failed => {}
                    }
                }
                continue;
            }
            last_change = Instant::now();
            let next = match follow(&snapshot, &entries) {
                Some((advanced, changes)) => {
                    let advanced = Arc::new(advanced);
                    let delta = AvailabilityDelta {
                        from_version: snapshot.version,
                        to_version: advanced.version,
                        changes,
                    };
                    let frame = delta_frame(&delta);
                    let _order = feed.order.lock().expect("lock");
                    feed.current.send_replace(Some(advanced.clone()));
                    let _ = feed.tx.send(FeedEvent::Delta(frame));
                    advanced
                }
                None => match self.read(concert).await {
                    Read::States(fresh) => self.send_reset(&feed, &snapshot, fresh),
                    Read::Gone => return self.end(concert, &feed),
                    Read::Failed => continue,
                },
            };
            current = Some(next);
            // Batching: whatever arrives meanwhile goes out together.
            self.pause(BATCH).await;
        }
    }

    /// The concert's current states from Redis; a failure is logged and waited out.
    async fn read(&self, concert: i64) -> Read {
        match self.availability.snapshot(concert).await {
            Ok(states) => Read::States(states),
            Err(e) if e.code() == ErrorCode::CONCERT_NOT_FOUND => Read::Gone,
            Err(e) => {
                self.failed(concert, e).await;
                Read::Failed
            }
        }
    }

    async fn failed(&self, concert: i64, e: AppError) {
        tracing::warn!(error = %e, concert.id = concert, "seat feed read failed");
        self.pause(Duration::from_secs(1)).await;
    }

    /// Ends every stream of a deleted concert; the next stream finds it gone (404).
    fn end(&self, concert: i64, feed: &Arc<Feed>) {
        let mut feeds = self.feeds.lock().expect("lock");
        if feeds.get(&concert).is_some_and(|f| Arc::ptr_eq(f, feed)) {
            feeds.remove(&concert);
        }
        let _order = feed.order.lock().expect("lock");
        let _ = feed.tx.send(FeedEvent::End);
    }

    /// Sends fresh states to every stream (and a layout event when the layout changed).
    fn send_reset(&self, feed: &Feed, old: &Snapshot, fresh: Arc<Snapshot>) -> Arc<Snapshot> {
        let event = match fresh.layout == old.layout {
            true => FeedEvent::Snapshot(fresh.clone()),
            false => FeedEvent::Layout(fresh.clone()),
        };
        let _order = feed.order.lock().expect("lock");
        feed.current.send_replace(Some(fresh.clone()));
        let _ = feed.tx.send(event);
        fresh
    }

    async fn pause(&self, wait: Duration) {
        tokio::select! {
            _ = self.shutdown.cancelled() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// The SSE frame of a delta: `event: delta`, its `id` (the version it reaches) and its JSON.
fn delta_frame(delta: &AvailabilityDelta) -> bytes::Bytes {
    let json = serde_json::to_string(delta).unwrap_or_default();
    format!("event: delta\nid: {}\ndata: {json}\n\n", delta.to_version).into()
}

/// Applies stream entries that follow `from` one version after another; `None` when they do
/// not (a gap, or a reload): then only fresh states will do.
fn follow(from: &Snapshot, entries: &[ChangeEntry]) -> Option<(Snapshot, Vec<(i64, SeatStatus)>)> {
    let mut states = from.states.clone();
    let mut version = from.version;
    let mut changes = Vec::new();
    for entry in entries {
        let ChangeKind::Seats(seats) = &entry.kind else { return None };
        if entry.version != version + 1 {
            return None;
        }
        for c in seats {
            if c.index as usize >= from.count {
                return None;
            }
            let state = SeatStatus::from_code(c.state);
            availability::set_state(&mut states, c.index as usize, state);
            changes.push((c.seat, state));
        }
        version = entry.version;
    }
    Some((from.advanced(version, states), changes))
}

impl Watcher {
    /// What the stream sends first, and the channel of what follows. A client resuming from
    /// `last_event_id` gets the changes since, while they are in the retained window and no
    /// reload happened in between; anyone else gets the states.
    pub async fn start(
        &self,
        last_event_id: Option<u64>,
    ) -> AppResult<(Vec<FeedEvent>, broadcast::Receiver<FeedEvent>)> {
        let mut current = self.feed.current.subscribe();
        let ready = tokio::time::timeout(Duration::from_secs(5), current.wait_for(Option::is_some));
        match ready.await {
            Ok(Ok(_)) => {}
            _ => return Err(ErrorCode::SERVICE_UNAVAILABLE.into()),
        }
        let (snapshot, rx) = {
            let _order = self.feed.order.lock().expect("lock");
            let snapshot = self.feed.current.borrow().clone().expect("ready");
            (snapshot, self.feed.tx.subscribe())
        };
        let Some(last) = last_event_id.filter(|l| *l <= snapshot.version) else {
            return Ok((vec![FeedEvent::Snapshot(snapshot)], rx));
        };
        if last == snapshot.version {
            return Ok((Vec::new(), rx));
        }
        if snapshot.version - last > self.feeds.window {
            return Ok((vec![FeedEvent::Snapshot(snapshot)], rx));
        }
        let entries =
            self.feeds.holds.changes_between(self.concert, last, snapshot.version).await?;
        let contiguous = entries.len() as u64 == snapshot.version - last
            && entries.first().is_some_and(|e| e.version == last + 1);
        let mut changes = Vec::new();
        for entry in entries.iter().filter(|_| contiguous) {
            match &entry.kind {
                ChangeKind::Seats(seats) => {
                    changes.extend(seats.iter().map(|c| (c.seat, SeatStatus::from_code(c.state))))
                }
                // A reload in between: the layout may have changed too.
                ChangeKind::Reset { .. } => return Ok((vec![FeedEvent::Layout(snapshot)], rx)),
            }
        }
        if !contiguous {
            return Ok((vec![FeedEvent::Snapshot(snapshot)], rx));
        }
        let delta = AvailabilityDelta { from_version: last, to_version: snapshot.version, changes };
        Ok((vec![FeedEvent::Delta(delta_frame(&delta))], rx))
    }

    /// The states this instance's feed has reached (after a client fell behind).
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.feed.current.borrow().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::holds::{AvailabilityData, SeatChange};

    fn snapshot(version: u64) -> Snapshot {
        Snapshot::new(
            1,
            AvailabilityData {
                version,
                layout: "l".into(),
                count: 6,
                states: availability::pack([SeatStatus::Available; 6]),
            },
        )
    }

    fn seats(version: u64, changes: &[(i64, u32, u8)]) -> ChangeEntry {
        let seats =
            changes.iter().map(|&(seat, index, state)| SeatChange { seat, index, state }).collect();
        ChangeEntry { version, kind: ChangeKind::Seats(seats) }
    }

    #[test]
    fn consecutive_entries_advance_the_states_in_order() {
        let entries = [seats(11, &[(100, 0, 1), (105, 5, 1)]), seats(12, &[(100, 0, 3)])];
        let (next, changes) = follow(&snapshot(10), &entries).unwrap();
        assert_eq!(next.version, 12);
        assert_eq!(next.state(0), SeatStatus::Sold);
        assert_eq!(next.state(5), SeatStatus::Held);
        assert_eq!(next.state(1), SeatStatus::Available);
        assert_eq!(
            changes,
            [(100, SeatStatus::Held), (105, SeatStatus::Held), (100, SeatStatus::Sold)]
        );
    }

    #[test]
    fn a_gap_a_reload_or_an_unknown_seat_needs_fresh_states() {
        assert!(follow(&snapshot(10), &[seats(12, &[(100, 0, 1)])]).is_none(), "gap");
        let reset = ChangeEntry { version: 11, kind: ChangeKind::Reset { layout: "m".into() } };
        assert!(follow(&snapshot(10), &[reset]).is_none(), "reload");
        assert!(follow(&snapshot(10), &[seats(11, &[(100, 6, 1)])]).is_none(), "past the end");
    }
}
