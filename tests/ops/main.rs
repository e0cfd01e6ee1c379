//! Operations: the compose stack, Prometheus, Promtail and Grafana files agree with each other
//! and with what the running app exports; a scripted flow shows exact business counts.

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
mod k8s;

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
    assert!(ports("postgres").contains(&"127.0.0.1:5433:5432".to_owned()));
    for (service, port) in [
        ("rabbitmq", "127.0.0.1:5672:5672"),
        ("rabbitmq", "127.0.0.1:15672:15672"),
        ("mailhog", "127.0.0.1:1025:1025"),
        ("mailhog", "127.0.0.1:8025:8025"),
        ("prometheus", "127.0.0.1:9090:9090"),
        ("grafana", "127.0.0.1:3000:3000"),
        ("loki", "127.0.0.1:3100:3100"),
        ("concert-app", "127.0.0.1:8080:8080"),
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

/// `${NAME…}` references of a compose value: (name, whether it is required with `:?`).
fn interpolations(value: &str) -> Vec<(String, bool)> {
    value
        .split("${")
        .skip(1)
        .filter_map(|rest| {
            let inner = rest.split('}').next()?;
            let name: String =
                inner.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let required = inner[name.len()..].starts_with(":?");
            Some((name, required))
        })
        .collect()
}

/// The `NAME=value` lines of an env file.
fn env_file(path: &str) -> Vec<(String, String)> {
    repo_file(path)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

#[test]
fn the_compose_stack_publishes_only_on_localhost_and_has_no_default_passwords() {
    let compose = yaml("docker-compose.yml");
    let services = compose["services"].as_hash().expect("services");
    let mut published = 0;
    for (name, service) in services {
        let name = name.as_str().unwrap();
        for port in service["ports"].as_vec().into_iter().flatten() {
            let port = port.as_str().unwrap_or_else(|| panic!("{name}: ports as strings"));
            assert!(port.starts_with("127.0.0.1:"), "{name} publishes {port} on every interface");
            published += 1;
        }
        for volume in service["volumes"].as_vec().into_iter().flatten().filter_map(Yaml::as_str) {
            assert!(!volume.contains("docker.sock"), "{name} mounts the Docker socket: {volume}");
        }
        // Every password (a variable named so, or one inside a URL) comes from the environment,
        // required, never a value written here.
        for (key, value) in service["environment"].as_hash().into_iter().flatten() {
            let (key, value) = (key.as_str().unwrap(), value.as_str().unwrap_or_default());
            let in_url = value.split_once("://").and_then(|(_, rest)| rest.split_once('@'));
            let secret_key = key.contains("PASSWORD") || key.ends_with("_PASS");
            if let Some((userinfo, _)) = in_url {
                // Each `${…}` stands for one opaque value (its message may hold a colon).
                let mut plain = String::new();
                let mut rest = userinfo;
                while let Some((before, after)) = rest.split_once("${") {
                    plain.push_str(before);
                    plain.push('\0');
                    rest = after.split_once('}').map_or("", |(_, r)| r);
                }
                plain.push_str(rest);
                let password = plain.split_once(':').map(|(_, p)| p);
                assert!(
                    password.is_none_or(|p| p == "\0")
                        && interpolations(userinfo).iter().all(|(_, required)| *required),
                    "{name}: {key} holds a password written in docker-compose.yml: {value}"
                );
            }
            if secret_key && !value.is_empty() {
                let refs = interpolations(value);
                assert!(
                    value.starts_with("${") && refs.iter().all(|(_, required)| *required)
                        || refs.iter().all(|(_, required)| !*required) && value.ends_with(":-}"),
                    "{name}: {key} has a default: {value}"
                );
            }
        }
    }
    assert!(published >= 8, "the checks saw the published ports");
    // The development values live in one file named for dev, and it names every required one.
    let dev = env_file("ops/dev.env");
    assert!(dev.contains(&("APP_PROFILE".to_owned(), "dev".to_owned())), "{dev:?}");
    let text = repo_file("docker-compose.yml");
    let required: BTreeSet<String> =
        interpolations(&text).into_iter().filter(|(_, r)| *r).map(|(n, _)| n).collect();
    for name in ["APP_PROFILE", "POSTGRES_PASSWORD", "RABBITMQ_PASSWORD", "GRAFANA_ADMIN_PASSWORD"]
    {
        assert!(required.contains(name), "{name} is required by docker-compose.yml");
    }
    for name in &required {
        assert!(dev.iter().any(|(k, _)| k == name), "ops/dev.env sets {name}");
    }
    assert!(repo_file("README.md").contains("--env-file ops/dev.env"), "README shows how");
}

/// The files compose mounts into the Prometheus container, as (repository path, container path),
/// and the container path of its configuration.
fn prometheus_container_files() -> (Vec<(String, String)>, String) {
    let compose = yaml("docker-compose.yml");
    let service = &compose["services"]["prometheus"];
    let mounts = service["volumes"]
        .as_vec()
        .expect("prometheus volumes")
        .iter()
        .filter_map(Yaml::as_str)
        .filter_map(|v| v.strip_prefix("./"))
        .map(|v| {
            let mut parts = v.split(':');
            (parts.next().unwrap().to_owned(), parts.next().expect("a container path").to_owned())
        })
        .collect();
    let config = service["command"]
        .as_vec()
        .expect("prometheus command")
        .iter()
        .filter_map(Yaml::as_str)
        .find_map(|arg| arg.strip_prefix("--config.file="))
        .expect("--config.file")
        .to_owned();
    (mounts, config)
}

/// The alerting rules of ops/alerts.yml, in order.
fn alert_rules() -> Vec<Yaml> {
    yaml("ops/alerts.yml")["groups"]
        .as_vec()
        .expect("rule groups")
        .iter()
        .flat_map(|g| g["rules"].as_vec().expect("rules").clone())
        .filter(|r| r["alert"].as_str().is_some())
        .collect()
}

/// Runs `promtool` in the repository; its success and everything it printed. A missing promtool
/// fails the test: the checks must not pass by not running.
fn promtool(args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new("promtool")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run promtool ({e}): run ./scripts/tools.sh, which installs it from \
                 Debian's `prometheus` package (./scripts/test.sh does this before cargo test)"
            )
        });
    let printed = format!(
        "$ promtool {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

#[test]
fn prometheus_scrapes_the_app_by_service_name_and_loads_the_alerts() {
    let prometheus = yaml("prometheus.yml");
    let job = &prometheus["scrape_configs"][0];
    assert_eq!(job["metrics_path"].as_str(), Some("/metrics"));
    // The app's metrics listener (METRICS_ADDR), not its public port, which serves no metrics.
    let compose = yaml("docker-compose.yml");
    let metrics_addr = compose["services"]["concert-app"]["environment"]["METRICS_ADDR"]
        .as_str()
        .expect("the app has a metrics listener");
    let port = metrics_addr.rsplit_once(':').unwrap().1;
    assert_eq!(
        job["static_configs"][0]["targets"][0].as_str(),
        Some(format!("concert-app:{port}").as_str())
    );
    let published = compose["services"]["concert-app"]["ports"].as_vec().unwrap();
    assert!(
        published.iter().filter_map(Yaml::as_str).all(|p| !p.ends_with(&format!(":{port}"))),
        "the metrics port is not published"
    );
    // Relative rule files are read from the configuration's directory in the container.
    let (mounts, config) = prometheus_container_files();
    let config_dir = std::path::Path::new(&config).parent().unwrap();
    let rule_file = config_dir.join(prometheus["rule_files"][0].as_str().expect("a rule file"));
    assert!(
        mounts.contains(&("prometheus.yml".to_owned(), config.clone())),
        "compose mounts prometheus.yml at {config}: {mounts:?}"
    );
    assert!(
        mounts.contains(&("ops/alerts.yml".to_owned(), rule_file.display().to_string())),
        "compose mounts ops/alerts.yml where prometheus.yml looks for {}: {mounts:?}",
        rule_file.display()
    );
    let rules = alert_rules();
    let names: Vec<&str> = rules.iter().filter_map(|r| r["alert"].as_str()).collect();
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

/// A directory removed when dropped, also when the test fails.
struct ScratchDir(std::path::PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn prometheus_config_passes_promtool_check_config() {
    // Lay the mounted files out as in the container, so the rule files resolve as there.
    let scratch =
        ScratchDir(std::env::temp_dir().join(format!("ticketing-promtool-{}", std::process::id())));
    let root = &scratch.0;
    let _ = std::fs::remove_dir_all(root);
    let (mounts, config) = prometheus_container_files();
    for (local, in_container) in &mounts {
        let target = root.join(in_container.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(local), &target)
            .unwrap_or_else(|e| panic!("{local}: {e}"));
    }
    let config = root.join(config.trim_start_matches('/'));
    let (ok, printed) =
        promtool(&["check", "config", "--lint-fatal", config.to_str().expect("a UTF-8 path")]);
    assert!(ok, "promtool rejects prometheus.yml:\n{printed}");
    // A rule glob that matches nothing passes too: make sure the alerts were read.
    let rules = alert_rules().len();
    assert!(
        printed.contains("SUCCESS: 1 rule files found")
            && printed.contains(&format!("SUCCESS: {rules} rules found")),
        "promtool read the {rules} alerts of ops/alerts.yml through prometheus.yml:\n{printed}"
    );
}

#[test]
fn alert_rules_pass_promtool_check_rules() {
    let (ok, printed) = promtool(&["check", "rules", "--lint-fatal", "ops/alerts.yml"]);
    assert!(ok, "promtool rejects ops/alerts.yml:\n{printed}");
    let rules = alert_rules().len();
    assert!(printed.contains(&format!("SUCCESS: {rules} rules found")), "{printed}");
}

#[test]
fn every_alert_has_promtool_unit_tests_that_pass() {
    let (ok, printed) = promtool(&["test", "rules", "ops/alerts.test.yml"]);
    assert!(ok, "the unit tests of the alerts fail:\n{printed}");
}

#[test]
fn every_alert_has_a_firing_and_a_quiet_case_in_its_unit_tests() {
    let tests = yaml("ops/alerts.test.yml");
    assert_eq!(
        tests["rule_files"].as_vec().map(|v| v.iter().filter_map(Yaml::as_str).collect()),
        Some(vec!["alerts.yml"]),
        "ops/alerts.test.yml tests ops/alerts.yml"
    );
    let rules = alert_rules();
    let expr_of = |alert: &str| {
        rules
            .iter()
            .find(|r| r["alert"].as_str() == Some(alert))
            .map(|r| r["expr"].as_str().unwrap())
    };
    let (mut firing, mut quiet) = (BTreeSet::new(), BTreeSet::new());
    for group in tests["tests"].as_vec().expect("tests") {
        let name = group["name"].as_str().unwrap_or("a test group");
        let fed: BTreeSet<&str> = group["input_series"]
            .as_vec()
            .into_iter()
            .flatten()
            .filter_map(|s| s["series"].as_str())
            .map(|s| s.split('{').next().unwrap().trim())
            .collect();
        for case in group["alert_rule_test"].as_vec().into_iter().flatten() {
            let alert = case["alertname"].as_str().expect("alertname");
            // promtool passes a quiet case of an alert that does not exist.
            let expr = expr_of(alert)
                .unwrap_or_else(|| panic!("{name}: {alert} is not an alert of ops/alerts.yml"));
            let expected = case["exp_alerts"].as_vec().map_or(0, Vec::len);
            if expected == 0 {
                // Quiet without the series the alert reads would prove nothing.
                for metric in metric_names(expr) {
                    assert!(
                        fed.contains(metric.as_str()),
                        "{name}: the quiet case of {alert} feeds no `{metric}`"
                    );
                }
                quiet.insert(alert);
            } else {
                firing.insert(alert);
            }
        }
    }
    for rule in &rules {
        let alert = rule["alert"].as_str().unwrap();
        assert!(firing.contains(alert), "ops/alerts.test.yml has no case where {alert} fires");
        assert!(quiet.contains(alert), "ops/alerts.test.yml has no case where {alert} stays quiet");
    }
}

#[test]
fn promtail_reads_log_files_without_the_docker_socket_parses_json_and_keeps_labels_few() {
    let promtail = yaml("promtail.yml");
    assert!(!repo_file("promtail.yml").contains("docker.sock"), "no Docker socket");
    let job = &promtail["scrape_configs"][0];
    assert!(job["docker_sd_configs"].is_badvalue(), "no discovery through the Docker API");
    let path = job["static_configs"][0]["labels"]["__path__"].as_str().expect("a file target");
    assert_eq!(path, "/var/lib/docker/containers/*/*-json.log");
    // Compose mounts exactly that directory, read-only, into Promtail.
    let compose = yaml("docker-compose.yml");
    let mounts: Vec<&str> = compose["services"]["promtail"]["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(
        mounts.contains(&"/var/lib/docker/containers:/var/lib/docker/containers:ro"),
        "{mounts:?}"
    );
    // The labels Promtail reads from each line's attrs are the ones the logging options write.
    let attrs = compose["x-logging"]["options"]["labels"].as_str().expect("logging labels");
    assert!(attrs.split(',').any(|l| l == "logging"), "{attrs}");
    assert!(attrs.split(',').any(|l| l == "com.docker.compose.service"), "{attrs}");
    assert_eq!(compose["services"]["concert-app"]["labels"]["logging"].as_str(), Some("promtail"));

    let stages = job["pipeline_stages"].as_vec().unwrap();
    let docker_line = stages.iter().find(|s| !s["json"].is_badvalue()).expect("a json stage");
    assert_eq!(docker_line["json"]["expressions"]["output"].as_str(), Some("log"));
    let dropped = stages.iter().find(|s| !s["match"].is_badvalue()).expect("a match stage");
    assert_eq!(dropped["match"]["action"].as_str(), Some("drop"));
    assert!(dropped["match"]["selector"].as_str().unwrap().contains(r#"logging!="promtail""#));
    let app_line = stages.iter().filter(|s| !s["json"].is_badvalue()).nth(1).expect("app json");
    assert!(!app_line["json"]["expressions"]["level"].is_badvalue());
    // Labels that reach Loki: those set, minus those dropped.
    let mut labels = BTreeSet::new();
    for stage in stages {
        for key in stage["labels"].as_hash().into_iter().flat_map(|h| h.keys()) {
            labels.insert(key.as_str().unwrap());
        }
        for key in stage["labeldrop"].as_vec().into_iter().flatten() {
            labels.remove(key.as_str().unwrap());
        }
    }
    assert_eq!(
        labels,
        BTreeSet::from(["level", "service", "stream"]),
        "request ids and routes are not labels"
    );
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

#[test]
fn the_image_serves_the_browser_app_it_builds() {
    let dockerfile = repo_file("Dockerfile");
    assert!(dockerfile.contains("RUN npm ci"), "installs from the lockfile");
    assert!(dockerfile.contains("RUN npm run build"), "builds web/dist");
    let copy = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("COPY --from=web /web/dist "))
        .expect("the runtime image gets the built app");
    assert!(dockerfile.contains(&format!("WEB_DIR={copy}")), "WEB_DIR points at {copy}");
    let ignored = repo_file(".dockerignore");
    assert!(ignored.lines().any(|l| l == "web/node_modules"), "no node_modules in the context");
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
    for rule in alert_rules() {
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
