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
                // Halved, except that sorties already under way (positioned
                // the evening before, say) still land their people.
                let day_of = sallyport_planner::problem::day_of;
                let d = day_of(p.to_h(now)) + 1;
                let under_way: u32 = plan
                    .sorties
                    .iter()
                    .filter(|s| s.depart_h() < p.to_h(now) && day_of(s.arrive_h()) == d)
                    .map(|s| s.manifest.len() as u32)
                    .sum();
                let day = r.plan.intake.iter().find(|x| x.day == d).unwrap();
                assert!(day.people <= (p.intake_per_day / 2).max(under_way), "{day:?} {under_way}");
                assert!(day.people <= day.capacity);
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
                // A site's slack is negative exactly when someone leaves it late.
                for s in &plan.sites {
                    prop_assert_eq!(s.slack_h.is_some_and(|h| h < -1e-6), s.late > 0, "{:?}", s);
                }
                prop_assert!(plan.bounds.risk_exposure <= plan.kpis.risk_exposure * (1.0 + 1e-9) + 1e-6);
                prop_assert!(plan.bounds.makespan_h <= plan.kpis.makespan_h + 1e-6);
            }
            Err(PlanError::Infeasible(why)) => prop_assert!(!why.is_empty()),
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}

/// A hand-built instance: one origin 200 km from the destination, one
/// helicopter (11 usable seats, 200 km/h, 30 min turnarounds) based at the
/// destination, `n` low-risk men (1.1 seats each with guards: 10 a trip).
fn tiny(n: usize, fh_per_day: f64) -> Problem {
    use sallyport_core::{
        AircraftTypeId, Category, EscortNeed, LatLon, PersonId, RiskClass, SiteId, TailNumber,
    };
    use sallyport_planner::problem::{AircraftSpec, PersonSpec, Rules, SiteSpec};
    let dest = LatLon::new(33.0, 44.0).unwrap();
    // 200 km due north (great circle, R = 6371.0088 km).
    let north = LatLon::new(33.0 + (200.0 / 6371.0088f64).to_degrees(), 44.0).unwrap();
    let site = |id: &str, kind, position, refuel| SiteSpec {
        id: SiteId::new(id).unwrap(),
        kind,
        position,
        runway: refuel,
        refuel,
        holding_capacity: 10_000,
        hours: None,
        deadline_h: None,
        threat: vec![],
    };
    let sites = vec![
        site("origin", SiteKind::DetentionFacility, north, false),
        site("dest", SiteKind::Destination, dest, true),
    ];
    let d = sites[0].position.distance_km(&sites[1].position);
    assert!((d - 200.0).abs() < 0.01, "{d}");
    let people = (0..n)
        .map(|i| PersonSpec {
            id: PersonId::new(format!("P-{i:06}")).unwrap(),
            site: 0,
            category: Category::AdultMale,
            risk: RiskClass::Low,
            groups: vec![],
            fit_to_fly: true,
            escort: EscortNeed::None,
        })
        .collect();
    Problem {
        epoch: "2026-01-01T00:00:00Z".parse().unwrap(),
        start_h: 6.0,
        first_day: "2026-01-01".parse().unwrap(),
        sites,
        destination: 1,
        aircraft: vec![AircraftSpec {
            tail: TailNumber::new("H-1").unwrap(),
            type_id: AircraftTypeId::new("heli").unwrap(),
            seats: 11,
            payload_kg: 11 * 110,
            cruise_kmh: 200.0,
            range_km: 500.0,
            turnaround_h: 0.5,
            max_flight_hours_per_day: fh_per_day,
            crew_duty_hours: 12.0,
            needs_runway: false,
            night_capable: false,
            base: 1,
            available: vec![],
            unavailable: vec![],
        }],
        people,
        rules: Rules {
            guards_per_detainee: [0.1, 0.2, 0.34, 0.5],
            escorts_for_women_and_minors: 2,
            stretcher_seats: 3,
            kg_per_seat: 110,
            day_start_h: 6.0,
            day_end_h: 18.0,
            refuel_stop_h: 0.5,
        },
        intake_per_day: 1000,
        intake_overrides: Default::default(),
        closures: vec![],
    }
}

#[test]
fn tiny_instance_bounds_never_exceed_the_known_optimum() {
    // 20 people, 10 a trip. Known optimum (rate 1, so exposure = hours
    // waited): the helicopter leaves the destination at 06:00 (operation
    // start), is at the origin at 07:00, boards until 07:30 (turnaround),
    // lands 08:30; turnaround to 09:00, back at 10:00, boards, leaves 10:30,
    // lands 11:30. No pick-up can be earlier: the first needs one positioning
    // hour and a turnaround after 06:00, the second a full cycle of
    // 1 + 0.5 + 1 + 0.5 h more, and no trip carries more than 10.
    // Exposure = 10 × 1.5 + 10 × 4.5 = 60; makespan = 11.5 − 6 = 5.5 h.
    let p = tiny(20, 8.0);
    let plan = solve(&p, &quick(2)).unwrap();
    assert!(validate(&p, &plan).is_empty());
    assert!((plan.kpis.risk_exposure - 60.0).abs() < 1e-6, "{:?}", plan.kpis);
    assert!((plan.kpis.makespan_h - 5.5).abs() < 1e-6, "{:?}", plan.kpis);
    let b = &plan.bounds;
    assert!(b.risk_exposure <= 60.0 + 1e-6, "{b:?}");
    assert!(b.makespan_h <= 5.5 + 1e-6, "{b:?}");
    // The fleet relaxation is exact here; the intake-only bound is not.
    assert!(b.risk_exposure >= 60.0 - 1e-3, "{b:?}");
    assert!(b.makespan_h >= 5.5 - 1e-3, "{b:?}");
    let movable: Vec<usize> = (0..p.people.len()).collect();
    let intake = sallyport_planner::bound::intake_bounds(&p, &movable).unwrap();
    assert!(intake.risk_exposure < 30.0, "{intake:?}");

    // Flight hours bind: 3 h a day. Day 0: position (1 h), trip 1 at 07:30
    // (1 h), position back (1 h) — the loaded hour of trip 2 no longer fits,
    // so it boards at 06:00 on day 1 (h 30); trip 3 follows a cycle later at
    // 09:00 (h 33, 3 h flown that day). Exposure for 30 people:
    // 10 × 1.5 + 10 × 24 + 10 × 27 = 525; makespan = 34 − 6 = 28 h.
    let p = tiny(30, 3.0);
    let plan = solve(&p, &quick(2)).unwrap();
    assert!(validate(&p, &plan).is_empty());
    assert!((plan.kpis.risk_exposure - 525.0).abs() < 1e-6, "{:?}", plan.kpis);
    assert!((plan.kpis.makespan_h - 28.0).abs() < 1e-6, "{:?}", plan.kpis);
    let b = &plan.bounds;
    assert!(b.risk_exposure <= 525.0 + 1e-6, "{b:?}");
    assert!(b.makespan_h <= 28.0 + 1e-6, "{b:?}");
    assert!(b.risk_exposure > intake.risk_exposure, "{b:?}");
    // With overnight states the positioning for the first trip of a day is
    // flown inside some day's 3 h (here day 0's evening), so the LP no longer
    // takes 1.5 trips on day 0 and 1.5 on day 1 (412.5): it is exact.
    assert!(b.risk_exposure >= 525.0 - 1e-3, "{b:?}");
}

/// A variant of [`tiny`] where every leg needs a refuelling stop: the origin
/// is 300 km north, the helicopter's range 200 km, a refuelling site halfway.
fn tiny_with_stop(n: usize) -> Problem {
    use sallyport_core::LatLon;
    use sallyport_planner::problem::SiteSpec;
    let mut p = tiny(n, 8.0);
    let lat = |km: f64| 33.0 + (km / 6371.0088f64).to_degrees();
    p.sites[0].position = LatLon::new(lat(300.0), 44.0).unwrap();
    p.sites.push(SiteSpec {
        id: sallyport_core::SiteId::new("mid").unwrap(),
        kind: SiteKind::StagingBase,
        position: LatLon::new(lat(150.0), 44.0).unwrap(),
        runway: true,
        refuel: true,
        holding_capacity: 0,
        hours: None,
        deadline_h: None,
        threat: vec![],
    });
    p.aircraft[0].range_km = 200.0;
    p
}

#[test]
fn tiny_instance_with_refuelling_stops_keeps_the_bound_exact() {
    // 20 people, 10 a trip; every chain origin ↔ destination needs a stop
    // (300 km, range 200 km), so positioning costs 2 × 0.75 h of flight and
    // at least 0.5 h on the ground (a refuelling stop, or a turnaround if
    // split into two sorties). Known optimum: leave 06:00, refuel 06:45–07:15,
    // at the origin 08:00, board until 08:30, land 10:30 (0.75 + 0.5 + 0.75);
    // turnaround to 11:00, back at 13:00, board, leave 13:30, land 15:30.
    // Exposure = 10 × 2.5 + 10 × 7.5 = 100; makespan = 15.5 − 6 = 9.5 h.
    // Without the stop's ground time in positioning the fleet LP would say 85.
    let p = tiny_with_stop(20);
    let plan = solve(&p, &quick(2)).unwrap();
    assert!(validate(&p, &plan).is_empty(), "{:?}", validate(&p, &plan));
    assert!((plan.kpis.risk_exposure - 100.0).abs() < 1e-6, "{:?}", plan.kpis);
    assert!((plan.kpis.makespan_h - 9.5).abs() < 1e-6, "{:?}", plan.kpis);
    let b = &plan.bounds;
    assert!(b.risk_exposure <= 100.0 + 1e-6, "{b:?}");
    assert!(b.makespan_h <= 9.5 + 1e-6, "{b:?}");
    assert!(b.risk_exposure >= 100.0 - 1e-3, "{b:?}");
}

#[test]
fn tiny_instance_with_overnight_positioning_keeps_the_bound_below_the_optimum() {
    // As `tiny_with_stop` (legs of 0.75 h, 0.5 h on the ground at a stop or a
    // turnaround; a loaded trip or a positioning is 2 legs, 2 h elapsed), 40
    // people, 10 a trip, and 5.25 flight hours a day: 7 legs. A cycle is 4
    // legs, so day 0 (from the destination) has room for 1 trip and
    // positioning, no day for 3 trips, and a day has 2 trips only when it
    // starts at the origin (6 legs) or at the midpoint (7 legs).
    // Known optimum (rate 1, exposure = hours waited from 06:00):
    // day 0: pick-up 08:30 (2.5), then position to the origin (13:00);
    // day 1: pick-ups 06:00 (24) and 11:00 (29), then position to the
    // midpoint (7 legs); day 2: at the origin 06:45, pick-up 07:15 (49.25).
    // Exposure = 10 × (2.5 + 24 + 29 + 49.25) = 1047.5. (Ending day 0 at the
    // midpoint instead gives day 1 07:15 and 12:15 and day 2 08:30: worse.)
    // The fleet LP is exact here: no day-1 pattern ends at the origin (6 legs
    // of trips + 2 of positioning > 7), so day 2's first trip is priced after
    // positioning that morning from the nearest other site (the midpoint,
    // 0.75 h, and a turnaround: 07:15). Pricing every day's first pick-up at
    // first light it said 10 × (2.5 + 24 + 29 + 48) = 1035; without overnight
    // states 778.75 (1.75 trips on day 0 and on day 1: positioning for a
    // day's first trip counted only in multi-day flight hours).
    let mut p = tiny_with_stop(40);
    p.aircraft[0].max_flight_hours_per_day = 5.25;
    let plan = solve(&p, &quick(3)).unwrap();
    assert!(validate(&p, &plan).is_empty(), "{:?}", validate(&p, &plan));
    // no valid plan beats the optimum derived above
    assert!(plan.kpis.risk_exposure >= 1047.5 - 1e-6, "{:?}", plan.kpis);
    let b = &plan.bounds;
    assert!(b.risk_exposure <= 1047.5 + 1e-6, "{b:?}");
    assert!(b.risk_exposure >= 1047.5 - 1e-3, "{b:?}");
    assert!(b.makespan_h <= plan.kpis.makespan_h + 1e-6, "{b:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, .. ProptestConfig::default() })]
    /// The bounds hold for re-planned problems too (closures, lost aircraft,
    /// halved intake), against plans from different seeds.
    #[test]
    fn bounds_stay_below_replanned_plans(seed in 0u64..10_000, people in 30u32..300, aircraft in 2u32..8, sites in 1u32..5, which in 0usize..3) {
        let p = small(seed, people, aircraft, sites);
        let Ok(plan) = solve(&p, &quick(1)) else { return Ok(()) };
        let now = p.to_utc(p.start_h + 20.0);
        let ev = match which {
            0 => Event::WeatherClosure { date: p.date_of_day(1) },
            1 => Event::AircraftUnserviceable { tail: p.aircraft[0].tail.clone(), from: now, days: Some(2.0) },
            _ => Event::IntakeFactor { from: now, factor: 0.5 },
        };
        let Ok(r) = replan(&p, &plan, now, &ev, &SolverOptions { seed: seed ^ 5, ..quick(1) }) else { return Ok(()) };
        let v = validate(&r.problem, &r.plan);
        prop_assert!(v.iter().all(|x| x.rule == Rule::Deadline), "{:?}", &v[..v.len().min(5)]);
        prop_assert!(r.plan.bounds.risk_exposure <= r.plan.kpis.risk_exposure * (1.0 + 1e-9) + 1e-6, "{:?} {:?}", r.plan.bounds, r.plan.kpis);
        prop_assert!(r.plan.bounds.makespan_h <= r.plan.kpis.makespan_h + 1e-6, "{:?} {:?}", r.plan.bounds, r.plan.kpis);
    }
}

/// Issue 3: losing one aircraft mid-operation on the flagship must not
/// rewrite the plan. The lost aircraft's later sorties change necessarily;
/// the repair may give a few other slots to their people, but everything
/// departed stays, the result validates, and the count of changed manifests
/// (recounted here from the two plans) stays small.
#[test]
fn losing_an_aircraft_mid_operation_changes_few_manifests() {
    let p = problem_of(&flagship_scenario(), 7);
    let plan = solve(&p, &quick(2)).unwrap();
    let now_h = p.start_h + 5.0 * 24.0 + 3.0;
    let now = p.to_utc(now_h);
    let tail = p.aircraft[0].tail.clone();
    let ev = Event::AircraftUnserviceable {
        tail: tail.clone(),
        from: now,
        days: None,
    };
    let r = replan(&p, &plan, now, &ev, &quick(1)).unwrap();
    let v = validate(&r.problem, &r.plan);
    assert!(v.is_empty(), "{:?}", &v[..v.len().min(5)]);
    assert_eq!(r.plan.kpis.people_moved, plan.kpis.people_moved);
    // Departed sorties are kept as they were; the lost aircraft starts nothing new.
    let departed: Vec<_> = plan.sorties.iter().filter(|s| s.depart_h() < now_h).collect();
    assert_eq!(r.sorties_fixed as usize, departed.len());
    for s in &departed {
        assert!(
            r.plan.sorties.iter().any(|n| n.aircraft == s.aircraft
                && n.legs == s.legs
                && n.manifest == s.manifest),
            "departed sortie {} changed",
            s.id
        );
    }
    assert!(
        r.plan
            .sorties
            .iter()
            .all(|s| s.aircraft != tail || s.depart_h() < now_h)
    );
    // Manifests changed, recounted: later old sorties with people that have
    // no twin (aircraft, departure, same people) in the new plan.
    let same = |a: &sallyport_planner::Sortie, b: &sallyport_planner::Sortie| {
        let (mut x, mut y) = (a.manifest.clone(), b.manifest.clone());
        x.sort();
        y.sort();
        a.aircraft == b.aircraft && (a.depart_h() - b.depart_h()).abs() < 1e-3 && x == y
    };
    let later: Vec<_> = plan
        .sorties
        .iter()
        .filter(|s| s.depart_h() >= now_h && !s.manifest.is_empty())
        .collect();
    let changed = later
        .iter()
        .filter(|s| !r.plan.sorties.iter().any(|n| same(s, n)))
        .count() as u32;
    assert_eq!(changed, r.manifests_changed);
    let lost = later.iter().filter(|s| s.aircraft == tail).count() as u32;
    assert!(lost >= 5, "the lost aircraft had {lost} later sorties");
    assert!(changed >= lost);
    assert_eq!(r.strategy, "repair");
    let (repair, resolve) = (r.repair.clone().unwrap(), r.resolve.clone().unwrap());
    let why = format!(
        "{changed} manifests changed ({lost} were the lost aircraft's, {} exchanged); re-solve: {resolve:?}; repair: {repair:?}",
        r.sorties_exchanged
    );
    // At most 30 slots besides the lost aircraft's (a re-solve changes ~250).
    assert!(changed <= lost + 30, "{why}");
    // Exchanges happened and survived validation (a rejected set is undone
    // and reported as 0).
    assert!(r.sorties_exchanged > 0, "{why}");
    assert_eq!(changed, lost + r.sorties_exchanged, "{why}");
    assert_eq!(repair.manifests_changed, changed);
    assert!(resolve.manifests_changed >= 4 * changed, "{why}");
    // Stability is not bought with much exposure: within 3 % of the re-solve.
    assert_eq!(repair.objective.deadline_misses, 0);
    assert!(
        repair.objective.risk_exposure <= 1.03 * resolve.objective.risk_exposure,
        "{why}"
    );
    // The stated rule picked it.
    assert!(
        repair.objective.risk_exposure + r.manifest_price * changed as f64
            <= resolve.objective.risk_exposure
                + r.manifest_price * resolve.manifests_changed as f64
    );
}

#[test]
fn a_deadline_sites_last_stragglers_leave_before_its_deadline() {
    // [`tiny`] with 11 people at the origin (10 a trip: the 11th is a
    // straggler) whose deadline is 17:00 on day 0, and a second origin 200 km
    // south with 100 people at five times the threat rate and no deadline.
    // A full cabin from the second site scores 50 against the straggler's
    // (1 + urgency) × 1, so a construction driven by the score alone flies
    // the straggler only once the second site is empty (day 2) and misses
    // the deadline. Four trips fit into daylight on day 0 (the first boards
    // 07:30, then one every 3 h), so both of the origin's trips can leave in
    // time: the plan must miss no deadline (every start misses it; the
    // deadline repair at the end of the search, due pick-ups first, does not).
    // With no rounds of search only that repair can save the straggler.
    use sallyport_core::{Category, EscortNeed, LatLon, PersonId, RiskClass, SiteId};
    use sallyport_planner::problem::{PersonSpec, SiteSpec};
    let mut p = tiny(11, 8.0);
    p.sites[0].deadline_h = Some(17.0);
    let south = LatLon::new(33.0 - (200.0 / 6371.0088f64).to_degrees(), 44.0).unwrap();
    p.sites.push(SiteSpec {
        id: SiteId::new("south").unwrap(),
        kind: SiteKind::DetentionFacility,
        position: south,
        runway: false,
        refuel: false,
        holding_capacity: 10_000,
        hours: None,
        deadline_h: None,
        threat: vec![5.0],
    });
    for i in 0..100 {
        p.people.push(PersonSpec {
            id: PersonId::new(format!("S-{i:06}")).unwrap(),
            site: 2,
            category: Category::AdultMale,
            risk: RiskClass::Low,
            groups: vec![],
            fit_to_fly: true,
            escort: EscortNeed::None,
        });
    }
    let plan = solve(&p, &quick(0)).unwrap();
    assert!(validate(&p, &plan).is_empty(), "{:?}", validate(&p, &plan));
    assert_eq!(plan.kpis.people_moved, 111, "{:?}", plan.kpis);
    assert_eq!(plan.kpis.deadline_misses, 0, "{:?}", plan.kpis);
    let origin = plan.sites.iter().find(|s| s.site.as_str() == "origin").unwrap();
    assert!(origin.emptied_h.is_some_and(|h| h <= 17.0), "{origin:?}");
    // The buffer left: deadline minus the last pick-up, never negative here.
    let slack = origin.slack_h.unwrap();
    assert!((slack - (17.0 - origin.emptied_h.unwrap())).abs() < 1e-9 && slack >= 0.0, "{origin:?}");
    // The second origin has no deadline, so no slack.
    assert!(plan.sites.iter().filter(|s| s.deadline.is_none()).all(|s| s.slack_h.is_none()), "{:?}", plan.sites);
}
