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

    /// Every sample, in ms (for a worker's report).
    pub fn millis(&self) -> Vec<f64> {
        self.0.iter().map(|d| d.as_secs_f64() * 1000.0).collect()
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

/// Samples of a run by second since its start: per second, how many and their latency.
pub struct Timeline {
    start: std::time::Instant,
    samples: std::sync::Mutex<Vec<(u64, f64)>>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline { start: std::time::Instant::now(), samples: std::sync::Mutex::default() }
    }
}

impl Timeline {
    pub fn record(&self, latency: Duration) {
        let second = self.start.elapsed().as_secs();
        self.samples.lock().unwrap().push((second, latency.as_secs_f64() * 1000.0));
    }

    /// (second, count, p50 ms, p99 ms) for every second of the run.
    pub fn per_second(&self) -> Vec<(u64, u64, f64, f64)> {
        let samples = self.samples.lock().unwrap();
        let last = samples.iter().map(|(s, _)| *s).max().unwrap_or(0);
        let mut by_second: Vec<Latencies> = (0..=last).map(|_| Latencies::default()).collect();
        for (second, ms) in samples.iter() {
            by_second[*second as usize].record(Duration::from_secs_f64(ms / 1000.0));
        }
        by_second
            .into_iter()
            .enumerate()
            .map(|(i, mut l)| {
                (
                    i as u64,
                    l.len() as u64,
                    l.percentile(50.0).as_secs_f64() * 1000.0,
                    l.percentile(99.0).as_secs_f64() * 1000.0,
                )
            })
            .collect()
    }
}

/// The timeline as JSON rows.
pub fn timeline_json(timeline: &[(u64, u64, f64, f64)]) -> serde_json::Value {
    timeline
        .iter()
        .map(|(s, n, p50, p99)| serde_json::json!({"second": s, "count": n, "p50_ms": p50, "p99_ms": p99}))
        .collect()
}

/// Latency summary as JSON.
pub fn latencies_json(l: &mut Latencies) -> serde_json::Value {
    let n = l.len();
    let mut ms = |p: f64| l.percentile(p).as_secs_f64() * 1000.0;
    serde_json::json!({"n": n, "p50_ms": ms(50.0), "p90_ms": ms(90.0), "p99_ms": ms(99.0), "p999_ms": ms(99.9), "max_ms": ms(100.0)})
}

/// Writes `--json` and `--svg` when asked.
pub fn write_outputs(
    json_path: Option<&str>,
    svg_path: Option<&str>,
    json: &serde_json::Value,
    title: &str,
    bars: &str,
    lines: &str,
    timeline: &[(u64, u64, f64, f64)],
) -> anyhow::Result<()> {
    if let Some(path) = json_path {
        std::fs::write(path, serde_json::to_string_pretty(json)?)?;
    }
    if let Some(path) = svg_path {
        std::fs::write(path, svg_chart_labeled(title, bars, lines, timeline))?;
    }
    Ok(())
}

/// A line on stderr every second while `counter` grows: a progress indicator.
pub fn progress(
    label: &'static str,
    counter: std::sync::Arc<std::sync::atomic::AtomicU64>,
    total: Option<u64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = std::time::Instant::now();
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let n = counter.load(std::sync::atomic::Ordering::Relaxed);
            let of = total.map(|t| format!("/{t}")).unwrap_or_default();
            eprint!("\r{label}: {n}{of} after {}s   ", start.elapsed().as_secs());
        }
    })
}

/// An SVG chart of a run: confirmations per second (bars) and hold latency p50/p99 (lines).
pub fn svg_chart(title: &str, timeline: &[(u64, u64, f64, f64)]) -> String {
    svg_chart_labeled(title, "confirmations per second", "hold", timeline)
}

/// An SVG chart: `bars` per second (bars) and `lines` latency p50/p99 per second (lines).
pub fn svg_chart_labeled(
    title: &str,
    bars: &str,
    lines: &str,
    timeline: &[(u64, u64, f64, f64)],
) -> String {
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
            r#"<text x="{:.1}" y="{:.1}" fill="{color}" text-anchor="end">{lines} {series}</text>"#,
            w - pad - 60.0,
            if pick == 2 { 62.0 } else { 77.0 }
        ));
    }
    out.push_str(&format!(
        r##"<line x1="{pad}" y1="{b}" x2="{r}" y2="{b}" stroke="black"/><text x="{pad}" y="{t}">0 s</text><text x="{r2}" y="{t}">{secs} s</text><text x="5" y="{pad}">{max_rate:.0}/s</text><text x="{r}" y="{pad2}" text-anchor="end">{max_ms:.0} ms</text><text x="{pad}" y="38" fill="#3182bd">{bars}</text></svg>"##,
        b = h - pad,
        r = w - pad,
        t = h - pad + 18.0,
        r2 = w - pad - 30.0,
        secs = timeline.len(),
        pad2 = pad - 5.0,
    ));
    out
}

/// Now, in Unix seconds.
pub fn chrono_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Unix seconds → RFC 3339 (UTC).
pub fn iso(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default().to_rfc3339()
}

/// One panel of [`svg_panels`]: named series of (x, y) points on one y scale.
pub struct Panel {
    pub title: String,
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

/// Panels stacked over one shared x axis (`x_label`), each with its own y scale from 0.
pub fn svg_panels(title: &str, x_label: &str, panels: &[Panel]) -> String {
    const COLORS: [&str; 6] = ["#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363", "#d6616b"];
    let (w, panel_h, pad, top) = (900.0, 150.0, 60.0, 40.0);
    let h = top + panels.len() as f64 * (panel_h + 30.0) + 30.0;
    let points = || panels.iter().flat_map(|p| p.series.iter().flat_map(|s| s.1.iter()));
    let x_max = points().map(|p| p.0).fold(0.0_f64, f64::max).max(1e-9);
    let x = |v: f64| pad + v * (w - 2.0 * pad) / x_max;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{pad}" y="22" font-size="14">{title}</text>"#
    );
    for (k, panel) in panels.iter().enumerate() {
        let y0 = top + k as f64 * (panel_h + 30.0) + 20.0;
        let bottom = y0 + panel_h;
        let y_max = panel
            .series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.1))
            .fold(0.0_f64, f64::max)
            .max(1.0)
            * 1.1;
        let y = |v: f64| bottom - v * panel_h / y_max;
        out.push_str(&format!(
            r##"<text x="{pad}" y="{:.1}" font-weight="bold">{}</text><line x1="{pad}" y1="{bottom:.1}" x2="{:.1}" y2="{bottom:.1}" stroke="black"/><line x1="{pad}" y1="{y0:.1}" x2="{pad}" y2="{bottom:.1}" stroke="black"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><text x="{:.1}" y="{:.1}" text-anchor="end">0</text>"##,
            y0 - 6.0,
            panel.title,
            w - pad,
            pad - 4.0,
            y0 + 10.0,
            axis_value(y_max),
            pad - 4.0,
            bottom,
        ));
        for (i, (name, series)) in panel.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let line: Vec<String> =
                series.iter().map(|(a, b)| format!("{:.1},{:.1}", x(*a), y(*b))).collect();
            out.push_str(&format!(
                r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
                line.join(" ")
            ));
            for (a, b) in series {
                out.push_str(&format!(
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2" fill="{color}"/>"#,
                    x(*a),
                    y(*b)
                ));
            }
            out.push_str(&format!(
                r#"<text x="{:.1}" y="{:.1}" fill="{color}" text-anchor="end">{name}</text>"#,
                w - pad,
                y0 + 8.0 + 14.0 * i as f64
            ));
        }
    }
    out.push_str(&format!(
        r#"<text x="{pad}" y="{:.1}">0</text><text x="{:.1}" y="{:.1}" text-anchor="end">{} {x_label}</text></svg>"#,
        h - 12.0,
        w - pad,
        h - 12.0,
        axis_value(x_max),
    ));
    out
}

/// A round label for an axis maximum.
fn axis_value(v: f64) -> String {
    if v >= 100.0 { format!("{v:.0}") } else { format!("{v:.1}") }
}
