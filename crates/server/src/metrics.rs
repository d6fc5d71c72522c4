//! Prometheus metrics (`GET /metrics`, text exposition format).

use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub sse_clients: Gauge,
    pub field_events_accepted: Counter,
    pub field_events_duplicate: Counter,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sallyport");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let mut m = Metrics {
            registry: Mutex::new(Registry::default()),
            requests: requests.clone(),
            latency: latency.clone(),
            sse_clients: Gauge::default(),
            field_events_accepted: Counter::default(),
            field_events_duplicate: Counter::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests,
        );
        registry.register(
            "http_request_duration_seconds",
            "Handler latency by route",
            latency,
        );
        registry.register(
            "sse_clients",
            "Connected live-update clients",
            m.sse_clients.clone(),
        );
        registry.register(
            "field_events_accepted",
            "Field custody events stored",
            m.field_events_accepted.clone(),
        );
        registry.register(
            "field_events_duplicate",
            "Field custody events re-sent and ignored",
            m.field_events_duplicate.clone(),
        );
        registry.register(
            "read_cache_hits",
            "Read-model cache hits",
            m.cache_hits.clone(),
        );
        registry.register(
            "read_cache_misses",
            "Read-model cache misses",
            m.cache_misses.clone(),
        );
        m.registry = Mutex::new(registry);
        m
    }
}

impl Metrics {
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let reg = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
        out
    }
}

/// Middleware: count and time every request by its route template.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = req.method().to_string();
    let t = Instant::now();
    let resp = next.run(req).await;
    let m = state.metrics();
    m.latency
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(t.elapsed().as_secs_f64());
    m.requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: resp.status().as_u16(),
        })
        .inc();
    resp
}

/// `GET /metrics`.
pub async fn handler(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics().encode(),
    )
}
