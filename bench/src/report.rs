//! Latency percentiles.

use std::time::Duration;

/// Latencies of one kind of request.
#[derive(Debug, Default)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn record(&mut self, d: Duration) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `p`-th percentile (0–100), nearest rank.
    pub fn percentile(&mut self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        self.0.sort_unstable();
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    pub fn summary(&mut self) -> String {
        format!(
            "n={} p50={:.1}ms p90={:.1}ms p99={:.1}ms max={:.1}ms",
            self.len(),
            ms(self.percentile(50.0)),
            ms(self.percentile(90.0)),
            ms(self.percentile(99.0)),
            ms(self.percentile(100.0)),
        )
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// An SVG chart of a run: confirmations per second (bars) and hold latency p50/p99 (lines).
pub fn svg_chart(title: &str, timeline: &[(u64, u64, f64, f64)]) -> String {
    let (w, h, pad) = (900.0, 360.0, 50.0);
    let seconds = timeline.len().max(1) as f64;
    let max_rate = timeline.iter().map(|t| t.1).max().unwrap_or(1).max(1) as f64;
    let max_ms = timeline.iter().map(|t| t.3).fold(1.0_f64, f64::max);
    let x = |i: f64| pad + i * (w - 2.0 * pad) / seconds;
    let y_rate = |v: f64| h - pad - v * (h - 2.0 * pad) / max_rate;
    let y_ms = |v: f64| h - pad - v * (h - 2.0 * pad) / max_ms;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{pad}" y="20" font-size="14">{title}</text>"#
    );
    let bar = (w - 2.0 * pad) / seconds * 0.8;
    for (i, (_, n, _, _)) in timeline.iter().enumerate() {
        let top = y_rate(*n as f64);
        out.push_str(&format!(
            r##"<rect x="{:.1}" y="{top:.1}" width="{bar:.1}" height="{:.1}" fill="#9ecae1"/>"##,
            x(i as f64),
            h - pad - top
        ));
    }
    for (series, color, pick) in [("p50", "#31a354", 2usize), ("p99", "#e6550d", 3usize)] {
        let points: Vec<String> = timeline
            .iter()
            .enumerate()
            .map(|(i, t)| {
                format!("{:.1},{:.1}", x(i as f64 + 0.4), y_ms(if pick == 2 { t.2 } else { t.3 }))
            })
            .collect();
        out.push_str(&format!(
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        ));
        out.push_str(&format!(
            r#"<text x="{:.1}" y="{:.1}" fill="{color}">hold {series}</text>"#,
            w - pad - 60.0,
            if pick == 2 { 40.0 } else { 55.0 }
        ));
    }
    out.push_str(&format!(
        r##"<line x1="{pad}" y1="{b}" x2="{r}" y2="{b}" stroke="black"/><text x="{pad}" y="{t}">0 s</text><text x="{r2}" y="{t}">{secs} s</text><text x="5" y="{pad}">{max_rate:.0}/s</text><text x="{r}" y="{pad2}" text-anchor="end">{max_ms:.0} ms</text><text x="{pad}" y="38" fill="#3182bd">confirmations per second</text></svg>"##,
        b = h - pad,
        r = w - pad,
        t = h - pad + 18.0,
        r2 = w - pad - 30.0,
        secs = timeline.len(),
        pad2 = pad - 5.0,
    ));
    out
}
