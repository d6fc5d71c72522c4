//! End to end on the flagship's sites scaled down to ~300 people, same code
//! path as `sallyport demo`: nobody lost, every custody chain unbroken, every
//! bundle verifies, every re-planned plan validates, and two runs with the
//! same seed give the same plans, ledger root and report bytes.

use std::path::PathBuf;

use sallyport_execution::engine::Outcome;
use sallyport_execution::{DemoOptions, RunConfig, prepare_and_run, scale_scenario};

fn shared_available() -> bool {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    sallyport_execution::bio::find_templates(&[&base]).is_some()
}

fn small(seed: u64) -> Outcome {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/northeast-syria-2026.toml")).unwrap();
    let sc: sallyport_core::Scenario = toml::from_str(&text).unwrap();
    let sc = scale_scenario(&sc, 300);
    sc.validate().unwrap();
    let people = sallyport_core::synth::generate(&sc).unwrap();
    let opts = DemoOptions {
        // A higher impostor rate so the small run plants some.
        config: RunConfig { seed, impostor_rate: 0.02, bundle_sample: 6, solver_rounds: 1, ..Default::default() },
        search_bases: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR"))],
        threat_days: 60,
    };
    prepare_and_run(&sc, &people, &opts, &mut |_| {}, &mut |_| {}).unwrap()
}

#[test]
fn small_operation_end_to_end_invariants_and_determinism() {
    if !shared_available() {
        eprintln!("shared fingerprint fixtures not found; the end-to-end test needs ../shared/data");
        return;
    }
    let a = small(11);
    // Nobody lost.
    assert_eq!(a.unaccounted, 0, "unaccounted: {:?}", a.accounted.iter().filter(|x| x.outcome.starts_with("UNACC")).take(5).collect::<Vec<_>>());
    let documented: usize = a.documented.values().sum();
    assert_eq!(a.delivered + documented, a.population);
    assert!(a.delivered as f64 > 0.9 * a.population as f64, "only {} delivered", a.delivered);
    // Zero open discrepancies left unexplained; ledger invariant holds.
    assert!(a.unexplained_discrepancies.is_empty(), "{:#?}", a.unexplained_discrepancies);
    a.invariant.as_ref().unwrap();
    // Disruptions happened and were re-planned; every re-plan validates.
    assert!(a.replans.len() >= 4, "{} re-plans", a.replans.len());
    for r in &a.replans {
        assert_eq!(r.hard_violations, 0, "re-plan on day {} ({}) has violations", r.day, r.cause);
    }
    assert_eq!(a.final_plan_violations, 0);
    for (_, problem, plan) in &a.plans {
        let hard = sallyport_planner::validate(problem, plan)
            .into_iter()
            .filter(|v| !matches!(v.rule, sallyport_planner::Rule::Deadline))
            .count();
        assert_eq!(hard, 0);
    }
    // Documented reasons include the seeded unfit and deceased people; impostors were held back.
    assert!(a.documented.keys().any(|k| k.contains("deceased")), "{:?}", a.documented);
    assert!(a.documented.keys().any(|k| k.contains("unfit")), "{:?}", a.documented);
    assert!(a.documented.keys().any(|k| k.contains("identity")), "{:?}", a.documented);
    // Device disruptions: a rollback was caught.
    assert!(a.disruptions.iter().any(|(_, d)| d.contains("replayed an old head")));
    // Every custody chain unbroken; every bundle verifies.
    assert!(a.broken_chains.is_empty(), "{:?}", a.broken_chains);
    assert!(!a.bundles.is_empty());
    for b in &a.bundles {
        assert!(b.verified, "bundle of {} failed: {}", b.person, b.detail);
        // Tampering with a byte must fail verification.
        let mut t = b.encoded.clone();
        let k = t.len() / 2;
        t[k] ^= 1;
        let bad = sallyport_ledger::bundle::Bundle::decode(&t).and_then(|x| x.verify(Some(&a.policy)));
        assert!(bad.is_err(), "tampered bundle of {} verified", b.person);
    }
    // A sitrep for every day.
    assert_eq!(a.days.len(), a.days.last().unwrap().day as usize + 1);

    // Determinism: same seed, same plans, same ledger root, same report.
    let b = small(11);
    assert_eq!(a.checkpoint_root, b.checkpoint_root);
    assert_eq!(a.log_size, b.log_size);
    assert_eq!(a.plans.len(), b.plans.len());
    for (x, y) in a.plans.iter().zip(&b.plans) {
        assert_eq!(serde_json::to_string(&x.2.sorties).unwrap(), serde_json::to_string(&y.2.sorties).unwrap());
    }
    assert_eq!(sallyport_execution::report::html(&a), sallyport_execution::report::html(&b));
    // A different seed gives a different ledger.
    let c = small(12);
    assert_ne!(a.checkpoint_root, c.checkpoint_root);
}
