//! The broker crashes (killed) during a burst of bookings and is started again on its data:
//! every confirmed booking's email arrives exactly once. The broker is a RabbitMQ node of this
//! test's own (its own node name, ports and data directory under a temporary directory, no
//! plugins), because restarting the shared one would break every other test. A process of its
//! own.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::{
    fs,
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures::StreamExt;
use lapin::{Connection, ConnectionProperties};
use ticketing_bench::smtp::SmtpSink;

/// A RabbitMQ node that only this test uses, killed and its directory removed on drop.
struct PrivateNode {
    dir: PathBuf,
    name: String,
    port: u16,
    dist_port: u16,
    child: Option<Child>,
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `rabbitmq-server` itself: `TEST_RABBITMQ_SERVER`, else the Debian package's real script
/// (`/usr/sbin/rabbitmq-server` only wraps it to switch to the `rabbitmq` user and the system
/// node's directories), else whatever `rabbitmq-server` the PATH finds.
fn server_command() -> String {
    if let Ok(path) = std::env::var("TEST_RABBITMQ_SERVER") {
        return path;
    }
    let debian = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    if std::path::Path::new(debian).exists() { debian.into() } else { "rabbitmq-server".into() }
}

impl PrivateNode {
    fn new() -> PrivateNode {
        let id = &uuid::Uuid::new_v4().simple().to_string()[..10];
        let dir = std::env::temp_dir().join(format!("ticketing-rabbitmq-{id}"));
        fs::create_dir_all(&dir).unwrap();
        let (port, dist_port) = (free_port(), free_port());
        // Its own configuration: the system's (rabbitmq.conf, rabbitmq-env.conf) would put it
        // on the shared node's name and port. No plugins, so no management listener either.
        fs::write(dir.join("rabbitmq.conf"), format!("listeners.tcp.1 = 127.0.0.1:{port}\n"))
            .unwrap();
        fs::write(dir.join("rabbitmq-env.conf"), "").unwrap();
        fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
        PrivateNode {
            dir,
            name: format!("ticketing-test-{id}@localhost"),
            port,
            dist_port,
            child: None,
        }
    }

    fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Starts the node on its data directory (the same one every time); returns at once.
    fn start(&mut self) {
        let dir = &self.dir;
        let log =
            fs::OpenOptions::new().create(true).append(true).open(dir.join("out.log")).unwrap();
        let child = Command::new(server_command())
            .current_dir(dir)
            // The Erlang cookie is made in, and read from, $HOME.
            .env("HOME", dir)
            .env("RABBITMQ_NODENAME", &self.name)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"))
            .env("RABBITMQ_CONF_ENV_FILE", dir.join("rabbitmq-env.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_PID_FILE", dir.join("node.pid"))
            .env(
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}",
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // A process group of its own: the script, the Erlang VM and its helpers die together.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{} could not be started: {e}", server_command()));
        self.child = Some(child);
    }

    /// Waits (up to 3 minutes: two cores are shared) until the node accepts AMQP connections.
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Ok(conn) =
                Connection::connect(&self.amqp_url(), ConnectionProperties::default()).await
            {
                let _ = conn.close(200, "ready".into()).await;
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!(
                    "the RabbitMQ node exited ({status}) before it was ready:\n{}",
                    self.log_tail()
                );
            }
            assert!(Instant::now() < deadline, "the RabbitMQ node came up:\n{}", self.log_tail());
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Kills the node outright (SIGKILL to its process group), as a crash would.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on the process group this test started; no memory is involved.
            unsafe {
                libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
            }
            let _ = child.wait();
        }
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.join("out.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Messages ready in `queue` on this node.
    async fn depth(&self, queue: &str) -> u32 {
        let conn =
            Connection::connect(&self.amqp_url(), ConnectionProperties::default()).await.unwrap();
        let channel = conn.create_channel().await.unwrap();
        let options = lapin::options::QueueDeclareOptions { passive: true, ..Default::default() };
        let q = channel.queue_declare(queue.into(), options, Default::default()).await.unwrap();
        let _ = conn.close(200, "".into()).await;
        q.message_count()
    }
}

impl Drop for PrivateNode {
    fn drop(&mut self) {
        self.kill();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

const BOOKINGS: usize = 120;
const SUBJECT: &str = "Subject: [ConcertMania] 예매가 확정되었습니다";

fn to(message: &str, address: &str) -> bool {
    message.lines().any(|l| l.to_ascii_lowercase().starts_with("to:") && l.contains(address))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_booking_is_emailed_once_though_the_broker_restarts_mid_burst() {
    let mut node = PrivateNode::new();
    node.start();
    node.wait_ready().await;
    let sink = SmtpSink::start().await;
    let app = helpers::spawn_app_with(&[
        ("SMTP_URL", &sink.url()),
        ("AMQP_URL", &node.amqp_url()),
        ("EMAIL_RETRY_BASE_MS", "200"),
        ("DATABASE_MAX_CONNECTIONS", "15"),
    ])
    .await;
    assert_eq!(
        app.state.broker.wait_connected(Duration::from_secs(60)).await,
        Ok(true),
        "the app is on the private node"
    );
    let app = Arc::new(app);
    let (_, _, seats) = app.concert_on_sale(BOOKINGS).await;
    let fans = app.bulk_users(BOOKINGS).await;
    let addresses: Vec<String> = {
        let ids: Vec<i64> = fans.iter().map(|(id, _)| *id).collect();
        sqlx::query_scalar("select email from users where id = any($1) order by id")
            .bind(&ids)
            .fetch_all(&app.db)
            .await
            .unwrap()
    };

    // The burst: each fan books one seat and pays; six at a time.
    let confirmed = Arc::new(AtomicUsize::new(0));
    let burst = {
        let (app, confirmed) = (app.clone(), confirmed.clone());
        tokio::spawn(async move {
            futures::stream::iter(fans.into_iter().zip(seats))
                .map(|((_, token), seat)| {
                    let (app, confirmed) = (app.clone(), confirmed.clone());
                    async move {
                        let started = app.start_checkout(&token, &[seat]).await;
                        let paid = helpers::event(&started.transaction, "SUCCESS", started.amount);
                        let res = app.webhook(&paid).await;
                        assert_eq!(
                            res.status(),
                            reqwest::StatusCode::OK,
                            "the booking is confirmed"
                        );
                        confirmed.fetch_add(1, Ordering::SeqCst);
                    }
                })
                .buffer_unordered(6)
                .collect::<Vec<()>>()
                .await;
        })
    };
    let wait_for = |n: usize| {
        let confirmed = confirmed.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            while confirmed.load(Ordering::SeqCst) < n {
                assert!(Instant::now() < deadline, "{n} bookings confirmed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };

    // A third in, while their emails flow, the broker dies.
    wait_for(BOOKINGS / 3).await;
    node.kill();
    let at_kill = confirmed.load(Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.state.broker.is_connected() {
        assert!(Instant::now() < deadline, "the app noticed the broker is gone");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Bookings go on without it; then it is started again on the same data directory, while
    // the burst still runs.
    wait_for(BOOKINGS / 2).await;
    let at_restart = confirmed.load(Ordering::SeqCst);
    assert!(at_restart > at_kill, "bookings were confirmed while the broker was away");
    node.start();
    burst.await.expect("every booking of the burst was confirmed");
    node.wait_ready().await;
    assert_eq!(
        app.state.broker.wait_connected(Duration::from_secs(60)).await,
        Ok(true),
        "the app reconnected"
    );

    // Every confirmed booking's email, once.
    let sent = |sink: &SmtpSink| -> Vec<String> {
        sink.messages().into_iter().filter(|m| m.contains(SUBJECT)).collect()
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    while sent(&sink).len() < BOOKINGS {
        assert!(
            Instant::now() < deadline,
            "every confirmation arrived: {} of {BOOKINGS}",
            sent(&sink).len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Time for a late duplicate (a redelivery, a publish repeated after a lost confirm).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = sent(&sink);
    for address in &addresses {
        let n = mails.iter().filter(|m| to(m, address)).count();
        assert_eq!(n, 1, "{address} got its confirmation once");
    }
    assert_eq!(mails.len(), BOOKINGS, "no email to anyone else");
    let confirmed_in_db: i64 =
        sqlx::query_scalar("select count(*) from reservation where status = 'CONFIRMED'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(confirmed_in_db, BOOKINGS as i64);
    let recorded: i64 = sqlx::query_scalar(
        "select count(*) from email_deliveries where kind = 'booking_confirmed'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(recorded, BOOKINGS as i64, "one delivery record each");
    let unpublished: i64 =
        sqlx::query_scalar("select count(*) from outbox where published_at is null")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(unpublished, 0, "the outbox is drained");
    let t = app.state.broker.topology();
    assert_eq!(node.depth(&t.dead_queue).await, 0, "nothing was dead-lettered");
    assert_eq!(node.depth(&t.queue).await, 0, "nothing is left in the email queue");
}
