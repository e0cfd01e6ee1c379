//! Email through the outbox and RabbitMQ: delivered once, with the right content, even when the
//! broker was away; poison messages end in the dead-letter queue.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::{
    helpers::{TestApp, event, spawn_app_with},
    mail::{SmtpSink, TcpProxy},
};

/// A concert with an ASCII title (easy to find in encoded mail) on sale, with `n` seats.
async fn concert(app: &TestApp, n: usize) -> Vec<i64> {
    let admin = app.admin_token().await;
    let mut body = crate::helpers::concert_body("Mail Test Live");
    body["venue"] = json!("Olympic Hall");
    let id =
        app.post("/api/concert", Some(&admin), body).await.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
    app.create_seats(&admin, id, n).await.iter().map(|s| s["id"].as_i64().unwrap()).collect()
}

fn to(message: &str, address: &str) -> bool {
    message.lines().any(|l| l.to_ascii_lowercase().starts_with("to:") && l.contains(address))
}

#[tokio::test]
async fn a_confirmed_booking_is_emailed_once_with_its_details() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(&[("SMTP_URL", &sink.url())]).await;
    let seats = concert(&app, 2).await;
    let fan = app.signup().await;
    let welcome = sink
        .wait_for(1, |m| {
            to(m, &fan.email) && m.contains("Subject: [ConcertMania] 가입을 환영합니다")
        })
        .await;
    assert!(welcome[0].contains(&fan.username), "addressed by name");

    let started = app.start_checkout(&fan.token, &seats).await;
    app.webhook(&event(&started.transaction, "SUCCESS", started.amount)).await;
    let mail = sink
        .wait_for(1, |m| {
            to(m, &fan.email) && m.contains("Subject: [ConcertMania] 예매가 확정되었습니다")
        })
        .await
        .remove(0);
    let ticket: String = sqlx::query_scalar("select ticket_code from reservation where id = $1")
        .bind(started.reservation)
        .fetch_one(&app.db)
        .await
        .unwrap();
    for expected in [
        fan.username.as_str(),
        "Mail Test Live",
        "Olympic Hall",
        "A구역 1열 1번",
        "A구역 1열 2번",
        "100,000원",
        ticket.as_str(),
    ] {
        assert!(mail.contains(expected), "the confirmation mentions {expected}:\n{mail}");
    }
    assert!(
        mail.contains("text/plain") && mail.contains("text/html"),
        "HTML with a plain-text part"
    );
    assert!(mail.to_ascii_lowercase().contains("from: concertmania <no-reply@concertmania.local>"));

    // Exactly once, even after the consumer had time to misbehave.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let confirmations = sink
        .messages()
        .into_iter()
        .filter(|m| m.contains("Subject: [ConcertMania] 예매가 확정되었습니다"))
        .count();
    assert_eq!(confirmations, 1);
    let sent: i64 = sqlx::query_scalar(
        "select count(*) from email_deliveries where kind = 'booking_confirmed'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(sent, 1);

    // Outbox lag and email counters are exported.
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    for name in
        ["ticketing_outbox_lag_seconds", "ticketing_outbox_pending", "ticketing_emails_sent_total"]
    {
        assert!(metrics.contains(name), "{name} is exported");
    }
}

#[tokio::test]
async fn failures_expiries_cancellations_and_late_refunds_are_emailed() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(&[
        ("SMTP_URL", &sink.url()),
        ("RESERVATION_TTL_SECS", "1"),
        ("EXPIRY_SWEEP_INTERVAL_MS", "3600000"),
    ])
    .await;
    let seats = concert(&app, 4).await;
    let fan = app.signup().await;

    let failed = app.start_checkout(&fan.token, &seats[..1]).await;
    app.webhook(&event(&failed.transaction, "FAILED", failed.amount)).await;
    sink.wait_for(1, |m| m.contains("Subject: [ConcertMania] 결제가 실패했습니다")).await;

    let expired = app.start_checkout(&fan.token, &seats[1..2]).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    ticketing::workers::expiry::execute_once(&app.state).await.unwrap();
    sink.wait_for(1, |m| m.contains("Subject: [ConcertMania] 결제 시간이 만료되었습니다")).await;
    // Money for the expired reservation arrives late: refunded, and the fan is told.
    app.webhook(&event(&expired.transaction, "SUCCESS", expired.amount)).await;
    let late = sink
        .wait_for(1, |m| m.contains("Subject: [ConcertMania] 결제가 환불됩니다"))
        .await
        .remove(0);
    assert!(late.contains("50,000원"));

    sqlx::query("update reservation set expire_time = now() + interval '1 hour'")
        .execute(&app.db)
        .await
        .unwrap();
    let paid = app.start_checkout(&fan.token, &seats[2..3]).await;
    sqlx::query("update reservation set expire_time = now() + interval '1 hour' where id = $1")
        .bind(paid.reservation)
        .execute(&app.db)
        .await
        .unwrap();
    app.webhook(&event(&paid.transaction, "SUCCESS", paid.amount)).await;
    let res = app
        .post(
            "/api/reservations/cancel",
            Some(&fan.token),
            json!({"reservationId": paid.reservation}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let canceled = sink
        .wait_for(1, |m| m.contains("Subject: [ConcertMania] 예매가 취소되었습니다"))
        .await
        .remove(0);
    assert!(canceled.contains("환불 금액: 50,000원"), "{canceled}");
}

#[tokio::test]
async fn bookings_succeed_while_the_broker_is_away_and_their_emails_follow_when_it_returns() {
    let sink = SmtpSink::start().await;
    let proxy = TcpProxy::broker().await;
    let app = spawn_app_with(&[("SMTP_URL", &sink.url()), ("AMQP_URL", &proxy.amqp_url())]).await;
    let seats = concert(&app, 1).await;
    let fan = app.signup().await;
    sink.wait_for(1, |m| m.contains("Subject: [ConcertMania] 가입을 환영합니다")).await;

    proxy.set_up(false);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.state.broker.is_connected() {
        assert!(std::time::Instant::now() < deadline, "the app noticed the broker is gone");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.get("/health/ready", None).await.status(), StatusCode::SERVICE_UNAVAILABLE);
    let started = app.start_checkout(&fan.token, &seats).await;
    let res = app.webhook(&event(&started.transaction, "SUCCESS", started.amount)).await;
    assert_eq!(res.status(), StatusCode::OK, "the booking is confirmed without the broker");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pending: i64 = sqlx::query_scalar(
        "select count(*) from outbox where kind = 'booking_confirmed' and published_at is null",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(pending, 1, "the email waits in the outbox");
    assert!(
        !sink
            .messages()
            .iter()
            .any(|m| m.contains("Subject: [ConcertMania] 예매가 확정되었습니다"))
    );

    proxy.set_up(true);
    sink.wait_for(1, |m| {
        to(m, &fan.email) && m.contains("Subject: [ConcertMania] 예매가 확정되었습니다")
    })
    .await;
    assert_eq!(app.get("/health/ready", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_message_that_always_fails_ends_in_the_dead_letter_queue() {
    let sink = SmtpSink::start().await;
    sink.set_failing(true);
    let app = spawn_app_with(&[
        ("SMTP_URL", &sink.url()),
        ("EMAIL_MAX_ATTEMPTS", "3"),
        ("EMAIL_RETRY_BASE_MS", "100"),
    ])
    .await;
    app.signup().await;
    let dead = app.state.broker.topology().dead_queue;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while app.queue_depth(&dead).await < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the welcome email reached the dead-letter queue"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.queue_depth(&app.state.broker.topology().queue).await, 0);
    let sent: i64 = sqlx::query_scalar("select count(*) from email_deliveries")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(sent, 0);

    // An unreadable message goes there directly.
    app.publish_email_message("not json", "garbage-1").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.queue_depth(&dead).await < 2 {
        assert!(std::time::Instant::now() < deadline, "the unreadable message was dead-lettered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_redelivered_message_is_not_sent_twice() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(&[("SMTP_URL", &sink.url())]).await;
    let fan = app.signup().await;
    sink.wait_for(1, |m| m.contains("Subject: [ConcertMania] 가입을 환영합니다")).await;
    let (message_id, payload): (uuid::Uuid, Value) =
        sqlx::query_as("select message_id, payload from outbox where kind = 'welcome'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let body = json!({"messageId": message_id, "kind": "welcome", "payload": payload}).to_string();
    app.publish_email_message(&body, &message_id.to_string()).await;
    app.publish_email_message(&body, &message_id.to_string()).await;
    let queue = app.state.broker.topology().queue;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.queue_depth(&queue).await > 0 {
        assert!(std::time::Instant::now() < deadline, "the copies were consumed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let welcomes = sink
        .messages()
        .into_iter()
        .filter(|m| to(m, &fan.email) && m.contains("Subject: [ConcertMania] 가입을 환영합니다"))
        .count();
    assert_eq!(welcomes, 1, "sent once, whatever the redeliveries");
}

#[tokio::test]
async fn a_message_consumed_while_postgres_is_away_is_sent_once_it_returns() {
    let sink = SmtpSink::start().await;
    let postgres = TcpProxy::postgres().await;
    let through_proxy = format!("postgres://postgres@127.0.0.1:{}/{{db_name}}", postgres.port);
    // One attempt only: a message deferred because the database was away must not spend it,
    // or it would be dead-lettered instead of sent.
    let app = spawn_app_with(&[
        ("SMTP_URL", &sink.url()),
        ("DATABASE_URL", &through_proxy),
        ("EMAIL_MAX_ATTEMPTS", "1"),
        ("EMAIL_RETRY_BASE_MS", "200"),
    ])
    .await;
    let fan = app.signup().await;
    let welcome =
        |m: &str| to(m, &fan.email) && m.contains("Subject: [ConcertMania] 가입을 환영합니다");
    sink.wait_for(1, welcome).await;
    let mut direct = sqlx::PgConnection::connect(&app.database_url()).await.unwrap();
    let payload: Value = sqlx::query_scalar("select payload from outbox where kind = 'welcome'")
        .fetch_one(&mut direct)
        .await
        .unwrap();

    postgres.set_up(false);
    let message_id = uuid::Uuid::new_v4();
    let body = json!({"messageId": message_id, "kind": "welcome", "payload": payload}).to_string();
    app.publish_email_message(&body, &message_id.to_string()).await;
    let queue = app.state.broker.topology().queue;
    crate::helpers::wait_until("the consumer took the message", || async {
        app.queue_depth(&queue).await == 0
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.messages().into_iter().filter(|m| welcome(m)).count(), 1);

    postgres.set_up(true);
    sink.wait_for(2, welcome).await;
    // The record is written just after the send: give it a moment on a busy machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let recorded = loop {
        let recorded: i64 =
            sqlx::query_scalar("select count(*) from email_deliveries where message_id = $1")
                .bind(message_id)
                .fetch_one(&mut direct)
                .await
                .unwrap();
        if recorded > 0 || std::time::Instant::now() > deadline {
            break recorded;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(recorded, 1, "its delivery is recorded once the database is back");
    assert_eq!(app.queue_depth(&app.state.broker.topology().dead_queue).await, 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().into_iter().filter(|m| welcome(m)).count(), 2, "sent once");
}
