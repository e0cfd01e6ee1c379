//! What every handler and worker can reach: the connections, clients and settings, and the
//! services built on them. Cheap to clone, no globals.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{
    clients::{
        amqp::Broker,
        gateway::{PaymentGateway, Simulator},
        holds::Holds,
        mailer::Mailer,
        queue::Queue,
        redis::RedisClient,
    },
    config::Settings,
    services::{
        availability::Availability,
        catalog::Catalogs,
        concerts::Concerts,
        emails::{Emails, RetryRules},
        health::Health,
        holds::{HoldRules, SeatHolds},
        idempotency::Idempotency,
        outbox::Relay,
        payments::Payments,
        queue::{QueueRules, WaitingRoom},
        reservations::{CheckoutRules, Reservations},
        seat_stream::{SeatFeeds, StreamLimits},
        seats::Seats,
        tokens::Tokens,
        users::{LoginLimits, Users},
    },
};

/// Shared by every request: cloning it is one reference-count increment.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The connections the state is built on.
pub struct Connections {
    pub db: PgPool,
    pub redis: RedisClient,
    pub broker: Broker,
    pub mailer: Mailer,
    pub gateway: Arc<dyn PaymentGateway>,
    /// The provider simulator, when it runs (dev and tests).
    pub simulator: Option<Arc<Simulator>>,
    pub metrics: PrometheusHandle,
}

/// The service's connections, settings and services.
pub struct Shared {
    pub settings: Arc<Settings>,
    pub db: PgPool,
    pub redis: RedisClient,
    pub holds: Holds,
    pub broker: Broker,
    pub tokens: Arc<Tokens>,
    pub metrics: PrometheusHandle,
    pub simulator: Option<Arc<Simulator>>,
    pub users: Users,
    pub concerts: Concerts,
    pub seats: Seats,
    pub seat_holds: SeatHolds,
    pub availability: Arc<Availability>,
    pub seat_feeds: Arc<SeatFeeds>,
    pub reservations: Reservations,
    pub payments: Payments,
    pub waiting_room: WaitingRoom,
    pub idempotency: Idempotency,
    pub relay: Relay,
    pub emails: Emails,
    pub health: Health,
}

impl AppState {
    /// Wires every service to the connections it needs.
    pub fn new(settings: Settings, c: Connections, shutdown: CancellationToken) -> AppState {
        let s = &settings;
        let Connections { db, redis, broker, mailer, gateway, simulator, metrics } = c;
        let holds = Holds::new(redis.clone(), u64::from(s.availability_window));
        let queue = Queue::new(redis.clone());
        let catalogs = Arc::new(Catalogs::new(db.clone(), holds.clone()));
        let availability = Arc::new(Availability::new(db.clone(), holds.clone(), catalogs.clone()));
        let stream_limits = StreamLimits {
            max_total: s.seat_stream_max as usize,
            max_per_client: s.seat_stream_max_per_client as usize,
        };
        let seat_feeds = SeatFeeds::new(
            availability.clone(),
            holds.clone(),
            u64::from(s.availability_window),
            stream_limits,
            shutdown.clone(),
        );
        let tokens = Arc::new(Tokens::new(&s.jwt_secret, s.jwt_access_ttl, s.jwt_refresh_ttl));
        let login_limits = LoginLimits {
            max_failures: s.login_max_failures,
            failure_window: s.login_failure_window,
            max_attempts_per_ip: s.login_max_attempts_per_ip,
            ip_window: s.login_ip_window,
        };
        let hold_rules = HoldRules { ttl: s.hold_ttl, max_seats_per_user: s.max_seats_per_user };
        let checkout_rules = CheckoutRules {
            reservation_ttl: s.reservation_ttl,
            max_seats_per_user: s.max_seats_per_user,
        };
        let queue_rules = QueueRules {
            tick: s.queue_tick,
            admit_per_tick: s.queue_admit_per_tick,
            max_active: s.queue_max_active,
            active_ttl: s.queue_active_ttl,
            presence_grace: s.queue_presence_grace,
        };
        let retry = RetryRules { max_attempts: s.email_max_attempts, base: s.email_retry_base };
        AppState(Arc::new(Shared {
            users: Users::new(db.clone(), redis.clone(), tokens.clone(), login_limits),
            concerts: Concerts::new(db.clone(), availability.clone()),
            seats: Seats::new(db.clone(), holds.clone(), catalogs.clone(), availability.clone()),
            seat_holds: SeatHolds::new(
                holds.clone(),
                catalogs.clone(),
                availability.clone(),
                hold_rules,
            ),
            reservations: Reservations::new(
                db.clone(),
                holds.clone(),
                availability.clone(),
                queue.clone(),
                catalogs.clone(),
                gateway.clone(),
                checkout_rules,
            ),
            payments: Payments::new(
                db.clone(),
                holds.clone(),
                queue.clone(),
                gateway,
                simulator.clone(),
            ),
            waiting_room: WaitingRoom::new(queue, catalogs, queue_rules, shutdown),
            availability,
            seat_feeds,
            idempotency: Idempotency::new(
                db.clone(),
                s.idempotency_ttl,
                s.idempotency_max_keys_per_user,
            ),
            relay: Relay::new(db.clone(), broker.clone()),
            emails: Emails::new(db.clone(), broker.clone(), Arc::new(mailer), retry),
            health: Health::new(db.clone(), redis.clone(), broker.clone()),
            settings: Arc::new(settings),
            db,
            redis,
            holds,
            broker,
            tokens,
            metrics,
            simulator,
        }))
    }
}
