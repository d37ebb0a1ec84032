//! `GET /metrics`: Prometheus text with request counts and latencies by route
//! template, and the database pool's gauges.

use reqwest::{Method, StatusCode};

use crate::helpers::apps;

/// The value of the first sample line starting with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(prefix)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_show_the_pool() {
    for app in apps("metrics").await {
        let token = app.login().await;
        let user = app.create_user(&token, "counted@demo.example").await;
        let id = user["id"].as_str().unwrap();
        for _ in 0..3 {
            app.get_ok(&format!("/api/v1/users/{id}"), &token).await;
        }
        let r =
            app.authed(Method::GET, "/api/v1/users/00000000-0000-0000-0000-000000000001", &token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        app.request(Method::GET, "/no/such/route").send().await.unwrap();

        let r = app.request(Method::GET, "/metrics").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", app.engine);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        let text = r.text().await.unwrap();
        let ok = "roster_http_requests_total{method=\"GET\",route=\"/api/v1/users/{id}\",status=\"200\"}";
        assert_eq!(sample(&text, ok), Some(3.0), "{}: {text}", app.engine);
        let missing = "roster_http_requests_total{method=\"GET\",route=\"/api/v1/users/{id}\",status=\"404\"}";
        assert_eq!(sample(&text, missing), Some(1.0));
        assert_eq!(
            sample(&text, "roster_http_requests_total{method=\"POST\",route=\"/api/v1/users\",status=\"201\"}"),
            Some(1.0)
        );
        assert!(
            sample(&text, "roster_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}").is_some()
        );
        assert!(!text.contains(id), "{}: concrete ids never become labels", app.engine);
        let count = "roster_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/users/{id}\"}";
        assert_eq!(sample(&text, count), Some(4.0));
        let inf =
            "roster_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/users/{id}\",le=\"+Inf\"}";
        assert_eq!(sample(&text, inf), Some(4.0));
        let max = sample(&text, "roster_db_pool_max_connections ").expect("the pool's maximum");
        let open = sample(&text, "roster_db_pool_connections ").expect("open connections");
        assert!(max >= 1.0 && open <= max, "{}: {open} of {max}", app.engine);
        assert!(sample(&text, "roster_db_pool_idle_connections ").is_some());
        app.finish().await;
    }
}
