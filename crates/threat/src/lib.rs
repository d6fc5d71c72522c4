//! Threat watch: conflict-event ingestion (UCDP GED, ACLED), facility threat
//! model, alerts with hysteresis, the planner's threat input, and a backtest.
//!
//! Codemap:
//! - [`event`]: [`Event`] (source-neutral, validated), [`Source`], [`EventKind`],
//!   precision codes → uncertainty radius.
//! - [`parse`]: GED / ACLED CSV → events + [`Rejected`] rows (file, line, why);
//!   format detected from the header; never panics on any bytes.
//! - [`db`]: all-or-nothing, idempotent ingest into the store (key: source +
//!   event id; migration `2001_threat_events`), loading.
//! - [`model`]: [`ThreatModel`] (grid + time index): daily rate, trend, advance
//!   of fighting, contributing events; [`Assessment`].
//! - [`alerts`]: [`AlertRules`], [`Level`], hysteresis, [`Alert`]s naming site,
//!   cause and events.
//! - [`priority`]: [`PlannerThreat`] (per site: (day start UTC, rate) and a
//!   suggested deadline), by forecast or by labelled historical replay.
//! - [`backtest`]: day-by-day replay without look-ahead; AUC, precision, lead
//!   time vs a naive baseline.
//! - [`plot`]: a site's time series with alerts, PNG or SVG.
//!
//! Invariants: a score for day `d` uses only events whose end date is ≤ `d`;
//! an ingest writes every accepted row of every file or nothing; the rate is
//! a relative hazard ≥ 1 (1 = quiet), exposure = Σ hours × rate.

pub mod alerts;
pub mod backtest;
pub mod db;
pub mod event;
pub mod model;
pub mod parse;
pub mod plot;
pub mod priority;

pub use alerts::{Alert, AlertRules, Change, Level};
pub use backtest::{BacktestConfig, BacktestReport, backtest};
pub use db::{IngestOptions, IngestReport, ingest_files, ingest_parsed, load_events};
pub use event::{Event, EventKind, Source};
pub use model::{Assessment, Contribution, ModelParams, SiteSeries, SpaceKernel, ThreatModel};
pub use parse::{Parsed, Rejected, parse_bytes};
pub use priority::{PlannerThreat, PriorityOptions, SiteThreat, forecast, replay};

/// Errors of threat watch (bad rows are not errors: they are [`Rejected`] in reports).
#[derive(Debug, thiserror::Error)]
pub enum ThreatError {
    #[error("cannot read {file}: {source}")]
    Io { file: String, source: std::io::Error },
    #[error("database error: {0}")]
    Db(#[from] sallyport_store::sqlx::Error),
    #[error("stored threat data is invalid: {0}")]
    Corrupt(String),
    #[error("plot: {0}")]
    Plot(String),
}
