//! Transfer planner: sorties, manifests and schedule under constraints; lower
//! bound, validator, re-planning. A library with no I/O.
//!
//! Codemap:
//! - [`problem`]: [`Problem`] built from a `Scenario`, its people and per-site
//!   threat rates ([`Problem::from_scenario`]); the plan clock (hours from
//!   local midnight of day 0), routing with refuel stops ([`problem::route`]).
//! - [`solve`]: [`solve`] — event-simulation construction, then a parallel,
//!   seeded search over the construction's priorities (anytime,
//!   time-limited, deterministic for a seed and round count): global moves
//!   rebuild the plan, local moves keep it before a cut day and rebuild the
//!   rest; extra starts follow the fleet LP's daily site shares.
//! - [`bound`]: lower bounds on risk exposure (transportation relaxation,
//!   exact min-cost flow) and makespan (intake, flight time, fleet seat-hours),
//!   each raised by the fleet LP (`fleet_lp`: aircraft classes × days × trip
//!   index with flight hours, daylight/duty, day patterns and intake; its
//!   validity is argued in docs/architecture/planner.md).
//! - [`plan`]: the serialisable [`Plan`] (sorties, legs, manifests, per-site
//!   emptying, per-day intake, KPIs, bounds, gaps) and [`plan::summarize`].
//! - [`validate`]: [`validate()`] — an independent checker of every hard rule,
//!   returning violations that name sortie, aircraft, person and rule.
//! - [`replan`]: [`replan()`] — apply an [`Event`] at `now`, keep departed
//!   sorties, keep what stays valid, give released people idle gaps and (when
//!   it pays for the changed manifest) other kept slots, rebuild the rest;
//!   choose between that repair and a re-solve by exposure + a stated price
//!   per changed manifest, and count changed manifests.
//! - [`instance`]: deterministic scaled instances and the JSON export the
//!   CP-SAT peer reads.
//!
//! Objective (lexicographic): (1) people leaving a deadline site after its
//! deadline, (2) risk exposure = Σ over moved people of ∫ threat rate dt over
//! their wait at the origin (hours × rate), (3) makespan = last arrival at the
//! destination − operation start, (4) total flight hours.
//!
//! Model (what a sortie is): one aircraft, optional positioning legs from where
//! it is to one origin, then loaded legs to the destination via refuel stops
//! when beyond range; one category per sortie (women and minors fly apart,
//! with escorts); guards ⌈Σ ratio by risk class⌉; stretcher = `stretcher_seats`
//! + a medical escort seat, medical escort = one seat; payload = seats × kg.
//!
//! Invariants: every plan [`solve`] or [`replan()`] returns passes
//! [`validate()`] except for `Deadline` violations the instance makes
//! unavoidable (counted as `deadline_misses`, objective level 1); unfit people
//! are listed in [`Plan::unserved`], never on a sortie; infeasible instances
//! return [`PlanError::Infeasible`] with reasons, never a panic or endless
//! search (every search is bounded by a 400-day horizon and the time limit).
//! Not modelled yet: two-stage moves via staging holding areas (so fixed-wing
//! aircraft that cannot land at origins are unused), ground convoys.

// Index loops over parallel arrays (per aircraft, per cell, per word) read
// more plainly than zipped iterators here.
#![allow(clippy::needless_range_loop)]

pub mod bound;
pub(crate) mod fleet_lp;
pub mod instance;
pub mod plan;
pub mod problem;
pub mod replan;
pub mod solve;
pub mod validate;

pub use bound::{Bounds, lower_bounds, lower_bounds_within};
pub use plan::{DayIntake, Gaps, Kpis, Leg, Objective, Plan, SiteEmptying, Sortie, Unserved};
pub use problem::{Problem, ThreatRates};
pub use replan::{Alternative, Event, MANIFEST_PRICE_H, Replan, replan};
pub use solve::{SolverOptions, solve};
pub use validate::{Rule, Violation, validate};

/// Why the planner could not produce a plan.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The input is malformed or inconsistent (names what and where).
    #[error("invalid planner input: {0}")]
    Input(String),
    /// No plan exists; each entry explains one reason.
    #[error("no feasible plan: {}", .0.join("; "))]
    Infeasible(Vec<String>),
}
