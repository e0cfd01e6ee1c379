//! The Kubernetes manifests (`deploy/k8s/`) agree with the service they run: every setting is
//! one the service reads and parses, the probes and the metrics port are routes it serves, the
//! grace period covers its drain, and the pods run locked down. Schema validation of the
//! rendered manifests is `scripts/k8s-validate.sh` (kubernetes-validate, offline).

use std::{cell::RefCell, collections::BTreeMap, process::Command};

use reqwest::StatusCode;
use ticketing::config::Settings;
use yaml_rust2::{Yaml, YamlLoader};

use crate::{helpers::spawn_app_with, repo_file};

/// `kubectl kustomize` of a directory under `deploy/k8s/`: every resource it renders.
fn render(dir: &str) -> Vec<Yaml> {
    let path = format!("{}/deploy/k8s/{dir}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("kubectl").args(["kustomize", &path]).output().expect(
        "kubectl (kustomize is built in) renders the manifests; it is on this machine's image",
    );
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    YamlLoader::load_from_str(&String::from_utf8(out.stdout).unwrap()).expect("rendered YAML")
}

fn one<'a>(docs: &'a [Yaml], kind: &str) -> &'a Yaml {
    let found: Vec<_> = docs.iter().filter(|d| d["kind"].as_str() == Some(kind)).collect();
    assert_eq!(found.len(), 1, "exactly one {kind}");
    found[0]
}

fn string_map(y: &Yaml) -> BTreeMap<String, String> {
    y.as_hash()
        .map(|h| {
            h.iter()
                .map(|(k, v)| {
                    let value = match v {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        other => panic!("{k:?}: not a plain value: {other:?}"),
                    };
                    (k.as_str().expect("string key").to_string(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn container(deployment: &Yaml) -> &Yaml {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

fn port_named(container: &Yaml, name: &str) -> i64 {
    container["ports"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("container port {name}"))["containerPort"]
        .as_i64()
        .unwrap()
}

fn addr_port(addr: &str) -> i64 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

/// The settings the ConfigMap and a Secret give, as the service parses them, and every variable
/// name the service asked for.
fn settings_from(vars: &BTreeMap<String, String>) -> (Result<Settings, String>, Vec<String>) {
    let asked = RefCell::new(Vec::new());
    let settings = Settings::from_lookup(|name| {
        asked.borrow_mut().push(name.to_string());
        vars.get(name).cloned()
    })
    .map_err(|e| e.to_string());
    (settings, asked.into_inner())
}

fn secret_template() -> BTreeMap<String, String> {
    let secret = &YamlLoader::load_from_str(&repo_file("deploy/k8s/base/secret.template.yaml"))
        .expect("the template is YAML")[0];
    assert_eq!(secret["kind"].as_str(), Some("Secret"));
    string_map(&secret["stringData"])
}

#[test]
fn every_setting_in_the_manifests_is_one_the_service_reads_and_prod_accepts_them_with_real_secrets()
{
    for overlay in ["base", "overlays/prod"] {
        let docs = render(overlay);
        let config = string_map(&one(&docs, "ConfigMap")["data"]);
        let deployment = one(&docs, "Deployment");
        let env_from = container(deployment)["envFrom"].as_vec().unwrap();
        assert_eq!(
            env_from[0]["configMapRef"]["name"].as_str(),
            one(&docs, "ConfigMap")["metadata"]["name"].as_str()
        );
        assert_eq!(env_from[1]["secretRef"]["name"].as_str(), Some("ticketing-secrets"));

        // A real deployment's secrets: long random values, credentials of its own.
        let mut vars = config.clone();
        let real = [
            ("DATABASE_URL", "postgres://ticketing:pw@postgres-primary:5432/ticketing"),
            ("REDIS_URL", "redis://redis:6379"),
            ("AMQP_URL", "amqp://ticketing:a-long-broker-password@rabbitmq:5672/%2f"),
            ("SMTP_URL", "smtp://mail.example.com:587"),
            ("JWT_SECRET", "k8s-test-jwt-secret-of-at-least-32-bytes-0123456789"),
            (
                "TICKET_KEY_ENCRYPTION_KEY",
                "3f1c9a7e5b2d4806f1e3c5a7b9d0e2f41a3c5e7f9b1d3f5a7c9e1b3d5f7a9c0e",
            ),
            ("PAYMENT_WEBHOOK_SECRETS", "k8s-test-webhook-secret-of-32-bytes-or-more-xyz"),
            ("ADMIN_EMAIL", "ops@example.com"),
            ("ADMIN_PASSWORD", "a-real-admin-password-1"),
        ];
        vars.extend(real.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let (settings, asked) = settings_from(&vars);
        let settings = settings
            .unwrap_or_else(|e| panic!("{overlay}: prod refuses the manifests' settings: {e}"));
        assert!(settings.is_prod(), "{overlay}: the pods run the prod profile");

        // RUST_LOG is read by the log filter, not by the settings.
        let template = secret_template();
        let unknown: Vec<_> = config
            .keys()
            .chain(template.keys())
            .filter(|k| *k != "RUST_LOG" && !asked.contains(k))
            .collect();
        assert!(unknown.is_empty(), "{overlay}: settings the service does not read: {unknown:?}");
        for (name, _) in real {
            assert!(template.contains_key(name), "the Secret template lacks {name}");
            assert!(!config.contains_key(name), "{name} is a secret, not ConfigMap data");
        }
    }
}

#[test]
fn the_secret_template_holds_no_usable_secret_prod_refuses_it_unchanged() {
    let docs = render("overlays/prod");
    let mut vars = string_map(&one(&docs, "ConfigMap")["data"]);
    vars.extend(secret_template());
    let (settings, _) = settings_from(&vars);
    let error = settings.expect_err("prod must refuse the template's placeholders");
    assert!(
        ["JWT_SECRET", "PAYMENT_WEBHOOK_SECRETS", "SMTP_URL"].iter().any(|n| error.contains(n)),
        "the refusal names a placeholder: {error}"
    );
}

#[test]
fn objects_reference_each_other_and_the_grace_period_covers_the_drain() {
    for overlay in ["base", "overlays/prod"] {
        let docs = render(overlay);
        let deployment = one(&docs, "Deployment");
        let pod = &deployment["spec"]["template"];
        let pod_labels = string_map(&pod["metadata"]["labels"]);
        let matches = |selector: &Yaml| {
            string_map(selector).iter().all(|(k, v)| pod_labels.get(k) == Some(v))
        };
        assert!(
            matches(&deployment["spec"]["selector"]["matchLabels"]),
            "{overlay}: the Deployment selects its pods"
        );

        let service = one(&docs, "Service");
        assert!(matches(&service["spec"]["selector"]), "{overlay}: the Service selects the pods");
        let service_ports = service["spec"]["ports"].as_vec().unwrap();
        let c = container(deployment);
        for p in service_ports {
            port_named(c, p["targetPort"].as_str().unwrap());
        }

        let config = string_map(&one(&docs, "ConfigMap")["data"]);
        assert_eq!(
            port_named(c, "http"),
            addr_port(&config["HTTP_ADDR"]),
            "{overlay}: http port = HTTP_ADDR"
        );
        assert_eq!(
            port_named(c, "metrics"),
            addr_port(&config["METRICS_ADDR"]),
            "{overlay}: metrics port = METRICS_ADDR"
        );

        let monitor = one(&docs, "ServiceMonitor");
        let service_labels = string_map(&service["metadata"]["labels"]);
        assert!(
            string_map(&monitor["spec"]["selector"]["matchLabels"])
                .iter()
                .all(|(k, v)| service_labels.get(k) == Some(v)),
            "{overlay}: the ServiceMonitor selects the Service"
        );
        let monitor_port = monitor["spec"]["endpoints"][0]["port"].as_str().unwrap();
        assert!(
            service_ports.iter().any(|p| p["name"].as_str() == Some(monitor_port)),
            "{overlay}: scraped port exists"
        );

        let ingress = one(&docs, "Ingress");
        let backend = &ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
        assert_eq!(backend["name"].as_str(), service["metadata"]["name"].as_str());
        assert!(service_ports.iter().any(|p| p["name"] == backend["port"]["name"]));
        let annotations = string_map(&ingress["metadata"]["annotations"]);
        assert_eq!(
            annotations["nginx.ingress.kubernetes.io/proxy-buffering"], "off",
            "SSE needs an unbuffered proxy"
        );
        let read_timeout: u64 =
            annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"].parse().unwrap();
        assert!(read_timeout >= 3600, "SSE streams outlive a default 60 s read timeout");

        let hpa = &one(&docs, "HorizontalPodAutoscaler")["spec"];
        assert_eq!(hpa["scaleTargetRef"]["kind"].as_str(), Some("Deployment"));
        assert_eq!(hpa["scaleTargetRef"]["name"], deployment["metadata"]["name"]);
        let (min, max) =
            (hpa["minReplicas"].as_i64().unwrap(), hpa["maxReplicas"].as_i64().unwrap());
        assert!(min >= 2 && min <= max, "{overlay}: at least two pods, min ≤ max");
        assert_eq!(
            deployment["spec"]["replicas"].as_i64(),
            Some(min),
            "{overlay}: replicas start at the HPA's minimum"
        );
        let pdb = one(&docs, "PodDisruptionBudget");
        assert!(
            matches(&pdb["spec"]["selector"]["matchLabels"]),
            "{overlay}: the PDB covers the pods"
        );
        if let Some(min_available) = pdb["spec"]["minAvailable"].as_i64() {
            assert!(min_available < min, "{overlay}: a drain can always evict one pod");
        }

        // On SIGTERM the service stops accepting, ends its streams and finishes in-flight
        // requests, which the request timeout bounds; preStop runs first.
        let pre_stop: u64 =
            c["lifecycle"]["preStop"]["exec"]["command"][1].as_str().unwrap().parse().unwrap();
        let grace = pod["spec"]["terminationGracePeriodSeconds"].as_i64().unwrap() as u64;
        let drain = ticketing::router::REQUEST_TIMEOUT.as_secs();
        assert!(
            grace >= pre_stop + drain,
            "{overlay}: grace {grace} s < preStop {pre_stop} s + request timeout {drain} s"
        );

        // Locked down: the image's user (Dockerfile, uid 10001), no root, no writes, no capabilities.
        let pod_security = &pod["spec"]["securityContext"];
        assert_eq!(pod_security["runAsNonRoot"].as_bool(), Some(true));
        assert!(
            repo_file("Dockerfile")
                .contains(&format!("--uid {}", pod_security["runAsUser"].as_i64().unwrap()))
        );
        let security = &c["securityContext"];
        assert_eq!(security["readOnlyRootFilesystem"].as_bool(), Some(true));
        assert_eq!(security["allowPrivilegeEscalation"].as_bool(), Some(false));
        assert_eq!(security["capabilities"]["drop"][0].as_str(), Some("ALL"));
        assert!(
            c["resources"]["requests"]["cpu"].as_str().is_some()
                && c["resources"]["limits"]["memory"].as_str().is_some()
        );
        if overlay == "overlays/prod" {
            let image = c["image"].as_str().unwrap();
            assert!(
                !image.ends_with(":latest") && image.contains(':'),
                "prod pins its image: {image}"
            );
        }
    }
}

#[tokio::test]
async fn the_probes_and_the_scrape_path_are_routes_the_service_answers() {
    let docs = render("base");
    let deployment = one(&docs, "Deployment");
    let c = container(deployment);
    let app = spawn_app_with(&[("METRICS_ADDR", "127.0.0.1:0")]).await;
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        let path = c[probe]["httpGet"]["path"].as_str().unwrap();
        assert_eq!(c[probe]["httpGet"]["port"].as_str(), Some("http"));
        let response = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{probe} {path}");
    }
    let monitor = one(&docs, "ServiceMonitor");
    let path = monitor["spec"]["endpoints"][0]["path"].as_str().unwrap();
    let metrics = app.metrics_address.as_ref().unwrap();
    let scrape = app.client.get(format!("{metrics}{path}")).send().await.unwrap();
    assert_eq!(scrape.status(), StatusCode::OK);
    assert!(scrape.text().await.unwrap().contains("# TYPE"), "Prometheus text on {path}");
}
