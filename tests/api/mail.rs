//! Test doubles that speak the real protocols: the SMTP sink (shared with the load generator)
//! and a TCP proxy in front of RabbitMQ or Postgres that can be switched off and on.

pub use ticketing_bench::smtp::SmtpSink;

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use tokio::{
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

/// A TCP proxy to a server that can be switched off (dropping every connection) and on.
pub struct TcpProxy {
    pub port: u16,
    up: Arc<AtomicBool>,
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

    pub async fn start(target: &'static str) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (u, l) = (up.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !u.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut broker) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut broker).await;
                    }
                });
                l.lock().unwrap().push(link);
            }
        });
        TcpProxy { port, up, links }
    }

    /// The broker's address through the proxy.
    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
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
