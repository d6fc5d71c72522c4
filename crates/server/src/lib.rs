//! Sallyport's common operating picture: the HTTP API, the live dashboard and
//! the daily situation report, served by `sallyport serve` and `sallyport demo --serve`.
//!
//! Codemap:
//! - [`server`]: router, middleware (body limit, per-caller rate limit, timeouts,
//!   metrics, tracing), TLS (rustls), graceful shutdown; [`serve`] and [`Server`].
//! - [`api`]: the REST routes under `/api/v1` (JSON, OpenAPI-annotated), live SSE.
//! - [`dashboard`]: server-rendered HTML pages, the SVG map and charts; [`web`](../../web) assets
//!   are compiled into the binary (no CDN, no tile server, no build step).
//! - [`sitrep`]: the daily situation report as data, HTML and PDF (pure Rust).
//! - [`readmodel`]: overview, headcounts, schedule and progress computed from the store.
//! - [`operation`]: the running operation's daily reports (the demo records
//!   them as days pass): the operation clock, live headcounts, moved per day.
//! - [`plans`]: the stored plans (latest in force, baseline) behind the Gantt chart and progress.
//! - [`threat`]: threat per site from threat watch over the stored conflict events.
//! - [`ingest`]: idempotent field-device custody sync (`(device, seq)` keys).
//! - [`live`]: the [`LiveBus`] of [`LiveEvent`]s shared with publishers such as the demo.
//! - [`auth`]: who is calling (tokens, passwords, sessions; the seam to the
//!   access crate's identity store), each mapped to an access `Principal`.
//! - [`policy`]: what they may do — every decision by `sallyport-access`'s
//!   Cedar `Authorizer`; people filtered and field-redacted by its redaction.
//! - [`problem`]: every error as RFC 9457 problem details.
//! - [`openapi`], [`metrics`], [`state`], [`config`].
//!
//! Invariants at the boundary:
//! - Every `/api/v1` route and dashboard page authenticates the caller and asks
//!   Cedar through [`policy::Policy`]; people lists, person pages and exports
//!   never show a person or field the policy hides, and counts never include
//!   hidden people; only `/healthz`, `/readyz`, `/metrics`,
//!   `/openapi.json`, `/problems/*`, `/login` and static assets are open.
//! - Every client mistake is answered with `application/problem+json` and a 4xx
//!   status; handlers never panic on input.
//! - A write is acknowledged only after its transaction commits, and shutdown
//!   drains in-flight requests, so an acknowledged write is never lost.
//! - Read models are cached per data generation: writes through this server and
//!   events on the bus invalidate at once; other writers show within `cache_ttl`.

pub mod api;
pub mod auth;
pub mod config;
pub mod dashboard;
pub mod ingest;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod operation;
pub mod plans;
pub mod policy;
pub mod problem;
pub mod readmodel;
pub mod server;
pub mod sitrep;
pub mod state;
pub mod threat;

pub use auth::{Auth, PrincipalView};
pub use config::{Config, TlsFiles};
pub use live::{LiveBus, LiveEvent, bus};
pub use policy::{Identity, Policy};
/// The access crate, for callers building principals.
pub use sallyport_access as access;
pub use server::{Server, router, serve, shutdown_signal};

/// Structured logs for the binary: JSON lines when `json`, filtered by `RUST_LOG`
/// (default `info`). Call once, from the executable.
pub fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        b.json().try_init()
    } else {
        b.try_init()
    };
}
