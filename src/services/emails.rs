//! The emails the service sends, rendered from the outbox message and the database, in Korean,
//! as HTML with a plain-text part, addressed by the fan's name.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use tokio_util::sync::CancellationToken;

use crate::{
    clients::{
        amqp::{Broker, EmailConsumer, EmailDelivery},
        mailer::{Email, InlineImage, Mailer},
    },
    domain::{backoff, money::Money, qr, time::kst},
    repositories::{outbox, reservations, tickets, users, waitlist},
};

/// How failed sends are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryRules {
    /// Sends of one email before it goes to the dead-letter queue.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub base: Duration,
}

/// Sends the emails the outbox relayed: each message settled exactly once.
#[derive(Clone)]
pub struct Emails {
    db: PgPool,
    broker: Broker,
    mailer: Arc<Mailer>,
    retry: RetryRules,
    in_flight: InFlight,
    /// The messages this instance is sending right now, locked in the database (copies on
    /// other instances wait; copies here take turns, `InFlight`).
    sending: Arc<outbox::SendLocks>,
}

/// Messages of the email queue in flight at once.
const PREFETCH: u16 = 16;

/// Tries, after the first, to write a sent email's delivery record (about 30 s in all).
const RECORD_TRIES: u32 = 8;

/// What a message needs, once the database has been asked.
enum Prepared {
    AlreadySent,
    /// Another consumer is sending a copy of it right now.
    Claimed,
    NotNeeded,
    /// Rendering failed for a reason of the message's own: retried, then buried.
    Failed(String),
    Send(Email),
}

impl Emails {
    pub fn new(db: PgPool, broker: Broker, mailer: Arc<Mailer>, retry: RetryRules) -> Self {
        let sending = Arc::new(outbox::SendLocks::new(db.clone()));
        Emails { db, broker, mailer, retry, in_flight: InFlight::default(), sending }
    }

    /// Waits for the broker, then consumes the email queue, handling each message on its own
    /// task, until shutdown (`Ok`) or until the consumer fails (`Err`: call again).
    pub async fn consume(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let consumer = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            c = self.broker.consume_emails(PREFETCH) => c,
        };
        let Some(consumer) = consumer else { return Ok(()) };
        let result = self.dispatch(consumer?, shutdown).await;
        if result.is_err() {
            metrics::counter!("amqp_errors_total", "op" => "consume").increment(1);
        }
        result
    }

    async fn dispatch(
        &self,
        mut consumer: EmailConsumer,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        tracing::info!("email consumer started");
        // Cancelled when a message could not be settled.
        let unsettled = CancellationToken::new();
        let outcome = loop {
            let delivery = tokio::select! {
                _ = shutdown.cancelled() => break Ok(()),
                _ = unsettled.cancelled() => {
                    break Err(anyhow::anyhow!("a message could not be settled"));
                }
                d = consumer.next() => match d {
                    Ok(d) => d,
                    Err(e) => break Err(e),
                },
            };
            let (emails, unsettled) = (self.clone(), unsettled.clone());
            tokio::spawn(async move {
                if let Err(e) = emails.handle(delivery).await {
                    // Its channel may live on (only the publisher channel failed, or the
                    // broker refused the copy): the consumer starts again on new channels, and
                    // closing these gives the message back to the queue.
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "email message not settled; consuming again"
                    );
                    unsettled.cancel();
                }
            });
        };
        if outcome.is_err() {
            consumer.close().await;
        }
        outcome
    }

    /// Renders and sends one message, records its id, then acknowledges it. A message already
    /// recorded (a redelivery) is acknowledged without sending; an unreadable one is
    /// dead-lettered; a failed send is retried later, and buried after the last attempt.
    ///
    /// Every message is settled here, whatever fails: one whose database work failed before
    /// the send goes back through the retry queue without spending an attempt (the database
    /// being away says nothing about the message), and once the send succeeded the message is
    /// acknowledged even if its delivery record could not be written. An `Err` means only that
    /// the broker refused the settlement, so the channel is gone and the broker redelivers.
    pub async fn handle(&self, delivery: EmailDelivery) -> anyhow::Result<()> {
        let message: Option<(Uuid, String, Value)> =
            serde_json::from_slice::<Value>(delivery.body()).ok().and_then(|v| {
                let id = v["messageId"].as_str()?.parse().ok()?;
                Some((id, v["kind"].as_str()?.to_owned(), v["payload"].clone()))
            });
        let Some((message_id, kind, payload)) = message else {
            delivery.reject().await?;
            metrics::counter!("ticketing_emails_dead_lettered_total").increment(1);
            return Ok(());
        };
        // Copies of one message are handled one after the other, so that the second sees the
        // first's delivery record (see `InFlight`).
        let _turn = self.in_flight.turn(message_id).await;
        let prepared = match self.prepare(message_id, &kind, &payload).await {
            Ok(prepared) => prepared,
            Err(e) => {
                metrics::counter!("ticketing_emails_deferred_total").increment(1);
                let error = format!("{e:#}");
                tracing::warn!(%kind, %error, "email deferred: its database work failed");
                let attempt = delivery.attempt();
                return delivery.retry_later(attempt, self.retry.base, &error).await;
            }
        };
        let email = match prepared {
            Prepared::AlreadySent => {
                metrics::counter!("ticketing_emails_duplicates_total").increment(1);
                return delivery.ack().await;
            }
            // Back later, without spending an attempt: by then the copy being sent is recorded
            // (and this one is acknowledged as a duplicate), or its sender died, and its lock
            // with it.
            Prepared::Claimed => {
                let attempt = delivery.attempt();
                return delivery
                    .retry_later(attempt, self.retry.base, "a copy is being sent")
                    .await;
            }
            Prepared::NotNeeded => {
                tracing::info!(%kind, "email not needed any more (its subject was deleted)");
                return delivery.ack().await;
            }
            Prepared::Failed(e) => return self.retry_or_bury(delivery, &kind, &e).await,
            Prepared::Send(mut email) => {
                email.message_id = Some(format!("<{message_id}@ticketing>"));
                email
            }
        };
        if let Err(e) = self.mailer.send(&email).await {
            self.release(message_id).await;
            return self.retry_or_bury(delivery, &kind, &format!("{e:#}")).await;
        }
        self.record_sent(message_id, &kind, &email.to_address).await;
        self.release(message_id).await;
        delivery.ack().await?;
        metrics::counter!("ticketing_emails_sent_total", "kind" => kind).increment(1);
        Ok(())
    }

    /// Whether the message still needs sending, and what to send.
    async fn prepare(
        &self,
        message_id: Uuid,
        kind: &str,
        payload: &Value,
    ) -> anyhow::Result<Prepared> {
        let mut conn = self.db.acquire().await?;
        if outbox::was_sent(&mut conn, message_id).await? {
            return Ok(Prepared::AlreadySent);
        }
        if !self.sending.try_lock(message_id).await? {
            return Ok(Prepared::Claimed);
        }
        // Asked again under the lock: a copy may have been sent since the first look.
        let prepared = if outbox::was_sent(&mut conn, message_id).await? {
            Ok(Prepared::AlreadySent)
        } else {
            match render(&mut conn, kind, payload).await {
                Ok(Some(email)) => Ok(Prepared::Send(email)),
                Ok(None) => Ok(Prepared::NotNeeded),
                Err(e) if crate::error::is_database_error(&e) => Err(e),
                Err(e) => Ok(Prepared::Failed(format!("{e:#}"))),
            }
        };
        if !matches!(prepared, Ok(Prepared::Send(_))) {
            self.release(message_id).await;
        }
        prepared
    }

    /// Gives back the lock on a message once its send is over.
    async fn release(&self, message_id: Uuid) {
        if let Err(e) = self.sending.unlock(message_id).await {
            tracing::warn!(error = %e, "message lock not released; its connection is dropped");
        }
    }

    /// Records a sent email so that a redelivery is not sent again, trying for a while: the
    /// email is out, so the message is acknowledged whatever happens here. A record that could
    /// not be written only leaves a window in which a redelivery (a lost acknowledgement) would
    /// send a second copy; it is logged.
    async fn record_sent(&self, message_id: Uuid, kind: &str, recipient: &str) {
        let mut failures = 0;
        loop {
            let recorded = async {
                let mut conn = self.db.acquire().await?;
                outbox::record_sent(&mut conn, message_id, kind, recipient).await?;
                anyhow::Ok(())
            };
            match recorded.await {
                Ok(()) => return,
                Err(e) if failures < RECORD_TRIES => {
                    failures += 1;
                    tracing::warn!(%kind, error = format!("{e:#}"), "delivery record failed; trying again");
                    tokio::time::sleep(backoff::exponential(
                        Duration::from_millis(100),
                        failures,
                        Duration::from_secs(5),
                    ))
                    .await;
                }
                Err(e) => {
                    metrics::counter!("ticketing_emails_unrecorded_total").increment(1);
                    tracing::error!(%kind, %message_id, error = format!("{e:#}"), "email sent but its delivery record could not be written");
                    return;
                }
            }
        }
    }

    async fn retry_or_bury(
        &self,
        delivery: EmailDelivery,
        kind: &str,
        error: &str,
    ) -> anyhow::Result<()> {
        let attempt = delivery.attempt() + 1;
        if attempt >= i64::from(self.retry.max_attempts) {
            metrics::counter!("ticketing_emails_dead_lettered_total").increment(1);
            tracing::error!(%kind, attempt, %error, "email failed every attempt; dead-lettered");
            delivery.bury(attempt, error).await
        } else {
            metrics::counter!("ticketing_emails_failed_total", "kind" => kind.to_owned())
                .increment(1);
            let failures = (attempt - 1).clamp(0, 10) as u32;
            let delay = backoff::exponential(self.retry.base, failures, self.retry.base * 1024);
            tracing::warn!(%kind, attempt, delay_ms = delay.as_millis() as u64, %error, "email failed; retrying later");
            delivery.retry_later(attempt, delay, error).await
        }
    }
}

/// The message ids this process is handling now. Two copies of one message can arrive
/// together: the relay publishes a row again when the broker's confirm was lost (the broker
/// went away after storing the message), and after a broker restart both copies wait in the
/// queue side by side. Handled at once on two tasks, both would pass the `was_sent` check
/// before either recorded its send; taking turns, the second finds the record and is only
/// acknowledged. (Copies that reach two instances at the same moment are not covered: that
/// needs the confirm lost, both copies queued, and two consumers taking them within the same
/// send: the database lock of `outbox::SendLocks` covers those.)
#[derive(Clone, Default)]
struct InFlight(Arc<Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>>);

/// A message id's turn; the next copy's turn begins when it drops.
struct Turn {
    ids: InFlight,
    id: Uuid,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl InFlight {
    async fn turn(&self, id: Uuid) -> Turn {
        let lock = self.0.lock().unwrap_or_else(|e| e.into_inner()).entry(id).or_default().clone();
        let guard = lock.lock_owned().await;
        Turn { ids: self.clone(), id, guard: Some(guard) }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut ids = self.ids.0.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map holds it: nobody waits for this id any more.
        if ids.get(&self.id).is_some_and(|lock| Arc::strong_count(lock) == 1) {
            ids.remove(&self.id);
        }
    }
}

/// Renders the email an outbox message asks for; `None` when what it names no longer exists.
pub async fn render(
    conn: &mut sqlx::PgConnection,
    kind: &str,
    payload: &Value,
) -> anyhow::Result<Option<Email>> {
    let id = |field: &str| payload[field].as_i64();
    if kind == "welcome" {
        let Some(user) = users::find_by_id(conn, id("userId").unwrap_or_default()).await? else {
            return Ok(None);
        };
        let lines = vec![
            format!("{}님, ConcertMania 에 오신 것을 환영합니다!", user.username),
            "이제 공연을 둘러보고, 대기열에 들어가고, 좌석을 예매할 수 있습니다.".into(),
        ];
        return Ok(Some(email(
            &user.username,
            &user.email,
            "[ConcertMania] 가입을 환영합니다",
            &lines,
            &[],
        )));
    }
    if kind == "waitlist_offer" {
        let entry = id("entryId").unwrap_or_default();
        let Some(f) = waitlist::offer_facts(conn, entry).await? else { return Ok(None) };
        let ids: Vec<i64> = payload["seatIds"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        let seats = waitlist::seat_labels(conn, &ids).await?;
        let until = f
            .offer_expires_at
            .map(|t| t.with_timezone(&kst()).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "-".into());
        let lines = vec![
            format!("{}님, 기다리시던 좌석이 나왔습니다.", f.username),
            format!("공연: {}", f.concert_title),
            format!("좌석: {}", seats.join(", ")),
            format!("{until} (KST) 까지 결제하시면 예매가 확정됩니다."),
            format!("바로 결제하기: /concerts/{}?waitlist={entry}", f.concert_id),
        ];
        return Ok(Some(email(
            &f.username,
            &f.email,
            &format!("[ConcertMania] 대기하신 좌석이 준비되었습니다 - {}", f.concert_title),
            &lines,
            &[],
        )));
    }
    let Some(reservation) = id("reservationId") else {
        anyhow::bail!("{kind} without reservationId")
    };
    let Some(f) = reservations::mail_facts(conn, reservation).await? else { return Ok(None) };
    let seats: Vec<String> = reservations::seats_of(conn, &[reservation])
        .await?
        .iter()
        .map(|s| format!("{}구역 {}열 {}번 ({})", s.section, s.row, s.number, s.grade))
        .collect();
    let when = f.concert_date.with_timezone(&kst()).format("%Y-%m-%d %H:%M").to_string();
    let won = |d: Option<rust_decimal::Decimal>| {
        d.map(|d| Money::from(d).won()).unwrap_or_else(|| "-".into())
    };
    let show = vec![
        format!("공연: {}", f.concert_title),
        format!("일시: {when} (KST)"),
        format!("장소: {}", f.venue),
        format!("좌석: {}", seats.join(", ")),
    ];
    let (subject, mut lines) = match kind {
        "booking_confirmed" => (
            format!("[ConcertMania] 예매가 확정되었습니다 - {}", f.concert_title),
            vec![
                format!("{}님, 예매가 확정되었습니다.", f.username),
                format!("티켓 번호: {}", f.ticket_code.clone().unwrap_or_default()),
                format!("결제 금액: {}", won(f.amount)),
            ],
        ),
        "payment_failed" => (
            format!("[ConcertMania] 결제가 실패했습니다 - {}", f.concert_title),
            vec![
                format!("{}님, 결제가 완료되지 않아 예매가 취소되었습니다.", f.username),
                "좌석은 다시 판매됩니다. 다시 시도해주세요.".into(),
            ],
        ),
        "reservation_expired" => (
            format!("[ConcertMania] 결제 시간이 만료되었습니다 - {}", f.concert_title),
            vec![
                format!("{}님, 결제 가능 시간이 지나 예약이 만료되었습니다.", f.username),
                "좌석은 다시 판매됩니다.".into(),
            ],
        ),
        "reservation_canceled" => (
            format!("[ConcertMania] 예매가 취소되었습니다 - {}", f.concert_title),
            vec![
                format!("{}님, 요청하신 예매 취소가 완료되었습니다.", f.username),
                format!("환불 금액: {}", won(f.refund_amount)),
            ],
        ),
        "late_payment_refunded" => (
            format!("[ConcertMania] 결제가 환불됩니다 - {}", f.concert_title),
            vec![
                format!(
                    "{}님, 결제가 예약 만료 후에 도착하여 예매를 확정할 수 없었습니다.",
                    f.username
                ),
                format!("결제하신 {} 은(는) 전액 환불됩니다.", won(f.amount)),
            ],
        ),
        other => anyhow::bail!("unknown email kind {other}"),
    };
    lines.extend(show);
    let tickets = match kind {
        "booking_confirmed" => tickets::of_reservation(conn, reservation)
            .await?
            .into_iter()
            .filter(|t| t.status != "REVOKED")
            .collect(),
        _ => Vec::new(),
    };
    Ok(Some(email(&f.username, &f.email, &subject, &lines, &tickets)))
}

/// The email, with one QR code per ticket: an inline PNG in the HTML, the secret in both parts
/// (door staff can type it in when a screen will not scan).
fn email(
    name: &str,
    address: &str,
    subject: &str,
    lines: &[String],
    tickets: &[tickets::TicketRow],
) -> Email {
    let seat = |t: &tickets::TicketRow| {
        format!("{}구역 {}열 {}번 ({})", t.section, t.row, t.number, t.grade)
    };
    let mut text = lines.join("\n");
    for t in tickets {
        text.push_str(&format!("\n\n[입장권 {}] {}\n티켓 코드: {}", t.id, seat(t), t.secret));
    }
    text.push_str("\n\nConcertMania");
    let mut items: String = lines.iter().map(|l| format!("<p>{}</p>", escape(l))).collect();
    let mut inline_images = Vec::with_capacity(tickets.len());
    for t in tickets {
        let content_id = format!("ticket-{}", t.id);
        items.push_str(&format!(
            r#"<div style="margin:24px 0"><p><strong>입장권 {id}</strong> · {seat}</p><img src="cid:{content_id}" width="240" height="240" alt="QR {id}"><p style="font-family:monospace;font-size:11px;word-break:break-all">{secret}</p></div>"#,
            id = t.id,
            seat = escape(&seat(t)),
            secret = escape(&t.secret),
        ));
        inline_images.push(InlineImage { content_id, png: qr::png(&t.secret, 6) });
    }
    let html = format!(
        r#"<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>{title}</title></head><body style="font-family:sans-serif">{items}<p style="color:#888">ConcertMania</p></body></html>"#,
        title = escape(subject),
    );
    Email {
        to_name: name.to_owned(),
        to_address: address.to_owned(),
        subject: subject.to_owned(),
        text,
        html,
        inline_images,
        message_id: None,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn copies_of_one_message_take_turns_and_leave_nothing_behind() {
        let in_flight = InFlight::default();
        let id = Uuid::new_v4();
        let first = in_flight.turn(id).await;
        let other = in_flight.turn(Uuid::new_v4()).await;
        let copy = {
            let in_flight = in_flight.clone();
            tokio::spawn(async move { drop(in_flight.turn(id).await) })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!copy.is_finished(), "the copy waits for the first");
        drop(other);
        drop(first);
        copy.await.unwrap();
        assert!(in_flight.0.lock().unwrap().is_empty());
    }
}
