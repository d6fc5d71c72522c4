//! Threat input of the run: a labelled REPLAY of recorded conflict history
//! (UCDP GED, real data, read-only) mapped onto the operation's days, or a
//! flat rate when the data is absent.

use std::path::{Path, PathBuf};


use sallyport_core::{Scenario, SiteId};
use sallyport_planner::ThreatRates;

/// Historical start of the replay: the SDF assault on Raqqa began on
/// 2017-06-06; the replay starts a few days earlier so the rise is visible.
pub const REPLAY_START: (i32, u32, u32) = (2017, 6, 1);

/// The run's threat: rates per site and day, plus how they were obtained.
#[derive(Debug, Clone)]
pub struct RunThreat {
    pub rates: ThreatRates,
    /// "REPLAY of …" or "flat …" — printed in the report.
    pub label: String,
    pub replay: bool,
    /// The model, for a threat jump driven by the data (None when flat).
    pub jump: Option<(SiteId, usize, f64)>,
}

/// Candidate locations of the GED file.
pub fn find_ged(bases: &[&Path]) -> Option<PathBuf> {
    let name = "conflict/ucdp-ged-syria-v19.1-2016-2019.csv";
    let mut cands = Vec::new();
    if let Ok(s) = std::env::var("SALLYPORT_SHARED") {
        cands.push(Path::new(&s).join("data").join(name));
        cands.push(Path::new(&s).join(name));
    }
    for b in bases {
        for up in ["../shared/data", "../../shared/data", "../../../shared/data"] {
            cands.push(b.join(up).join(name));
        }
    }
    cands.into_iter().find(|p| p.is_file())
}

/// Flat rate 1.0 everywhere.
pub fn flat(scenario: &Scenario, days: usize, why: &str) -> RunThreat {
    let rates = scenario.origins.iter().map(|o| (o.site.clone(), vec![1.0; days])).collect();
    RunThreat { rates, label: format!("flat threat rate 1.0 at every site ({why})"), replay: false, jump: None }
}

/// Replay GED history from [`REPLAY_START`] onto the operation's `days`.
/// The threat jump is the largest day-over-day rise at an origin site in the
/// replayed window (from the data, not invented).
#[cfg(not(feature = "threat"))]
pub fn replay(_scenario: &Scenario, _ged: &Path, _days: usize) -> Result<RunThreat, String> {
    Err("built without the `threat` feature".into())
}

/// Replay GED history from [`REPLAY_START`] onto the operation's `days`.
#[cfg(feature = "threat")]
pub fn replay(scenario: &Scenario, ged: &Path, days: usize) -> Result<RunThreat, String> {
    use chrono::NaiveDate;
    use sallyport_threat::{AlertRules, ModelParams, PriorityOptions, ThreatModel, parse_bytes};
    let bytes = std::fs::read(ged).map_err(|e| format!("cannot read {}: {e}", ged.display()))?;
    let parsed = parse_bytes(&ged.display().to_string(), &bytes);
    if parsed.events.is_empty() {
        return Err(format!("{}: no usable events", ged.display()));
    }
    let model = ThreatModel::new(parsed.events, ModelParams::default());
    let origins: Vec<_> =
        scenario.sites.iter().filter(|s| scenario.origins.iter().any(|o| o.site == s.id)).cloned().collect();
    let start = NaiveDate::from_ymd_opt(REPLAY_START.0, REPLAY_START.1, REPLAY_START.2).expect("valid date");
    let first_day = scenario.operation.start;
    let pt = sallyport_threat::replay(
        &model,
        &origins,
        start,
        first_day,
        days as u32,
        &AlertRules::default(),
        &PriorityOptions::default(),
    );
    let label = match &pt.basis {
        sallyport_threat::priority::Basis::Replay { label, .. } => label.clone(),
        other => format!("{other:?}"),
    };
    let rates = pt.daily_rates();
    let mut jump: Option<(SiteId, usize, f64)> = None;
    for (site, v) in &rates {
        for d in 1..v.len().min(days) {
            let rise = v[d] / v[d - 1].max(1e-9);
            if d >= 2 && jump.as_ref().is_none_or(|j| rise > j.2) {
                jump = Some((site.clone(), d, rise));
            }
        }
    }
    Ok(RunThreat { rates, label, replay: true, jump })
}
