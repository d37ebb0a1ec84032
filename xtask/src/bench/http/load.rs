//! The load generator of `bench http`: `clients` tasks on one HTTP client, each sending its next
//! request as soon as the previous one answered (a closed loop), for a warm-up and then a timed
//! window; latencies of the timed window only. And the server's resident memory, sampled from
//! `/proc/<pid>/status` while the load runs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Deserialize;

/// What one request did.
pub(crate) struct Outcome {
    pub(crate) status: u16,
    /// The list's next cursor, for walks.
    pub(crate) next_cursor: Option<String>,
}

/// What a scenario measured.
#[derive(Debug, Clone)]
pub(crate) struct LoadReport {
    pub(crate) requests: usize,
    pub(crate) seconds: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// Answers by status (transport errors as 0).
    pub(crate) statuses: BTreeMap<u16, usize>,
    /// The server's largest resident set while the scenario ran, MiB.
    pub(crate) peak_rss_mib: Option<f64>,
}

impl LoadReport {
    pub(crate) fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    /// Answers that were not 2xx.
    pub(crate) fn failures(&self) -> usize {
        self.statuses.iter().filter(|(s, _)| !(200..300).contains(*s)).map(|(_, n)| n).sum()
    }
}

#[derive(Deserialize)]
struct Page {
    next_cursor: Option<String>,
}

/// One GET with a bearer token; the status and, for a 200 list, its next cursor.
pub(crate) async fn get(client: &reqwest::Client, url: &str, token: Option<&str>) -> Outcome {
    let mut request = client.get(url);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    match request.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let next_cursor = match r.bytes().await {
                Ok(body) if status == 200 => serde_json::from_slice::<Page>(&body).ok().and_then(|p| p.next_cursor),
                _ => None,
            };
            Outcome { status, next_cursor }
        }
        Err(_) => Outcome { status: 0, next_cursor: None },
    }
}

/// One GET of a console page with the session cookie; the status and, for a 200 page, the
/// path of its "Next page" link when that link leads on (for walks), and the page's size.
pub(crate) async fn get_html(client: &reqwest::Client, url: &str, cookie: &str) -> (Outcome, usize) {
    match client.get(url).header(reqwest::header::COOKIE, cookie).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            match r.bytes().await {
                Ok(body) if status == 200 => {
                    let next = next_page_href(&String::from_utf8_lossy(&body));
                    (Outcome { status, next_cursor: next }, body.len())
                }
                Ok(body) => (Outcome { status, next_cursor: None }, body.len()),
                Err(_) => (Outcome { status: 0, next_cursor: None }, 0),
            }
        }
        Err(_) => (Outcome { status: 0, next_cursor: None }, 0),
    }
}

/// The `href` of the page's enabled "Next page" link, unescaped.
pub(crate) fn next_page_href(html: &str) -> Option<String> {
    let label = html.find("aria-label=\"Next page\"")?;
    let start = html[..label].rfind("<a ")?;
    let end = label + html[label..].find('>')?;
    let tag = &html[start..end];
    if tag.contains("aria-disabled") {
        return None;
    }
    let href = tag.split("href=\"").nth(1)?.split('"').next()?;
    // A URL's query holds `&` (escaped as `&amp;` or `&#38;`); its values are percent-encoded.
    Some(href.replace("&amp;", "&").replace("&#38;", "&"))
}

/// Runs `step` in `clients` closed loops: `warmup`, then `window` timed.
pub(crate) async fn run<F, Fut>(clients: usize, warmup: Duration, window: Duration, pid: u32, step: F) -> LoadReport
where
    F: Fn(usize, u64, Option<String>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Outcome> + Send,
{
    let step = Arc::new(step);
    let start = Instant::now();
    let timed_from = start + warmup;
    let end = timed_from + window;
    let rss = RssSampler::start(pid);
    let mut tasks = Vec::new();
    for client in 0..clients {
        let step = Arc::clone(&step);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
            let mut cursor = None;
            let mut n: u64 = 0;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let outcome = step(client, n, cursor.take()).await;
                n += 1;
                cursor = outcome.next_cursor;
                if sent >= timed_from {
                    latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                    *statuses.entry(outcome.status).or_default() += 1;
                }
            }
            (latencies, statuses)
        }));
    }
    let mut latencies = Vec::new();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for task in tasks {
        if let Ok((l, s)) = task.await {
            latencies.extend(l);
            for (k, v) in s {
                *statuses.entry(k).or_default() += v;
            }
        }
    }
    let seconds = (Instant::now().min(end + Duration::from_secs(60)) - timed_from).as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        f64::from(latencies[i]) / 1_000.0
    };
    LoadReport {
        requests: latencies.len(),
        seconds,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        statuses,
        peak_rss_mib: rss.stop(),
    }
}

/// Samples a process's resident set every 50 ms on a thread of its own.
pub(crate) struct RssSampler {
    stop: Arc<AtomicBool>,
    peak_kib: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    pub(crate) fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak_kib = Arc::new(AtomicU64::new(0));
        let (s, p) = (Arc::clone(&stop), Arc::clone(&peak_kib));
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Ok(kib) = rss_kib(pid) {
                    p.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Self { stop, peak_kib, thread: Some(thread) }
    }

    /// The peak seen, MiB (`None` when no sample could be read).
    pub(crate) fn stop(mut self) -> Option<f64> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
        let kib = self.peak_kib.load(Ordering::Relaxed);
        (kib > 0).then(|| kib as f64 / 1024.0)
    }
}

/// `VmRSS` of a process, KiB.
pub(crate) fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("reading /proc/<pid>/status")?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS line")?;
    line.split_whitespace().nth(1).context("no VmRSS value")?.parse().context("VmRSS is not a number")
}
