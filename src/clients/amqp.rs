//! RabbitMQ: one supervised connection that reconnects with backoff. The service runs (and
//! keeps taking bookings) while the broker is away; readiness reports it.
//!
//! The email queues are quorum queues (replicated on a cluster, fsynced before a publish is
//! confirmed), and their dead-lettering is at-least-once: a message leaves the queue it is
//! dead-lettered from only once the target queue has it. That needs RabbitMQ 3.10 or later,
//! which is also the first release whose quorum queues honour the retry queue's per-message TTL.

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Consumer,
    ExchangeKind,
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions,
        BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
        QueueDeclareOptions,
    },
    protocol::{AMQPErrorKind, AMQPSoftError},
    types::{AMQPValue, FieldTable, ShortString},
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::backoff;

/// The broker connection as the rest of the service sees it.
#[derive(Clone)]
pub struct Broker {
    current: watch::Receiver<Link>,
    prefix: String,
}

/// What the supervisor saw last.
#[derive(Clone)]
enum Link {
    Down,
    /// Connected; declaring the topology.
    Declaring,
    Up(Arc<Connection>),
    /// The broker holds an exchange or queue of ours with other settings (the message says
    /// which, and what to do): reconnecting cannot help until an operator acts.
    Refused(Arc<str>),
}

impl Link {
    fn connection(&self) -> Option<&Arc<Connection>> {
        match self {
            Link::Up(conn) if conn.status().connected() => Some(conn),
            _ => None,
        }
    }
}

impl Broker {
    /// Starts connecting in the background; returns at once.
    pub fn start(url: String, prefix: String, shutdown: CancellationToken) -> Broker {
        let (tx, rx) = watch::channel(Link::Down);
        tokio::spawn(supervise(url, Topology::new(&prefix), tx, shutdown));
        Broker { current: rx, prefix }
    }

    /// The live connection, if there is one right now.
    pub fn connection(&self) -> Option<Arc<Connection>> {
        self.current.borrow().connection().cloned()
    }

    /// Waits until connected with the topology declared (`Ok(true)`), until the broker refused
    /// the topology (`Err`, saying which exchange or queue and how to fix it), or until `limit`
    /// passes without the broker answering (`Ok(false)`). A broker that answered in time gets
    /// [`DECLARE_LIMIT`] more to finish the declarations, so that the outcome does not depend
    /// on a slow moment.
    pub async fn wait_connected(&self, limit: Duration) -> Result<bool, String> {
        let mut rx = self.current.clone();
        let answered = rx.wait_for(|l| !matches!(l, Link::Down));
        if !matches!(tokio::time::timeout(limit, answered).await, Ok(Ok(_))) {
            return Ok(false);
        }
        let settled = rx.wait_for(|l| l.connection().is_some() || matches!(l, Link::Refused(_)));
        match tokio::time::timeout(DECLARE_LIMIT, settled).await {
            Ok(Ok(link)) => match &*link {
                Link::Refused(why) => Err(why.to_string()),
                _ => Ok(true),
            },
            _ => Ok(false),
        }
    }

    pub fn is_connected(&self) -> bool {
        self.connection().is_some()
    }

    /// Exchange or queue name with this deployment's prefix.
    pub fn name(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    /// The email topology's names, with this deployment's prefix.
    pub fn topology(&self) -> Topology {
        Topology::new(&self.prefix)
    }

    /// Waits for the next connection (after a loss); `None` on shutdown.
    async fn next_connection(&self) -> Option<Arc<Connection>> {
        let mut rx = self.current.clone();
        let link = rx.wait_for(|l| l.connection().is_some()).await.ok()?;
        link.connection().cloned()
    }

    /// Publishes messages to the email exchange, persistent, and waits for the broker's
    /// confirms: one result per message, in order. `None` while there is no connection.
    pub async fn publish_emails(
        &self,
        messages: &[OutgoingEmail],
    ) -> Option<anyhow::Result<Vec<Result<(), String>>>> {
        let conn = self.connection()?;
        Some(publish_confirmed(&conn, &self.topology(), messages).await)
    }

    /// Waits for a connection and starts consuming the email queue with `prefetch` messages
    /// in flight; `None` on shutdown.
    pub async fn consume_emails(&self, prefetch: u16) -> Option<anyhow::Result<EmailConsumer>> {
        let conn = self.next_connection().await?;
        Some(EmailConsumer::start(&conn, self.topology(), prefetch).await)
    }
}

/// A message for the email queue.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    pub message_id: Uuid,
    pub body: Vec<u8>,
}

async fn publish_confirmed(
    conn: &Connection,
    topology: &Topology,
    messages: &[OutgoingEmail],
) -> anyhow::Result<Vec<Result<(), String>>> {
    let channel =
        conn.create_channel().await.map_err(|e| anyhow::anyhow!("opening a channel: {e}"))?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    let mut pending = Vec::with_capacity(messages.len());
    for message in messages {
        let mut headers = FieldTable::default();
        headers.insert(ShortString::from("x-attempt"), AMQPValue::LongLongInt(0));
        let properties = BasicProperties::default()
            .with_message_id(ShortString::from(message.message_id.to_string()))
            .with_content_type(ShortString::from("application/json"))
            .with_delivery_mode(2)
            .with_headers(headers);
        let confirm = channel
            .basic_publish(
                ShortString::from(topology.exchange.as_str()),
                ShortString::from(topology.routing_key),
                // An unroutable message comes back: its row stays unpublished.
                BasicPublishOptions { mandatory: true, ..Default::default() },
                &message.body,
                properties,
            )
            .await;
        pending.push(confirm);
    }
    let mut results = Vec::with_capacity(pending.len());
    for confirm in pending {
        results.push(match confirm {
            Ok(confirm) => confirm.await.map_err(|e| e.to_string()).and_then(|c| match c {
                Confirmation::Ack(None) => Ok(()),
                Confirmation::Ack(Some(_)) => Err("no queue took the message".to_owned()),
                _ => Err("the broker refused the message".to_owned()),
            }),
            Err(e) => Err(e.to_string()),
        });
    }
    let _ = channel.close(200, "done".into()).await;
    Ok(results)
}

/// Messages of the email queue, as they arrive.
pub struct EmailConsumer {
    consumer: Consumer,
    /// The channel the messages arrive on (and are acknowledged on).
    channel: Channel,
    /// The channel retries and burials are published on, with confirms.
    publisher: Channel,
    topology: Topology,
}

impl EmailConsumer {
    async fn start(conn: &Connection, topology: Topology, prefetch: u16) -> anyhow::Result<Self> {
        let channel = conn.create_channel().await?;
        channel.basic_qos(prefetch, BasicQosOptions::default()).await?;
        let publisher = conn.create_channel().await?;
        publisher.confirm_select(ConfirmSelectOptions::default()).await?;
        let consumer = channel
            .basic_consume(
                ShortString::from(topology.queue.as_str()),
                ShortString::from(format!("ticketing-{}", Uuid::new_v4().simple())),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(EmailConsumer { consumer, channel, publisher, topology })
    }

    /// Closes both channels: the broker takes back every message delivered here and not yet
    /// settled, and redelivers it to the next consumer. A message whose settlement failed is
    /// otherwise stranded: the publisher channel may be gone while the channel it arrived on
    /// lives on, holding it unacknowledged for as long as the connection lasts.
    pub async fn close(self) {
        let _ = self.publisher.close(200, "consumer restarting".into()).await;
        let _ = self.channel.close(200, "consumer restarting".into()).await;
    }

    /// The next message; an error when the consumer or its connection failed.
    pub async fn next(&mut self) -> anyhow::Result<EmailDelivery> {
        match self.consumer.next().await {
            Some(Ok(delivery)) => Ok(EmailDelivery {
                delivery,
                publisher: self.publisher.clone(),
                topology: self.topology.clone(),
            }),
            Some(Err(e)) => Err(e.into()),
            None => anyhow::bail!("the consumer was cancelled"),
        }
    }
}

/// One message from the email queue, to be settled exactly once. Dropped unsettled, the broker
/// redelivers it when the channel closes.
pub struct EmailDelivery {
    delivery: Delivery,
    publisher: Channel,
    topology: Topology,
}

impl EmailDelivery {
    pub fn body(&self) -> &[u8] {
        &self.delivery.data
    }

    /// Sends so far (the `x-attempt` header; 0 for a fresh message).
    pub fn attempt(&self) -> i64 {
        self.delivery
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get(&ShortString::from("x-attempt")).cloned())
            .and_then(|v| match v {
                AMQPValue::LongLongInt(n) => Some(n),
                AMQPValue::LongInt(n) => Some(i64::from(n)),
                AMQPValue::ShortInt(n) => Some(i64::from(n)),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// Done with it.
    pub async fn ack(self) -> anyhow::Result<()> {
        self.delivery.acker.ack(BasicAckOptions::default()).await?;
        Ok(())
    }

    /// Unreadable: straight to the dead-letter queue (the queue's dead-letter exchange).
    pub async fn reject(self) -> anyhow::Result<()> {
        let requeue = BasicNackOptions { requeue: false, ..Default::default() };
        self.delivery.acker.nack(requeue).await?;
        Ok(())
    }

    /// Sends it again after `delay` through the retry queue, as attempt `attempt`.
    pub async fn retry_later(
        self,
        attempt: i64,
        delay: Duration,
        error: &str,
    ) -> anyhow::Result<()> {
        let expiration = ShortString::from(delay.as_millis().to_string());
        let routing_key = self.topology.retry_queue.clone();
        self.republish("", routing_key, attempt, error, Some(expiration)).await
    }

    /// Gives up: to the dead-letter queue, with the last error.
    pub async fn bury(self, attempt: i64, error: &str) -> anyhow::Result<()> {
        let exchange = self.topology.dead_exchange.clone();
        let routing_key = self.topology.dead_routing_key.to_owned();
        self.republish(&exchange, routing_key, attempt, error, None).await
    }

    async fn republish(
        self,
        exchange: &str,
        routing_key: String,
        attempt: i64,
        error: &str,
        expiration: Option<ShortString>,
    ) -> anyhow::Result<()> {
        let mut headers = self.delivery.properties.headers().clone().unwrap_or_default();
        headers.insert(ShortString::from("x-attempt"), AMQPValue::LongLongInt(attempt));
        headers.insert(ShortString::from("x-last-error"), AMQPValue::LongString(error.into()));
        let mut properties = self.delivery.properties.clone().with_headers(headers);
        if let Some(expiration) = expiration {
            properties = properties.with_expiration(expiration);
        }
        // Mandatory: a copy that no queue took comes back instead of vanishing, and the
        // original is then not acknowledged.
        let confirm = self
            .publisher
            .basic_publish(
                ShortString::from(exchange),
                ShortString::from(routing_key),
                BasicPublishOptions { mandatory: true, ..Default::default() },
                &self.delivery.data,
                properties.with_delivery_mode(2),
            )
            .await?
            .await?;
        match confirm {
            Confirmation::Ack(None) => {}
            Confirmation::Ack(Some(_)) => anyhow::bail!("no queue took the copy ({exchange:?})"),
            Confirmation::Nack(_) => anyhow::bail!("the broker refused the copy"),
            Confirmation::NotRequested => anyhow::bail!("the copy was not confirmed"),
        }
        self.delivery.acker.ack(BasicAckOptions::default()).await?;
        Ok(())
    }
}

/// Names of the email path's exchanges and queues.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Direct exchange the outbox relay publishes to.
    pub exchange: String,
    pub routing_key: &'static str,
    /// The queue the email consumer reads.
    pub queue: String,
    /// Where failed messages wait out their backoff (per-message TTL), then return to `exchange`.
    pub retry_queue: String,
    /// Dead-letter exchange and queue: messages that failed every attempt, or could not be read.
    pub dead_exchange: String,
    pub dead_routing_key: &'static str,
    pub dead_queue: String,
}

impl Topology {
    pub fn new(prefix: &str) -> Self {
        Topology {
            exchange: format!("{prefix}notification.exchange"),
            routing_key: "notification.email",
            queue: format!("{prefix}notification.email.queue"),
            retry_queue: format!("{prefix}notification.email.retry"),
            dead_exchange: format!("{prefix}notification.dlx"),
            dead_routing_key: "notification.email.dead",
            dead_queue: format!("{prefix}notification.email.dlq"),
        }
    }

    /// Declares everything (idempotent: the same names and arguments every time). An exchange
    /// or queue that exists with other settings is [`TopologyError::Incompatible`].
    pub async fn declare(&self, channel: &Channel) -> Result<(), TopologyError> {
        let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
        let s = |v: &str| ShortString::from(v);
        for exchange in [&self.exchange, &self.dead_exchange] {
            channel
                .exchange_declare(s(exchange), ExchangeKind::Direct, durable, FieldTable::default())
                .await
                .map_err(|e| TopologyError::from_declare("exchange", exchange, e))?;
        }
        for (queue, args) in self.queue_arguments() {
            // Quorum queues are durable, and never exclusive or auto-deleted.
            let options = QueueDeclareOptions { durable: true, ..Default::default() };
            channel
                .queue_declare(s(&queue), options, args)
                .await
                .map_err(|e| TopologyError::from_declare("queue", &queue, e))?;
        }
        for (queue, exchange, key) in [
            (&self.queue, &self.exchange, self.routing_key),
            (&self.dead_queue, &self.dead_exchange, self.dead_routing_key),
        ] {
            channel
                .queue_bind(
                    s(queue),
                    s(exchange),
                    s(key),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }

    /// The three queues and their arguments, as declared: all quorum queues. The email queue
    /// and the retry queue dead-letter at-least-once (which RabbitMQ allows only with
    /// `x-overflow: reject-publish`; no length limit is set, so nothing is ever refused for
    /// length): the email queue to the dead-letter exchange (unreadable messages, and any
    /// message delivered [`DELIVERY_LIMIT`] times without being settled), the retry queue back
    /// to the email exchange once a message's TTL ends.
    pub fn queue_arguments(&self) -> [(String, FieldTable); 3] {
        let quorum = |dead_letter: Option<(&str, &str)>| {
            let mut args = FieldTable::default();
            let text = |v: &str| AMQPValue::LongString(v.into());
            args.insert(ShortString::from("x-queue-type"), text("quorum"));
            if let Some((exchange, routing_key)) = dead_letter {
                for (k, v) in [
                    ("x-dead-letter-exchange", exchange),
                    ("x-dead-letter-routing-key", routing_key),
                    ("x-dead-letter-strategy", "at-least-once"),
                    ("x-overflow", "reject-publish"),
                ] {
                    args.insert(ShortString::from(k), text(v));
                }
            }
            args
        };
        let mut main = quorum(Some((&self.dead_exchange, self.dead_routing_key)));
        main.insert(ShortString::from("x-delivery-limit"), AMQPValue::LongInt(DELIVERY_LIMIT));
        [
            (self.queue.clone(), main),
            (self.retry_queue.clone(), quorum(Some((&self.exchange, self.routing_key)))),
            (self.dead_queue.clone(), quorum(None)),
        ]
    }
}

/// Deliveries of one message from the email queue before the broker dead-letters it. The
/// consumer settles every message it reads, so only a message whose handling keeps killing the
/// consumer (its process or its channel) gets near this: after 10 such tries it is parked in
/// the dead-letter queue instead of taking the consumer down for ever. A lost connection or a
/// broker restart may count as a delivery for the messages in flight then; 10 leaves room.
pub const DELIVERY_LIMIT: i32 = 10;

/// Why the email topology could not be declared.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The broker already holds an exchange or queue of that name with other settings
    /// (PRECONDITION_FAILED): typically a classic queue left by an earlier version.
    #[error(
        "RabbitMQ already has a {kind} named '{name}' whose settings differ from what this \
         version declares ({expected}); the broker said: {reply}. Either delete the old {kind} \
         once it is empty ({delete}) and start again, or set AMQP_PREFIX to a new prefix so \
         that the new {kind}s are declared beside the old ones (README, Email: \"Queue types, \
         and migrating from classic queues\")"
    )]
    Incompatible {
        kind: &'static str,
        name: String,
        expected: &'static str,
        delete: String,
        reply: String,
    },
    #[error(transparent)]
    Broker(#[from] lapin::Error),
}

impl TopologyError {
    fn from_declare(kind: &'static str, name: &str, error: lapin::Error) -> Self {
        let precondition_failed = |e: &lapin::Error| match e.kind() {
            lapin::ErrorKind::ProtocolError(amqp)
                if *amqp.kind() == AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED) =>
            {
                Some(amqp.get_message().to_string())
            }
            _ => None,
        };
        let Some(reply) = precondition_failed(&error) else {
            return TopologyError::Broker(error);
        };
        let (expected, delete) = if kind == "queue" {
            (
                "a quorum queue with at-least-once dead-lettering; earlier versions of the \
                 service declared classic queues",
                format!("`rabbitmqctl delete_queue {name}`; messages still in it are lost"),
            )
        } else {
            (
                "a durable direct exchange",
                format!("in the management UI, or `rabbitmqadmin delete exchange name={name}`"),
            )
        };
        TopologyError::Incompatible { kind, name: name.to_owned(), expected, delete, reply }
    }
}

/// How long start-up waits for the declarations once the broker has answered.
pub const DECLARE_LIMIT: Duration = Duration::from_secs(30);
const RECONNECT_BASE: Duration = Duration::from_millis(200);
const RECONNECT_MAX: Duration = Duration::from_secs(5);
/// How often a refused topology is tried again (an operator may have fixed it meanwhile).
const REFUSED_RETRY: Duration = Duration::from_secs(30);

async fn supervise(
    url: String,
    topology: Topology,
    tx: watch::Sender<Link>,
    shutdown: CancellationToken,
) {
    let mut failures = 0;
    loop {
        let attempt = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = Connection::connect(&url, ConnectionProperties::default()) => r,
        };
        // The topology is declared on every (re)connection, before anyone uses it.
        let attempt = match attempt {
            Ok(conn) => {
                tx.send_replace(Link::Declaring);
                match declare(&conn, &topology).await {
                    Ok(()) => Ok(conn),
                    Err(e) => {
                        let _ = conn.close(200, "topology failed".into()).await;
                        Err(e)
                    }
                }
            }
            Err(e) => Err(TopologyError::Broker(e)),
        };
        match attempt {
            Ok(conn) => {
                tracing::info!("connected to RabbitMQ");
                failures = 0;
                let conn = Arc::new(conn);
                tx.send_replace(Link::Up(conn.clone()));
                // Watch the connection; lapin reports a dead connection through its status.
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => {
                            let _ = conn.close(200, "shutting down".into()).await;
                            tx.send_replace(Link::Down);
                            return;
                        }
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                    if !conn.status().connected() {
                        tracing::warn!("RabbitMQ connection lost; reconnecting");
                        tx.send_replace(Link::Down);
                        break;
                    }
                }
            }
            Err(err @ TopologyError::Incompatible { .. }) => {
                metrics::counter!("amqp_errors_total", "op" => "declare").increment(1);
                let why = err.to_string();
                tracing::error!(error = %why, retry_in_s = REFUSED_RETRY.as_secs(), "RabbitMQ refused the email topology");
                tx.send_replace(Link::Refused(why.into()));
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(REFUSED_RETRY) => {}
                }
            }
            Err(err) => {
                tx.send_replace(Link::Down);
                let delay = backoff::exponential(RECONNECT_BASE, failures, RECONNECT_MAX);
                failures += 1;
                tracing::warn!(error = %err, retry_in_ms = delay.as_millis() as u64, "RabbitMQ unreachable");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    tx.send_replace(Link::Down);
}

async fn declare(conn: &Connection, topology: &Topology) -> Result<(), TopologyError> {
    let channel = conn.create_channel().await?;
    topology.declare(&channel).await?;
    let _ = channel.close(200, "declared".into()).await;
    Ok(())
}
