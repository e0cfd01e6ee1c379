//! Logs (readable in dev, one JSON object per line in prod), request spans with the request
//! id, and the Prometheus recorder.

use std::{
    collections::HashSet,
    sync::{
        LazyLock, OnceLock, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request},
    http::{HeaderValue, Method, StatusCode},
    middleware::Next,
    response::Response,
};
use metrics::{Label, SharedString};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::Span;
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::Profile;

/// Installs the global log subscriber; `RUST_LOG` filters (default `info`).
pub fn init_subscriber(profile: Profile) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match profile {
        Profile::Prod => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        Profile::Dev => registry.with(tracing_subscriber::fmt::layer().compact()).try_init(),
    };
    // A second call (tests) keeps the first subscriber.
    let _ = result;
}

/// The process-wide Prometheus recorder (installed once, shared by every `Application` of a
/// process, which only tests have).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".into()),
                    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
                )
                .expect("valid buckets")
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

/// The span every log line of a request carries.
pub fn request_span(req: &Request) -> Span {
    let request_id =
        req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str());
    tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        route = %route,
        user.id = tracing::field::Empty,
    )
}

/// Counts requests and their latency by route template, method and status. The labels are
/// `&'static str`s: nothing is allocated for them per request.
pub async fn track_http(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route =
        req.extensions().get::<MatchedPath>().map_or("unmatched", |m| route_label(m.as_str()));
    let method = method_label(req.method());
    let response = next.run(req).await;
    let labels = [
        Label::from_static_parts("route", route),
        Label::from_static_parts("method", method),
        Label::new("status", status_label(response.status())),
    ];
    metrics::counter!("http_server_requests_total", labels.iter()).increment(1);
    metrics::histogram!("http_server_request_duration_seconds", labels.iter())
        .record(start.elapsed().as_secs_f64());
    response
}

/// The route template as a `&'static str`: templates come from the route table, a few dozen,
/// each leaked once the first time it is seen.
fn route_label(path: &str) -> &'static str {
    static ROUTES: LazyLock<RwLock<HashSet<&'static str>>> = LazyLock::new(Default::default);
    if let Some(known) = ROUTES.read().expect("lock").get(path) {
        return known;
    }
    let mut routes = ROUTES.write().expect("lock");
    match routes.get(path) {
        Some(known) => known,
        None => {
            let leaked: &'static str = Box::leak(path.into());
            routes.insert(leaked);
            leaked
        }
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

fn status_label(status: StatusCode) -> SharedString {
    let code = status.as_u16();
    match STATUS_TEXT.get(usize::from(code).wrapping_sub(100)) {
        Some(text) => SharedString::const_str(text),
        None => SharedString::from_owned(code.to_string()),
    }
}

/// "100" … "599", for `status_label`.
static STATUS_TEXT: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    (100u16..600).map(|code| &*Box::leak(code.to_string().into_boxed_str())).collect()
});

/// Request ids without a UUID per request: a random per-process prefix and a counter, in the
/// UUID's 8-4-4-4-12 layout (36 characters) so logs and clients see the same shape. An
/// `x-request-id` sent by the client is kept (`SetRequestIdLayer` only fills a missing one).
#[derive(Clone, Copy, Default)]
pub struct MakeRequestCounter;

impl MakeRequestId for MakeRequestCounter {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        static PREFIX: LazyLock<u64> = LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair().0);
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = (u128::from(*PREFIX) << 64) | u128::from(n);
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let text = uuid::Uuid::from_u128(id).hyphenated().encode_lower(&mut buf);
        HeaderValue::from_str(text).ok().map(RequestId::new)
    }
}

/// Describes every metric of the service and starts each counter at zero, so dashboards and
/// alerts find every name from the first scrape.
pub fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "http_server_requests_total",
        "HTTP requests by route template, method and status"
    );
    describe_histogram!(
        "http_server_request_duration_seconds",
        "HTTP request latency by route template, method and status"
    );
    describe_gauge!("http_sse_streams_open", "Open waiting-room streams");
    describe_gauge!("db_pool_connections", "Database pool connections by state (in_use, idle)");
    describe_histogram!("redis_command_duration_seconds", "Redis command latency by command");
    describe_counter!("redis_errors_total", "Failed Redis commands by command");
    describe_histogram!("redis_pool_wait_seconds", "Time to get a Redis connection from the pool");
    describe_histogram!(
        "amqp_publish_duration_seconds",
        "Outbox publish latency including the broker's confirm"
    );
    describe_counter!("amqp_errors_total", "RabbitMQ failures by operation");
    describe_gauge!("amqp_connected", "1 while connected to RabbitMQ");
    describe_counter!("ticketing_holds_total", "Seats held");
    describe_counter!("ticketing_hold_conflicts_total", "Holds refused because the seat was taken");
    describe_counter!("ticketing_reservations_total", "Reservations reaching a status");
    describe_counter!(
        "ticketing_reservations_expired_total",
        "Unpaid reservations expired by the sweeper"
    );
    describe_counter!("ticketing_payments_total", "Payments reaching a status");
    describe_counter!("ticketing_webhooks_total", "Payment webhooks by outcome");
    describe_gauge!("ticketing_queue_waiting", "Fans in a concert's line");
    describe_gauge!("ticketing_queue_active", "Fans admitted to a concert's sale");
    describe_counter!("ticketing_queue_admissions_total", "Fans admitted from the line");
    describe_counter!("ticketing_queue_dropped_total", "Fans who lost their place for being gone");
    describe_counter!(
        "ticketing_queue_restored_total",
        "Places and admissions put back after Redis lost a waiting room"
    );
    describe_gauge!("ticketing_outbox_pending", "Outbox messages not yet published");
    describe_gauge!("ticketing_outbox_lag_seconds", "Age of the oldest unpublished outbox message");
    describe_counter!("ticketing_outbox_published_total", "Outbox messages published to RabbitMQ");
    describe_counter!("ticketing_emails_sent_total", "Emails sent");
    describe_counter!(
        "ticketing_emails_failed_total",
        "Email sends that failed and will be retried"
    );
    describe_counter!(
        "ticketing_emails_dead_lettered_total",
        "Emails given up on (dead-letter queue)"
    );
    describe_counter!(
        "ticketing_emails_duplicates_total",
        "Redelivered email messages not sent again"
    );
    describe_gauge!("ticketing_seat_streams_open", "Open seat-map streams");
    describe_counter!(
        "ticketing_seat_streams_refused_total",
        "Seat-map streams refused, by cap (client, instance)"
    );
    describe_counter!(
        "ticketing_queue_streams_refused_total",
        "Waiting-room streams refused, by cap (user, instance)"
    );
    describe_gauge!("ticketing_waitlist_streams_open", "Open waitlist streams");
    describe_counter!(
        "ticketing_waitlist_streams_refused_total",
        "Waitlist streams refused, by cap (user, instance)"
    );
    describe_counter!(
        "ticketing_holds_expired_total",
        "Held seats whose hold ran out, as the availability sweeper found them"
    );
    describe_gauge!(
        "ticketing_password_hashes_in_flight",
        "Password hashes and checks computing now (each about 19 MiB)"
    );
    describe_gauge!(
        "ticketing_password_hashes_in_flight_max",
        "The most password hashes and checks that ran at once"
    );
    describe_counter!(
        "ticketing_password_hashes_refused_total",
        "Signups and logins answered 503 for want of a hashing slot"
    );
    describe_gauge!(
        "ticketing_expiry_sweeper_last_run_timestamp_seconds",
        "When the expiry sweeper last finished a round"
    );
    describe_counter!(
        "ticketing_housekeeping_purged_total",
        "Rows deleted by the housekeeping worker, by table"
    );
    describe_counter!(
        "ticketing_checkins_total",
        "Check-ins recorded (forced uploads too), by type"
    );
    describe_counter!(
        "ticketing_checkin_refusals_total",
        "Scans refused, by reason (invalid answers 404, the others 200)"
    );
    describe_counter!(
        "ticketing_checkin_conflicts_total",
        "Forced offline uploads recorded with a conflict, by reason"
    );
    describe_counter!("ticketing_checkins_undone_total", "Check-ins undone by staff");
    describe_counter!(
        "ticketing_checkin_replays_total",
        "Scans repeated with a nonce already answered (the first answer is given again)"
    );
    describe_gauge!(
        "ticketing_checkin_inside",
        "Tickets inside on a check-in list (set by each scan and undo from the database; take max across instances)"
    );
    for table in
        ["refresh_tokens", "webhook_events", "outbox", "email_deliveries", "idempotency_keys"]
    {
        metrics::counter!("ticketing_housekeeping_purged_total", "table" => table).increment(0);
    }
    for counter in [
        "redis_errors_total",
        "amqp_errors_total",
        "ticketing_holds_total",
        "ticketing_hold_conflicts_total",
        "ticketing_reservations_total",
        "ticketing_reservations_expired_total",
        "ticketing_payments_total",
        "ticketing_webhooks_total",
        "ticketing_queue_admissions_total",
        "ticketing_queue_dropped_total",
        "ticketing_queue_restored_total",
        "ticketing_outbox_published_total",
        "ticketing_emails_sent_total",
        "ticketing_emails_failed_total",
        "ticketing_emails_dead_lettered_total",
        "ticketing_emails_duplicates_total",
        "ticketing_holds_expired_total",
        "ticketing_password_hashes_refused_total",
        "ticketing_checkin_conflicts_total",
        "ticketing_checkins_undone_total",
        "ticketing_checkin_replays_total",
    ] {
        metrics::counter!(counter).increment(0);
    }
    for gauge in [
        "http_sse_streams_open",
        "ticketing_seat_streams_open",
        "ticketing_waitlist_streams_open",
        "ticketing_outbox_pending",
        "ticketing_outbox_lag_seconds",
        "amqp_connected",
        "ticketing_password_hashes_in_flight",
        "ticketing_password_hashes_in_flight_max",
        "ticketing_checkin_inside",
    ] {
        metrics::gauge!(gauge).increment(0.0);
    }
}
