//! The live seat map as a browser follows it: the layout once, then the availability stream
//! (`snapshot`, then `delta` events) applied to a local copy of every seat's state. One raw
//! HTTP/1.1 connection per stream, so ten thousand of them stay cheap in memory.

use std::{collections::HashMap, sync::Arc};

use anyhow::{Context, bail, ensure};
use base64::Engine as _;
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

/// The seat states of the availability encoding, by their 2-bit code.
pub const STATES: [&str; 4] = ["AVAILABLE", "HELD", "RESERVED", "SOLD"];

/// The code of a state name; `None` for an unknown name.
pub fn code(state: &str) -> Option<u8> {
    STATES.iter().position(|s| *s == state).map(|i| i as u8)
}

/// A concert's layout as far as the states need it: seat ids in layout order.
pub struct Layout {
    pub version: String,
    pub ids: Vec<i64>,
    pub index: HashMap<i64, usize>,
}

impl Layout {
    /// Fetches `GET /api/seat/concert/{concert}/layout`.
    pub async fn fetch(client: &reqwest::Client, base: &str, concert: i64) -> anyhow::Result<Self> {
        let layout: Value = client
            .get(format!("{base}/api/seat/concert/{concert}/layout"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let ids: Vec<i64> = layout["ids"]
            .as_array()
            .context("layout ids")?
            .iter()
            .filter_map(Value::as_i64)
            .collect();
        let index = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let version = layout["version"].as_str().unwrap_or_default().to_owned();
        Ok(Layout { version, ids, index })
    }
}

/// The 2-bit states of an availability answer (or `snapshot` event), unpacked: one code a seat.
pub fn decode(availability: &Value) -> anyhow::Result<Vec<u8>> {
    ensure!(availability["encoding"] == "2bit-base64", "encoding {}", availability["encoding"]);
    let count = availability["count"].as_u64().context("count")? as usize;
    let packed = base64::engine::general_purpose::STANDARD
        .decode(availability["states"].as_str().context("states")?)?;
    ensure!(packed.len() == count.div_ceil(4), "2 bits a seat");
    Ok((0..count).map(|i| (packed[i / 4] >> (6 - 2 * (i % 4))) & 3).collect())
}

/// One server-sent event.
#[derive(Debug)]
pub struct Event {
    pub name: String,
    pub id: Option<String>,
    pub data: String,
}

/// An open availability stream on a raw connection (chunked HTTP/1.1, as hyper sends it).
pub struct AvailabilityStream {
    reader: BufReader<TcpStream>,
    buffer: String,
}

impl AvailabilityStream {
    /// Connects to `addr` (`host:port`) and opens the concert's stream; fails unless it is 200.
    pub async fn open(
        addr: &str,
        concert: i64,
        last_event_id: Option<u64>,
    ) -> anyhow::Result<Self> {
        let mut stream = TcpStream::connect(addr).await?;
        let resume = last_event_id.map(|id| format!("Last-Event-ID: {id}\r\n")).unwrap_or_default();
        let request = format!(
            "GET /api/seat/concert/{concert}/availability/stream HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{resume}\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut reader = BufReader::with_capacity(4096, stream);
        let mut line = String::new();
        reader.read_line(&mut line).await?;
        if !line.contains(" 200 ") {
            bail!("stream refused: {}", line.trim());
        }
        let mut chunked = false;
        loop {
            line.clear();
            ensure!(reader.read_line(&mut line).await? > 0, "the headers ended early");
            if line.trim().is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
        }
        ensure!(chunked, "the stream is not chunked");
        Ok(AvailabilityStream { reader, buffer: String::new() })
    }

    /// The next event (comments and heartbeats skipped); `None` when the stream ends.
    pub async fn next_event(&mut self) -> anyhow::Result<Option<Event>> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned())
                };
                if let (Some(name), Some(data)) = (field("event:"), field("data:")) {
                    return Ok(Some(Event { name, id: field("id:"), data }));
                }
            }
            if !self.read_chunk().await? {
                return Ok(None);
            }
        }
    }

    /// Appends one chunk of the body to the buffer; false at the end of the body.
    async fn read_chunk(&mut self) -> anyhow::Result<bool> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).await? == 0 {
            return Ok(false);
        }
        let size = line.trim().split(';').next().unwrap_or_default();
        let size =
            usize::from_str_radix(size, 16).with_context(|| format!("chunk size {line:?}"))?;
        if size == 0 {
            return Ok(false);
        }
        let mut chunk = vec![0; size + 2];
        self.reader.read_exact(&mut chunk).await?;
        chunk.truncate(size);
        self.buffer.push_str(std::str::from_utf8(&chunk)?);
        Ok(true)
    }
}

/// A client's copy of every seat's state, kept by applying the stream's events.
pub struct Mirror {
    pub layout: Arc<Layout>,
    pub states: Vec<u8>,
    pub version: u64,
    /// Seats the last applied event changed (`delta`), or every seat (`snapshot`).
    pub changed: Changed,
}

/// What the last event changed.
#[derive(Debug, PartialEq, Eq)]
pub enum Changed {
    Nothing,
    Seats(Vec<(i64, u8)>),
    Everything,
}

impl Mirror {
    pub fn new(layout: Arc<Layout>) -> Mirror {
        Mirror { layout, states: Vec::new(), version: 0, changed: Changed::Nothing }
    }

    /// Applies one event. A `layout` event fails: the benchmarks never change seats.
    pub fn apply(&mut self, event: &Event) -> anyhow::Result<()> {
        match event.name.as_str() {
            "snapshot" => {
                let data: Value = serde_json::from_str(&event.data)?;
                let states = decode(&data)?;
                ensure!(states.len() == self.layout.ids.len(), "a snapshot of every seat");
                self.states = states;
                self.version = data["version"].as_u64().context("version")?;
                self.changed = Changed::Everything;
            }
            "delta" => {
                let data: Value = serde_json::from_str(&event.data)?;
                let from = data["fromVersion"].as_u64().context("fromVersion")?;
                ensure!(from == self.version, "a delta from {from} on version {}", self.version);
                let mut seats = Vec::new();
                for change in data["changes"].as_array().context("changes")? {
                    let seat = change[0].as_i64().context("seat id")?;
                    let state = change[1].as_str().and_then(code).context("state")?;
                    let i = *self.layout.index.get(&seat).context("a seat of the layout")?;
                    self.states[i] = state;
                    seats.push((seat, state));
                }
                self.version = data["toVersion"].as_u64().context("toVersion")?;
                self.changed = Changed::Seats(seats);
            }
            "layout" => bail!("the layout changed during the benchmark"),
            other => bail!("unexpected event {other}"),
        }
        Ok(())
    }

    /// The state of a seat, by id.
    pub fn state(&self, seat: i64) -> Option<u8> {
        self.layout.index.get(&seat).map(|i| self.states[*i])
    }

    /// Seats in a state, by id.
    pub fn seats_in(&self, state: u8) -> impl Iterator<Item = i64> + '_ {
        self.layout
            .ids
            .iter()
            .zip(&self.states)
            .filter(move |(_, s)| **s == state)
            .map(|(id, _)| *id)
    }

    /// How many seats are in each state (AVAILABLE, HELD, RESERVED, SOLD).
    pub fn counts(&self) -> [usize; 4] {
        let mut counts = [0; 4];
        for s in &self.states {
            counts[*s as usize] += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(ids: &[i64]) -> Arc<Layout> {
        let index = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        Arc::new(Layout { version: "v".into(), ids: ids.to_vec(), index })
    }

    #[test]
    fn decode_reads_two_bits_a_seat_most_significant_first() {
        // 0b00_01_10_11, 0b01_000000: AVAILABLE HELD RESERVED SOLD, HELD
        let states = base64::engine::general_purpose::STANDARD.encode([0b0001_1011, 0b0100_0000]);
        let value = serde_json::json!({"encoding": "2bit-base64", "count": 5, "states": states});
        assert_eq!(decode(&value).unwrap(), [0, 1, 2, 3, 1]);
    }

    #[test]
    fn a_mirror_follows_a_snapshot_and_its_deltas_and_refuses_a_gap() {
        let mut mirror = Mirror::new(layout(&[7, 8, 9]));
        let states = base64::engine::general_purpose::STANDARD.encode([0b0000_1100]);
        let snapshot =
            format!(r#"{{"version":4,"count":3,"encoding":"2bit-base64","states":"{states}"}}"#);
        mirror.apply(&Event { name: "snapshot".into(), id: None, data: snapshot }).unwrap();
        assert_eq!(mirror.counts(), [2, 0, 0, 1]);
        let delta = r#"{"fromVersion":4,"toVersion":6,"changes":[[7,"HELD"],[8,"AVAILABLE"]]}"#;
        mirror.apply(&Event { name: "delta".into(), id: None, data: delta.into() }).unwrap();
        assert_eq!((mirror.version, mirror.state(7), mirror.state(8)), (6, Some(1), Some(0)));
        assert_eq!(mirror.changed, Changed::Seats(vec![(7, 1), (8, 0)]));
        assert_eq!(mirror.seats_in(0).collect::<Vec<_>>(), [8]);
        let gap = r#"{"fromVersion":9,"toVersion":10,"changes":[]}"#;
        assert!(mirror.apply(&Event { name: "delta".into(), id: None, data: gap.into() }).is_err());
    }
}
