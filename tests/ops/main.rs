//! Operations: the compose stack, Prometheus, Promtail and Grafana files agree with each other
//! and with what the running app exports; a scripted flow shows exact business counts.

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::{collections::BTreeSet, time::Duration};

use reqwest::StatusCode;
use serde_json::{Value, json};
use yaml_rust2::{Yaml, YamlLoader};

use helpers::{concert_body, event, spawn_app_with};

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Yaml {
    YamlLoader::load_from_str(&repo_file(path))
        .unwrap_or_else(|e| panic!("{path} is YAML: {e}"))
        .remove(0)
}

#[test]
fn the_compose_stack_has_every_service_with_health_checks_and_ordered_start() {
    let compose = yaml("docker-compose.yml");
    let services = compose["services"].as_hash().expect("services");
    let names: BTreeSet<&str> = services.keys().filter_map(Yaml::as_str).collect();
    for required in [
        "concert-app",
        "postgres",
        "redis",
        "rabbitmq",
        "mailhog",
        "prometheus",
        "grafana",
        "loki",
        "promtail",
    ] {
        assert!(names.contains(required), "{required} is in the stack");
        assert!(
            !compose["services"][required]["healthcheck"]["test"].is_badvalue(),
            "{required} has a health check"
        );
    }
    let ports = |service: &str| -> Vec<String> {
        compose["services"][service]["ports"]
            .as_vec()
            .map(|v| v.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    assert!(ports("postgres").contains(&"5433:5432".to_owned()));
    for (service, port) in [
        ("rabbitmq", "5672:5672"),
        ("rabbitmq", "15672:15672"),
        ("mailhog", "1025:1025"),
        ("mailhog", "8025:8025"),
        ("prometheus", "9090:9090"),
        ("grafana", "3000:3000"),
        ("loki", "3100:3100"),
        ("concert-app", "8080:8080"),
    ] {
        assert!(ports(service).contains(&port.to_owned()), "{service} publishes {port}");
    }
    let app = &compose["services"]["concert-app"];
    assert_eq!(app["build"].as_str(), Some("."), "the app is built from the Dockerfile");
    for dependency in ["postgres", "redis", "rabbitmq"] {
        assert_eq!(
            app["depends_on"][dependency]["condition"].as_str(),
            Some("service_healthy"),
            "the app waits for {dependency}"
        );
    }
    assert!(
        compose["volumes"]["pgdata"].is_null() || !compose["volumes"]["pgdata"].is_badvalue(),
        "postgres has a named volume"
    );
    // Every file mounted from the repository exists.
    for service in services.values() {
        for volume in service["volumes"].as_vec().into_iter().flatten().filter_map(Yaml::as_str) {
            if let Some(local) = volume.strip_prefix("./") {
                let path = local.split(':').next().unwrap();
                assert!(
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path).exists(),
                    "{path} exists"
                );
            }
        }
    }
    // The app's environment uses only settings the app knows.
    let help =
        std::process::Command::new(env!("CARGO_BIN_EXE_ticketing")).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for key in app["environment"].as_hash().unwrap().keys().filter_map(Yaml::as_str) {
        assert!(help.contains(key), "{key} is a documented setting");
    }
}

#[test]
fn prometheus_scrapes_the_app_by_service_name_and_loads_the_alerts() {
    let prometheus = yaml("ops/prometheus.yml");
    let job = &prometheus["scrape_configs"][0];
    assert_eq!(job["metrics_path"].as_str(), Some("/actuator/prometheus"));
    assert_eq!(job["static_configs"][0]["targets"][0].as_str(), Some("concert-app:8080"));
    assert_eq!(prometheus["rule_files"][0].as_str(), Some("/etc/prometheus/alerts.yml"));
    let alerts = yaml("ops/alerts.yml");
    let names: Vec<&str> = alerts["groups"][0]["rules"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|r| r["alert"].as_str())
        .collect();
    for alert in [
        "HighServerErrorRate",
        "HoldLatencyHigh",
        "OutboxLagging",
        "EmailsDeadLettered",
        "ExpirySweeperStalled",
    ] {
        assert!(names.contains(&alert), "{alert}");
    }
}

#[test]
fn promtail_discovers_docker_logs_parses_json_and_keeps_labels_few() {
    let promtail = yaml("ops/promtail.yml");
    let job = &promtail["scrape_configs"][0];
    assert_eq!(job["docker_sd_configs"][0]["host"].as_str(), Some("unix:///var/run/docker.sock"));
    let stages = job["pipeline_stages"].as_vec().unwrap();
    let json = stages.iter().find(|s| !s["json"].is_badvalue()).expect("a json stage");
    assert!(!json["json"]["expressions"]["level"].is_badvalue());
    let labels = stages.iter().find(|s| !s["labels"].is_badvalue()).expect("a labels stage");
    let label_names: Vec<&str> =
        labels["labels"].as_hash().unwrap().keys().filter_map(Yaml::as_str).collect();
    assert_eq!(label_names, ["level"], "request ids and routes are not labels");
    assert_eq!(promtail["clients"][0]["url"].as_str(), Some("http://loki:3100/loki/api/v1/push"));
}

#[test]
fn the_docker_build_is_the_readmes_local_build() {
    let dockerfile = repo_file("Dockerfile");
    let build = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("RUN cargo build"))
        .expect("a cargo build step");
    let command = format!("cargo build{build}");
    assert!(repo_file("README.md").contains(&command), "README shows `{command}`");
    assert!(dockerfile.contains("COPY .sqlx .sqlx"), "the build uses the offline query data");
    assert!(dockerfile.contains("USER ticketing"), "runs as non-root");
}

/// Every `name` of the exposition text with its value, by full series (`name{labels}`).
fn series(scrape: &str) -> Vec<(String, f64)> {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn value(scrape: &str, series_name: &str) -> f64 {
    series(scrape).into_iter().find(|(n, _)| n == series_name).map(|(_, v)| v).unwrap_or(0.0)
}

/// Metric names a PromQL expression reads.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut current = String::new();
    let mut in_string = false;
    for c in expr.chars().chain(std::iter::once(' ')) {
        if c == '"' {
            in_string = !in_string;
            current.clear();
            continue;
        }
        if in_string {
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            current.push(c);
        } else {
            if ["http_", "db_", "redis_", "amqp_", "ticketing_"]
                .iter()
                .any(|p| current.starts_with(p))
            {
                names.push(current.clone());
            }
            current.clear();
        }
    }
    names
}

fn all_queries() -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for dashboard in ["sale-overview", "service", "logs"] {
        let json: Value =
            serde_json::from_str(&repo_file(&format!("grafana/dashboards/{dashboard}.json")))
                .unwrap();
        assert!(
            json["title"].is_string() && json["panels"].as_array().is_some_and(|p| !p.is_empty())
        );
        for panel in json["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                if target["datasource"]["type"] == "prometheus" {
                    queries.push((
                        format!("{dashboard}: {}", panel["title"]),
                        target["expr"].as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
    }
    for rule in yaml("ops/alerts.yml")["groups"][0]["rules"].as_vec().unwrap() {
        queries.push((
            format!("alert {}", rule["alert"].as_str().unwrap()),
            rule["expr"].as_str().unwrap().to_owned(),
        ));
    }
    queries
}

#[tokio::test]
async fn a_scripted_flow_shows_exact_counts_and_every_dashboard_metric_is_exported() {
    let app = spawn_app_with(&[("RESERVATION_TTL_SECS", "2"), ("QUEUE_TICK_MS", "100")]).await;
    let admin = app.admin_token().await;
    let (alice, bob) = (app.signup().await, app.signup().await);
    let concert = app.create_concert(&admin).await["id"].as_i64().unwrap();
    let seats: Vec<i64> = app
        .create_seats(&admin, concert, 2)
        .await
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();

    assert_eq!(app.hold(&alice.token, seats[0]).await.status(), StatusCode::OK);
    assert_eq!(app.hold(&bob.token, seats[0]).await.status(), StatusCode::CONFLICT);
    let paid: Value = app.checkout(&alice.token, &seats[..1]).await.json().await.unwrap();
    let res = app
        .webhook(&event(
            paid["transactionId"].as_str().unwrap(),
            "SUCCESS",
            paid["amount"].as_i64().unwrap(),
        ))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.hold(&bob.token, seats[1]).await.status(), StatusCode::OK);
    assert_eq!(app.checkout(&bob.token, &seats[1..]).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    ticketing::workers::expiry::execute_once(&app.state).await.unwrap();

    let mut queued = concert_body("queued");
    queued["queueEnabled"] = json!(true);
    let queued =
        app.post("/api/concert", Some(&admin), queued).await.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
    app.post("/api/queue", Some(&bob.token), json!({"concertId": queued})).await;

    // Wait for the asynchronous parts: admission, and the four emails through RabbitMQ.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let scrape = loop {
        let scrape = app.get("/metrics", None).await.text().await.unwrap();
        let emails: f64 = ["welcome", "booking_confirmed", "reservation_expired"]
            .iter()
            .map(|k| value(&scrape, &format!("ticketing_emails_sent_total{{kind=\"{k}\"}}")))
            .sum();
        let admitted =
            value(&scrape, &format!("ticketing_queue_admissions_total{{concert=\"{queued}\"}}"));
        if emails >= 4.0 && admitted >= 1.0 {
            break scrape;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "emails and admission within 30 s:\n{scrape}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for (series_name, expected) in [
        ("ticketing_holds_total", 2.0),
        ("ticketing_hold_conflicts_total", 1.0),
        ("ticketing_reservations_total{status=\"IN_PROGRESS\"}", 2.0),
        ("ticketing_reservations_total{status=\"CONFIRMED\"}", 1.0),
        ("ticketing_reservations_expired_total", 1.0),
        ("ticketing_payments_total{status=\"SUCCESS\"}", 1.0),
        ("ticketing_webhooks_total{outcome=\"CONFIRMED\"}", 1.0),
        ("ticketing_emails_sent_total{kind=\"welcome\"}", 2.0),
        ("ticketing_emails_sent_total{kind=\"booking_confirmed\"}", 1.0),
        ("ticketing_emails_sent_total{kind=\"reservation_expired\"}", 1.0),
    ] {
        assert_eq!(value(&scrape, series_name), expected, "{series_name}");
    }
    assert_eq!(
        value(&scrape, &format!("ticketing_queue_admissions_total{{concert=\"{queued}\"}}")),
        1.0
    );
    assert_eq!(value(&scrape, &format!("ticketing_queue_active{{concert=\"{queued}\"}}")), 1.0);
    assert!(value(&scrape, "ticketing_outbox_published_total") >= 4.0);

    // Every metric a dashboard or an alert reads is one the app exports.
    let exported: BTreeSet<String> =
        series(&scrape).into_iter().map(|(n, _)| n.split('{').next().unwrap().to_owned()).collect();
    for (where_, expr) in all_queries() {
        for name in metric_names(&expr) {
            assert!(
                exported.contains(&name),
                "{where_} reads `{name}`, which the app does not export"
            );
        }
    }
}

#[test]
fn metric_names_are_found_in_promql() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{route=~"/api/x"}[5m]))) + ticketing_outbox_lag_seconds"#,
    );
    assert_eq!(
        names,
        ["http_server_request_duration_seconds_bucket", "ticketing_outbox_lag_seconds"]
    );
}
