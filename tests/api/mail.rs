//! Test doubles that speak the real protocols: the SMTP sink (shared with the load generator)
//! and a TCP proxy in front of RabbitMQ, Postgres or Redis that can be switched off and on, or
//! slowed down.

pub use ticketing_bench::smtp::SmtpSink;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        TcpListener, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    sync::mpsc,
    task::JoinHandle,
    time::Instant,
};

/// A TCP proxy to a server that can be switched off (dropping every connection) and on, and
/// can delay what the server sends back (added latency, not throttling: each chunk is held
/// for the delay from when it arrived).
pub struct TcpProxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    delay_ms: Arc<AtomicU64>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl TcpProxy {
    /// A proxy to the test RabbitMQ.
    pub async fn broker() -> TcpProxy {
        TcpProxy::start("127.0.0.1:5672").await
    }

    /// A proxy to the test Postgres.
    pub async fn postgres() -> TcpProxy {
        TcpProxy::start("127.0.0.1:5432").await
    }

    /// A proxy to the test Redis.
    pub async fn redis() -> TcpProxy {
        TcpProxy::start("127.0.0.1:6379").await
    }

    pub async fn start(target: &'static str) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (u, d, l) = (up.clone(), delay_ms.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !u.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let delay = d.clone();
                let link = tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(target).await {
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        let (client_read, client_write) = client.into_split();
                        let (server_read, server_write) = server.into_split();
                        let no_delay = Arc::new(AtomicU64::new(0));
                        tokio::select! {
                            _ = pump(client_read, server_write, no_delay) => {}
                            _ = pump(server_read, client_write, delay) => {}
                        }
                    }
                });
                l.lock().unwrap().push(link);
            }
        });
        TcpProxy { port, up, delay_ms, links }
    }

    /// The broker's address through the proxy.
    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Holds every answer of the server for `delay` (a round trip grows by it).
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            for link in self.links.lock().unwrap().drain(..) {
                link.abort();
            }
        }
    }
}

/// Copies `from` to `to`, each chunk written `delay` after it was read.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Arc<AtomicU64>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let due = Instant::now() + Duration::from_millis(delay.load(Ordering::SeqCst));
                    if tx.send((due, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
