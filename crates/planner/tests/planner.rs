use std::time::Duration;

use proptest::prelude::*;
use sallyport_core::{Scenario, SiteKind};
use sallyport_planner::instance::{scaled, synthetic_threat};
use sallyport_planner::{Event, PlanError, Problem, Rule, SolverOptions, replan, solve, validate};

fn flagship_scenario() -> Scenario {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/northeast-syria-2026.toml"
    );
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn problem_of(sc: &Scenario, seed: u64) -> Problem {
    let people = sallyport_core::synth::generate(sc).unwrap();
    Problem::from_scenario(sc, &people, &synthetic_threat(sc, 30, seed)).unwrap()
}

fn quick(rounds: u64) -> SolverOptions {
    SolverOptions {
        time_limit: Duration::from_secs(30),
        seed: 3,
        max_rounds: Some(rounds),
        batch: 2,
    }
}

fn small(seed: u64, people: u32, aircraft: u32, sites: u32) -> Problem {
    let base = flagship_scenario();
    let sc = scaled(&base, people, aircraft, sites, seed);
    problem_of(&sc, seed)
}

#[test]
fn flagship_plan_is_valid_complete_and_within_its_bounds() {
    let p = problem_of(&flagship_scenario(), 7);
    let plan = solve(&p, &quick(1)).unwrap();
    let v = validate(&p, &plan);
    assert!(v.is_empty(), "{:?}", &v[..v.len().min(5)]);
    let unfit = p.people.iter().filter(|q| !q.fit_to_fly).count();
    assert_eq!(plan.unserved.len(), unfit);
    assert_eq!(plan.kpis.people_moved as usize + unfit, p.people.len());
    assert!(plan.bounds.risk_exposure <= plan.kpis.risk_exposure + 1e-6);
    assert!(plan.bounds.makespan_h <= plan.kpis.makespan_h + 1e-6);
    assert!(
        plan.kpis.makespan_days > 10.0,
        "6,000 people at 450/day cannot take under 13 days"
    );
    for d in &plan.intake {
        assert!(d.people <= d.capacity);
    }
    // The plan round-trips through JSON and still validates.
    let json = serde_json::to_string(&plan).unwrap();
    let back: sallyport_planner::Plan = serde_json::from_str(&json).unwrap();
    assert!(validate(&p, &back).is_empty());

    // Re-plan an aircraft loss on day 4 on the same plan.
    let now = p.to_utc(p.start_h + 4.0 * 24.0 + 2.0);
    let tail = p.aircraft[0].tail.clone();
    let ev = Event::AircraftUnserviceable {
        tail: tail.clone(),
        from: now,
        days: Some(3.0),
    };
    let r = replan(&p, &plan, now, &ev, &quick(1)).unwrap();
    let v = validate(&r.problem, &r.plan);
    assert!(v.is_empty(), "{:?}", &v[..v.len().min(5)]);
    let now_h = p.to_h(now);
    let lost_until = now_h - 2.0 + 3.0 * 24.0;
    for s in &r.plan.sorties {
        if s.aircraft == tail {
            assert!(
                s.legs
                    .iter()
                    .all(|l| l.arrive_h <= now_h + 24.0 || l.depart_h >= lost_until),
                "sortie {} flies while unserviceable",
                s.id
            );
        }
    }
    // Departed sorties are untouched.
    let fixed: Vec<_> = plan
        .sorties
        .iter()
        .filter(|s| s.depart_h() < now_h)
        .collect();
    assert_eq!(r.sorties_fixed as usize, fixed.len());
    for s in fixed {
        assert!(
            r.plan
                .sorties
                .iter()
                .any(|n| n.legs == s.legs && n.manifest == s.manifest)
        );
    }
    assert!(
        r.manifests_changed > 0,
        "the lost aircraft's later sorties must change"
    );
    assert_eq!(r.plan.kpis.people_moved, plan.kpis.people_moved);
}

#[test]
fn validator_names_sortie_person_and_rule() {
    let p = small(11, 300, 6, 3);
    let plan = solve(&p, &quick(0)).unwrap();
    let v0 = validate(&p, &plan);
    assert!(v0.iter().all(|x| x.rule == Rule::Deadline), "{v0:?}");
    let mut bad = plan.clone();
    // Person on two sorties.
    let dup = bad.sorties[0].manifest[0].clone();
    let s1 = bad
        .sorties
        .iter()
        .position(|s| {
            s.origin == bad.sorties[0].origin
                && s.id != bad.sorties[0].id
                && s.category == bad.sorties[0].category
        })
        .unwrap();
    bad.sorties[s1].manifest.push(dup.clone());
    // Too few guards.
    bad.sorties[1].guard_seats = 0;
    // Leg faster than cruise.
    let l = &mut bad.sorties[2].legs[0];
    l.arrive_h = l.depart_h + 0.01;
    let v = validate(&p, &bad);
    assert!(
        v.iter().any(|x| x.rule == Rule::Duplicate
            && x.person.as_ref() == Some(&dup)
            && x.sortie == Some(bad.sorties[s1].id)),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|x| x.rule == Rule::Guards && x.sortie == Some(bad.sorties[1].id)),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|x| x.rule == Rule::LegTime && x.sortie == Some(bad.sorties[2].id)),
        "{v:?}"
    );
    // Dropping a sortie leaves people never moved.
    let mut short = plan.clone();
    let gone = short.sorties.pop().unwrap();
    let v = validate(&p, &short);
    assert_eq!(
        v.iter().filter(|x| x.rule == Rule::NotMoved).count(),
        gone.manifest.len()
    );
    assert!(
        v.iter()
            .filter(|x| x.rule == Rule::NotMoved)
            .all(|x| gone.manifest.contains(x.person.as_ref().unwrap()))
    );
}

#[test]
fn infeasible_instances_explain_why() {
    let mut sc = flagship_scenario();
    for s in sc
        .sites
        .iter_mut()
        .filter(|s| s.kind == SiteKind::Destination)
    {
        s.daily_intake_capacity = Some(0);
    }
    let err = solve(&problem_of(&sc, 1), &quick(0)).unwrap_err();
    assert!(
        matches!(&err, PlanError::Infeasible(r) if r.iter().any(|m| m.contains("intake capacity of 0"))),
        "{err}"
    );

    let mut sc = flagship_scenario();
    let far = sc
        .sites
        .iter_mut()
        .find(|s| s.id.as_str() == "kobani")
        .unwrap();
    far.position = sallyport_core::LatLon::new(41.5, 29.0).unwrap();
    let err = solve(&problem_of(&sc, 1), &quick(0)).unwrap_err();
    assert!(
        matches!(&err, PlanError::Infeasible(r) if r.iter().any(|m| m.contains("site kobani cannot be reached"))),
        "{err}"
    );
}

#[test]
fn same_seed_same_plan() {
    let p = small(5, 400, 6, 4);
    let a = solve(&p, &quick(3)).unwrap();
    let b = solve(&p, &quick(3)).unwrap();
    assert_eq!(a.sorties, b.sorties);
}

#[test]
fn replan_events_keep_plans_valid() {
    let p = small(21, 600, 8, 4);
    let plan = solve(&p, &quick(1)).unwrap();
    let now = p.to_utc(p.start_h + 26.0);
    let site = p
        .sites
        .iter()
        .find(|s| s.kind.is_origin())
        .unwrap()
        .id
        .clone();
    let waiting = plan
        .sorties
        .iter()
        .filter(|s| s.depart_h() > p.to_h(now) + 30.0)
        .flat_map(|s| s.manifest.clone())
        .next()
        .unwrap();
    let events = [
        Event::WeatherClosure {
            date: p.date_of_day(2),
        },
        Event::IntakeFactor {
            from: now,
            factor: 0.5,
        },
        Event::ThreatChange {
            site: site.clone(),
            from: now,
            rate: 50.0,
        },
        Event::PersonUnfit {
            person: waiting.clone(),
        },
    ];
    for ev in &events {
        let r = replan(&p, &plan, now, ev, &quick(1)).unwrap();
        let v = validate(&r.problem, &r.plan);
        assert!(
            v.iter().all(|x| x.rule == Rule::Deadline),
            "{ev:?}: {:?}",
            &v[..v.len().min(5)]
        );
        match ev {
            Event::PersonUnfit { person } => {
                assert!(r.plan.unserved.iter().any(|u| &u.person == person));
                assert!(r.plan.sorties.iter().all(|s| !s.manifest.contains(person)));
            }
            Event::IntakeFactor { .. } => {
                let d = sallyport_planner::problem::day_of(p.to_h(now)) + 1;
                let day = r.plan.intake.iter().find(|x| x.day == d).unwrap();
                assert!(day.people <= p.intake_per_day / 2);
            }
            _ => {}
        }
    }
    // Unknown ids are input errors, not panics.
    let bad = Event::PersonUnfit {
        person: "P-999999".parse().unwrap(),
    };
    assert!(matches!(
        replan(&p, &plan, now, &bad, &quick(0)),
        Err(PlanError::Input(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]
    #[test]
    fn random_instances_give_valid_plans_above_their_bounds(seed in 0u64..10_000, people in 30u32..400, aircraft in 2u32..10, sites in 1u32..6) {
        let p = small(seed, people, aircraft, sites);
        match solve(&p, &quick(1)) {
            Ok(plan) => {
                let v = validate(&p, &plan);
                // Deadlines are objective level 1: any violation must be a counted deadline miss.
                prop_assert!(v.iter().all(|x| x.rule == Rule::Deadline), "{:?}", &v[..v.len().min(5)]);
                prop_assert_eq!(v.len() as u32, plan.kpis.deadline_misses);
                prop_assert!(plan.bounds.risk_exposure <= plan.kpis.risk_exposure * (1.0 + 1e-9) + 1e-6);
                prop_assert!(plan.bounds.makespan_h <= plan.kpis.makespan_h + 1e-6);
            }
            Err(PlanError::Infeasible(why)) => prop_assert!(!why.is_empty()),
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}
