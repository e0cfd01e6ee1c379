//! The one route table, with the OpenAPI document generated from it.

use std::time::Duration;

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::{
        CompressionLayer, CompressionLevel,
        predicate::{DefaultPredicate, Predicate, SizeAbove},
    },
    cors::{AllowOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
    request_id::{PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::{
    router::{OpenApiRouter, UtoipaMethodRouter},
    routes,
};
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    config::CorsOrigins,
    controllers::{
        admin, availability, challenges, checkin, concerts, contract, health, idempotency,
        payments, queue, reservations, seats, simulator, tickets, users, waitlist, web_app,
    },
    domain::availability::AvailabilityDelta,
    error::{ErrorBody, ErrorCode, ErrorPayload, Lang, code_for_status},
    state::AppState,
    telemetry,
};

/// Largest request body (a 5,000-seat batch is about 600 KB).
const BODY_LIMIT: usize = 4 * 1024 * 1024;
/// The longest a request may run (408 past it); a graceful shutdown waits at most this long
/// for in-flight requests (the Kubernetes grace period is sized from it).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ticketing API",
        description = "Concert seat reservations. Errors share one body (`ErrorBody`); `code` is a stable machine name (`ErrorCode` lists them all). Messages are Korean by default, English with `Accept-Language: en`.",
    ),
    modifiers(&BearerScheme),
    components(schemas(ErrorBody, ErrorCode, AvailabilityDelta)),
    tags(
        (name = "user", description = "Accounts and tokens"),
        (name = "concert", description = "Concert catalogue"),
        (name = "seat", description = "Seats, the seat map and holds"),
        (name = "payment", description = "Checkout and payments"),
        (name = "reservation", description = "Reservations"),
        (name = "queue", description = "The waiting room"),
        (name = "tickets", description = "E-tickets: a fan's tickets and QR codes, and the keys and revocations scanners verify offline"),
        (name = "checkin", description = "Door check-in: lists per concert, redeeming scanned tickets exactly once per list, offline uploads, undo"),
        (name = "waitlist", description = "The waitlist after sell-out: freed seats go to the fans who waited"),
        (name = "admin", description = "Account administration"),
        (name = "challenge", description = "Bot checks (proof of work) before signup and joining a waiting room"),
        (name = "health", description = "Health and readiness"),
        (name = "ops", description = "Metrics"),
    )
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("Access token from signup, login or refresh"))
                    .build(),
            ),
        );
    }
}

/// Largest webhook body: a provider's event is a few hundred bytes, and every byte is hashed
/// before the signature can be refused.
const WEBHOOK_BODY_LIMIT: usize = 64 * 1024;

/// A tighter body limit for one route (413 past it).
fn body_limit(
    limit: usize,
    (schemas, paths, method_router): UtoipaMethodRouter<AppState>,
) -> UtoipaMethodRouter<AppState> {
    (schemas, paths, method_router.layer(RequestBodyLimitLayer::new(limit)))
}

/// Puts a route behind `Idempotency-Key` handling.
fn idempotent(
    state: &AppState,
    (schemas, paths, method_router): UtoipaMethodRouter<AppState>,
) -> UtoipaMethodRouter<AppState> {
    let layer = middleware::from_fn_with_state(state.clone(), idempotency::idempotent);
    (schemas, paths, method_router.route_layer(layer))
}

/// The API routes and their OpenAPI document.
pub fn api(state: &AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(users::sign_up))
        .routes(routes!(users::log_in))
        .routes(routes!(users::refresh_token))
        .routes(routes!(users::log_out))
        .routes(routes!(users::get_me))
        .routes(routes!(admin::set_role))
        .routes(routes!(concerts::create_concert, concerts::list_concerts))
        .routes(routes!(concerts::get_concert, concerts::update_concert, concerts::delete_concert))
        .routes(routes!(seats::create_seats))
        .routes(routes!(seats::list_seats))
        .routes(routes!(seats::get_seat_map))
        .routes(routes!(seats::get_seat_layout))
        .routes(routes!(availability::get_seat_availability))
        .routes(routes!(availability::stream_seat_availability))
        .routes(routes!(seats::list_seats_by_grade))
        .routes(routes!(seats::get_seat, seats::update_seat, seats::delete_seat))
        .routes(routes!(seats::select_seat, seats::release_seat))
        .routes(idempotent(state, routes!(seats::select_seats)))
        .routes(idempotent(state, routes!(payments::create_payment)))
        .routes(body_limit(WEBHOOK_BODY_LIMIT, routes!(payments::receive_webhook)))
        .routes(routes!(payments::get_payment))
        .routes(routes!(challenges::create_challenge))
        .routes(routes!(queue::join_queue))
        .routes(routes!(queue::get_queue_status))
        .routes(routes!(queue::get_queue_stats))
        .routes(routes!(queue::leave_queue))
        .routes(routes!(queue::stream_queue))
        .routes(routes!(queue::create_stream_ticket))
        .routes(routes!(waitlist::join_waitlist, waitlist::list_concert_waitlist))
        .routes(routes!(waitlist::list_my_waitlist))
        .routes(routes!(waitlist::stream_my_waitlist))
        .routes(routes!(waitlist::create_waitlist_stream_ticket))
        .routes(routes!(waitlist::leave_waitlist))
        .routes(routes!(tickets::list_my_tickets))
        .routes(routes!(tickets::get_ticket))
        .routes(routes!(tickets::get_ticket_qr))
        .routes(routes!(tickets::get_checkin_keys))
        .routes(routes!(tickets::get_checkin_revoked))
        .routes(routes!(checkin::create_checkin_list, checkin::list_checkin_lists))
        .routes(routes!(checkin::get_checkin_list, checkin::delete_checkin_list))
        .routes(routes!(checkin::get_checkin_list_status))
        .routes(routes!(checkin::redeem_checkin))
        .routes(routes!(checkin::undo_checkin))
        .routes(routes!(reservations::list_my_reservations))
        .routes(routes!(reservations::get_reservation))
        .routes(idempotent(state, routes!(reservations::cancel_reservation)))
        .routes(routes!(reservations::list_all_reservations))
        .routes(routes!(reservations::list_concert_reservations))
        .routes(routes!(health::get_health))
        .routes(routes!(health::get_readiness))
        .routes(routes!(health::get_liveness));
    let api = if metrics_on_main_port(state) { api.routes(routes!(get_metrics)) } else { api };
    api.split_for_parts()
}

/// The main listener serves the metrics only in dev without `METRICS_ADDR`: with it they are
/// served there alone, and prod never shows them on the public port.
fn metrics_on_main_port(state: &AppState) -> bool {
    state.settings.metrics_addr.is_none() && !state.settings.is_prod()
}

/// The metrics listener's routes (`METRICS_ADDR`): the metrics and nothing else.
pub fn metrics(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(get_metrics))
        .route("/actuator/prometheus", get(get_metrics))
        .with_state(state)
}

/// The whole HTTP application.
pub fn build(state: AppState) -> Router {
    let (api, openapi) = api(&state);
    let openapi = contract::finish(openapi, state.settings.max_seats_per_user);
    let cors = cors(&state.settings.cors_origins);
    let request_id = HeaderName::from_static("x-request-id");
    let api = if state.simulator.is_some() { api.merge(simulator::routes()) } else { api };

    let web_dir = state.settings.web_dir.clone();
    let api =
        if metrics_on_main_port(&state) { api.route("/metrics", get(get_metrics)) } else { api };
    let server = if state.settings.api_docs {
        api.route("/swagger-ui.html", get(|| async { Redirect::permanent("/swagger-ui/") }))
            .with_state(state)
            .merge(SwaggerUi::new("/swagger-ui").url("/v3/api-docs", openapi))
    } else {
        api.with_state(state)
    };
    // The browser app, when built, answers every GET that no route takes; otherwise 404.
    web_app::serve(server, &web_dir)
        .method_not_allowed_fallback(|| async { StatusCode::METHOD_NOT_ALLOWED })
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), telemetry::MakeRequestCounter))
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(telemetry::request_span)
                        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
                )
                .layer(middleware::from_fn(telemetry::track_http))
                .layer(middleware::from_fn(render_errors))
                .layer(CatchPanicLayer::new())
                .layer(cors)
                // The seat map is ~13 MB for 50,000 seats: fast compression, not maximal. Small
                // answers (holds, checkout) are not worth a compressor's setup: only above 8 KiB.
                .layer(
                    CompressionLayer::new()
                        .gzip(true)
                        .quality(CompressionLevel::Fastest)
                        .compress_when(DefaultPredicate::new().and(SizeAbove::new(8 * 1024))),
                )
                .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
                .layer(RequestBodyLimitLayer::new(BODY_LIMIT)),
        )
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/actuator/prometheus", tag = "ops",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn get_metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.metrics.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

fn cors(origins: &CorsOrigins) -> CorsLayer {
    let allow_origin = match origins {
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::List(list) => {
            AllowOrigin::list(list.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
        }
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static(challenges::HEADER),
        ])
        .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER])
        .max_age(Duration::from_secs(3600))
}

/// Writes every error response as the body of SPEC §6.1, in the caller's language: those of
/// our handlers (`ErrorPayload`) and those axum or tower produce on their own (404, 405, 408,
/// 413, panics).
async fn render_errors(req: Request, next: Next) -> Response {
    let lang = Lang::from_accept_language(
        req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
    );
    let mut response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let payload = match response.extensions_mut().remove::<ErrorPayload>() {
        Some(payload) => payload,
        None => {
            let is_json = response
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            if is_json {
                // Already a JSON answer of ours (e.g. health's 503 with component detail).
                return response;
            }
            ErrorPayload { code: code_for_status(status), fields: Vec::new() }
        }
    };
    let body = ErrorBody::new(status, &payload, lang);
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if status == StatusCode::UNAUTHORIZED {
        parts.headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    Response::from_parts(parts, Body::from(bytes))
}
