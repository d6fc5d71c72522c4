//! The planner's input: threat rates per site and day, and suggested deadlines.
//!
//! Unit of the rate: a dimensionless relative hazard (see [`crate::model`]):
//! 1.0 = no recent conflict near the site. The planner's exposure,
//! Σ hours at a site × that site's rate, is then in hazard-weighted hours.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sallyport_core::{Site, SiteId};
use serde::{Deserialize, Serialize};

use crate::alerts::{AlertRules, Level};
use crate::model::ThreatModel;

/// One site's rates and suggested deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteThreat {
    /// (start of the day, UTC; rate for the 24 hours from then), in day order.
    pub rates: Vec<(DateTime<Utc>, f64)>,
    /// Suggested latest time to have the site empty, if the threat calls for one.
    pub deadline: Option<DateTime<Utc>>,
    /// Why that deadline (empty when none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deadline_reason: String,
}

/// How the rates were obtained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Basis {
    /// Projected forward from an assessment as of a date (no later events used).
    Forecast { as_of: NaiveDate },
    /// Historical daily assessments mapped onto the operation's days.
    Replay { label: String, historical_start: NaiveDate, shift_days: i64 },
}

/// The planner's threat input (a plain serde type).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannerThreat {
    /// Always "relative hazard (1.0 = no recent conflict nearby); exposure = Σ hours × rate".
    pub unit: String,
    pub basis: Basis,
    pub sites: BTreeMap<SiteId, SiteThreat>,
}

pub const RATE_UNIT: &str = "relative hazard per hour at the site (1.0 = no recent conflict nearby); \
exposure = Σ hours at a site × rate, in hazard-weighted hours";

impl PlannerThreat {
    /// The planner crate's `ThreatRates` shape: per site, one rate per day from day 0.
    pub fn daily_rates(&self) -> BTreeMap<SiteId, Vec<f64>> {
        self.sites.iter().map(|(k, v)| (k.clone(), v.rates.iter().map(|r| r.1).collect())).collect()
    }
    /// Per site, the suggested deadline.
    pub fn deadlines(&self) -> BTreeMap<SiteId, DateTime<Utc>> {
        self.sites.iter().filter_map(|(k, v)| v.deadline.map(|d| (k.clone(), d))).collect()
    }
}

/// Settings of the projection and the deadline rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorityOptions {
    /// Days kept between an estimated arrival of fighting and the deadline.
    pub safety_days: f64,
    /// Bound on the daily growth factor of a rising trend when projecting.
    pub max_daily_growth: f64,
}

impl Default for PriorityOptions {
    fn default() -> Self {
        PriorityOptions { safety_days: 2.0, max_daily_growth: 1.05 }
    }
}

/// Project each site's rate forward from its assessment on `as_of` (events
/// known by then only) over `days` days starting at `first_day` (UTC), and
/// suggest deadlines: the earlier of the day the projected rate reaches the
/// critical threshold and the estimated arrival of fighting minus a safety margin.
pub fn forecast(
    model: &ThreatModel,
    sites: &[Site],
    as_of: NaiveDate,
    first_day: DateTime<Utc>,
    days: u32,
    rules: &AlertRules,
    opts: &PriorityOptions,
) -> PlannerThreat {
    let p = model.params();
    let mut out = BTreeMap::new();
    for s in sites {
        let series = model.series(s, as_of, as_of);
        let d = series.days[0];
        let lag = (p.tau_slow_days - p.tau_fast_days).max(1.0);
        let floor = (-1.0 / p.tau_days).exp();
        let growth = if d.trend.slow > 1e-9 {
            d.trend.ratio.max(1e-9).powf(1.0 / lag).clamp(floor, opts.max_daily_growth)
        } else {
            floor
        };
        let mut rates = Vec::with_capacity(days as usize);
        let mut intensity = d.intensity;
        let mut deadline: Option<(DateTime<Utc>, String)> = None;
        for k in 0..days {
            let t = first_day + Duration::days(k as i64);
            let rate = 1.0 + intensity / p.reference_intensity;
            if deadline.is_none() && rules.level_of(rate) == Level::Critical && s.kind.is_origin() {
                deadline = Some((t, format!("projected rate {rate:.1} reaches the critical threshold {:.1}", rules.critical)));
            }
            rates.push((t, rate));
            intensity *= growth;
        }
        if s.kind.is_origin()
            && let Some(a) = d.advance
            && let Some(eta) = a.eta_days
        {
            let hours = ((eta - opts.safety_days).max(0.0) * 24.0).round() as i64;
            let t = first_day + Duration::hours(hours);
            if deadline.as_ref().is_none_or(|(d0, _)| t < *d0) {
                deadline = Some((
                    t,
                    format!(
                        "fighting {:.0} km away approaching at {:.1} km/day: ETA {:.1} days, minus {:.0} days' margin",
                        a.distance_km, a.approach_km_per_day, eta, opts.safety_days
                    ),
                ));
            }
        }
        let (deadline, deadline_reason) = deadline.map_or((None, String::new()), |(t, r)| (Some(t), r));
        out.insert(s.id.clone(), SiteThreat { rates, deadline, deadline_reason });
    }
    PlannerThreat { unit: RATE_UNIT.into(), basis: Basis::Forecast { as_of }, sites: out }
}

/// Replay history: operation day `k` (starting at `first_day`) gets the rate
/// each site actually had on `historical_start + k` (each day assessed with
/// the events known by that day). Deadlines are those a [`forecast`] as of
/// `historical_start` would have suggested. Labelled as a replay.
pub fn replay(
    model: &ThreatModel,
    sites: &[Site],
    historical_start: NaiveDate,
    first_day: DateTime<Utc>,
    days: u32,
    rules: &AlertRules,
    opts: &PriorityOptions,
) -> PlannerThreat {
    let fc = forecast(model, sites, historical_start, first_day, days, rules, opts);
    let end = historical_start + Duration::days(days.max(1) as i64 - 1);
    let shift_days = (first_day.date_naive() - historical_start).num_days();
    let mut out = BTreeMap::new();
    for s in sites {
        let series = model.series(s, historical_start, end);
        let rates =
            series.days.iter().enumerate().map(|(k, d)| (first_day + Duration::days(k as i64), d.rate)).collect();
        let f = &fc.sites[&s.id];
        out.insert(
            s.id.clone(),
            SiteThreat { rates, deadline: f.deadline, deadline_reason: f.deadline_reason.clone() },
        );
    }
    let label = format!(
        "REPLAY of recorded history {historical_start} ..= {end}, shifted {shift_days:+} days onto the operation \
         starting {first_day}: NOT a forecast of the operation's period"
    );
    PlannerThreat { unit: RATE_UNIT.into(), basis: Basis::Replay { label, historical_start, shift_days }, sites: out }
}
