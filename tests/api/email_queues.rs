//! The email queues as the broker holds them: quorum queues dead-lettering at-least-once, a
//! redelivery limit for poison messages, a message that fails every attempt dead-lettered once,
//! and a clear start-up error over the classic queues an earlier version left.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use lapin::{
    Connection, ConnectionProperties,
    options::{BasicGetOptions, BasicNackOptions, BasicPublishOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, ShortString},
};
use ticketing::clients::amqp::{DELIVERY_LIMIT, Topology};
use uuid::Uuid;

use crate::{
    helpers::{amqp_url, delete_amqp_topology, spawn_app, spawn_app_with, try_spawn_app_with},
    mail::SmtpSink,
};

async fn connect() -> Connection {
    Connection::connect(&amqp_url(), ConnectionProperties::default()).await.unwrap()
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(value.into())
}

/// The broker's answer to declaring `queue` again with `args` (durable, as the app does):
/// `Ok` when they are equivalent to what it holds, else its PRECONDITION_FAILED message.
async fn redeclare(conn: &Connection, queue: &str, args: FieldTable) -> Result<(), String> {
    let channel = conn.create_channel().await.unwrap();
    let options = QueueDeclareOptions { durable: true, ..Default::default() };
    let answer = channel.queue_declare(queue.into(), options, args).await;
    // A refusal closed the channel; an acceptance leaves it open.
    let _ = channel.close(200, "probe done".into()).await;
    answer.map(drop).map_err(|e| e.to_string())
}

/// `args` with `key` set to `value`.
fn with(args: &FieldTable, key: &str, value: AMQPValue) -> FieldTable {
    let mut args = args.clone();
    args.insert(ShortString::from(key), value);
    args
}

#[tokio::test]
async fn the_email_queues_are_quorum_queues_that_dead_letter_at_least_once() {
    let app = spawn_app().await;
    let connected = app.state.broker.wait_connected(Duration::from_secs(30)).await;
    assert_eq!(connected, Ok(true), "the app declared its queues");
    let t = app.state.broker.topology();
    let conn = connect().await;
    let declared = t.queue_arguments();
    let [(main, main_args), (retry, retry_args), (dead, dead_args)] = &declared;
    assert_eq!(
        [main, retry, dead],
        [&t.queue, &t.retry_queue, &t.dead_queue],
        "the three email queues, in that order"
    );
    for (queue, args) in &declared {
        redeclare(&conn, queue, args.clone())
            .await
            .unwrap_or_else(|e| panic!("{queue} holds what the app declares: {e}"));
    }

    // What the broker holds, read back argument by argument (no management plugin needed):
    // declaring a queue again with one argument changed is refused, and the refusal names the
    // value the broker holds.
    let expected = [
        ("main", "x-queue-type", Some("quorum")),
        ("main", "x-dead-letter-exchange", Some(t.dead_exchange.as_str())),
        ("main", "x-dead-letter-strategy", Some("at-least-once")),
        ("main", "x-overflow", Some("reject-publish")),
        ("main", "x-dead-letter-routing-key", Some("notification.email.dead")),
        ("main", "x-delivery-limit", Some("10")),
        ("retry", "x-queue-type", Some("quorum")),
        ("retry", "x-dead-letter-exchange", Some(t.exchange.as_str())),
        ("retry", "x-dead-letter-strategy", Some("at-least-once")),
        ("retry", "x-overflow", Some("reject-publish")),
        ("retry", "x-dead-letter-routing-key", Some("notification.email")),
        ("dead", "x-queue-type", Some("quorum")),
        // The dead-letter queue dead-letters nowhere.
        ("dead", "x-dead-letter-exchange", None),
    ];
    assert_eq!(DELIVERY_LIMIT, 10);
    for (which, key, current) in expected {
        let (queue, args) = match which {
            "main" => (main, main_args),
            "retry" => (retry, retry_args),
            _ => (dead, dead_args),
        };
        let other = match key {
            "x-delivery-limit" => AMQPValue::LongInt(DELIVERY_LIMIT + 1),
            "x-queue-type" => text("classic"),
            "x-dead-letter-strategy" => text("at-most-once"),
            "x-overflow" => text("drop-head"),
            _ => text("somewhere.else"),
        };
        let refusal = redeclare(&conn, queue, with(args, key, other))
            .await
            .expect_err(&format!("{queue}: a different {key} is refused"));
        assert!(refusal.contains("PRECONDITION_FAILED"), "{refusal}");
        assert!(refusal.contains(&format!("inequivalent arg '{key}'")), "{refusal}");
        // RabbitMQ words it "current is 'v'" or "current is the value 'v' of type …".
        let holds = match current {
            Some(v) => {
                refusal.contains(&format!("current is '{v}'"))
                    || refusal.contains(&format!("current is the value '{v}'"))
            }
            None => refusal.contains("current is none"),
        };
        assert!(holds, "{queue} {key} is {current:?}: {refusal}");
    }
    let _ = conn.close(200, "done".into()).await;
}

/// Headers of a message, as text, by name.
fn header(message: &lapin::message::BasicGetMessage, name: &str) -> Option<String> {
    let headers = message.delivery.properties.headers().as_ref()?;
    Some(match headers.inner().get(&ShortString::from(name))? {
        AMQPValue::LongString(s) => s.to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        other => format!("{other:?}"),
    })
}

#[tokio::test]
async fn a_message_that_exhausts_its_retries_is_dead_lettered_exactly_once() {
    let sink = SmtpSink::start().await;
    sink.set_failing(true);
    let app = spawn_app_with(&[
        ("SMTP_URL", &sink.url()),
        ("EMAIL_MAX_ATTEMPTS", "3"),
        ("EMAIL_RETRY_BASE_MS", "100"),
    ])
    .await;
    app.signup().await;
    let t = app.state.broker.topology();
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.queue_depth(&t.dead_queue).await < 1 {
        assert!(Instant::now() < deadline, "the welcome email reached the dead-letter queue");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Long enough for a second copy (a retry after the burial, a redelivery) to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.queue_depth(&t.dead_queue).await, 1, "dead-lettered once");
    assert_eq!(app.queue_depth(&t.queue).await, 0);
    assert_eq!(app.queue_depth(&t.retry_queue).await, 0, "no retry pending");

    let message_id: Uuid =
        sqlx::query_scalar("select message_id from outbox where kind = 'welcome'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let conn = connect().await;
    let channel = conn.create_channel().await.unwrap();
    let dead = channel
        .basic_get(t.dead_queue.as_str().into(), BasicGetOptions::default())
        .await
        .unwrap()
        .expect("the dead letter");
    assert_eq!(
        dead.delivery.properties.message_id().as_ref().map(|m| m.to_string()),
        Some(message_id.to_string()),
        "the welcome email's message"
    );
    assert_eq!(header(&dead, "x-attempt").as_deref(), Some("3"), "after its 3 attempts");
    assert!(header(&dead, "x-last-error").is_some_and(|e| !e.is_empty()), "with its last error");
    let nothing_else =
        channel.basic_get(t.dead_queue.as_str().into(), BasicGetOptions::default()).await.unwrap();
    assert!(nothing_else.is_none(), "one copy only");
    let _ = conn.close(200, "done".into()).await;
}

#[tokio::test]
async fn a_message_redelivered_past_the_delivery_limit_is_parked_in_the_dead_letter_queue() {
    // The topology alone, under a prefix of this test: no consumer competes for the message.
    let prefix = format!("test.{}.", Uuid::new_v4().simple());
    let t = Topology::new(&prefix);
    let conn = connect().await;
    let channel = conn.create_channel().await.unwrap();
    t.declare(&channel).await.unwrap();
    channel.confirm_select(Default::default()).await.unwrap();
    let properties = lapin::BasicProperties::default().with_delivery_mode(2);
    channel
        .basic_publish(
            t.exchange.as_str().into(),
            t.routing_key.into(),
            BasicPublishOptions::default(),
            b"{}",
            properties,
        )
        .await
        .unwrap()
        .await
        .unwrap();
    // A consumer that dies with the message every time, as a poison message would make it:
    // each delivery goes back unsettled.
    let mut deliveries = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "the message left the queue");
        match channel.basic_get(t.queue.as_str().into(), BasicGetOptions::default()).await.unwrap()
        {
            Some(message) => {
                deliveries += 1;
                assert!(deliveries <= DELIVERY_LIMIT + 1, "no more than the limit allows");
                let requeue = BasicNackOptions { requeue: true, ..Default::default() };
                message.delivery.acker.nack(requeue).await.unwrap();
            }
            None if deliveries > 0 => break,
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert_eq!(deliveries, DELIVERY_LIMIT + 1, "delivered, then retried up to the limit");
    let deadline = Instant::now() + Duration::from_secs(10);
    let parked = loop {
        if let Some(m) = channel
            .basic_get(t.dead_queue.as_str().into(), BasicGetOptions::default())
            .await
            .unwrap()
        {
            break m;
        }
        assert!(Instant::now() < deadline, "the message reached the dead-letter queue");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(&parked.delivery.data[..], b"{}");
    let _ = conn.close(200, "done".into()).await;
    delete_amqp_topology(&prefix).await;
}

#[tokio::test]
async fn start_up_fails_naming_the_classic_queue_left_by_an_earlier_version() {
    // An earlier version's email queue: classic, durable, dead-lettering to the same exchange.
    let prefix = format!("test.{}.", Uuid::new_v4().simple());
    let t = Topology::new(&prefix);
    let conn = connect().await;
    let channel = conn.create_channel().await.unwrap();
    let mut old_args = FieldTable::default();
    old_args.insert("x-dead-letter-exchange".into(), text(&t.dead_exchange));
    old_args.insert("x-dead-letter-routing-key".into(), text(t.dead_routing_key));
    let durable = QueueDeclareOptions { durable: true, ..Default::default() };
    channel.queue_declare(t.queue.as_str().into(), durable, old_args).await.unwrap();

    let started = Instant::now();
    let Err(error) = try_spawn_app_with(&[("AMQP_PREFIX", &prefix)]).await else {
        panic!("the service started over a classic queue of its queue's name");
    };
    let error = format!("{error:#}");
    assert!(started.elapsed() < Duration::from_secs(20), "it fails at once, not after retries");
    for expected in [
        format!("a queue named '{}'", t.queue),
        "quorum queue".to_owned(),
        "PRECONDITION_FAILED - inequivalent arg".to_owned(),
        format!("rabbitmqctl delete_queue {}", t.queue),
        "AMQP_PREFIX".to_owned(),
    ] {
        assert!(error.contains(&expected), "the error says {expected:?}: {error}");
    }
    assert!(!error.starts_with("protocol error"), "not lapin's words alone: {error}");

    // The binary exits with it, instead of serving without its email queue.
    let app = spawn_app().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ticketing"))
        .env("APP_PROFILE", "dev")
        .env("HTTP_ADDR", "127.0.0.1:0")
        .env("DATABASE_URL", app.database_url())
        .env("REDIS_KEY_PREFIX", &app.redis_prefix)
        .env("AMQP_URL", amqp_url())
        .env("AMQP_PREFIX", &prefix)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the service kept running over the classic queue");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert_eq!(status.code(), Some(1), "start-up failed: {log}");
    assert!(log.contains("start-up failed"), "{log}");
    assert!(log.contains(&format!("rabbitmqctl delete_queue {}", t.queue)), "{log}");

    // Doing what it says fixes it.
    channel
        .queue_delete(t.queue.as_str().into(), Default::default())
        .await
        .expect("the old queue deleted");
    let _ = conn.close(200, "done".into()).await;
    let fixed = try_spawn_app_with(&[("AMQP_PREFIX", &prefix)]).await.expect("starts once fixed");
    let conn = connect().await;
    let [(queue, args), ..] = fixed.state.broker.topology().queue_arguments();
    assert_eq!(queue, t.queue);
    redeclare(&conn, &queue, args).await.expect("now a quorum queue");
    let _ = conn.close(200, "done".into()).await;
}

#[tokio::test]
async fn a_retry_that_no_queue_takes_leaves_the_message_to_be_sent_later_not_lost() {
    // The first send fails, and its retry copy finds no retry queue (the broker takes an
    // unroutable copy and confirms it): the original must not be acknowledged, or the email
    // is gone. The consumer starts again and the message comes back.
    let sink = SmtpSink::start().await;
    sink.set_failing(true);
    let app = spawn_app_with(&[("SMTP_URL", &sink.url()), ("EMAIL_RETRY_BASE_MS", "100")]).await;
    let connected = app.state.broker.wait_connected(Duration::from_secs(30)).await;
    assert_eq!(connected, Ok(true));
    let t = app.state.broker.topology();
    let conn = connect().await;
    let channel = conn.create_channel().await.unwrap();
    channel.queue_delete(t.retry_queue.as_str().into(), Default::default()).await.unwrap();

    let fan = app.signup().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while sink.refused() == 0 {
        assert!(Instant::now() < deadline, "the welcome email was tried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The retry queue is back (as an operator would declare it) and the mail server too.
    t.declare(&channel).await.unwrap();
    sink.set_failing(false);
    let welcome =
        sink.wait_for(1, |m| m.contains(&fan.email) && m.contains("가입을 환영합니다")).await;
    assert_eq!(welcome.len(), 1, "sent once");
    assert_eq!(app.queue_depth(&t.dead_queue).await, 0, "not dead-lettered");
    let _ = conn.close(200, "done".into()).await;
}
