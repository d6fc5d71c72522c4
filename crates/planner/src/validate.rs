//! Independent checker of every hard constraint of a plan against a problem.
//!
//! It shares no scheduling code with the solver: it re-derives every rule from
//! the [`Problem`] and the plan's sorties as written (ids, hours), so it can
//! judge plans imported from elsewhere. Each violation names the sortie, the
//! aircraft and/or person, and the rule.

use std::collections::{BTreeMap, HashMap, HashSet};

use sallyport_core::{Category, PersonId, SiteId, TailNumber};
use serde::{Deserialize, Serialize};

use crate::plan::Plan;
use crate::problem::{Problem, day_of, within_daily};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    UnknownId,
    Structure,
    LegTime,
    Range,
    Runway,
    Daylight,
    Closure,
    Availability,
    FlightHours,
    CrewDuty,
    Continuity,
    Turnaround,
    RefuelStop,
    Seats,
    Payload,
    Guards,
    Escorts,
    MedicalSeats,
    Category,
    Separation,
    UnfitToFly,
    WrongSite,
    Duplicate,
    NotMoved,
    DestinationHours,
    Intake,
    Holding,
    Deadline,
    BeforeStart,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub rule: Rule,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sortie: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aircraft: Option<TailNumber>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<PersonId>,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{:?}]", self.rule)?;
        if let Some(s) = self.sortie {
            write!(f, " sortie {s}")?;
        }
        if let Some(a) = &self.aircraft {
            write!(f, " aircraft {a}")?;
        }
        if let Some(p) = &self.person {
            write!(f, " person {p}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

const EPS: f64 = 1e-6;

/// Every violation of a hard constraint; empty means the plan is valid.
pub fn validate(p: &Problem, plan: &Plan) -> Vec<Violation> {
    let mut v = Vec::new();
    let mut push = |rule,
                    sortie: Option<u32>,
                    aircraft: Option<&TailNumber>,
                    person: Option<&PersonId>,
                    detail: String| {
        v.push(Violation {
            rule,
            sortie,
            aircraft: aircraft.cloned(),
            person: person.cloned(),
            detail,
        })
    };
    if (plan.epoch - p.epoch).num_milliseconds() != 0 {
        push(
            Rule::Structure,
            None,
            None,
            None,
            format!(
                "plan clock starts at {} but the problem's at {}",
                plan.epoch, p.epoch
            ),
        );
        return v;
    }
    let site: HashMap<&SiteId, usize> = p
        .sites
        .iter()
        .enumerate()
        .map(|(i, s)| (&s.id, i))
        .collect();
    let acix: HashMap<&TailNumber, usize> = p
        .aircraft
        .iter()
        .enumerate()
        .map(|(i, a)| (&a.tail, i))
        .collect();
    let pix: HashMap<&PersonId, usize> = p
        .people
        .iter()
        .enumerate()
        .map(|(i, q)| (&q.id, i))
        .collect();
    let r = &p.rules;
    let mut carried: HashMap<usize, u32> = HashMap::new();
    let mut per_ac: BTreeMap<usize, Vec<(f64, f64, u32, usize, usize)>> = BTreeMap::new(); // dep, arr, id, from, to
    let mut fh_day: BTreeMap<(usize, i64), f64> = BTreeMap::new();
    let mut duty_day: BTreeMap<(usize, i64), (f64, f64)> = BTreeMap::new();
    let mut intake: BTreeMap<i64, Vec<(f64, u32, u32)>> = BTreeMap::new(); // arr, sortie, n
    let mut ids = HashSet::new();
    for s in &plan.sorties {
        let sid = Some(s.id);
        if !ids.insert(s.id) {
            push(
                Rule::Structure,
                sid,
                None,
                None,
                "sortie id used twice".into(),
            );
        }
        let Some(&a) = acix.get(&s.aircraft) else {
            push(
                Rule::UnknownId,
                sid,
                Some(&s.aircraft),
                None,
                format!("unknown aircraft {}", s.aircraft),
            );
            continue;
        };
        let ac = &p.aircraft[a];
        let tail = Some(&s.aircraft);
        if s.legs.is_empty() {
            push(
                Rule::Structure,
                sid,
                tail,
                None,
                "sortie has no legs".into(),
            );
            continue;
        }
        // Legs.
        let mut ok = true;
        let mut prev: Option<(usize, f64, bool)> = None; // to, arr, loaded
        for (li, l) in s.legs.iter().enumerate() {
            let (Some(&f), Some(&t)) = (site.get(&l.from), site.get(&l.to)) else {
                push(
                    Rule::UnknownId,
                    sid,
                    tail,
                    None,
                    format!("leg {li} names an unknown site ({} → {})", l.from, l.to),
                );
                ok = false;
                break;
            };
            if !(l.depart_h.is_finite() && l.arrive_h.is_finite()) {
                push(
                    Rule::LegTime,
                    sid,
                    tail,
                    None,
                    format!("leg {li} has a non-finite time"),
                );
                ok = false;
                break;
            }
            let km = p.dist(f, t);
            let dur = km / ac.cruise_kmh;
            if f == t {
                push(
                    Rule::Structure,
                    sid,
                    tail,
                    None,
                    format!("leg {li} goes nowhere ({})", l.from),
                );
            }
            if l.arrive_h - l.depart_h < dur - 1e-4 {
                push(
                    Rule::LegTime,
                    sid,
                    tail,
                    None,
                    format!(
                        "leg {li} {}→{} takes {:.3} h but needs {:.3} h at cruise",
                        l.from,
                        l.to,
                        l.arrive_h - l.depart_h,
                        dur
                    ),
                );
            }
            if km > ac.range_km + 1e-6 {
                push(
                    Rule::Range,
                    sid,
                    tail,
                    None,
                    format!(
                        "leg {li} {}→{} is {km:.0} km, beyond the {:.0} km range",
                        l.from, l.to, ac.range_km
                    ),
                );
            }
            if ac.needs_runway && (!p.sites[t].runway || !p.sites[f].runway) {
                push(
                    Rule::Runway,
                    sid,
                    tail,
                    None,
                    format!("leg {li} {}→{} uses a site without a runway", l.from, l.to),
                );
            }
            if l.depart_h < p.start_h - EPS {
                push(
                    Rule::BeforeStart,
                    sid,
                    tail,
                    None,
                    format!("leg {li} departs before the operation starts"),
                );
            }
            if !ac.night_capable
                && !within_daily(l.depart_h, l.arrive_h, r.day_start_h, r.day_end_h)
            {
                push(
                    Rule::Daylight,
                    sid,
                    tail,
                    None,
                    format!(
                        "leg {li} flies outside {:02}:00–{:02}:00 local and the type is not night capable",
                        r.day_start_h, r.day_end_h
                    ),
                );
            }
            if let Some(iv) = p
                .closures
                .iter()
                .find(|iv| iv.overlaps(l.depart_h, l.arrive_h))
            {
                push(
                    Rule::Closure,
                    sid,
                    tail,
                    None,
                    format!(
                        "leg {li} flies during a closure ({:.1}–{:.1} h)",
                        iv.from, iv.to
                    ),
                );
            }
            if let Some(iv) = ac
                .unavailable
                .iter()
                .find(|iv| iv.overlaps(l.depart_h, l.arrive_h))
            {
                push(
                    Rule::Availability,
                    sid,
                    tail,
                    None,
                    format!(
                        "leg {li} flies while the aircraft is unserviceable ({:.1}–{:.1} h)",
                        iv.from, iv.to
                    ),
                );
            }
            if !ac.available.is_empty()
                && !ac
                    .available
                    .iter()
                    .any(|w| w.from <= l.depart_h + EPS && l.arrive_h <= w.to + EPS)
            {
                push(
                    Rule::Availability,
                    sid,
                    tail,
                    None,
                    format!("leg {li} is outside the aircraft's availability windows"),
                );
            }
            *fh_day.entry((a, day_of(l.depart_h))).or_default() += dur;
            let e = duty_day
                .entry((a, day_of(l.depart_h)))
                .or_insert((l.depart_h, l.arrive_h));
            e.0 = e.0.min(l.depart_h);
            e.1 = e.1.max(l.arrive_h);
            if let Some((pt, parr, ploaded)) = prev {
                if pt != f {
                    push(
                        Rule::Structure,
                        sid,
                        tail,
                        None,
                        format!(
                            "leg {li} starts at {} but the previous leg ended elsewhere",
                            l.from
                        ),
                    );
                }
                let pickup = l.loaded && !ploaded;
                let need = if pickup {
                    ac.turnaround_h
                } else {
                    r.refuel_stop_h
                };
                if l.depart_h < parr + need - 1e-4 {
                    push(
                        if pickup {
                            Rule::Turnaround
                        } else {
                            Rule::RefuelStop
                        },
                        sid,
                        tail,
                        None,
                        format!(
                            "leg {li} leaves {} {:.2} h after arriving; needs {:.2} h",
                            l.from,
                            l.depart_h - parr,
                            need
                        ),
                    );
                }
                if ploaded && !l.loaded {
                    push(
                        Rule::Structure,
                        sid,
                        tail,
                        None,
                        format!("leg {li}: people leave the aircraft before the destination"),
                    );
                }
                if ploaded && l.loaded && l.depart_h > parr + need + 1e-4 {
                    push(
                        Rule::RefuelStop,
                        sid,
                        tail,
                        None,
                        format!(
                            "leg {li}: people wait {:.2} h on board at {}",
                            l.depart_h - parr,
                            l.from
                        ),
                    );
                }
                if !ploaded && !l.loaded && !p.sites[f].refuel {
                    push(
                        Rule::RefuelStop,
                        sid,
                        tail,
                        None,
                        format!("leg {li}: intermediate stop {} has no fuel", l.from),
                    );
                }
                if ploaded && l.loaded && !p.sites[f].refuel {
                    push(
                        Rule::RefuelStop,
                        sid,
                        tail,
                        None,
                        format!("leg {li}: intermediate stop {} has no fuel", l.from),
                    );
                }
            }
            prev = Some((t, l.arrive_h, l.loaded));
        }
        if !ok {
            continue;
        }
        let first = &s.legs[0];
        let last = s.legs.last().expect("non-empty");
        per_ac.entry(a).or_default().push((
            first.depart_h,
            last.arrive_h,
            s.id,
            site[&first.from],
            site[&last.to],
        ));
        // Manifest.
        if s.manifest.is_empty() {
            continue;
        }
        let Some(pl) = s.legs.iter().find(|l| l.loaded) else {
            push(
                Rule::Structure,
                sid,
                tail,
                None,
                "people on board but no loaded leg".into(),
            );
            continue;
        };
        let pickup = site[&pl.from];
        if site.get(&s.origin) != Some(&pickup) {
            push(
                Rule::Structure,
                sid,
                tail,
                None,
                format!(
                    "origin {} is not where the people board ({})",
                    s.origin, pl.from
                ),
            );
        }
        if site[&last.to] != p.destination || !last.loaded {
            push(
                Rule::Structure,
                sid,
                tail,
                None,
                format!(
                    "people are not delivered to the destination {}",
                    p.sites[p.destination].id
                ),
            );
        }
        if !p.site_open(p.destination, last.arrive_h, last.arrive_h) {
            push(
                Rule::DestinationHours,
                sid,
                tail,
                None,
                format!(
                    "arrives at {:.2} h, outside the destination's opening hours",
                    last.arrive_h
                ),
            );
        }
        intake.entry(day_of(last.arrive_h)).or_default().push((
            last.arrive_h,
            s.id,
            s.manifest.len() as u32,
        ));
        let mut ratio = 0.0;
        let mut medical = 0u32;
        let mut groups: HashMap<u32, &PersonId> = HashMap::new();
        let mut cats: HashSet<Category> = HashSet::new();
        for id in &s.manifest {
            let Some(&i) = pix.get(id) else {
                push(
                    Rule::UnknownId,
                    sid,
                    tail,
                    Some(id),
                    format!("unknown person {id}"),
                );
                continue;
            };
            let q = &p.people[i];
            *carried.entry(i).or_default() += 1;
            if carried[&i] == 2 {
                push(
                    Rule::Duplicate,
                    sid,
                    tail,
                    Some(id),
                    "person is on more than one sortie".into(),
                );
            }
            if q.site != pickup {
                push(
                    Rule::WrongSite,
                    sid,
                    tail,
                    Some(id),
                    format!(
                        "person is at {}, not {}",
                        p.sites[q.site].id, p.sites[pickup].id
                    ),
                );
            }
            if !q.fit_to_fly {
                push(
                    Rule::UnfitToFly,
                    sid,
                    tail,
                    Some(id),
                    "person is unfit to fly".into(),
                );
            }
            if q.category != s.category {
                push(
                    Rule::Category,
                    sid,
                    tail,
                    Some(id),
                    format!(
                        "{} on a {} sortie",
                        q.category.as_str(),
                        s.category.as_str()
                    ),
                );
            }
            cats.insert(q.category);
            for g in &q.groups {
                if let Some(other) = groups.insert(*g, id) {
                    push(
                        Rule::Separation,
                        sid,
                        tail,
                        Some(id),
                        format!("shares a separation group with {other} on board"),
                    );
                }
            }
            let need = r.person_seats(q);
            medical += need - 1;
            ratio += r.guard_ratio(q.risk);
            if let Some(d) = p.sites[q.site].deadline_h
                && pl.depart_h > d + EPS
            {
                push(
                    Rule::Deadline,
                    sid,
                    tail,
                    Some(id),
                    format!(
                        "leaves {} {:.1} h after its deadline",
                        p.sites[q.site].id,
                        pl.depart_h - d
                    ),
                );
            }
        }
        let guards = r.guard_seats(ratio);
        if s.guard_seats < guards {
            push(
                Rule::Guards,
                sid,
                tail,
                None,
                format!(
                    "{} guard seats for a risk mix needing {guards}",
                    s.guard_seats
                ),
            );
        }
        let esc = cats.iter().map(|&c| r.escorts_for(c)).max().unwrap_or(0);
        if s.escort_seats < esc {
            push(
                Rule::Escorts,
                sid,
                tail,
                None,
                format!(
                    "{} escort seats; women and minors need {esc}",
                    s.escort_seats
                ),
            );
        }
        if s.medical_seats < medical {
            push(
                Rule::MedicalSeats,
                sid,
                tail,
                None,
                format!(
                    "{} medical seats; stretchers and medical escorts need {medical}",
                    s.medical_seats
                ),
            );
        }
        let total = s.manifest.len() as u32 + s.guard_seats + s.escort_seats + s.medical_seats;
        if total > ac.seats {
            push(
                Rule::Seats,
                sid,
                tail,
                None,
                format!("{total} seats needed, the {} has {}", ac.type_id, ac.seats),
            );
        }
        if total as u64 * r.kg_per_seat as u64 > ac.payload_kg as u64 {
            push(
                Rule::Payload,
                sid,
                tail,
                None,
                format!(
                    "{} kg on board, payload {} kg",
                    total as u64 * r.kg_per_seat as u64,
                    ac.payload_kg
                ),
            );
        }
    }
    // Aircraft sequences: continuity from base, turnaround, no overlap.
    for (a, mut list) in per_ac {
        let ac = &p.aircraft[a];
        list.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut loc = ac.base;
        let mut free = f64::NEG_INFINITY;
        for (dep, arr, id, from, to) in list {
            if from != loc {
                push(
                    Rule::Continuity,
                    Some(id),
                    Some(&ac.tail),
                    None,
                    format!(
                        "starts at {} but the aircraft is at {}",
                        p.sites[from].id, p.sites[loc].id
                    ),
                );
            }
            if dep < free - 1e-4 {
                push(
                    Rule::Turnaround,
                    Some(id),
                    Some(&ac.tail),
                    None,
                    format!(
                        "departs {:.2} h before the previous sortie's turnaround ends",
                        free - dep
                    ),
                );
            }
            loc = to;
            free = arr + ac.turnaround_h;
        }
    }
    for ((a, d), fh) in fh_day {
        let ac = &p.aircraft[a];
        if fh > ac.max_flight_hours_per_day + 1e-4 {
            push(
                Rule::FlightHours,
                None,
                Some(&ac.tail),
                None,
                format!(
                    "{fh:.2} flight hours on day {d}, limit {}",
                    ac.max_flight_hours_per_day
                ),
            );
        }
    }
    for ((a, d), (f, l)) in duty_day {
        let ac = &p.aircraft[a];
        if l - f > ac.crew_duty_hours + 1e-4 {
            push(
                Rule::CrewDuty,
                None,
                Some(&ac.tail),
                None,
                format!(
                    "duty day {d} spans {:.2} h, limit {}",
                    l - f,
                    ac.crew_duty_hours
                ),
            );
        }
    }
    let mut total_in = 0u64;
    for (d, mut list) in intake {
        list.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let cap = p.intake_cap(d);
        let mut acc = 0u32;
        for (_, sid, n) in list {
            acc += n;
            total_in += n as u64;
            if acc > cap {
                push(
                    Rule::Intake,
                    Some(sid),
                    None,
                    None,
                    format!(
                        "day {d} ({}) intake reaches {acc}, capacity {cap}",
                        p.date_of_day(d)
                    ),
                );
            }
        }
    }
    if total_in > p.sites[p.destination].holding_capacity as u64 {
        push(
            Rule::Holding,
            None,
            None,
            None,
            format!(
                "{total_in} people delivered, destination holds {}",
                p.sites[p.destination].holding_capacity
            ),
        );
    }
    // Everyone movable is moved; unserved only when unfit to fly.
    let unserved: HashSet<&PersonId> = plan.unserved.iter().map(|u| &u.person).collect();
    for u in &plan.unserved {
        match pix.get(&u.person) {
            None => push(
                Rule::UnknownId,
                None,
                None,
                Some(&u.person),
                "unserved person is unknown".into(),
            ),
            Some(&i) if p.people[i].fit_to_fly => push(
                Rule::NotMoved,
                None,
                None,
                Some(&u.person),
                "listed as unserved but fit to fly".into(),
            ),
            _ => {}
        }
    }
    for (i, q) in p.people.iter().enumerate() {
        if !carried.contains_key(&i) && !unserved.contains(&q.id) {
            push(
                Rule::NotMoved,
                None,
                None,
                Some(&q.id),
                format!("person at {} is never moved", p.sites[q.site].id),
            );
        }
    }
    v
}
