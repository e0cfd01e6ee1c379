//! A waiting-room stream read the way a browser's `EventSource` reads it: one HTTP/1.1
//! connection, events parsed line by line. The access token goes in the `Authorization` header
//! (a browser, which cannot send it, fetches a stream ticket first; the stream costs the same).

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    net::TcpStream,
};

pub struct QueueStream {
    lines: Lines<BufReader<TcpStream>>,
}

impl QueueStream {
    /// Connects to `addr` (`host:port`) and opens the concert's stream; fails unless it is 200.
    pub async fn open(addr: &str, concert: i64, token: &str) -> anyhow::Result<QueueStream> {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!(
            "GET /api/queue/{concert}/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut lines = BufReader::new(stream).lines();
        let status = lines.next_line().await?.context("no status line")?;
        if !status.contains(" 200 ") {
            bail!("stream refused: {status}");
        }
        Ok(QueueStream { lines })
    }

    /// The next event's name and JSON data; `None` when the stream ends.
    pub async fn next_event(&mut self) -> anyhow::Result<Option<(String, Value)>> {
        let mut name = None;
        while let Some(line) = self.lines.next_line().await? {
            if let Some(n) = line.strip_prefix("event:") {
                name = Some(n.trim().to_owned());
            } else if let Some(data) = line.strip_prefix("data:")
                && let Some(name) = name.take()
            {
                return Ok(Some((name, serde_json::from_str(data.trim())?)));
            }
        }
        Ok(None)
    }
}
