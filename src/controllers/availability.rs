//! The live seat map: availability (every seat's state, small) and its stream of changes.

use std::{convert::Infallible, time::Duration};

use axum::{
    body::Body,
    extract::State,
    http::{
        HeaderMap,
        header::{CACHE_CONTROL, CONTENT_TYPE},
    },
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::broadcast::error::RecvError;

use super::{
    cache::{REVALIDATE, conditional},
    extract::{AppPath, ClientIp},
    seats::ConcertSeatsPath,
};
use crate::{
    domain::availability::SeatAvailability,
    error::{AppResult, ErrorBody},
    services::seat_stream::FeedEvent,
    state::AppState,
};

const TAG: &str = "seat";

/// Every seat's state, 2 bits a seat in layout order (`encoding`: `2bit-base64`), at an
/// availability `version` that grows with every change. About 17 KB for 50,000 seats. Read
/// from Redis, never from the database; expired holds never show. Strong `ETag`;
/// `If-None-Match` gets 304.
#[utoipa::path(get, path = "/api/seat/concert/{concertId}/availability", tag = TAG,
    params(ConcertSeatsPath, ("If-None-Match" = Option<String>, Header, description = "An availability's `ETag`: 304 while it is current")),
    responses(
        (status = 200, description = "The seat states", body = SeatAvailability,
            headers(("ETag" = String, description = "The version and layout, quoted"),
                    ("Cache-Control" = String, description = "`no-cache`"))),
        (status = 304, description = "Not modified: the `If-None-Match` availability is current",
            headers(("ETag" = String, description = "The version and layout, quoted"))),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn get_seat_availability(
    State(state): State<AppState>,
    AppPath(ConcertSeatsPath { concert_id }): AppPath<ConcertSeatsPath>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let snapshot = state.availability.snapshot(concert_id).await?;
    Ok(conditional(&snapshot.json(), &headers, REVALIDATE))
}

/// Live seat states (Server-Sent Events), anonymous. First `snapshot` (a `SeatAvailability`),
/// then `delta` events (an `AvailabilityDelta`) at most every 250 ms; every event's `id` is
/// its availability version. `layout` (data `{"layoutVersion": …}`) means the layout changed:
/// fetch it again; a `snapshot` follows. `Last-Event-ID` resumes with the changes since that
/// version while they are retained (`AVAILABILITY_WINDOW`), else with a snapshot. Heartbeat
/// comments every 15 s. Capped per client address (`SEAT_STREAM_MAX_PER_CLIENT`, 429) and per
/// instance (`SEAT_STREAM_MAX`, 503).
#[utoipa::path(get, path = "/api/seat/concert/{concertId}/availability/stream", tag = TAG,
    params(ConcertSeatsPath, ("Last-Event-ID" = Option<String>, Header, description = "The last version received: resume from it")),
    responses(
        (status = 200, description = "An event stream of `snapshot`, `delta` and `layout` events", content_type = "text/event-stream", body = SeatAvailability),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
        (status = 429, description = "`TOO_MANY_STREAMS`: this address has too many streams open here", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`STREAM_CAPACITY_REACHED`: this instance has as many streams as it takes; or `SERVICE_UNAVAILABLE`: a dependency is down", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn stream_seat_availability(
    State(state): State<AppState>,
    AppPath(ConcertSeatsPath { concert_id }): AppPath<ConcertSeatsPath>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
) -> AppResult<Response> {
    // A concert that does not exist gets its 404 before any stream opens.
    state.availability.snapshot(concert_id).await?;
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let watcher = state.seat_feeds.watch(concert_id, client)?;
    let (first, rx) = watcher.start(last_event_id).await?;
    let shutdown = state.seat_feeds.shutdown();
    // Frames are rendered once per change and shared: a stream only writes them out.
    let first = futures::stream::iter(first.into_iter().flat_map(frames));
    let rest = futures::stream::unfold((watcher, rx), |(watcher, mut rx)| async move {
        let next = tokio::select! {
            event = rx.recv() => match event {
                Ok(FeedEvent::End) | Err(RecvError::Closed) => return None,
                Ok(event) => frames(event),
                // Too slow for the deltas: start again from the current states.
                Err(RecvError::Lagged(_)) => frames(FeedEvent::Snapshot(watcher.current()?)),
            },
            () = tokio::time::sleep(HEARTBEAT) => vec![Bytes::from_static(b": heartbeat\n\n")],
        };
        Some((futures::stream::iter(next), (watcher, rx)))
    })
    .flatten();
    let stream = first
        .chain(rest)
        .take_until(shutdown.clone().cancelled_owned())
        .chain(ending_hint(shutdown, || Bytes::from(reconnect_frame())))
        .map(Ok::<_, Infallible>);
    let headers = [
        (CONTENT_TYPE, "text/event-stream"),
        (CACHE_CONTROL, "no-cache"),
        (NO_PROXY_BUFFERING.0, NO_PROXY_BUFFERING.1),
    ];
    Ok((headers, Body::from_stream(stream)).into_response())
}

/// Tells a proxy in front of the service (nginx and its ingress) to pass an event stream on as
/// it comes instead of buffering it.
pub const NO_PROXY_BUFFERING: (axum::http::HeaderName, &str) =
    (axum::http::HeaderName::from_static("x-accel-buffering"), "no");

/// How long a client waits before reconnecting after a shutdown ended its stream: spread over
/// a few seconds, so that the streams of a stopping instance do not all land on the others at
/// once.
pub fn reconnect_delay() -> Duration {
    Duration::from_millis(500 + rand::random::<u64>() % 2_500)
}

/// The last frame of a stream that a shutdown ends: a comment and the `retry:` field (no event:
/// clients need no new handling; `EventSource` reconnects after that many milliseconds, with
/// `Last-Event-ID`, and the load balancer sends it to an instance still running).
fn reconnect_frame() -> String {
    format!(": server shutting down; reconnect\nretry: {}\n\n", reconnect_delay().as_millis())
}

/// `make()` once after the stream it follows ended, if that was the shutdown (checked then,
/// not when the stream is built).
pub fn ending_hint<T>(
    shutdown: tokio_util::sync::CancellationToken,
    make: impl FnOnce() -> T,
) -> impl futures::Stream<Item = T> {
    futures::stream::once(async move { shutdown.is_cancelled().then(make) })
        .filter_map(futures::future::ready)
}

/// A comment line after this long without an event keeps proxies from closing the stream.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The SSE frames of an event.
fn frames(event: FeedEvent) -> Vec<Bytes> {
    match event {
        FeedEvent::Snapshot(s) => vec![s.frame()],
        FeedEvent::Layout(s) => {
            let data = serde_json::json!({"layoutVersion": s.layout});
            vec![format!("event: layout\ndata: {data}\n\n").into(), s.frame()]
        }
        FeedEvent::Delta(frame) => vec![frame],
        FeedEvent::End => Vec::new(),
    }
}
