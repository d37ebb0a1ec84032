//! `GET /metrics` (SPEC §10): Prometheus text exposition of request counts and
//! latencies by route, and the database pool's gauges.
//!
//! A middleware times every request and records it under its *route template*
//! (`/api/v1/users/{id}`, never the concrete path, so the number of series stays bounded; a
//! request no route matched is recorded as `unmatched`), its method and its status. Latency is
//! a histogram with fixed buckets. The pool's figures come from [`Readiness::pool`] at scrape
//! time. No external registry crate is needed for so few series.
//!
//! `/metrics` needs no credentials, as Prometheus scrapers expect; it reveals route names and
//! counts, nothing of any organization. Operators who expose the port publicly should restrict
//! the path at their proxy (decision 0017).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::{AppState, Readiness};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Debug, Default)]
struct Series {
    /// Requests per status code.
    statuses: BTreeMap<u16, u64>,
    /// Requests at or below each bucket's bound (not cumulative; summed when rendered).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

/// Request counts and latencies by `(method, route)`. Shared by every request of a process.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String), Series>>,
}

impl Metrics {
    /// Records one answered request.
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let Ok(mut series) = self.series.lock() else { return };
        let s = series.entry((method.to_owned(), route.to_owned())).or_default();
        *s.statuses.entry(status).or_default() += 1;
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            s.buckets[i] += 1;
        }
        s.count += 1;
        s.sum_seconds += seconds;
    }

    /// The Prometheus text of the request series.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let Ok(series) = self.series.lock() else { return out };
        out.push_str(
            "# HELP roster_http_requests_total HTTP requests answered, by route template, method and status.\n",
        );
        out.push_str("# TYPE roster_http_requests_total counter\n");
        for ((method, route), s) in series.iter() {
            for (status, n) in &s.statuses {
                let _ = writeln!(
                    out,
                    "roster_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        out.push_str(
            "# HELP roster_http_request_duration_seconds Time to answer HTTP requests, by route template and method.\n",
        );
        out.push_str("# TYPE roster_http_request_duration_seconds histogram\n");
        for ((method, route), s) in series.iter() {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(s.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "roster_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(out, "roster_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "roster_http_request_duration_seconds_sum{{{labels}}} {}", s.sum_seconds);
            let _ = writeln!(out, "roster_http_request_duration_seconds_count{{{labels}}} {}", s.count);
        }
        out
    }
}

/// A label value as the exposition format wants it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The pool's gauges.
fn render_pool(readiness: &dyn Readiness) -> String {
    let Some(pool) = readiness.pool() else { return String::new() };
    let mut out = String::new();
    for (name, help, value) in [
        ("roster_db_pool_connections", "Connections open in the database pool.", pool.open),
        ("roster_db_pool_idle_connections", "Open connections not in use.", pool.idle),
        ("roster_db_pool_max_connections", "The most connections the pool opens.", pool.max),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
    }
    out
}

/// The middleware: times the request and records it (see the module docs).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state.metrics.record(&method, &route, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// The exposition.
pub async fn render(state: &AppState) -> Response {
    let mut text = state.metrics.render();
    text.push_str(&render_pool(state.readiness.as_ref()));
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_and_status_with_cumulative_buckets() {
        let m = Metrics::default();
        m.record("GET", "/api/v1/users/{id}", 200, 0.003);
        m.record("GET", "/api/v1/users/{id}", 404, 0.2);
        m.record("GET", "unmatched", 404, 0.0001);
        let text = m.render();
        assert!(
            text.contains("roster_http_requests_total{method=\"GET\",route=\"/api/v1/users/{id}\",status=\"200\"} 1")
        );
        assert!(
            text.contains("roster_http_requests_total{method=\"GET\",route=\"/api/v1/users/{id}\",status=\"404\"} 1")
        );
        assert!(text.contains("route=\"/api/v1/users/{id}\",le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("route=\"/api/v1/users/{id}\",le=\"0.25\"} 2"), "{text}");
        assert!(text.contains("roster_http_request_duration_seconds_count{method=\"GET\",route=\"unmatched\"} 1"));
    }
}
