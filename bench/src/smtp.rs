//! A minimal SMTP server that keeps what it receives: the load generator's mail sink (it counts
//! confirmation emails for the flash-sale audit) and the tests' stand-in for an SMTP server.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};

/// A minimal SMTP server: accepts every message (or answers 451 while failing) and keeps it.
pub struct SmtpSink {
    pub port: u16,
    messages: Arc<Mutex<Vec<String>>>,
    failing: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        Self::start_on(0).await.expect("an SMTP sink on a free port")
    }

    /// Listens on `port` (0: any free port).
    pub async fn start_on(port: u16) -> std::io::Result<SmtpSink> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        let messages: Arc<Mutex<Vec<String>>> = Arc::default();
        let failing: Arc<AtomicBool> = Arc::default();
        let refused: Arc<AtomicUsize> = Arc::default();
        let state = Session {
            messages: messages.clone(),
            failing: failing.clone(),
            refused: refused.clone(),
        };
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((socket, _)) => {
                        tokio::spawn(session(socket, state.clone()));
                    }
                    // Out of descriptors for a moment (a loaded bench process): keep listening,
                    // the sender retries.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        Ok(SmtpSink { port, messages, failing, refused })
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// How many messages were refused (answered 451 while failing).
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    /// How many messages arrived.
    pub fn count(&self) -> usize {
        self.messages.lock().unwrap().len()
    }

    /// Every message received so far, decoded (subject and body parts readable).
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().iter().map(|m| decode(m)).collect()
    }

    /// Waits until `n` messages match `pred`; returns them.
    pub async fn wait_for(&self, n: usize, pred: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found: Vec<String> = self.messages().into_iter().filter(|m| pred(m)).collect();
            if found.len() >= n {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {n} email(s); got {:#?}",
                self.messages()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What the sessions share.
#[derive(Clone)]
struct Session {
    messages: Arc<Mutex<Vec<String>>>,
    failing: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
}

async fn session(socket: TcpStream, state: Session) {
    let Session { messages, failing, refused } = state;
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
        return;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink\r\n250-8BITMIME\r\n250 OK\r\n",
            "HELO" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "MAIL" if failing.load(Ordering::SeqCst) => {
                refused.fetch_add(1, Ordering::SeqCst);
                b"451 4.3.0 try again later\r\n"
            }
            "MAIL" => b"250 OK\r\n",
            "DATA" => {
                if write.write_all(b"354 go ahead\r\n").await.is_err() {
                    return;
                }
                let mut body = String::new();
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        break;
                    }
                    body.push_str(
                        l.strip_prefix('.').filter(|_| l.starts_with("..")).unwrap_or(&l),
                    );
                    body.push('\n');
                }
                messages.lock().unwrap().push(body);
                b"250 OK queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"502 unknown\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// Decodes base64 and quoted-printable parts and encoded-word headers, so tests can read text.
pub fn decode(message: &str) -> String {
    // Unfold headers first: a folded line continues the previous one.
    let mut unfolded: Vec<String> = Vec::new();
    let mut in_headers = true;
    for line in message.lines() {
        if in_headers && (line.starts_with(' ') || line.starts_with('\t')) && !unfolded.is_empty() {
            let last = unfolded.last_mut().unwrap();
            last.push(' ');
            last.push_str(line.trim_start());
            continue;
        }
        if line.is_empty() || line.starts_with("--") {
            in_headers = line.starts_with("--");
        }
        unfolded.push(line.to_owned());
    }
    let message = unfolded.join("\n");
    let mut out = String::new();
    let mut encoding: Option<&str> = None;
    let mut in_body = false;
    let mut chunk = String::new();
    let flush = |encoding: Option<&str>, chunk: &mut String, out: &mut String| {
        match encoding {
            Some("base64") => out.push_str(&String::from_utf8_lossy(&base64(chunk))),
            Some("quoted-printable") => out.push_str(&quoted_printable(chunk)),
            _ => out.push_str(chunk),
        }
        chunk.clear();
    };
    for line in message.lines() {
        if line.starts_with("--") {
            flush(encoding, &mut chunk, &mut out);
            encoding = None;
            in_body = false;
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if !in_body {
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-transfer-encoding:") {
                encoding = Some(if v.contains("base64") {
                    "base64"
                } else if v.contains("quoted") {
                    "quoted-printable"
                } else {
                    "plain"
                });
            }
            if line.is_empty() {
                in_body = true;
            }
            out.push_str(&encoded_words(line));
            out.push('\n');
        } else if encoding == Some("base64") {
            chunk.push_str(line.trim());
        } else {
            chunk.push_str(line);
            chunk.push('\n');
        }
    }
    flush(encoding, &mut chunk, &mut out);
    out
}

fn encoded_words(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("=?") {
        out.push_str(&rest[..start]);
        let tail = &rest[start + 2..];
        let parts: Vec<&str> = tail.splitn(3, '?').collect();
        if parts.len() < 3 {
            out.push_str(&rest[start..]);
            return out;
        }
        let Some(end) = parts[2].find("?=") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let text = &parts[2][..end];
        let decoded = if parts[1].eq_ignore_ascii_case("b") {
            String::from_utf8_lossy(&base64(text)).into_owned()
        } else {
            quoted_printable(&text.replace('_', " "))
        };
        out.push_str(&decoded);
        rest = &parts[2][end + 2..];
        rest = rest.trim_start_matches(' ').strip_prefix("=?").map_or(rest, |_| rest.trim_start());
    }
    out.push_str(rest);
    out
}

fn base64(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut bits, mut n, mut out) = (0u32, 0, Vec::new());
    for c in s.bytes().filter(|c| *c != b'=' && !c.is_ascii_whitespace()) {
        let Some(v) = ALPHABET.iter().position(|&a| a == c) else { continue };
        bits = (bits << 6) | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}

fn quoted_printable(s: &str) -> String {
    let mut bytes = Vec::new();
    let raw = s.replace("=\n", "").replace("=\r\n", "");
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'='
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&raw[i + 1..i + 3], 16)
        {
            bytes.push(v);
            i += 3;
            continue;
        }
        bytes.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
