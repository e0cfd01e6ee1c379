//! A short soak of `ticketing-bench` (a minute) against two instances of the app: every kind of
//! visit happens, nothing answers an error, and every interval is sampled. A process of its
//! own (the instances run in it, so the RSS and descriptors sampled are this process's).

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::time::Duration;

use ticketing_bench::{
    smtp::SmtpSink,
    soak::{self, Kind},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_short_soak_over_two_instances_has_no_errors_and_samples_every_interval() {
    let sink = SmtpSink::start().await;
    let smtp = sink.url();
    let app = helpers::spawn_app_with(&[
        ("SMTP_URL", &smtp),
        ("DATABASE_MAX_CONNECTIONS", "10"),
        ("HOLD_TTL_SECS", "5"),
        ("RESERVATION_TTL_SECS", "5"),
        ("EXPIRY_SWEEP_INTERVAL_MS", "200"),
        ("QUEUE_TICK_MS", "100"),
        ("CHECKOUT_COOLDOWN_AFTER", "0"),
        ("HOLD_RATE_PER_USER", "0"),
        ("SEAT_STREAM_MAX_PER_CLIENT", "1000"),
    ])
    .await;
    let second = app.another_instance().await;
    let pid = std::process::id();
    let config = soak::Config {
        server_pids: vec![pid, pid],
        database_url: app.database_url(),
        jwt_secret: app
            .env()
            .get("JWT_SECRET")
            .cloned()
            .unwrap_or_else(|| ticketing::config::dev_defaults::JWT_SECRET.to_owned()),
        redis_url: app.env()["REDIS_URL"].clone(),
        redis_prefix: app.redis_prefix.clone(),
        admin_email: helpers::ADMIN_EMAIL.into(),
        admin_password: helpers::ADMIN_PASSWORD.into(),
        duration: Duration::from_secs(60),
        sample_every: Duration::from_secs(15),
        warmup: Duration::from_secs(15),
        rate: 5.0,
        fans: 60,
        seats: 40,
        hold_ttl: Duration::from_secs(5),
        reservation_ttl: Duration::from_secs(5),
        progress: false,
        ..soak::Config::new(vec![app.address.clone(), second.address.clone()])
    };
    let report = soak::run(&config).await.expect("the soak ran");
    soak::print(&report, None, None).unwrap();

    assert_eq!(report.errors(), 0, "errors: {:#?}", report.first_errors);
    // A sample when the traffic starts, one every 15 s, one at the end.
    assert!(report.samples.len() >= 5, "{} samples", report.samples.len());
    for s in &report.samples {
        assert_eq!(s.instances.len(), 2);
        for i in &s.instances {
            assert!(i.rss_kb.is_some_and(|kb| kb > 0), "RSS at {}s", s.t_s);
            assert!(i.fds.is_some_and(|n| n > 0), "descriptors at {}s", s.t_s);
            assert!(i.pool_in_use.is_some() && i.pool_idle.is_some(), "pool at {}s", s.t_s);
        }
        assert!(s.redis_used_memory.is_some_and(|b| b > 0), "Redis memory at {}s", s.t_s);
        assert!(s.redis_keys.is_some_and(|n| n > 0), "Redis keys at {}s", s.t_s);
        assert!(s.seats_available.is_some(), "seats free at {}s", s.t_s);
    }
    assert!(report.intervals.len() >= 4, "{} intervals", report.intervals.len());
    assert!(report.intervals.iter().all(|i| i.requests > 0), "{:#?}", report.intervals);
    for kind in [
        Kind::Browse,
        Kind::Release,
        Kind::HoldExpires,
        Kind::CheckoutExpires,
        Kind::Decline,
        Kind::PayCancel,
    ] {
        assert!(report.visits.get(&kind).is_some_and(|n| *n > 0), "no {kind:?} visit");
    }
    // Paid and then cancelled at least once (the way most seats come back).
    assert!(report.steps["cancel"]["n"].as_u64().unwrap() > 0);
}
