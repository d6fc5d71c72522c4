//! Server configuration: where to listen, TLS, and the request limits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// PEM files for TLS (rustls). Without them the server speaks plain HTTP.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub tls: Option<TlsFiles>,
    /// Largest request body accepted, bytes.
    pub body_limit: usize,
    /// Sustained requests per second per token (or per client address when unauthenticated).
    pub rate_per_second: u32,
    /// Burst allowance on top of the sustained rate.
    pub rate_burst: u32,
    /// Longest time a handler may take before the client gets a 503 problem.
    pub request_timeout: Duration,
    /// How long cached read models live at most (writes through this server invalidate at once).
    pub cache_ttl: Duration,
    /// Longest wait for in-flight requests on shutdown.
    pub shutdown_grace: Duration,
    /// Assess threat as a REPLAY of recorded history from this day: operation
    /// day k is assessed as this day + k (the demo replays UCDP GED this way).
    /// `None`: assess the operation's current date.
    pub threat_replay_from: Option<chrono::NaiveDate>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls: None,
            body_limit: 1 << 20,
            rate_per_second: 2000,
            rate_burst: 4000,
            request_timeout: Duration::from_secs(15),
            cache_ttl: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(30),
            threat_replay_from: None,
        }
    }
}
