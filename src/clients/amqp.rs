//! RabbitMQ: one supervised connection that reconnects with backoff. The service runs (and
//! keeps taking bookings) while the broker is away; readiness reports it.

use std::{sync::Arc, time::Duration};

use lapin::{Connection, ConnectionProperties};
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
        tokio::spawn(supervise(url, tx, shutdown));
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
}

async fn supervise(
    url: String,
    tx: watch::Sender<Option<Arc<Connection>>>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let attempt = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = Connection::connect(&url, ConnectionProperties::default()) => r,
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
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
    tx.send_replace(None);
}
