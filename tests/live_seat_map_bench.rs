//! The live seat map scenarios of `ticketing-bench` (`availability`, `seat-stream`) at tiny
//! sizes against the app, so they cannot rot: every read answers, every watcher sees every
//! hold and ends on the endpoint's states. A process of its own.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::time::Duration;

use ticketing_bench::{availability, seat_stream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_reads_see_the_held_and_reserved_seats_and_answer_every_mode() {
    // The scenarios' fans hold and release back to back, like the benchmark, whose service
    // runs with the per-account hold limit off (docs/BENCHMARKS.md).
    let app = helpers::spawn_app_with(&[("HOLD_RATE_PER_USER", "0")]).await;
    let config = availability::Config {
        base_url: app.address.clone(),
        admin_email: helpers::ADMIN_EMAIL.into(),
        admin_password: helpers::ADMIN_PASSWORD.into(),
        seats: 120,
        readers: 4,
        duration: Duration::from_millis(500),
        fans: 2,
        baselines: false,
        progress: false,
    };
    let report = availability::run(&config).await.expect("the scenario ran");
    // Two fans hold 4 seats each; the second also checked out (RESERVED).
    assert_eq!(report.counts, [112, 4, 4, 0]);
    assert!(report.bytes_plain > 0);
    assert_eq!(report.modes.len(), 3);
    for mode in &report.modes {
        assert!(mode.requests > 0 && mode.errors == 0, "{} answered", mode.name);
    }
    let churn = &report.modes[2];
    assert!(churn.changes > 0 && churn.versions > 1, "readers saw the seats change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seat_stream_watcher_sees_every_hold_and_ends_on_the_endpoint() {
    let app = helpers::spawn_app_with(&[
        ("SEAT_STREAM_MAX_PER_CLIENT", "100"),
        ("HOLD_RATE_PER_USER", "0"),
    ])
    .await;
    let config = seat_stream::Config {
        base_url: app.address.clone(),
        admin_email: helpers::ADMIN_EMAIL.into(),
        admin_password: helpers::ADMIN_PASSWORD.into(),
        seats: 200,
        watchers: 12,
        holds: 6,
        interval: Duration::from_millis(100),
        server_pid: Some(std::process::id()),
        progress: false,
    };
    let mut report = seat_stream::run(&config).await.expect("the scenario ran");
    assert_eq!((report.failed, report.missed), (0, 0));
    assert_eq!(report.consistent, 12, "every copy ends equal to the endpoint");
    assert_eq!(report.seen_by_all.len(), 6);
    assert_eq!(report.per_watcher.len(), 6 * 12);
    // One batch (250 ms) plus slack for a busy machine.
    let worst = report.seen_by_all.percentile(100.0);
    assert!(worst < Duration::from_secs(3), "seen by all after {worst:?}");
}
