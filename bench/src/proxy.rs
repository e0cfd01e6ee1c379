//! A TCP proxy the bench owns, in front of a dependency (Postgres, Redis, RabbitMQ): switched
//! down it drops every open link and refuses new ones; with a delay, every answer of the
//! server is held that long (a round trip grows by it). The chaos mode's faults go through it.

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

/// A proxy from `127.0.0.1:port` to `target`.
pub struct TcpProxy {
    pub port: u16,
    target: String,
    up: Arc<AtomicBool>,
    delay_ms: Arc<AtomicU64>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on `port` (0: any free port) and forwards to `target` (`host:port`).
    pub async fn start(port: u16, target: &str) -> std::io::Result<TcpProxy> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        let up = Arc::new(AtomicBool::new(true));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (u, d, l, t) = (up.clone(), delay_ms.clone(), links.clone(), target.to_owned());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !u.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let (delay, target) = (d.clone(), t.clone());
                let link = tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&target).await else { return };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::select! {
                        _ = pump(client_read, server_write, Arc::new(AtomicU64::new(0))) => {}
                        _ = pump(server_read, client_write, delay) => {}
                    }
                });
                let mut links = l.lock().unwrap();
                links.retain(|h| !h.is_finished());
                links.push(link);
            }
        });
        Ok(TcpProxy { port, target: target.to_owned(), up, delay_ms, links, accept })
    }

    /// Where it forwards to.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Up: forwards. Down: every open link is cut and new connections are closed at once.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            for link in self.links.lock().unwrap().drain(..) {
                link.abort();
            }
        }
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    /// Holds every answer of the server for `delay` (zero: none).
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.set_up(false);
    }
}

/// Copies `from` to `to`, each chunk written `delay` after it was read (order kept).
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
