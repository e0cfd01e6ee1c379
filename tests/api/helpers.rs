//! `spawn_app` and the small vocabulary the tests are written in.

use std::{collections::HashMap, sync::OnceLock};

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use ticketing::{
    config::Settings,
    startup::{Application, MIGRATOR},
    state::AppState,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const ADMIN_EMAIL: &str = "admin@admin";
pub const ADMIN_PASSWORD: &str = "admin1234";

/// Postgres server for tests (`TEST_DATABASE_URL`, without a database name).
pub fn pg_base() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub struct TestApp {
    pub address: String,
    /// `METRICS_ADDR`'s listener (`http://127.0.0.1:port`), when the test set one.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    /// A pool on the test's own database, for arranging and inspecting state.
    pub db: PgPool,
    pub db_name: String,
    pub redis_prefix: String,
    /// The app's own state, to run a worker step (`execute_once`) or reach its clients.
    pub state: AppState,
    shutdown: CancellationToken,
    /// The settings it was built from (a second instance reuses them).
    vars: HashMap<String, String>,
    /// Whether dropping this app drops the database and Redis keys (the first instance does).
    owns_storage: bool,
}

/// A signed-up user.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub username: String,
    pub email: String,
    pub password: String,
    pub token: String,
    pub refresh_token: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Spawns the app with extra environment settings (e.g. `("LOGIN_MAX_FAILURES", "2")`).
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    try_spawn_app_with(overrides).await.expect("app builds")
}

/// Like `spawn_app_with`, but a failed start-up is returned (and its database dropped).
pub async fn try_spawn_app_with(overrides: &[(&str, &str)]) -> anyhow::Result<TestApp> {
    if std::env::var("TEST_LOG").is_ok() {
        ticketing::telemetry::init_subscriber(ticketing::config::Profile::Dev);
    }
    let template = template_database().await;
    let id = Uuid::new_v4().simple().to_string();
    let db_name = format!("ticketing_test_{id}");
    let mut maintenance =
        PgConnection::connect(&format!("{}/postgres", pg_base())).await.expect("postgres");
    maintenance
        .execute(sqlx::AssertSqlSafe(format!(
            r#"create database "{db_name}" template "{template}""#
        )))
        .await
        .expect("create test database");
    maintenance.close().await.ok();

    let redis_prefix = format!("test:{id}:");
    let mut vars: HashMap<String, String> = HashMap::from([
        ("APP_PROFILE".into(), "dev".into()),
        ("HTTP_ADDR".into(), "127.0.0.1:0".into()),
        ("DATABASE_URL".into(), format!("{}/{db_name}", pg_base())),
        ("DATABASE_MAX_CONNECTIONS".into(), "10".into()),
        ("REDIS_URL".into(), redis_url()),
        ("REDIS_KEY_PREFIX".into(), redis_prefix.clone()),
        ("AMQP_PREFIX".into(), format!("test.{id}.")),
        // Every test fan sends from 127.0.0.1: the per-address hold limit (300 a minute by
        // default, for fans behind one NAT) is raised so that hundreds of fans racing in one
        // test (concurrency, the flash sale) stand for hundreds of addresses. The per-account
        // limit keeps its default; tests of the limits set both.
        ("HOLD_RATE_PER_IP".into(), "1000000".into()),
        // No browser app unless a test brings one: a built `web/dist` in the checkout must not
        // change what unknown paths answer.
        (
            "WEB_DIR".into(),
            std::env::temp_dir().join("ticketing-test-no-web-app").display().to_string(),
        ),
    ]);
    if let Ok(url) = std::env::var("TEST_AMQP_URL") {
        vars.insert("AMQP_URL".into(), url);
    }
    // The Redis Cluster pass of the test command (scripts/test.sh): the same tests on a
    // cluster, unless a test brings a Redis of its own.
    if let Ok(nodes) = std::env::var("TEST_REDIS_CLUSTER_NODES")
        && !overrides.iter().any(|(k, _)| k.starts_with("REDIS_"))
    {
        vars.insert("REDIS_CLUSTER_NODES".into(), nodes);
    }
    // `{db_name}` in a setting stands for this test's database (a URL through a proxy).
    for (k, v) in overrides {
        vars.insert((*k).into(), v.replace("{db_name}", &db_name));
    }
    let started = start(vars, db_name.clone(), redis_prefix, true).await;
    if started.is_err() {
        drop_database(&db_name).await;
    }
    started
}

/// Builds and starts an app from settings.
async fn start(
    vars: HashMap<String, String>,
    db_name: String,
    redis_prefix: String,
    owns_storage: bool,
) -> anyhow::Result<TestApp> {
    let settings = Settings::from_lookup(|k| vars.get(k).cloned()).expect("test settings");
    let app = Application::build(settings).await?;
    let port = app.port();
    let metrics_address = app.metrics_port().map(|p| format!("http://127.0.0.1:{p}"));
    let db = app.state().db.clone();
    let state = app.state().clone();
    let shutdown = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Ok(TestApp {
        address: format!("http://127.0.0.1:{port}"),
        metrics_address,
        client,
        db,
        db_name,
        redis_prefix,
        state,
        shutdown,
        vars,
        owns_storage,
    })
}

/// One migrated database per migration set, copied for every test. Built under an advisory
/// lock so that parallel test processes build it once; renamed into place only when complete.
async fn template_database() -> String {
    static NAME: OnceLock<String> = OnceLock::new();
    let name = NAME
        .get_or_init(|| {
            let mut hasher = Sha256::new();
            for m in MIGRATOR.iter() {
                hasher.update(m.version.to_le_bytes());
                hasher.update(&*m.checksum);
            }
            let digest = hasher.finalize();
            let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("ticketing_template_{hex}")
        })
        .clone();
    let mut conn =
        PgConnection::connect(&format!("{}/postgres", pg_base())).await.expect("postgres");
    conn.execute("select pg_advisory_lock(727274)").await.unwrap();
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    if !exists {
        let building = format!("{name}_building");
        conn.execute(sqlx::AssertSqlSafe(format!(
            r#"drop database if exists "{building}" with (force)"#
        )))
        .await
        .unwrap();
        conn.execute(sqlx::AssertSqlSafe(format!(r#"create database "{building}""#)))
            .await
            .unwrap();
        let pool = PgPool::connect(&format!("{}/{building}", pg_base())).await.unwrap();
        MIGRATOR.run(&pool).await.expect("migrations apply");
        pool.close().await;
        conn.execute(sqlx::AssertSqlSafe(format!(
            r#"alter database "{building}" rename to "{name}""#
        )))
        .await
        .unwrap();
    }
    conn.execute("select pg_advisory_unlock(727274)").await.unwrap();
    conn.close().await.ok();
    name
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if !self.owns_storage {
            return;
        }
        let db_name = self.db_name.clone();
        let prefix = self.redis_prefix.clone();
        let amqp_prefix = self.vars.get("AMQP_PREFIX").cloned().unwrap_or_default();
        // Clean up on a thread of its own: Drop cannot await, and the test's runtime is ending.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                drop_database(&db_name).await;
                delete_amqp_topology(&amqp_prefix).await;
                if let Ok(client) = deadpool_redis::redis::Client::open(redis_url())
                    && let Ok(mut conn) = client.get_multiplexed_async_connection().await
                {
                    let keys: Vec<String> = deadpool_redis::redis::cmd("KEYS")
                        .arg(format!("{prefix}*"))
                        .query_async(&mut conn)
                        .await
                        .unwrap_or_default();
                    if !keys.is_empty() {
                        let _: Result<u64, _> = deadpool_redis::redis::cmd("DEL")
                            .arg(keys)
                            .query_async(&mut conn)
                            .await;
                    }
                }
            });
        })
        .join();
    }
}

/// The shared test broker (`TEST_AMQP_URL`).
pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// Drops a test's database, whoever is still connected; failures are ignored (clean-up).
pub async fn drop_database(db_name: &str) {
    if let Ok(mut conn) = PgConnection::connect(&format!("{}/postgres", pg_base())).await {
        let _ = conn
            .execute(sqlx::AssertSqlSafe(format!(
                r#"drop database if exists "{db_name}" with (force)"#
            )))
            .await;
    }
}

/// Removes a test's durable queues and exchanges from the broker.
pub async fn delete_amqp_topology(prefix: &str) {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let Ok(conn) =
        lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default()).await
    else {
        return;
    };
    if let Ok(channel) = conn.create_channel().await {
        let t = ticketing::clients::amqp::Topology::new(prefix);
        for queue in [&t.queue, &t.retry_queue, &t.dead_queue] {
            let _ =
                channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await;
        }
        for exchange in [&t.exchange, &t.dead_exchange] {
            let _ = channel
                .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
    }
    let _ = conn.close(200, "test done".into()).await;
}

impl TestApp {
    /// Messages waiting in one of this app's queues.
    pub async fn queue_depth(&self, queue: &str) -> u32 {
        let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
            .await
            .unwrap();
        let channel = conn.create_channel().await.unwrap();
        let options = lapin::options::QueueDeclareOptions { passive: true, ..Default::default() };
        let q = channel
            .queue_declare(queue.into(), options, lapin::types::FieldTable::default())
            .await
            .unwrap();
        let _ = conn.close(200, "".into()).await;
        q.message_count()
    }

    /// Publishes a raw message to the app's email exchange, as the relay would.
    pub async fn publish_email_message(&self, body: &str, message_id: &str) {
        let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
            .await
            .unwrap();
        let channel = conn.create_channel().await.unwrap();
        channel.confirm_select(lapin::options::ConfirmSelectOptions::default()).await.unwrap();
        let t = self.state.broker.topology();
        let properties = lapin::BasicProperties::default()
            .with_message_id(message_id.into())
            .with_delivery_mode(2);
        channel
            .basic_publish(
                t.exchange.as_str().into(),
                t.routing_key.into(),
                Default::default(),
                body.as_bytes(),
                properties,
            )
            .await
            .unwrap()
            .await
            .unwrap();
        let _ = conn.close(200, "".into()).await;
    }

    /// A second instance of the service on the same database, Redis prefix and AMQP prefix,
    /// as N replicas behind a load balancer are.
    pub async fn another_instance(&self) -> TestApp {
        start(self.vars.clone(), self.db_name.clone(), self.redis_prefix.clone(), false)
            .await
            .expect("app builds")
    }

    /// The settings it runs with, as environment variables: the `ticketing` binary started
    /// with them is one more instance on this app's database, Redis prefix and AMQP prefix.
    #[allow(dead_code)]
    pub fn env(&self) -> &HashMap<String, String> {
        &self.vars
    }

    /// A connection to the server's maintenance database, as a superuser.
    pub async fn maintenance(&self) -> PgConnection {
        PgConnection::connect(&format!("{}/postgres", pg_base())).await.expect("postgres")
    }

    /// The URL of this app's database (the flash-sale test binary audits it).
    #[allow(dead_code)]
    pub fn database_url(&self) -> String {
        format!("{}/{}", pg_base(), self.db_name)
    }

    /// Starts a graceful shutdown, as SIGTERM does.
    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends a request; `body` is JSON when given; `token` is a bearer token.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request sent")
    }

    /// A request with extra headers and no body.
    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::PUT, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::DELETE, path, token, None).await
    }

    /// Signs up a fresh user with a unique name.
    pub async fn signup(&self) -> TestUser {
        let n = &Uuid::new_v4().simple().to_string()[..12];
        let username = format!("fan{n}");
        let email = format!("{username}@example.com");
        let password = "password123".to_owned();
        let body = json!({"username": username, "email": email, "password": password});
        let res = self.post("/api/user/signup", None, body).await;
        assert_eq!(res.status(), StatusCode::CREATED, "signup");
        let json: Value = res.json().await.unwrap();
        TestUser {
            username,
            email,
            password,
            token: json["token"].as_str().unwrap().to_owned(),
            refresh_token: json["refreshToken"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post("/api/user/login", None, json!({"email": email, "password": password})).await
    }

    /// An access token of the bootstrap admin.
    pub async fn admin_token(&self) -> String {
        let res = self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK, "admin login");
        res.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
    }

    /// Creates a concert on sale now (opened an hour ago, closing in a week).
    pub async fn create_concert(&self, admin: &str) -> Value {
        let res = self.post("/api/concert", Some(admin), concert_body("테스트 콘서트")).await;
        assert_eq!(res.status(), StatusCode::CREATED, "create concert");
        res.json().await.unwrap()
    }

    /// Creates seats `section` A, row 1, numbers 1..=n at 50,000 each.
    pub async fn create_seats(&self, admin: &str, concert_id: i64, n: usize) -> Vec<Value> {
        let items: Vec<Value> = (1..=n)
            .map(|i| json!({"concertId": concert_id, "section": "A", "row": "1", "number": i.to_string(), "grade": "R", "price": 50000}))
            .collect();
        let res = self.post("/api/seat/batch", Some(admin), Value::Array(items)).await;
        assert_eq!(res.status(), StatusCode::CREATED, "create seats");
        res.json().await.unwrap()
    }
}

/// A valid concert body: on sale from an hour ago for a week; the show a day later.
pub fn concert_body(title: &str) -> Value {
    let now = chrono::Utc::now();
    json!({
        "title": title,
        "venue": "올림픽공원 체조경기장",
        "openTime": (now - chrono::Duration::hours(1)).to_rfc3339(),
        "closeTime": (now + chrono::Duration::days(7)).to_rfc3339(),
        "concertDate": (now + chrono::Duration::days(8)).to_rfc3339(),
    })
}

/// Reads an error body and checks its shape; returns it.
pub async fn error_body(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "status");
    assert!(
        res.headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("application/json")),
        "error bodies are JSON"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body
}

/// The `field` names of a validation error body.
pub fn failing_fields(body: &Value) -> Vec<String> {
    body["fields"]
        .as_array()
        .map(|a| a.iter().map(|f| f["field"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

impl TestApp {
    /// `n` users inserted directly (no password hashing) with access tokens minted by the
    /// app's own key: for tests that need hundreds of distinct fans.
    pub async fn bulk_users(&self, n: usize) -> Vec<(i64, String)> {
        let tag = &Uuid::new_v4().simple().to_string()[..8];
        let ids: Vec<i64> = sqlx::query_scalar(
            "insert into users (username, email, password_hash)
             select 'b' || $1 || '_' || i, 'b' || $1 || '_' || i || '@example.com', 'x'
             from generate_series(1, $2) i returning id",
        )
        .bind(tag)
        .bind(n as i32)
        .fetch_all(&self.db)
        .await
        .unwrap();
        ids.into_iter()
            .map(|id| {
                let principal = ticketing::services::tokens::Principal {
                    user_id: id,
                    role: ticketing::domain::user::Role::User,
                };
                (id, self.state.tokens.issue_access(principal).unwrap())
            })
            .collect()
    }

    pub async fn user_id(&self, email: &str) -> i64 {
        sqlx::query_scalar("select id from users where email = $1")
            .bind(email)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    pub async fn hold(&self, token: &str, seat: i64) -> Response {
        self.request(Method::POST, &format!("/api/seat/{seat}/select"), Some(token), None).await
    }

    pub async fn hold_many(&self, token: &str, seats: &[i64]) -> Response {
        self.post("/api/seat/select", Some(token), json!({"seatIds": seats})).await
    }

    pub async fn checkout(&self, token: &str, seats: &[i64]) -> Response {
        self.post(
            "/api/payment",
            Some(token),
            json!({"seatIds": seats, "paymentMethod": "CREDIT_CARD"}),
        )
        .await
    }

    /// Creates one more seat (section B, the given number); returns its id.
    pub async fn create_seats_numbered(&self, admin: &str, concert: i64, number: u32) -> i64 {
        let item = json!([{"concertId": concert, "section": "B", "row": "1", "number": number.to_string(), "grade": "R", "price": 50000}]);
        let res = self.post("/api/seat/batch", Some(admin), item).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json::<Value>().await.unwrap()[0]["id"].as_i64().unwrap()
    }

    /// Each seat's status on the seat map, by seat id.
    pub async fn seat_statuses(&self, concert: i64) -> HashMap<i64, String> {
        let map: Value = self
            .get(&format!("/api/seat/concert/{concert}/seat-map"), None)
            .await
            .json()
            .await
            .unwrap();
        map.as_array()
            .unwrap()
            .iter()
            .map(|s| (s["id"].as_i64().unwrap(), s["status"].as_str().unwrap().to_owned()))
            .collect()
    }

    /// A concert on sale now with `n` seats at 50,000 each; returns (admin token, concert, seat ids).
    pub async fn concert_on_sale(&self, n: usize) -> (String, i64, Vec<i64>) {
        let admin = self.admin_token().await;
        let concert = self.create_concert(&admin).await["id"].as_i64().unwrap();
        let seats = self
            .create_seats(&admin, concert, n)
            .await
            .iter()
            .map(|s| s["id"].as_i64().unwrap())
            .collect();
        (admin, concert, seats)
    }

    /// Marks a reservation paid, as the payment webhook does: reservation `CONFIRMED`, payment
    /// `SUCCESS`, its tickets issued, its seats sold in Redis.
    pub async fn confirm_reservation(&self, reservation: i64) {
        let (user, concert): (i64, i64) = sqlx::query_as(
            "update reservation set status = 'CONFIRMED', confirmed_at = now() where id = $1 returning user_id, concert_id",
        )
        .bind(reservation)
        .fetch_one(&self.db)
        .await
        .unwrap();
        sqlx::query(
            "update payments set status = 'SUCCESS', paid_at = now() where reservation_id = $1",
        )
        .bind(reservation)
        .execute(&self.db)
        .await
        .unwrap();
        // Its e-tickets, as the webhook's confirmation writes them.
        let mut conn = self.db.acquire().await.unwrap();
        self.state.tickets.issue(&mut conn, reservation, concert, user).await.unwrap();
        drop(conn);
        let seats: Vec<i64> =
            sqlx::query_scalar("select seat_id from reservation_seat where reservation_id = $1")
                .bind(reservation)
                .fetch_all(&self.db)
                .await
                .unwrap();
        self.state
            .holds
            .end_reservation(
                concert,
                user,
                reservation,
                &seats,
                ticketing::clients::holds::ReservationEnd::Confirmed,
            )
            .await
            .unwrap();
    }

    /// Deletes every Redis key of this app (as a Redis flush would).
    pub async fn flush_redis(&self) {
        let mut conn = self.state.redis.conn().await.unwrap();
        let keys: Vec<String> = deadpool_redis::redis::cmd("KEYS")
            .arg(format!("{}*", self.redis_prefix))
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: u64 =
                deadpool_redis::redis::cmd("DEL").arg(keys).query_async(&mut conn).await.unwrap();
        }
    }

    /// The concert of a seat.
    pub async fn concert_of_seat(&self, seat: i64) -> i64 {
        sqlx::query_scalar("select concert_id from seat where id = $1")
            .bind(seat)
            .fetch_one(&self.state.db)
            .await
            .unwrap()
    }

    /// Deletes one seat's hold key only.
    pub async fn delete_hold_key(&self, seat: i64) {
        let key = self.state.holds.seat_key(self.concert_of_seat(seat).await, seat);
        let mut conn = self.state.redis.conn().await.unwrap();
        let _: u64 =
            deadpool_redis::redis::cmd("DEL").arg(key).query_async(&mut conn).await.unwrap();
    }
}

/// Waits (up to 15 s) until `check` holds.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A started checkout: reservation and payment ids.
pub struct Started {
    pub reservation: i64,
    pub transaction: String,
    pub amount: i64,
}

impl TestApp {
    /// Holds and checks out the seats as `token`.
    pub async fn start_checkout(&self, token: &str, seats: &[i64]) -> Started {
        assert_eq!(self.hold_many(token, seats).await.status(), StatusCode::OK);
        let res = self.checkout(token, seats).await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        Started {
            reservation: body["reservationId"].as_i64().unwrap(),
            transaction: body["transactionId"].as_str().unwrap().to_owned(),
            amount: body["amount"].as_i64().unwrap(),
        }
    }

    /// Delivers a webhook body signed with `secret` at `t` (unix seconds).
    pub async fn webhook_signed(&self, body: &Value, secret: &str, t: i64) -> Response {
        let raw = body.to_string();
        let signature = ticketing::domain::signature::sign(secret.as_bytes(), t, raw.as_bytes());
        self.client
            .post(self.url("/api/payment/webhook"))
            .header("content-type", "application/json")
            .header("x-payment-signature", signature)
            .body(raw)
            .send()
            .await
            .unwrap()
    }

    /// Delivers a webhook signed now with the development secret.
    pub async fn webhook(&self, body: &Value) -> Response {
        let secret = ticketing::config::dev_defaults::PAYMENT_WEBHOOK_SECRETS;
        self.webhook_signed(body, secret, chrono::Utc::now().timestamp()).await
    }

    pub async fn reservation_status(&self, id: i64) -> (String, String) {
        sqlx::query_as("select r.status, p.status from reservation r join payments p on p.reservation_id = r.id where r.id = $1")
            .bind(id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    pub async fn outbox_count(&self, kind: &str) -> i64 {
        sqlx::query_scalar("select count(*) from outbox where kind = $1")
            .bind(kind)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }
}

/// A webhook event body.
pub fn event(transaction: &str, status: &str, amount: i64) -> Value {
    json!({
        "eventId": format!("evt_{}", Uuid::new_v4().simple()),
        "transactionId": transaction,
        "status": status,
        "amount": amount,
        "currency": "KRW",
        "occurredAt": chrono::Utc::now().to_rfc3339(),
    })
}
