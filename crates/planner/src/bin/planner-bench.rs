//! Benchmark driver for the planner (figures in docs/benchmarks/planner.md).
//!
//! planner-bench SCENARIO.toml flagship [SECONDS] [SEED]
//! planner-bench SCENARIO.toml scale [SECONDS] [SEED]
//! planner-bench SCENARIO.toml replan [SECONDS] [BASE_ROUNDS]
//! planner-bench SCENARIO.toml infeasible
//! planner-bench SCENARIO.toml export (flagship|scale) FILE.json

use std::time::{Duration, Instant};

use sallyport_core::Scenario;
use sallyport_planner::instance::{peer_instance, scaled, synthetic_threat};
use sallyport_planner::{Event, Problem, SolverOptions, replan, solve, validate};

fn load(path: &str) -> Result<Scenario, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    toml::from_str(&text).map_err(|e| format!("{path}: {e}"))
}

fn flagship(sc: &Scenario) -> Result<Problem, String> {
    let people = sallyport_core::synth::generate(sc).map_err(|e| e.to_string())?;
    let threat = synthetic_threat(sc, 30, 7);
    Problem::from_scenario(sc, &people, &threat).map_err(|e| e.to_string())
}

fn scale(sc: &Scenario) -> Result<Problem, String> {
    let big = scaled(sc, 60_000, 100, 40, 42);
    let people = sallyport_core::synth::generate(&big).map_err(|e| e.to_string())?;
    let threat = synthetic_threat(&big, 30, 42);
    Problem::from_scenario(&big, &people, &threat).map_err(|e| e.to_string())
}

fn report(name: &str, p: &Problem, secs: f64, seed: u64) -> Result<serde_json::Value, String> {
    let opts = SolverOptions {
        time_limit: Duration::from_secs_f64(secs),
        seed,
        ..Default::default()
    };
    let t = Instant::now();
    let plan = solve(p, &opts).map_err(|e| e.to_string())?;
    let wall = t.elapsed().as_secs_f64();
    let v = validate(p, &plan);
    Ok(serde_json::json!({
        "instance": name,
        "people": p.people.len(),
        "aircraft": p.aircraft.len(),
        "sites": p.sites.iter().filter(|s| s.kind.is_origin()).count(),
        "time_limit_s": secs,
        "wall_s": wall,
        "violations": v.len(),
        "first_violations": v.iter().take(5).map(|x| x.to_string()).collect::<Vec<_>>(),
        "kpis": plan.kpis,
        "bounds": plan.bounds,
        "gap": plan.gap,
        "stats": plan.stats,
        "intake_per_day": plan.intake.iter().map(|d| d.people).collect::<Vec<_>>(),
        "sites_emptied_h": plan.sites.iter().map(|s| (s.site.to_string(), s.people, s.emptied_h.map(|h| (h - p.start_h).round()), s.deadline.map(|d| (p.to_h(d) - p.start_h).round()))).collect::<Vec<_>>(),
    }))
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: planner-bench SCENARIO.toml (flagship|scale|replan|infeasible|export) …";
    let path = args.get(1).ok_or(usage)?;
    let sc = load(path)?;
    let arg = |i: usize, d: f64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    match args.get(2).map(String::as_str) {
        Some("flagship") => {
            let p = flagship(&sc)?;
            println!(
                "{}",
                report("flagship", &p, arg(3, 10.0), arg(4, 1.0) as u64)?
            );
        }
        Some("scale") => {
            let p = scale(&sc)?;
            println!(
                "{}",
                report("scale-60k", &p, arg(3, 60.0), arg(4, 1.0) as u64)?
            );
        }
        Some("replan") => {
            let p = flagship(&sc)?;
            // The plan being repaired: 3 s of search, or exactly BASE_ROUNDS
            // rounds (reproducible whatever the load).
            let plan = solve(
                &p,
                &SolverOptions {
                    time_limit: Duration::from_secs(if args.len() > 4 { 3600 } else { 3 }),
                    max_rounds: args.get(4).and_then(|s| s.parse().ok()),
                    ..Default::default()
                },
            )
            .map_err(|e| e.to_string())?;
            // Mid-operation: the first CH-47F goes unserviceable for good on day 5.
            let now = p.to_utc(p.start_h + 24.0 * 5.0 + 3.0);
            let tail = p.aircraft[0].tail.clone();
            let ev = Event::AircraftUnserviceable {
                tail: tail.clone(),
                from: now,
                days: None,
            };
            let opts = SolverOptions {
                time_limit: Duration::from_secs_f64(arg(3, 0.6)),
                ..Default::default()
            };
            let t = Instant::now();
            let r = replan(&p, &plan, now, &ev, &opts).map_err(|e| e.to_string())?;
            let wall = t.elapsed().as_secs_f64();
            let v = validate(&r.problem, &r.plan);
            println!(
                "{}",
                serde_json::json!({
                    "instance": "flagship replan: aircraft lost on day 5",
                    "tail": tail, "wall_s": wall, "violations": v.len(),
                    "first_violations": v.iter().take(5).map(|x| x.to_string()).collect::<Vec<_>>(),
                    "sorties_fixed": r.sorties_fixed, "sorties_kept": r.sorties_kept,
                    "manifests_changed": r.manifests_changed, "people_moved_to_other_sortie": r.people_moved_to_other_sortie,
                    "strategy": r.strategy, "sorties_exchanged": r.sorties_exchanged, "sorties_inserted": r.sorties_inserted,
                    "manifest_price": r.manifest_price, "repair": r.repair, "resolve": r.resolve,
                    "before": plan.kpis, "after": r.plan.kpis, "gap_after": r.plan.gap,
                })
            );
        }
        Some("infeasible") => {
            let mut bad = sc.clone();
            for s in bad
                .sites
                .iter_mut()
                .filter(|s| s.kind == sallyport_core::SiteKind::Destination)
            {
                s.daily_intake_capacity = Some(0);
            }
            let p = flagship(&bad)?;
            let t = Instant::now();
            let e = solve(&p, &SolverOptions::default()).err();
            println!(
                "{}",
                serde_json::json!({"case": "intake zero", "wall_s": t.elapsed().as_secs_f64(), "error": e.map(|e| e.to_string())})
            );
            let mut far = sc.clone();
            if let Some(s) = far.sites.iter_mut().find(|s| s.id.as_str() == "kobani") {
                s.position = sallyport_core::LatLon::new(41.0, 30.0).map_err(|e| e.to_string())?;
            }
            let p = flagship(&far)?;
            let t = Instant::now();
            let e = solve(&p, &SolverOptions::default()).err();
            println!(
                "{}",
                serde_json::json!({"case": "site out of reach", "wall_s": t.elapsed().as_secs_f64(), "error": e.map(|e| e.to_string())})
            );
        }
        Some("export") => {
            let which = args.get(3).ok_or(usage)?;
            let out = args.get(4).ok_or(usage)?;
            let (p, days) = match which.as_str() {
                "flagship" => (flagship(&sc)?, 40),
                "scale" => (scale(&sc)?, 60),
                _ => return Err(usage.into()),
            };
            let inst = peer_instance(&p, which, days).map_err(|e| e.to_string())?;
            let json = serde_json::to_string(&inst).map_err(|e| e.to_string())?;
            std::fs::write(out, json).map_err(|e| format!("{out}: {e}"))?;
            eprintln!("wrote {out}: {} slots", inst.slots.len());
        }
        _ => return Err(usage.into()),
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
