//! Deterministic instances for tests and benchmarks, and the JSON export the
//! CP-SAT peer (`bench/planner/cpsat_peer.py`) reads.

use std::collections::BTreeMap;

use chrono::Duration;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sallyport_core::scenario::{FleetGroup, OriginSpec};
use sallyport_core::{LatLon, Scenario, Site, SiteId, SiteKind};
use serde::Serialize;

use crate::problem::{Problem, ThreatRates, day_of, route, route_hours};
use crate::solve::prepare;

/// A scaled copy of `base`: `sites` origins (random positions in the box the
/// base's origins span, grown by 0.3°), `people` people split among them,
/// `aircraft` airframes spread over the base's fleet groups in proportion,
/// destination intake scaled with the population. Deterministic in `seed`.
pub fn scaled(base: &Scenario, people: u32, aircraft: u32, sites: u32, seed: u64) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut sc = base.clone();
    let origins: Vec<&Site> = base.sites.iter().filter(|s| s.kind.is_origin()).collect();
    let (mut la0, mut la1, mut lo0, mut lo1) = (90.0f64, -90.0f64, 180.0f64, -180.0f64);
    for s in &origins {
        la0 = la0.min(s.position.lat());
        la1 = la1.max(s.position.lat());
        lo0 = lo0.min(s.position.lon());
        lo1 = lo1.max(s.position.lon());
    }
    let operator = origins
        .first()
        .map(|s| s.operator.clone())
        .unwrap_or_else(|| base.sites[0].operator.clone());
    let template_cats = base
        .origins
        .iter()
        .map(|o| o.categories.clone())
        .collect::<Vec<_>>();
    sc.sites.retain(|s| !s.kind.is_origin());
    sc.origins.clear();
    sc.convoys.clear();
    let weights: Vec<f64> = (0..sites).map(|_| rng.gen_range(0.3..1.7)).collect();
    let wsum: f64 = weights.iter().sum();
    let mut assigned = 0u32;
    for i in 0..sites {
        let n = if i + 1 == sites {
            people - assigned
        } else {
            ((people as f64) * weights[i as usize] / wsum).floor() as u32
        };
        assigned += n;
        let id = SiteId::new(format!("site-{:03}", i + 1)).expect("valid id");
        let pos = LatLon::new(
            rng.gen_range(la0 - 0.3..la1 + 0.3),
            rng.gen_range(lo0 - 0.3..lo1 + 0.3),
        )
        .expect("in range");
        sc.sites.push(Site {
            id: id.clone(),
            name: format!("Synthetic site {}", i + 1),
            kind: SiteKind::DetentionFacility,
            position: pos,
            population: n,
            holding_capacity: n + 100,
            daily_intake_capacity: None,
            operating_hours: None,
            refuel: false,
            runway: false,
            operator: operator.clone(),
            source: "synthetic (planner::instance::scaled)".into(),
        });
        let deadline = if rng.gen_bool(0.15) {
            Some(sc.operation.start + Duration::days(rng.gen_range(6..12)) + Duration::hours(12))
        } else {
            None
        };
        let categories: BTreeMap<String, f64> = if template_cats.is_empty() {
            [("adult_male".to_string(), 1.0)].into()
        } else {
            template_cats[rng.gen_range(0..template_cats.len())].clone()
        };
        sc.origins.push(OriginSpec {
            site: id,
            categories,
            deadline,
        });
    }
    let base_total: u32 = base.fleet.iter().map(|g| g.count).sum::<u32>().max(1);
    let mut groups: Vec<FleetGroup> = Vec::new();
    let mut given = 0;
    for (k, g) in base.fleet.iter().enumerate() {
        let n = if k + 1 == base.fleet.len() {
            aircraft - given
        } else {
            aircraft * g.count / base_total
        };
        given += n;
        if n > 0 {
            groups.push(FleetGroup {
                count: n,
                ..g.clone()
            });
        }
    }
    sc.fleet = groups;
    let base_people = base.total_population().max(1) as f64;
    for s in sc
        .sites
        .iter_mut()
        .filter(|s| s.kind == SiteKind::Destination)
    {
        let cap = s.daily_intake_capacity.unwrap_or(0) as f64 * people as f64 / base_people;
        s.daily_intake_capacity = Some(cap.round().max(1.0) as u32);
        s.holding_capacity = s.holding_capacity.max(people + 1000);
    }
    sc.population.seed = seed;
    sc
}

/// A deterministic synthetic threat profile for `days` days: each origin gets
/// a base rate in 0.5..3.0; a third of them escalate by 5–20 % a day; sites
/// with a deadline start high (they are the threatened ones).
pub fn synthetic_threat(sc: &Scenario, days: usize, seed: u64) -> ThreatRates {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7487_EA7E);
    let mut out = ThreatRates::new();
    for o in &sc.origins {
        let mut r: f64 = rng.gen_range(0.5..3.0);
        if o.deadline.is_some() {
            r = r.max(2.5);
        }
        let grow = if rng.gen_bool(0.33) {
            rng.gen_range(0.05..0.2)
        } else {
            0.0
        };
        let v = (0..days).map(|d| r * (1.0 + grow * d as f64)).collect();
        out.insert(o.site.clone(), v);
    }
    out
}

/// One sortie slot of the peer's aggregate model.
#[derive(Debug, Clone, Serialize)]
pub struct PeerSlot {
    pub class: usize,
    pub day: i64,
    pub slot: usize,
    pub site: usize,
    pub depart_h: f64,
    pub arrive_h: f64,
    /// Exposure of one person leaving on this slot.
    pub exposure: f64,
    /// Detainees one aircraft can carry on this slot (men, site's risk mix).
    pub capacity: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeerInstance {
    pub name: String,
    pub people_per_site: Vec<u32>,
    pub site_ids: Vec<String>,
    pub deadline_h: Vec<Option<f64>>,
    pub class_names: Vec<String>,
    pub class_count: Vec<u32>,
    pub slots_per_day: Vec<usize>,
    pub intake_per_day: BTreeMap<i64, u32>,
    pub slots: Vec<PeerSlot>,
    pub start_h: f64,
}

/// The peer's aggregate model data (see `bench/planner/README.md`): for every
/// aircraft class, day and slot, the sites a sortie could serve, with fixed
/// departure times from a conservative cycle (the class's slowest round trip
/// over the sites it can reach), per-person exposure and net capacity.
pub fn peer_instance(p: &Problem, name: &str, days: i64) -> Result<PeerInstance, crate::PlanError> {
    let pre = prepare(p)?;
    let ns = p.sites.len();
    let mut n = vec![0u32; ns];
    for &i in &pre.movable {
        n[p.people[i].site] += 1;
    }
    // Net detainee capacity per site: seats / (1 + mean guard ratio), men's sortie.
    let mut ratio = vec![0.0; ns];
    for &i in &pre.movable {
        let q = &p.people[i];
        ratio[q.site] += p.rules.guard_ratio(q.risk) + (p.rules.person_seats(q) - 1) as f64;
    }
    let mut classes: Vec<usize> = Vec::new();
    for (i, a) in p.aircraft.iter().enumerate() {
        if !classes.iter().any(|&r| p.aircraft[r].type_id == a.type_id) {
            classes.push(i);
        }
    }
    let mut out = PeerInstance {
        name: name.into(),
        people_per_site: n.clone(),
        site_ids: p.sites.iter().map(|s| s.id.to_string()).collect(),
        deadline_h: p.sites.iter().map(|s| s.deadline_h).collect(),
        class_names: classes
            .iter()
            .map(|&r| p.aircraft[r].type_id.to_string())
            .collect(),
        class_count: classes
            .iter()
            .map(|&r| {
                p.aircraft
                    .iter()
                    .filter(|a| a.type_id == p.aircraft[r].type_id)
                    .count() as u32
            })
            .collect(),
        slots_per_day: vec![],
        intake_per_day: BTreeMap::new(),
        slots: vec![],
        start_h: p.start_h,
    };
    let d0 = day_of(p.start_h);
    for d in d0..d0 + days {
        out.intake_per_day.insert(d, p.intake_cap(d));
    }
    let (open, close) = p.sites[p.destination].hours.unwrap_or((0.0, 24.0));
    for (c, &r) in classes.iter().enumerate() {
        let ac = &p.aircraft[r];
        let mut per_site = Vec::new();
        for s in 0..ns {
            if n[s] == 0 {
                continue;
            }
            let (Some(back), Some(load)) = (
                route(p, ac, p.destination, s),
                route(p, ac, s, p.destination),
            ) else {
                continue;
            };
            let pos_h = route_hours(p, ac, &back);
            let load_h = route_hours(p, ac, &load);
            let fly: f64 = back
                .windows(2)
                .chain(load.windows(2))
                .map(|w| ac.hours_for(p.dist(w[0], w[1])))
                .sum();
            per_site.push((s, pos_h, load_h, fly));
        }
        let Some(cycle) = per_site
            .iter()
            .map(|x| x.1 + x.2 + 2.0 * ac.turnaround_h)
            .max_by(f64::total_cmp)
        else {
            out.slots_per_day.push(0);
            continue;
        };
        let fly_max = per_site.iter().map(|x| x.3).fold(0.0, f64::max);
        let (ws, we) = if ac.night_capable {
            (0.0, 24.0)
        } else {
            (p.rules.day_start_h, p.rules.day_end_h)
        };
        let by_day = ((we - ws) / cycle).floor() as usize;
        let by_fh = (ac.max_flight_hours_per_day / fly_max).floor() as usize;
        let by_duty = (ac.crew_duty_hours / cycle).floor() as usize;
        let k = by_day.min(by_fh).min(by_duty);
        out.slots_per_day.push(k);
        let seats = ac.usable_seats(p.rules.kg_per_seat) as f64;
        for d in d0..d0 + days {
            for j in 0..k {
                let t0 = d as f64 * 24.0 + ws + j as f64 * cycle;
                for &(s, pos_h, load_h, _) in &per_site {
                    let dep = t0 + pos_h + ac.turnaround_h;
                    let arr = dep + load_h;
                    if dep < p.start_h
                        || arr > d as f64 * 24.0 + close.min(we)
                        || arr < d as f64 * 24.0 + open
                    {
                        continue;
                    }
                    let mean = ratio[s] / n[s] as f64;
                    let capacity = (seats / (1.0 + mean)).floor() as u32;
                    out.slots.push(PeerSlot {
                        class: c,
                        day: d,
                        slot: j,
                        site: s,
                        depart_h: dep,
                        arrive_h: arr,
                        exposure: p.exposure_until(s, dep),
                        capacity,
                    });
                }
            }
        }
    }
    Ok(out)
}
