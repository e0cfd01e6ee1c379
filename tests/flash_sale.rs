//! The flash sale of `ticketing-bench` (small sizes) against two instances of the app on one
//! database, Redis and RabbitMQ: the audit must pass. A process of its own.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::time::Duration;

use ticketing_bench::{flash_sale, smtp::SmtpSink};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flash_sale_over_two_instances_sells_out_with_a_clean_audit() {
    let sink = SmtpSink::start().await;
    let smtp = sink.url();
    let app = helpers::spawn_app_with(&[
        ("SMTP_URL", &smtp),
        ("DATABASE_MAX_CONNECTIONS", "15"),
        ("HOLD_TTL_SECS", "5"),
        ("RESERVATION_TTL_SECS", "3"),
        ("EXPIRY_SWEEP_INTERVAL_MS", "200"),
        ("QUEUE_TICK_MS", "100"),
        ("QUEUE_ADMIT_PER_TICK", "20"),
        ("QUEUE_MAX_ACTIVE", "40"),
        ("EMAIL_RETRY_BASE_MS", "200"),
        // Every fan follows the availability stream from this one address.
        ("SEAT_STREAM_MAX_PER_CLIENT", "1000"),
        // ... and signs up from it.
        ("SIGNUP_MAX_PER_IP", "1000"),
    ])
    .await;
    let second = app.another_instance().await;
    let config = flash_sale::Config {
        base_urls: vec![app.address.clone(), second.address.clone()],
        database_url: app.database_url(),
        admin_email: helpers::ADMIN_EMAIL.into(),
        admin_password: helpers::ADMIN_PASSWORD.into(),
        fans: 120,
        seats: 60,
        decline_ratio: 0.15,
        abandon_ratio: 0.15,
        signup_parallelism: 8,
        settle_timeout: Duration::from_secs(60),
        progress: false,
        map: flash_sale::MapMode::Stream,
        accounts: flash_sale::Accounts::Signup,
        processes: 1,
        server_pids: vec![],
        redis_url: None,
    };
    let report = flash_sale::run(&config, &sink).await.expect("the flash sale ran");
    for (check, ok, detail) in &report.audit {
        println!("[{}] {check} ({detail})", if *ok { "ok" } else { "FAIL" });
    }
    assert!(
        report.audit_passed(),
        "audit failed: {:#?}",
        report.audit.iter().filter(|a| !a.1).collect::<Vec<_>>()
    );
    assert_eq!(report.sold_seats, 60);
    assert!(report.sold_out_after.is_some());
}
