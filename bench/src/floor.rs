//! The floor a seat hold is compared with (issue 16): axum, the service's own JWT check
//! (`services::tokens`), the service's hold script (`clients::holds`), and the service's JSON
//! answer (`SeatSelectResponse`), with no middleware, no idempotency layer, no metrics, no
//! catalogue look-ups (the seats it serves are read once at start from the service's seat map).
//!
//! It shares the service's Redis and key prefix: the concerts it serves are loaded into Redis by
//! the service (the bench warms them first); a hold on a concert that is not loaded answers 503.

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Json, Router,
    extract::{ConnectInfo, Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
    serve::ListenerExt,
};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;
use ticketing::{
    clients::{
        holds::{HoldAttempt, HoldOutcome, HoldVelocity, Holds},
        redis::{RedisClient, RedisTarget},
    },
    controllers::seats::SeatSelectResponse,
    domain::{
        money::Money,
        seat::{Seat, SeatStatus, SeatView},
        time::parse_timestamp,
    },
    error::{AppError, ErrorBody, ErrorCode, ErrorPayload, Lang},
    services::{holds::refusal, tokens::Tokens},
};

/// What the floor needs to know; the defaults are the service's.
#[derive(Debug, Clone)]
pub struct Config {
    /// The service, to read the seat maps of `concerts` from.
    pub base_url: String,
    pub concerts: Vec<i64>,
    pub redis_url: String,
    /// The service's `REDIS_KEY_PREFIX`.
    pub redis_prefix: String,
    /// The service's `JWT_SECRET`, to accept its tokens.
    pub jwt_secret: String,
    /// The service's `HOLD_TTL_SECS`, `MAX_SEATS_PER_USER` and `AVAILABILITY_WINDOW`.
    pub hold_ttl: Duration,
    pub max_seats_per_user: u32,
    pub availability_window: u64,
    /// 0: any free port.
    pub port: u16,
}

impl Config {
    /// The service's defaults (dev profile), serving `concerts` of the service at `base_url`.
    pub fn new(base_url: &str, concerts: Vec<i64>) -> Config {
        Config {
            base_url: base_url.trim_end_matches('/').to_owned(),
            concerts,
            redis_url: std::env::var("REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
            redis_prefix: std::env::var("REDIS_KEY_PREFIX").unwrap_or_default(),
            jwt_secret: std::env::var("JWT_SECRET")
                .unwrap_or_else(|_| ticketing::config::dev_defaults::JWT_SECRET.into()),
            hold_ttl: Duration::from_secs(600),
            max_seats_per_user: 4,
            availability_window: 10_000,
            port: 0,
        }
    }
}

/// A seat as the service's seat map shows it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MapSeat {
    id: i64,
    concert_id: i64,
    concert_title: String,
    section: String,
    row: String,
    number: String,
    grade: String,
    price: Money,
    created_at: String,
    updated_at: String,
}

struct Floor {
    tokens: Tokens,
    holds: Holds,
    /// Seat id → (the seat, its concert's title).
    seats: HashMap<i64, (Seat, String)>,
    ttl_ms: i64,
    max_seats: u32,
}

/// Reads the seats, then serves `POST /api/seat/{id}/select` on a runtime of its own (as a
/// process of its own would) until the process ends; returns the address it listens on.
pub async fn start(config: Config) -> anyhow::Result<SocketAddr> {
    let floor = Arc::new(build(&config).await?);
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new().name("floor".into()).spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build();
        let runtime = match runtime {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(Err(anyhow::Error::from(e)));
                return;
            }
        };
        runtime.block_on(async move {
            match tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await {
                Ok(listener) => {
                    let _ = tx.send(listener.local_addr().map_err(Into::into));
                    let app = router(floor).into_make_service_with_connect_info::<SocketAddr>();
                    let _ = axum::serve(listener.tap_io(nodelay), app).await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e.into()));
                }
            }
        });
    })?;
    rx.await.context("the floor's thread ended")?
}

/// Serves in the foreground (`ticketing-bench floor`).
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let floor = Arc::new(build(&config).await?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
    println!(
        "floor on http://{} for {} seats of concert(s) {:?}",
        listener.local_addr()?,
        floor.seats.len(),
        config.concerts
    );
    let app = router(floor).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener.tap_io(nodelay), app).await?;
    Ok(())
}

async fn build(config: &Config) -> anyhow::Result<Floor> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let mut seats = HashMap::new();
    for concert in &config.concerts {
        let map: Vec<MapSeat> = client
            .get(format!("{}/api/seat/concert/{concert}/seat-map", config.base_url))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
            .with_context(|| format!("the seat map of concert {concert}"))?;
        for s in map {
            let time = |t: &str| parse_timestamp(t).map_err(anyhow::Error::msg);
            let seat = Seat {
                id: s.id,
                concert_id: s.concert_id,
                section: s.section,
                row: s.row,
                number: s.number,
                grade: s.grade,
                price: s.price,
                created_at: time(&s.created_at)?,
                updated_at: time(&s.updated_at)?,
            };
            seats.insert(s.id, (seat, s.concert_title));
        }
    }
    let redis =
        RedisClient::new(&RedisTarget::Single(config.redis_url.clone()), &config.redis_prefix)?;
    Ok(Floor {
        tokens: Tokens::new(
            &SecretString::from(config.jwt_secret.clone()),
            Duration::from_secs(900),
            Duration::from_secs(900),
        ),
        holds: Holds::new(redis, config.availability_window),
        seats,
        ttl_ms: config.hold_ttl.as_millis() as i64,
        max_seats: config.max_seats_per_user,
    })
}

/// Answers go out at once (no Nagle delay on small writes).
fn nodelay(tcp: &mut tokio::net::TcpStream) {
    let _ = tcp.set_nodelay(true);
}

fn router(floor: Arc<Floor>) -> Router {
    Router::new().route("/api/seat/{id}/select", post(select)).with_state(floor)
}

/// `POST /api/seat/{id}/select`: the token, the hold script with the velocity limits off, the
/// answer.
async fn select(
    State(floor): State<Arc<Floor>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    let user = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| floor.tokens.verify(t));
    let Some(user) = user else {
        return error(StatusCode::UNAUTHORIZED, ErrorCode::UNAUTHORIZED);
    };
    let Some((seat, title)) = floor.seats.get(&id) else {
        return error(StatusCode::NOT_FOUND, ErrorCode::SEAT_NOT_FOUND);
    };
    let client = peer.ip().to_string();
    let attempt = HoldAttempt {
        client: &client,
        velocity: HoldVelocity { per_user: 0, per_ip: 0, window_ms: 60_000 },
        count: true,
    };
    let outcome = floor
        .holds
        .hold(seat.concert_id, user.user_id, &[id], floor.ttl_ms, floor.max_seats, &attempt)
        .await;
    match outcome {
        Ok(HoldOutcome::Held { expiries, .. }) => Json(SeatSelectResponse {
            seat: SeatView::new(seat, title, SeatStatus::Held),
            expires_at: DateTime::<Utc>::from_timestamp_millis(expiries[0]).unwrap_or_default(),
        })
        .into_response(),
        Ok(HoldOutcome::Miss) => {
            error(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::SERVICE_UNAVAILABLE)
        }
        Ok(other) => app_error(refusal(other)),
        Err(e) => app_error(e),
    }
}

fn app_error(e: AppError) -> Response {
    let code = e.code();
    error(code.status(), code)
}

/// The service's error body (SPEC §6.1), in Korean.
fn error(status: StatusCode, code: ErrorCode) -> Response {
    let body = ErrorBody::new(status, &ErrorPayload { code, fields: Vec::new() }, Lang::Ko);
    (status, Json(body)).into_response()
}
