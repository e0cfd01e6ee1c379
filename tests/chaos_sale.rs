//! The flash sale's fault mode (`ticketing-bench flash-sale --spawn 2 --chaos PLAN`, issue 20)
//! at a small size: two `ticketing` instances of the bench's own behind its proxies, one of
//! them SIGKILLed and started again, then Postgres away, during the sale; the audit must pass,
//! and readiness must have gone DOWN and come back UP. A process of its own.

use std::time::Duration;

use ticketing_bench::{
    chaos::{Cluster, Plan, SpawnConfig},
    flash_sale,
    smtp::SmtpSink,
};

const BIN: &str = env!("CARGO_BIN_EXE_ticketing");

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flash_sale_through_a_sigkill_and_postgres_away_sells_out_with_a_clean_audit() {
    let sink = SmtpSink::start().await;
    let settings = [
        // Short holds and times to pay, a fast sweeper and email retries: the sale settles
        // in seconds.
        ("HOLD_TTL_SECS", "6"),
        ("RESERVATION_TTL_SECS", "8"),
        ("EXPIRY_SWEEP_INTERVAL_MS", "200"),
        ("EMAIL_RETRY_BASE_MS", "200"),
        // Admissions trickle (4 fans a second), so that the faults land mid-sale.
        ("QUEUE_TICK_MS", "250"),
        ("QUEUE_ADMIT_PER_TICK", "1"),
        ("QUEUE_MAX_ACTIVE", "10"),
        ("DATABASE_MAX_CONNECTIONS", "6"),
    ];
    let config = SpawnConfig {
        binary: BIN.into(),
        instances: 2,
        postgres: std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()),
        amqp_addr: "127.0.0.1:5672".into(),
        env: settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        logs: std::env::temp_dir().join(format!("ticketing-chaos-test-{}", std::process::id())),
    };
    let plan: Plan = "kill@2s:1,restart@5s:1,pg-down@8s+6s".parse().unwrap();
    plan.check(config.instances).unwrap();
    let t = std::time::Instant::now();
    let cluster = Cluster::start(&config, &sink.url()).await.expect("two instances start");
    println!("two instances up in {:?}", t.elapsed());
    let sale = flash_sale::Config {
        base_urls: cluster.base_urls(),
        database_url: cluster.database_url.clone(),
        admin_email: ticketing::config::dev_defaults::ADMIN_EMAIL.into(),
        admin_password: ticketing::config::dev_defaults::ADMIN_PASSWORD.into(),
        fans: 40,
        seats: 24,
        decline_ratio: 0.15,
        abandon_ratio: 0.15,
        signup_parallelism: 8,
        settle_timeout: Duration::from_secs(60),
        progress: false,
        map: flash_sale::MapMode::Refetch,
        accounts: flash_sale::Accounts::Signup,
        processes: 1,
        server_pids: vec![],
        redis_url: None,
    };
    let secret = ticketing::config::dev_defaults::JWT_SECRET;
    let started = std::time::Instant::now();
    let report = ticketing_bench::chaos::run(&sale, &plan, &cluster, &sink, secret)
        .await
        .expect("the sale ran");
    println!(
        "setup {:?}, gate {:?}, sale {:?}, all {:?}",
        report.setup,
        report.gate,
        report.duration,
        started.elapsed()
    );
    let chaos = report.chaos.clone().unwrap();
    for f in &chaos.faults {
        println!("{:>5.1} s {} {}", f.began, f.fault, f.note);
    }
    for t in &chaos.transitions {
        println!("{:>5.1} s instance {}: {} -> {}", t.at, t.instance, t.from, t.to);
    }
    println!("answers: {:?}", chaos.answers);
    println!(
        "sold out after {:?}; checkouts lost {:?}",
        report.sold_out_after, chaos.checkouts_lost
    );
    let confirms: Vec<(u64, u64)> =
        report.timeline.iter().filter(|t| t.1 > 0).map(|t| (t.0, t.1)).collect();
    println!("confirmations by second: {confirms:?}");
    for (check, ok, detail) in &report.audit {
        println!("[{}] {check} ({detail})", if *ok { "ok" } else { "FAIL" });
    }
    let passed = report.audit_passed();
    cluster.shutdown(!passed).await.unwrap();
    assert!(
        passed,
        "audit failed: {:#?}",
        report.audit.iter().filter(|a| !a.1).collect::<Vec<_>>()
    );
    assert_eq!(report.sold_seats, 24);

    // The killed instance was unreachable and came back; Postgres away took both DOWN
    // (their database) and both came back UP without a restart.
    let went = |instance: usize, to: &str| {
        chaos.transitions.iter().any(|t| t.instance == instance && t.to.starts_with(to))
    };
    assert!(went(1, "UNREACHABLE"), "{:?}", chaos.transitions);
    for instance in [1, 2] {
        assert!(
            chaos.transitions.iter().any(|t| t.instance == instance && t.to.contains("db")),
            "instance {instance} reported its database DOWN: {:?}",
            chaos.transitions
        );
        assert_eq!(
            chaos.transitions.iter().rfind(|t| t.instance == instance).map(|t| t.to.as_str()),
            Some("UP"),
            "instance {instance} ends UP"
        );
    }
    assert_eq!(chaos.server_errors, 0);
}
