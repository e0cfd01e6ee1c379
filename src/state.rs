//! What every handler and worker can reach: the connections, clients and settings, and the
//! services built on them. Cheap to clone, no globals.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{
    clients::{
        amqp::Broker,
        challenges::SpentChallenges,
        gateway::{PaymentGateway, Simulator},
        holds::{HoldVelocity, Holds},
        mailer::Mailer,
        queue::Queue,
        redis::RedisClient,
    },
    config::Settings,
    services::{
        availability::Availability,
        catalog::Catalogs,
        challenges::{Challenges, ProofOfWork},
        checkin::Checkin,
        concerts::Concerts,
        cooldown::{CooldownRules, Cooldowns},
        emails::{Emails, RetryRules},
        health::Health,
        holds::{HoldRules, SeatHolds},
        idempotency::Idempotency,
        outbox::Relay,
        passwords::Hasher,
        payments::Payments,
        queue::{QueueRules, WaitingRoom},
        reservations::{CheckoutRules, Reservations},
        seat_stream::SeatFeeds,
        seats::Seats,
        stream_caps::StreamLimits,
        stream_tickets::StreamTickets,
        tickets::Tickets,
        tokens::Tokens,
        users::{LoginLimits, SignupLimits, Users},
        waitlist_stream::WaitlistFeeds,
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
    /// The fans' waitlist streams on this instance (issue 18).
    pub waitlist_feeds: Arc<WaitlistFeeds>,
    pub idempotency: Idempotency,
    pub relay: Relay,
    pub emails: Emails,
    pub health: Health,
    /// Bot checks (issue 15).
    pub challenges: Challenges,
    /// E-tickets (issue 17).
    pub tickets: Tickets,
    /// Door check-in (issue 17).
    pub checkin: Checkin,
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
            max_per_key: s.seat_stream_max_per_client as usize,
        };
        let seat_feeds = SeatFeeds::new(
            availability.clone(),
            holds.clone(),
            u64::from(s.availability_window),
            stream_limits,
            shutdown.clone(),
        );
        let tickets = Tickets::new(db.clone(), s.ticket_key_encryption_key.0);
        let tokens = Arc::new(Tokens::new(&s.jwt_secret, s.jwt_access_ttl, s.jwt_refresh_ttl));
        let login_limits = LoginLimits {
            max_failures: s.login_max_failures,
            failure_window: s.login_failure_window,
            delay_max: s.login_delay_max,
            account_max_failures: s.login_account_max_failures,
            account_delay_max: s.login_account_delay_max,
            max_attempts_per_ip: s.login_max_attempts_per_ip,
            ip_window: s.login_ip_window,
        };
        let signup_limits =
            SignupLimits { max_per_ip: s.signup_max_per_ip, window: s.signup_ip_window };
        let hasher =
            Hasher::new(s.password_hash_concurrency as usize, s.password_hash_queue_timeout);
        let velocity = HoldVelocity {
            per_user: s.hold_rate_per_user,
            per_ip: s.hold_rate_per_ip,
            window_ms: s.hold_rate_window.as_millis() as u64,
        };
        let hold_rules =
            HoldRules { ttl: s.hold_ttl, max_seats_per_user: s.max_seats_per_user, velocity };
        let cooldowns = Cooldowns::new(
            db.clone(),
            holds.clone(),
            CooldownRules {
                after: s.checkout_cooldown_after,
                window: s.checkout_cooldown_window,
                length: s.checkout_cooldown,
            },
        );
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
        let queue_stream_limits = StreamLimits {
            max_total: s.queue_stream_max as usize,
            max_per_key: s.queue_stream_max_per_user as usize,
        };
        let stream_tickets = StreamTickets::new(&s.jwt_secret, s.queue_stream_ticket_ttl);
        // The waitlist stream is the fan's own, like a waiting-room stream: the same caps and
        // ticket lifetime, counted apart.
        let waitlist_feeds = WaitlistFeeds::new(
            holds.clone(),
            queue_stream_limits,
            StreamTickets::for_waitlist(&s.jwt_secret, s.queue_stream_ticket_ttl),
            shutdown.clone(),
        );
        let proof_of_work =
            ProofOfWork::new(&s.jwt_secret, s.challenge_ttl, SpentChallenges::new(redis.clone()));
        let challenges = Challenges::new(
            Arc::new(proof_of_work),
            catalogs.clone(),
            s.signup_challenge_difficulty,
        );
        let retry = RetryRules { max_attempts: s.email_max_attempts, base: s.email_retry_base };
        AppState(Arc::new(Shared {
            users: Users::new(
                db.clone(),
                redis.clone(),
                tokens.clone(),
                hasher,
                login_limits,
                signup_limits,
            ),
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
                cooldowns.clone(),
                checkout_rules,
            ),
            payments: Payments::new(
                db.clone(),
                holds.clone(),
                queue.clone(),
                gateway,
                simulator.clone(),
                cooldowns,
                tickets.clone(),
            ),
            waiting_room: WaitingRoom::new(
                queue,
                catalogs,
                challenges.clone(),
                queue_rules,
                queue_stream_limits,
                stream_tickets,
                shutdown,
            ),
            waitlist_feeds,
            challenges,
            tickets,
            checkin: Checkin::new(db.clone()),
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
