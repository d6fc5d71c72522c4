//! Shared server state: the store, the live bus, the read-model cache, limits.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use sallyport_store::Store;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::auth::Auth;
use crate::config::Config;
use crate::live::{LiveBus, LiveEvent};
use crate::metrics::Metrics;
use crate::problem::ApiError;

/// Alerts and movements remembered for the dashboard and the sitrep.
pub const RECENT_EVENTS: usize = 500;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Store,
    bus: LiveBus,
    config: Config,
    auth: Auth,
    metrics: Metrics,
    cache: ReadCache,
    plans: crate::plans::PlanCache,
    threat: crate::threat::ThreatCache,
    recent: Mutex<VecDeque<(DateTime<Utc>, LiveEvent)>>,
    limiter: DefaultKeyedRateLimiter<String>,
    shutdown: tokio::sync::watch::Sender<bool>,
    started: Instant,
}

impl AppState {
    pub fn new(store: Store, bus: LiveBus, config: Config, auth: Auth) -> Self {
        let per_s = std::num::NonZeroU32::new(config.rate_per_second.max(1))
            .unwrap_or(std::num::NonZeroU32::MIN);
        let burst = std::num::NonZeroU32::new(config.rate_burst.max(1))
            .unwrap_or(std::num::NonZeroU32::MIN);
        AppState(Arc::new(Inner {
            limiter: RateLimiter::keyed(Quota::per_second(per_s).allow_burst(burst)),
            shutdown: tokio::sync::watch::channel(false).0,
            store,
            bus,
            config,
            auth,
            metrics: Metrics::default(),
            cache: ReadCache::default(),
            plans: Default::default(),
            threat: Default::default(),
            recent: Mutex::new(VecDeque::new()),
            started: Instant::now(),
        }))
    }
    pub fn store(&self) -> &Store {
        &self.0.store
    }
    pub fn bus(&self) -> &LiveBus {
        &self.0.bus
    }
    pub fn config(&self) -> &Config {
        &self.0.config
    }
    pub fn auth(&self) -> &Auth {
        &self.0.auth
    }
    /// The access crate's Cedar policy in force.
    pub fn policy(&self) -> &crate::policy::Policy {
        self.0.auth.policy()
    }
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }
    pub fn cache(&self) -> &ReadCache {
        &self.0.cache
    }
    /// Parsed stored plans.
    pub fn plans(&self) -> &crate::plans::PlanCache {
        &self.0.plans
    }
    /// Threat watch's model and assessment.
    pub fn threat(&self) -> &crate::threat::ThreatCache {
        &self.0.threat
    }
    pub fn uptime_s(&self) -> u64 {
        self.0.started.elapsed().as_secs()
    }

    /// Publish to the live bus (no subscribers is fine). The server's own
    /// listener remembers the event and invalidates the read models.
    pub fn publish(&self, ev: LiveEvent) {
        let _ = self.0.bus.send(ev);
    }

    /// Count one request against `key`'s rate; 429 when over.
    pub fn check_rate(&self, key: &str) -> Result<(), ApiError> {
        self.0
            .limiter
            .check_key(&key.to_string())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ));
                let mut e = ApiError::new(
                    "rate-limited",
                    format!(
                        "more than {} requests per second; retry later",
                        self.0.config.rate_per_second
                    ),
                );
                e.retry_after_s = Some(wait.as_secs().max(1));
                e
            })
    }

    /// Tell long-lived responses (live streams) that the server is stopping.
    pub fn begin_shutdown(&self) {
        let _ = self.0.shutdown.send(true);
    }

    /// Resolves once shutdown has begun.
    pub fn shutting_down(&self) -> impl std::future::Future<Output = ()> + Send + 'static + use<> {
        let mut rx = self.0.shutdown.subscribe();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    }

    /// Keep an event for the dashboard's alert list and the sitrep.
    pub fn remember(&self, ev: LiveEvent) {
        let mut r = self.0.recent.lock().unwrap_or_else(|p| p.into_inner());
        if r.len() == RECENT_EVENTS {
            r.pop_front();
        }
        r.push_back((Utc::now(), ev));
    }

    /// Remembered events, oldest first.
    pub fn recent(&self) -> Vec<(DateTime<Utc>, LiveEvent)> {
        self.0
            .recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// Pre-serialised read models keyed by name, valid for one data generation
/// and at most `ttl` (writes from other processes show up within the TTL).
type Typed = Arc<dyn std::any::Any + Send + Sync>;

#[derive(Default)]
pub struct ReadCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<String, (u64, Instant, Bytes)>>,
    typed: Mutex<HashMap<String, (u64, Instant, Typed)>>,
    /// Single flight per key: one recomputation of a key at a time, so an
    /// expiry under load does not make every waiting request recompute the
    /// same model. (Keys may depend on other keys, never on themselves.)
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl ReadCache {
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
    pub fn get(&self, key: &str, ttl: std::time::Duration) -> Option<Bytes> {
        let g = self.generation();
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.get(key)
            .filter(|(eg, at, _)| *eg == g && at.elapsed() < ttl)
            .map(|(_, _, b)| b.clone())
    }
    /// Hold while recomputing `key`; re-check the cache after acquiring it.
    pub async fn flight(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut f = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            if f.len() > 10_000 {
                f.retain(|_, l| Arc::strong_count(l) > 1);
            }
            f.entry(key.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }
    /// A typed read model, shared without re-parsing.
    pub fn get_typed<T: Send + Sync + 'static>(
        &self,
        key: &str,
        ttl: std::time::Duration,
    ) -> Option<Arc<T>> {
        let g = self.generation();
        let e = self.typed.lock().unwrap_or_else(|p| p.into_inner());
        let (eg, at, v) = e.get(key)?;
        if *eg != g || at.elapsed() >= ttl {
            return None;
        }
        v.clone().downcast::<T>().ok()
    }
    pub fn put_typed<T: Send + Sync + 'static>(&self, key: &str, generation: u64, v: Arc<T>) {
        let mut e = self.typed.lock().unwrap_or_else(|p| p.into_inner());
        if e.len() > 10_000 {
            e.clear();
        }
        e.insert(key.to_string(), (generation, Instant::now(), v));
    }
    /// Store `bytes` computed when the generation was `generation`.
    pub fn put(&self, key: &str, generation: u64, bytes: Bytes) {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if e.len() > 10_000 {
            e.clear();
        }
        e.insert(key.to_string(), (generation, Instant::now(), bytes));
    }
}
