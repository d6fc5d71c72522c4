//! One-call entry point: scenario + people → threat → enrolment → run →
//! files. Shared by `sallyport demo`, `sallyport run`, the example and tests.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sallyport_core::{Person, Scenario};

use crate::bio::{Enrolment, find_templates, load_iso_dir};
use crate::engine::{DayReport, Outcome, RunConfig, run};
use crate::threat::{RunThreat, find_ged, flat, replay};

/// Where to look for shared data and how to run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub config: RunConfig,
    /// Folders from which `../shared/data` is searched (e.g. cwd, repo root).
    pub search_bases: Vec<PathBuf>,
    /// Days of threat rates to build.
    pub threat_days: usize,
}

/// Scale the scenario's origin populations (and the destination's intake)
/// so the total is about `total` people; sites, fleet and deadlines stay.
pub fn scale_scenario(sc: &Scenario, total: u32) -> Scenario {
    let mut out = sc.clone();
    let cur = sc.total_population().max(1) as f64;
    let f = total as f64 / cur;
    for s in out.sites.iter_mut() {
        if s.kind.is_origin() {
            s.population = ((s.population as f64 * f).round() as u32).max(1).min(s.holding_capacity);
        }
        if s.kind == sallyport_core::SiteKind::Destination
            && let Some(c) = s.daily_intake_capacity
        {
            s.daily_intake_capacity = Some(((c as f64 * f).round() as u32).max(10));
        }
    }
    out
}

/// What a caller prints at the end.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub accounted: usize,
    pub population: usize,
    pub replans: usize,
    pub bundles_verified: usize,
    pub bundles: usize,
    pub report: PathBuf,
}

/// Threat (GED replay if found, else flat with the reason), enrolment from
/// the real templates (required), then the run. `notes` receives lines the
/// caller should print (e.g. the flat-threat fallback).
pub fn prepare_and_run(
    scenario: &Scenario,
    people: &[Person],
    opts: &DemoOptions,
    notes: &mut dyn FnMut(String),
    progress: &mut dyn FnMut(&DayReport),
) -> anyhow::Result<Outcome> {
    let bases: Vec<&Path> = opts.search_bases.iter().map(|p| p.as_path()).collect();
    let threat: RunThreat = match find_ged(&bases) {
        Some(ged) => match replay(scenario, &ged, opts.threat_days) {
            Ok(t) => t,
            Err(e) => {
                notes(format!("note: threat replay unavailable ({e}); using a flat threat"));
                flat(scenario, opts.threat_days, "replay failed")
            }
        },
        None => {
            notes("note: UCDP GED data not found under ../shared/data (or $SALLYPORT_SHARED); using a flat threat".into());
            flat(scenario, opts.threat_days, "conflict data not found")
        }
    };
    notes(format!("threat: {}", threat.label));
    let dir = find_templates(&bases).context(
        "real fingerprint templates not found (../shared/data/fingerprints/templates-iso19794-2/FVC2002/DB1_B or $SALLYPORT_SHARED)",
    )?;
    let real = load_iso_dir(&dir).map_err(|e| anyhow::anyhow!(e))?;
    let extra = ((people.len() as f64 * opts.config.impostor_rate * 4.0).ceil() as usize).max(8);
    let source = format!(
        "SYNTHETIC fingers recombined and perturbed from {} real ISO 19794-2 templates in {} (FVC2002 DB1_B; test fixtures); threshold {:.3}",
        real.len(),
        dir.display(),
        crate::bio::THRESHOLD
    );
    let enrol = Enrolment::new(&real, people.len() + extra, opts.config.seed, source).map_err(|e| anyhow::anyhow!(e))?;
    notes(format!("biometrics: {} synthetic enrolment templates from {} real templates", people.len(), real.len()));
    run(scenario, people, &threat, &enrol, &opts.config, progress)
}

/// Write sitreps, the report, bundles, checkpoint and policy under `dir`.
pub fn write_outputs(o: &Outcome, dir: &Path) -> anyhow::Result<DemoSummary> {
    std::fs::create_dir_all(dir.join("sitreps")).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::create_dir_all(dir.join("bundles"))?;
    for d in &o.days {
        let p = dir.join("sitreps").join(format!("day-{:03}-{}.md", d.day, d.date));
        std::fs::write(&p, crate::report::sitrep(o, d)).with_context(|| format!("cannot write {}", p.display()))?;
    }
    for b in &o.bundles {
        std::fs::write(dir.join("bundles").join(format!("{}.spevb", b.person)), &b.encoded)?;
    }
    std::fs::write(dir.join("checkpoint.txt"), &o.checkpoint)?;
    std::fs::write(dir.join("policy.json"), serde_json::to_string_pretty(&o.policy)?)?;
    std::fs::write(dir.join("accounting.json"), serde_json::to_string_pretty(&o.accounted)?)?;
    if let Some((_, _, plan)) = o.plans.last() {
        // The solver's wall-clock timing is the one non-deterministic field: zero it.
        let mut plan = plan.clone();
        plan.stats.solve_ms = 0;
        std::fs::write(dir.join("final-plan.json"), serde_json::to_string(&plan)?)?;
    }
    let report = dir.join("report.html");
    std::fs::write(&report, crate::report::html(o))?;
    let documented: usize = o.documented.values().sum();
    Ok(DemoSummary {
        accounted: o.delivered + documented,
        population: o.population,
        replans: o.replans.len(),
        bundles_verified: o.bundles.iter().filter(|b| b.verified).count(),
        bundles: o.bundles.len(),
        report,
    })
}
