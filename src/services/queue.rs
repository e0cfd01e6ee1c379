//! The waiting room: joining, status, leaving, the admission check for holds and checkout,
//! and the per-instance hub that feeds every open stream of a concert from one Redis read per
//! tick.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::Utc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{
    catalog::Catalogs,
    challenges::{Challenges, queue_requirement},
    stream_caps::{StreamCaps, StreamLimits, StreamSlot},
    stream_tickets::StreamTickets,
};
use crate::{
    clients::queue::{AdmissionRules, Queue, QueueStats, Snapshot, Standing},
    domain::{
        concert::{self, NotOnSale},
        queue::Joined,
    },
    error::{AppResult, ErrorCode},
};

/// One user's place, as the status endpoint and the stream events report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// 1-based position in line; 0 once admitted.
    pub position: u64,
    pub total: u64,
    /// Seconds until admission at the measured rate; `None` until a rate is measured.
    pub estimated_wait_secs: Option<u64>,
    pub admitted: bool,
    /// When the admission began (ms since the epoch), once admitted.
    pub admitted_at_ms: Option<i64>,
}

/// What joining a line did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinResult {
    /// The concert has no waiting room: its seats can be held right away.
    NoQueue,
    /// In line or admitted, with the estimated wait in seconds (once a rate is measured).
    Joined { joined: Joined, estimated_wait_secs: Option<u64> },
}

/// The waiting room's rules.
#[derive(Debug, Clone, Copy)]
pub struct QueueRules {
    pub tick: Duration,
    pub admit_per_tick: u32,
    pub max_active: u32,
    pub active_ttl: Duration,
    pub presence_grace: Duration,
}

/// The waiting room: joining, places, leaving, the admission round and the live streams.
#[derive(Clone)]
pub struct WaitingRoom {
    queue: Queue,
    hub: Arc<QueueHub>,
    catalogs: Arc<Catalogs>,
    challenges: Challenges,
    rules: QueueRules,
    /// Open streams per user and per instance.
    stream_caps: Arc<StreamCaps<i64>>,
    tickets: Arc<StreamTickets>,
}

impl WaitingRoom {
    pub fn new(
        queue: Queue,
        catalogs: Arc<Catalogs>,
        challenges: Challenges,
        rules: QueueRules,
        stream_limits: StreamLimits,
        tickets: StreamTickets,
        shutdown: CancellationToken,
    ) -> Self {
        let hub =
            QueueHub::new(queue.clone(), catalogs.clone(), rules.tick, rules.active_ttl, shutdown);
        let stream_caps =
            StreamCaps::new(stream_limits, "ticketing_queue_streams_refused_total", "user");
        WaitingRoom {
            queue,
            hub,
            catalogs,
            challenges,
            rules,
            stream_caps,
            tickets: Arc::new(tickets),
        }
    }

    /// A stream ticket for the user and the concert, and how long it is good for. Only for a
    /// user who could open the stream now (in line, admitted, or no waiting room): otherwise
    /// `QUEUE_NOT_JOINED`.
    pub async fn issue_stream_ticket(
        &self,
        concert: i64,
        user: i64,
    ) -> AppResult<(String, Duration)> {
        self.place(concert, user).await?;
        Ok((self.tickets.issue(user, concert)?, self.tickets.ttl))
    }

    /// The user a stream ticket for the concert names, if it is valid.
    pub fn redeem_stream_ticket(&self, ticket: &str, concert: i64) -> Option<i64> {
        self.tickets.verify(ticket, concert)
    }

    /// Opens a live stream of the user's place, within the stream caps (429 past the user's,
    /// 503 past the instance's): the place now, and the subscription that follows it. The
    /// stream counts against the caps until the `Watch` is dropped.
    pub async fn open_stream(&self, concert: i64, user: i64) -> AppResult<(Place, Watch)> {
        let slot = self.stream_caps.acquire(user)?;
        let place = self.place(concert, user).await?;
        Ok((place, self.hub.watch(concert, user, slot)))
    }

    /// Joins the concert's line (idempotent). When the concert asks for a bot check, a fan not
    /// yet in line (nor admitted) must bring a solved challenge (`proof`), which is spent;
    /// asking again once in line needs none.
    pub async fn join(
        &self,
        concert: i64,
        user: i64,
        proof: Option<&str>,
    ) -> AppResult<JoinResult> {
        let catalog = self.catalogs.current(concert).await?.ok_or(ErrorCode::CONCERT_NOT_FOUND)?;
        let concert = &catalog.concert;
        if !concert.queue_enabled {
            return Ok(JoinResult::NoQueue);
        }
        if concert::sale_closed(concert.close_time, Utc::now()) {
            return Err(NotOnSale::Closed.code().into());
        }
        let needed = queue_requirement(concert.id, concert.challenge_difficulty);
        if needed.difficulty > 0 && self.queue.standing(concert.id, user).await? == Standing::Absent
        {
            self.challenges.require(needed, proof).await?;
        }
        let joined = self.queue.join(concert.id, user).await?;
        let estimated_wait_secs = match joined {
            Joined::New { position, .. } | Joined::Waiting { position, .. } => {
                self.hub.estimate(concert.id, position)
            }
            Joined::Active { .. } => Some(0),
        };
        Ok(JoinResult::Joined { joined, estimated_wait_secs })
    }

    /// Where the user stands; also counts as a sign of life. A concert without a waiting room
    /// lets everyone in: position 0, admitted.
    pub async fn place(&self, concert: i64, user: i64) -> AppResult<Place> {
        let ttl = self.rules.active_ttl.as_millis() as i64;
        let standing = self.queue.standing(concert, user).await?;
        if standing == Standing::Absent
            && let Some(catalog) = self.catalogs.current(concert).await?
            && !catalog.concert.queue_enabled
        {
            return Ok(Place {
                position: 0,
                total: 0,
                estimated_wait_secs: Some(0),
                admitted: true,
                admitted_at_ms: None,
            });
        }
        match standing {
            Standing::Admitted { until_ms, total } => Ok(Place {
                position: 0,
                total,
                estimated_wait_secs: Some(0),
                admitted: true,
                admitted_at_ms: Some(until_ms - ttl),
            }),
            Standing::Waiting { position, total } => Ok(Place {
                position,
                total,
                estimated_wait_secs: self.hub.estimate(concert, position),
                admitted: false,
                admitted_at_ms: None,
            }),
            Standing::Absent => Err(ErrorCode::QUEUE_NOT_JOINED.into()),
        }
    }

    /// The concert's line in numbers, for organisers: waiting, admitted now, admitted so far,
    /// and the admission rate measured here.
    pub async fn stats(&self, concert: i64) -> AppResult<(QueueStats, Option<f64>)> {
        self.catalogs.current(concert).await?.ok_or(ErrorCode::CONCERT_NOT_FOUND)?;
        Ok((self.queue.stats(concert).await?, self.hub.rate(concert)))
    }

    /// Leaves the line, or gives up an admission.
    pub async fn leave(&self, concert: i64, user: i64) -> AppResult<()> {
        if self.queue.leave(concert, user).await? {
            Ok(())
        } else {
            Err(ErrorCode::QUEUE_NOT_JOINED.into())
        }
    }

    /// Fires when the service shuts down (streams end with it).
    pub fn shutdown(&self) -> CancellationToken {
        self.hub.shutdown()
    }

    /// One admission round over every concert with a line whose sale window is open; returns
    /// how many users this instance admitted. Every instance runs it; the script makes it safe.
    pub async fn admit_round(&self) -> AppResult<u64> {
        let r = &self.rules;
        let rules = AdmissionRules {
            tick_ms: r.tick.as_millis() as u64,
            per_tick: r.admit_per_tick,
            max_active: r.max_active,
            active_ttl_ms: r.active_ttl.as_millis() as u64,
            grace_ms: r.presence_grace.as_millis() as u64,
        };
        let mut total = 0;
        for concert in self.queue.concerts().await? {
            let Some(catalog) = self.catalogs.current(concert).await? else {
                // Deleted: its line goes with it, so no key of it lingers.
                self.queue.remove(concert).await?;
                continue;
            };
            let c = &catalog.concert;
            let open = concert::sale_window_open(c.open_time, c.close_time, Utc::now());
            if open && let Some(round) = self.queue.admit(concert, rules).await? {
                total += round.admitted;
                if round.admitted > 0 {
                    self.hub.nudge(concert);
                }
                let label = concert.to_string();
                metrics::counter!("ticketing_queue_admissions_total", "concert" => label.clone())
                    .increment(round.admitted);
                metrics::counter!("ticketing_queue_dropped_total", "concert" => label)
                    .increment(round.dropped);
            }
            let stats = self.queue.stats(concert).await?;
            self.hub.record_admitted(concert, stats.admitted_total);
            let label = concert.to_string();
            metrics::gauge!("ticketing_queue_waiting", "concert" => label.clone())
                .set(stats.waiting as f64);
            metrics::gauge!("ticketing_queue_active", "concert" => label).set(stats.active as f64);
        }
        Ok(total)
    }
}

fn wait(position: u64, rate: Option<f64>) -> Option<u64> {
    rate.filter(|r| *r > 0.0).map(|r| (position as f64 / r).ceil() as u64)
}

/// A concert's queue as every local stream sees it after one read.
#[derive(Debug, Default)]
pub struct View {
    pub now_ms: i64,
    pub total: u64,
    positions: HashMap<i64, u64>,
    active: HashMap<i64, i64>,
    rate: Option<f64>,
    active_ttl_ms: i64,
}

impl View {
    /// The user's place, or `None` when the user is neither waiting nor admitted.
    pub fn place(&self, user: i64) -> Option<Place> {
        if let Some(expires) = self.active.get(&user) {
            return Some(Place {
                position: 0,
                total: self.total,
                estimated_wait_secs: Some(0),
                admitted: true,
                admitted_at_ms: Some(expires - self.active_ttl_ms),
            });
        }
        let position = *self.positions.get(&user)?;
        Some(Place {
            position,
            total: self.total,
            estimated_wait_secs: wait(position, self.rate),
            admitted: false,
            admitted_at_ms: None,
        })
    }
}

struct Feed {
    tx: watch::Sender<Arc<View>>,
    /// Wakes the feed before its tick (this instance just admitted someone).
    nudge: tokio::sync::Notify,
    /// Users with open streams here, and how many each.
    watchers: Mutex<HashMap<i64, usize>>,
}

/// Measured admissions per second of each concert (from the admitted counter's growth).
#[derive(Default)]
struct Rates {
    samples: HashMap<i64, VecDeque<(Instant, u64)>>,
}

const RATE_WINDOW: Duration = Duration::from_secs(30);

/// One task per concert per instance reads Redis once per tick and fans the result out to
/// every local stream through a `watch` channel.
pub struct QueueHub {
    queue: Queue,
    /// To tell a line Redis lost from the line of a concert deleted meanwhile.
    catalogs: Arc<Catalogs>,
    tick: Duration,
    active_ttl: Duration,
    shutdown: CancellationToken,
    feeds: Mutex<HashMap<i64, Arc<Feed>>>,
    rates: Mutex<Rates>,
}

/// Keeps a user counted as watching while a stream is open.
pub struct Watch {
    hub: Arc<QueueHub>,
    concert: i64,
    user: i64,
    pub rx: watch::Receiver<Arc<View>>,
    _slot: StreamSlot<i64>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(feed) = self.hub.feeds.lock().expect("lock").get(&self.concert) {
            let mut watchers = feed.watchers.lock().expect("lock");
            if let Some(n) = watchers.get_mut(&self.user) {
                *n -= 1;
                if *n == 0 {
                    watchers.remove(&self.user);
                }
            }
        }
        metrics::gauge!("http_sse_streams_open").decrement(1.0);
    }
}

impl QueueHub {
    pub fn new(
        queue: Queue,
        catalogs: Arc<Catalogs>,
        tick: Duration,
        active_ttl: Duration,
        shutdown: CancellationToken,
    ) -> Arc<QueueHub> {
        Arc::new(QueueHub {
            queue,
            catalogs,
            tick,
            active_ttl,
            shutdown,
            feeds: Mutex::new(HashMap::new()),
            rates: Mutex::new(Rates::default()),
        })
    }

    /// Subscribes a stream; starts the concert's feed task on first use.
    pub fn watch(self: &Arc<Self>, concert: i64, user: i64, slot: StreamSlot<i64>) -> Watch {
        let mut feeds = self.feeds.lock().expect("lock");
        let feed = feeds
            .entry(concert)
            .or_insert_with(|| {
                let (tx, _) = watch::channel(Arc::new(View::default()));
                let feed = Arc::new(Feed {
                    tx,
                    nudge: tokio::sync::Notify::new(),
                    watchers: Mutex::new(HashMap::new()),
                });
                tokio::spawn(self.clone().run_feed(concert, feed.clone()));
                feed
            })
            .clone();
        *feed.watchers.lock().expect("lock").entry(user).or_default() += 1;
        metrics::gauge!("http_sse_streams_open").increment(1.0);
        Watch { hub: self.clone(), concert, user, rx: feed.tx.subscribe(), _slot: slot }
    }

    async fn run_feed(self: Arc<Self>, concert: i64, feed: Arc<Feed>) {
        let mut idle_ticks = 0;
        // The last read, to notice a line Redis lost (and put it back).
        let mut last: Option<Snapshot> = None;
        let mut interval = tokio::time::interval(self.tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                _ = interval.tick() => {}
                _ = feed.nudge.notified() => {}
            }
            let watchers: Vec<i64> = feed.watchers.lock().expect("lock").keys().copied().collect();
            if watchers.is_empty() {
                idle_ticks += 1;
                if idle_ticks >= 5 {
                    let mut feeds = self.feeds.lock().expect("lock");
                    // Only stop if nobody subscribed meanwhile.
                    if feed.watchers.lock().expect("lock").is_empty() {
                        feeds.remove(&concert);
                        break;
                    }
                }
                continue;
            }
            idle_ticks = 0;
            match self.read(concert, last.as_ref()).await {
                Ok(snapshot) => {
                    let view = self.view(concert, snapshot.clone());
                    feed.tx.send_replace(Arc::new(view));
                    last = Some(snapshot);
                }
                Err(e) => tracing::warn!(error = %e, concert.id = concert, "queue read failed"),
            }
            if let Err(e) = self.queue.touch(concert, &watchers).await {
                tracing::warn!(error = %e, "queue presence update failed");
            }
        }
    }

    /// Reads the line. If Redis lost it since `last` (it restarted empty) and the concert still
    /// exists, puts `last` back first, so no stream is told its fan left: a Redis restart
    /// costs the line at most the joins and admissions of one tick.
    async fn read(&self, concert: i64, last: Option<&Snapshot>) -> AppResult<Snapshot> {
        let snapshot = self.queue.snapshot(concert).await?;
        let Some(last) = last.filter(|last| last.lost_in(&snapshot)) else {
            return Ok(snapshot);
        };
        if self.catalogs.current(concert).await?.is_none() {
            return Ok(snapshot);
        }
        if let Some(restored) = self.queue.restore(concert, last).await? {
            tracing::warn!(
                concert.id = concert,
                restored,
                "the waiting room was lost from Redis; restored from this instance's last read"
            );
            metrics::counter!("ticketing_queue_restored_total").increment(restored);
        }
        self.queue.snapshot(concert).await
    }

    fn view(&self, concert: i64, s: Snapshot) -> View {
        View {
            now_ms: s.now_ms,
            total: s.waiting.len() as u64,
            positions: s.waiting.iter().enumerate().map(|(i, u)| (*u, i as u64 + 1)).collect(),
            active: s.active.into_iter().collect(),
            rate: self.rate(concert),
            active_ttl_ms: self.active_ttl.as_millis() as i64,
        }
    }

    /// Tells the concert's feed to read now rather than at its next tick (after an admission
    /// made here, so admitted users learn it at once).
    pub fn nudge(&self, concert: i64) {
        if let Some(feed) = self.feeds.lock().expect("lock").get(&concert) {
            feed.nudge.notify_one();
        }
    }

    /// Records the admitted counter's value (the admission worker calls this every tick).
    pub fn record_admitted(&self, concert: i64, admitted_total: u64) {
        let mut rates = self.rates.lock().expect("lock");
        let samples = rates.samples.entry(concert).or_default();
        let now = Instant::now();
        samples.push_back((now, admitted_total));
        while samples.front().is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW) {
            samples.pop_front();
        }
    }

    /// Admissions per second over the last half minute; `None` until admissions were seen
    /// between two ticks.
    pub fn rate(&self, concert: i64) -> Option<f64> {
        let rates = self.rates.lock().expect("lock");
        let samples = rates.samples.get(&concert)?;
        let (first, last) = (samples.front()?, samples.back()?);
        let secs = last.0.duration_since(first.0).as_secs_f64();
        let admitted = last.1.saturating_sub(first.1);
        (secs > 0.0 && admitted > 0).then(|| admitted as f64 / secs)
    }

    /// Fires when the service shuts down (streams end with it).
    pub fn shutdown(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    pub fn estimate(&self, concert: i64, position: u64) -> Option<u64> {
        wait(position, self.rate(concert))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_place_users_by_the_snapshot() {
        let hub_view = View {
            now_ms: 1,
            total: 3,
            positions: [(7, 1), (3, 2), (9, 3)].into_iter().collect(),
            active: [(5, 60_000)].into_iter().collect(),
            rate: Some(2.0),
            active_ttl_ms: 60_000,
        };
        let p = hub_view.place(9).unwrap();
        assert_eq!(
            (p.position, p.total, p.estimated_wait_secs, p.admitted),
            (3, 3, Some(2), false)
        );
        let p = hub_view.place(5).unwrap();
        assert!(p.admitted && p.position == 0 && p.admitted_at_ms == Some(0));
        assert!(hub_view.place(42).is_none());
        assert_eq!(wait(7, None), None, "no rate yet");
    }
}
