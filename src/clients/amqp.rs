//! RabbitMQ: one supervised connection that reconnects with backoff. The service runs (and
//! keeps taking bookings) while the broker is away; readiness reports it.

use std::{sync::Arc, time::Duration};

use lapin::{
    Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, ShortString},
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The broker connection as the rest of the service sees it.
#[derive(Clone)]
pub struct Broker {
    current: watch::Receiver<Option<Arc<Connection>>>,
    prefix: String,
}

impl Broker {
    /// Starts connecting in the background; returns at once.
    pub fn start(url: String, prefix: String, shutdown: CancellationToken) -> Broker {
        let (tx, rx) = watch::channel(None);
        tokio::spawn(supervise(url, Topology::new(&prefix), tx, shutdown));
        Broker { current: rx, prefix }
    }

    /// The live connection, if there is one right now.
    pub fn connection(&self) -> Option<Arc<Connection>> {
        self.current.borrow().clone().filter(|c| c.status().connected())
    }

    /// Waits until connected, or until `limit` passes; true when connected.
    pub async fn wait_connected(&self, limit: Duration) -> bool {
        let mut rx = self.current.clone();
        let connected = rx.wait_for(|c| c.as_ref().is_some_and(|c| c.status().connected()));
        matches!(tokio::time::timeout(limit, connected).await, Ok(Ok(_)))
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
    pub async fn next_connection(&self) -> Option<Arc<Connection>> {
        let mut rx = self.current.clone();
        let conn =
            rx.wait_for(|c| c.as_ref().is_some_and(|c| c.status().connected())).await.ok()?;
        conn.clone()
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

    /// Declares everything (idempotent: the same names and arguments every time).
    pub async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
        let s = |v: &str| ShortString::from(v);
        for exchange in [&self.exchange, &self.dead_exchange] {
            channel
                .exchange_declare(s(exchange), ExchangeKind::Direct, durable, FieldTable::default())
                .await?;
        }
        let queue_opts = QueueDeclareOptions { durable: true, ..Default::default() };
        let mut main_args = FieldTable::default();
        main_args.insert(
            s("x-dead-letter-exchange"),
            AMQPValue::LongString(self.dead_exchange.as_str().into()),
        );
        main_args.insert(
            s("x-dead-letter-routing-key"),
            AMQPValue::LongString(self.dead_routing_key.into()),
        );
        channel.queue_declare(s(&self.queue), queue_opts, main_args).await?;
        channel
            .queue_bind(
                s(&self.queue),
                s(&self.exchange),
                s(self.routing_key),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let mut retry_args = FieldTable::default();
        retry_args.insert(
            s("x-dead-letter-exchange"),
            AMQPValue::LongString(self.exchange.as_str().into()),
        );
        retry_args
            .insert(s("x-dead-letter-routing-key"), AMQPValue::LongString(self.routing_key.into()));
        channel.queue_declare(s(&self.retry_queue), queue_opts, retry_args).await?;
        channel.queue_declare(s(&self.dead_queue), queue_opts, FieldTable::default()).await?;
        channel
            .queue_bind(
                s(&self.dead_queue),
                s(&self.dead_exchange),
                s(self.dead_routing_key),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(())
    }
}

async fn supervise(
    url: String,
    topology: Topology,
    tx: watch::Sender<Option<Arc<Connection>>>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let attempt = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = Connection::connect(&url, ConnectionProperties::default()) => r,
        };
        // The topology is declared on every (re)connection, before anyone uses it.
        let attempt = match attempt {
            Ok(conn) => match declare(&conn, &topology).await {
                Ok(()) => Ok(conn),
                Err(e) => {
                    let _ = conn.close(200, "topology failed".into()).await;
                    Err(e)
                }
            },
            Err(e) => Err(e),
        };
        match attempt {
            Ok(conn) => {
                tracing::info!("connected to RabbitMQ");
                backoff = Duration::from_millis(200);
                let conn = Arc::new(conn);
                tx.send_replace(Some(conn.clone()));
                // Watch the connection; lapin reports a dead connection through its status.
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => {
                            let _ = conn.close(200, "shutting down".into()).await;
                            tx.send_replace(None);
                            return;
                        }
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                    if !conn.status().connected() {
                        tracing::warn!("RabbitMQ connection lost; reconnecting");
                        tx.send_replace(None);
                        break;
                    }
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, retry_in_ms = backoff.as_millis() as u64, "RabbitMQ unreachable");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    tx.send_replace(None);
}

async fn declare(conn: &Connection, topology: &Topology) -> lapin::Result<()> {
    let channel = conn.create_channel().await?;
    topology.declare(&channel).await?;
    let _ = channel.close(200, "declared".into()).await;
    Ok(())
}
