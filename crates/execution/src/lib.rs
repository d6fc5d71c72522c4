//! Execution engine: the whole operation end to end, as a seeded
//! discrete-event run over simulated time.
//!
//! Codemap:
//! - [`engine`]: [`engine::run`] — initial plan (`planner::solve` with a
//!   fixed round count), then per operation day: disruptions → planner events
//!   → `planner::replan` (each re-plan validated); the day's sorties fly with
//!   seeded delays; origin, staging (air) and destination field devices record
//!   custody events offline (`ledger::device::FieldLog`); 1:1 identity checks
//!   at boarding and arrival (mismatch → held back + discrepancy); intake at
//!   the destination limited per day; end-of-day batch sync into the central
//!   log (`ledger::sync::MemLedger`), reconciliation, and signed corrections
//!   for every discrepancy with a documented cause. At the end: accounting of
//!   every person, custody-chain check, a witnessed checkpoint and evidence
//!   bundles for a random sample verified with the verifier's library code.
//! - [`disrupt`]: [`disrupt::Disruption`] (aircraft unserviceable, weather
//!   closure, threat jump with an earlier deadline, person unfit, person died,
//!   device data loss, device replaying an old head) and the seeded schedule.
//! - [`bio`]: SYNTHETIC enrolment templates derived from real ISO 19794-2
//!   minutiae records; 1:1 verification of fresh synthetic impressions.
//! - [`threat`]: a labelled REPLAY of UCDP GED history (or a flat rate).
//! - [`report`]: daily sitreps (Markdown) and the final HTML report with
//!   inline SVG charts.
//! - [`persist`]: the store side — disruptions table (migration 8001), saving
//!   plans, final custody per person.
//! - [`demo`]: the one-call entry point used by `sallyport demo` / `run`.
//!
//! Invariants: no wall clock, no OS randomness — every random choice comes
//! from the run seed (ChaCha8), the planner runs a fixed number of rounds,
//! keys derive from the seed, reports carry no "now"; so the same seed gives
//! the same plans, ledger (checkpoint root) and report bytes. Nothing is
//! edited in the ledger: explanations are new signed `Correction` events.
//! The library never prints: progress goes through a callback.

pub mod bio;
pub mod demo;
pub mod disrupt;
pub mod engine;
pub mod persist;
pub mod report;
pub mod threat;

pub use demo::{DemoOptions, DemoSummary, prepare_and_run, scale_scenario, write_outputs};
pub use disrupt::Disruption;
pub use engine::{DayReport, Outcome, RunConfig};
