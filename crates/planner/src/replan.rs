//! Re-planning: apply an event to the problem, keep every sortie that has
//! departed before `now`, keep as many later sorties as remain valid, and
//! rebuild the rest.
//!
//! Two candidates are built:
//! - a *repair*: keep each aircraft's later sorties up to its first one the
//!   validator rejects under the new problem; improve locally without moving
//!   any kept sortie's slot — insert sorties for the released people into idle
//!   gaps, and give a kept sortie's slot to released people when that saves
//!   more exposure than a changed manifest costs (see `improve_repair`); then
//!   plan the people still without a sortie after the kept sorties;
//! - a *re-solve*: keep only departed sorties, plan everyone else afresh.
//!
//! Choice (the stated stability/quality rule): fewer deadline misses first;
//! then the smaller `risk exposure + price × manifests changed`, where
//! `price` ([`Replan::manifest_price`]) is the exposure of a mean-sized
//! manifest's people waiting [`MANIFEST_PRICE_H`] more hours at the mean
//! origin threat rate. Both candidates are reported ([`Replan::repair`],
//! [`Replan::resolve`]).
//!
//! Invariants: departed sorties are returned unchanged; the plan returned
//! passes the validator under the returned problem except for unavoidable
//! deadline misses (as for [`crate::solve()`]); the result is deterministic
//! for a seed and `max_rounds`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use sallyport_core::{PersonId, SiteId, TailNumber};
use serde::{Deserialize, Serialize};

use crate::PlanError;
use crate::bound::lower_bounds_within;
use crate::plan::{Objective, Plan, Sortie, summarize};
use crate::problem::{Interval, Problem, day_of};
use crate::solve::{CATS, LegI, Prepared, Sim, SolverOptions, SortieI, export, prepare, search};
use crate::validate::{Rule, validate};

/// Something that happened during the operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// An airframe cannot fly from `from`, for `days` (absent: for good).
    AircraftUnserviceable {
        tail: TailNumber,
        from: DateTime<Utc>,
        days: Option<f64>,
    },
    /// Weather closes a whole local day: nothing flies.
    WeatherClosure { date: NaiveDate },
    /// A site's threat rate becomes `rate` from `from` on.
    ThreatChange {
        site: SiteId,
        from: DateTime<Utc>,
        rate: f64,
    },
    /// A site must now be empty by `deadline`.
    Deadline {
        site: SiteId,
        deadline: DateTime<Utc>,
    },
    /// A person is found unfit to fly.
    PersonUnfit { person: PersonId },
    /// The destination's daily intake is multiplied by `factor` from `from` on
    /// (0.5 = halved).
    IntakeFactor { from: DateTime<Utc>, factor: f64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replan {
    /// The problem with the event applied: pass it to the next `replan`.
    pub problem: Problem,
    pub plan: Plan,
    /// Sorties departed before `now`, kept as they were.
    pub sorties_fixed: u32,
    /// Later sorties kept unchanged (same aircraft, times and manifest).
    pub sorties_kept: u32,
    /// Later sorties of the old plan whose manifest is not in the new plan.
    pub manifests_changed: u32,
    /// People whose sortie changed.
    pub people_moved_to_other_sortie: u32,
    /// "repair" or "resolve".
    pub strategy: String,
    pub solve_ms: u64,
    /// In the repair candidate: kept sorties whose slot went to released
    /// people (each one a changed manifest), and new sorties inserted into
    /// idle gaps between kept ones (no manifest changed).
    pub sorties_exchanged: u32,
    pub sorties_inserted: u32,
    /// Exposure one changed manifest was priced at in the choice
    /// ([`MANIFEST_PRICE_H`] × mean origin threat rate at `now`).
    pub manifest_price: f64,
    /// The two candidates compared (absent: that candidate found no plan).
    pub repair: Option<Alternative>,
    pub resolve: Option<Alternative>,
}

/// One candidate of a re-plan, as compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alternative {
    pub objective: Objective,
    pub manifests_changed: u32,
}

/// A sortie's identity for stability: aircraft, departure (ms), manifest.
type SortieKey = (TailNumber, i64, Vec<PersonId>);

fn key(s: &Sortie) -> SortieKey {
    let mut m: Vec<PersonId> = s.manifest.clone();
    m.sort();
    (
        s.aircraft.clone(),
        (s.depart_h() * 1000.0).round() as i64,
        m,
    )
}

/// Site and person indices by id, for [`to_internal`].
struct Ids<'a> {
    site: HashMap<&'a SiteId, usize>,
    person: HashMap<&'a PersonId, usize>,
}

impl<'a> Ids<'a> {
    fn new(p: &'a Problem) -> Self {
        Ids {
            site: p
                .sites
                .iter()
                .enumerate()
                .map(|(i, x)| (&x.id, i))
                .collect(),
            person: p
                .people
                .iter()
                .enumerate()
                .map(|(i, q)| (&q.id, i))
                .collect(),
        }
    }
}

fn to_internal(p: &Problem, ids: &Ids, s: &Sortie) -> Result<SortieI, PlanError> {
    let site = &ids.site;
    let bad = |what: String| PlanError::Input(format!("plan sortie {}: {what}", s.id));
    let ac = p
        .aircraft
        .iter()
        .position(|a| a.tail == s.aircraft)
        .ok_or_else(|| bad(format!("unknown aircraft {}", s.aircraft)))?;
    let origin = *site
        .get(&s.origin)
        .ok_or_else(|| bad(format!("unknown site {}", s.origin)))?;
    let mut legs = Vec::new();
    for l in &s.legs {
        let (Some(&f), Some(&t)) = (site.get(&l.from), site.get(&l.to)) else {
            return Err(bad(format!("unknown site in leg {}→{}", l.from, l.to)));
        };
        legs.push(LegI {
            from: f,
            to: t,
            dep: l.depart_h,
            arr: l.arrive_h,
            loaded: l.loaded,
        });
    }
    if legs.is_empty() {
        return Err(bad("no legs".into()));
    }
    let pix = &ids.person;
    let people = s
        .manifest
        .iter()
        .map(|id| {
            pix.get(id)
                .copied()
                .ok_or_else(|| bad(format!("unknown person {id}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SortieI {
        ac,
        origin,
        cat: s.category,
        legs,
        people,
        guards: s.guard_seats,
        escorts: s.escort_seats,
        medical: s.medical_seats,
        seats: s.seats_used,
    })
}

/// What one changed manifest costs in the re-planner's choices: as much risk
/// exposure as the people of a mean-sized manifest (of the old plan's later
/// sorties) waiting this many more hours at the mean origin threat rate at
/// `now`. See [`replan`] and [`Replan::manifest_price`].
pub const MANIFEST_PRICE_H: f64 = 24.0;

/// A time slot of one aircraft, for a sortie between two of its others.
struct Slot<'a> {
    /// The aircraft's sorties other than the slot's (fixed and kept).
    others: Vec<&'a SortieI>,
    aircraft: usize,
    /// Where and from when the aircraft is free at the slot's start.
    loc: usize,
    free: f64,
    /// Its next sortie's departure (the slot must end a turnaround before).
    until: Option<f64>,
}

/// The sorties of `committed` on aircraft `a`, by departure.
fn chain_of<'a>(committed: &[&'a SortieI], a: usize) -> Vec<&'a SortieI> {
    let mut v: Vec<&SortieI> = committed.iter().copied().filter(|x| x.ac == a).collect();
    v.sort_by(|x, y| x.legs[0].dep.total_cmp(&y.legs[0].dep));
    v
}

/// The slot of aircraft `a` between `prev` (or its base at the start) and
/// `next` (or open-ended).
fn slot<'a>(
    q: &Problem,
    others: Vec<&'a SortieI>,
    a: usize,
    prev: Option<&SortieI>,
    next: Option<&SortieI>,
    now_h: f64,
) -> Slot<'a> {
    let ac = &q.aircraft[a];
    let (loc, free) = match prev {
        Some(x) => {
            let l = x.legs.last().expect("a sortie has legs");
            (l.to, l.arr + ac.turnaround_h)
        }
        None => (ac.base, q.start_h),
    };
    Slot {
        others,
        aircraft: a,
        loc,
        free: free.max(now_h),
        until: next.map(|n| n.legs[0].dep),
    }
}

/// The sortie carrying pool people that fits `slot` best by `value` (Σ over
/// its people of `value(site, pick-up)`), with that value. The sortie obeys
/// everything the construction checks (daylight, closures, availability,
/// daily flight hours with the aircraft's other sorties, destination hours,
/// intake with every other sortie), lands a turnaround before the next
/// sortie, and keeps each day's crew duty span (first departure to last
/// landing, other sorties included) within the limit.
///
/// `sim` holds every committed sortie and the pool as its people to move;
/// `removed` is the sortie the slot replaces (its flight hours and intake
/// are left out while probing). `sim` is as before on return.
fn best_in_slot(
    q: &Problem,
    pre: &Prepared,
    sim: &mut Sim,
    sl: &Slot,
    removed: Option<&SortieI>,
    pool: &BTreeSet<usize>,
    value: &dyn Fn(usize, f64) -> f64,
) -> Option<(f64, SortieI)> {
    let b = sl.aircraft;
    let ac = &q.aircraft[b];
    let mine = chain_of(&sl.others, b);
    if let Some(y) = removed {
        sim.reset_days(b, &mine);
        sim.add_intake(
            day_of(y.legs.last().expect("legs").arr),
            -(y.people.len() as i64),
        );
    }
    sim.place(b, sl.loc, sl.free);
    let cls = pre.class_of[b];
    let sites: BTreeSet<usize> = pool.iter().map(|&i| q.people[i].site).collect();
    let mut best: Option<(f64, SortieI)> = None;
    for &s in &sites {
        let (Some(pos), Some(load)) = (
            &pre.routes[cls][sl.loc][s],
            &pre.routes[cls][s][q.destination],
        ) else {
            continue;
        };
        // Too short a gap for even the flying: skip without scheduling.
        let fly: f64 = pos
            .windows(2)
            .chain(load.windows(2))
            .map(|w| ac.hours_for(q.dist(w[0], w[1])))
            .sum();
        if sl
            .until
            .is_some_and(|u| sl.free + fly + ac.turnaround_h > u + 1e-9)
        {
            continue;
        }
        let Some(legs) = sim.schedule(b, pos, load, sl.free) else {
            continue;
        };
        let arr = legs.last().expect("legs").arr;
        if sl.until.is_some_and(|u| arr + ac.turnaround_h > u + 1e-9)
            || !duty_ok(q, b, &mine, &legs)
        {
            continue;
        }
        for c in 0..CATS.len() {
            if sim.waiting(s, c) == 0 {
                continue;
            }
            let Some(cand) = sim.fill(b, s, c, &legs, sim.room(day_of(arr))) else {
                continue;
            };
            let v = cand.people.len() as f64 * value(s, pick_of(&cand));
            if best.as_ref().is_none_or(|(g, _)| v > *g) {
                best = Some((v, cand));
            }
        }
    }
    if let Some(y) = removed {
        let mut all = mine;
        all.push(y);
        sim.reset_days(b, &all);
        sim.add_intake(
            day_of(y.legs.last().expect("legs").arr),
            y.people.len() as i64,
        );
    }
    best
}

/// A simulation holding `fixed` and `kept` with `pool` to move, for probing.
fn probe_sim<'a>(
    q: &'a Problem,
    pre: &'a Prepared,
    fixed: &[SortieI],
    kept: &[SortieI],
    pool: &BTreeSet<usize>,
    now_h: f64,
) -> Sim<'a> {
    let todo: Vec<usize> = pool.iter().copied().collect();
    let committed: Vec<SortieI> = fixed.iter().chain(kept.iter()).cloned().collect();
    Sim::new(q, pre, committed, &todo, now_h)
}

fn pick_of(x: &SortieI) -> f64 {
    x.legs
        .iter()
        .find(|l| l.loaded)
        .map_or(x.legs[0].dep, |l| l.dep)
}

/// Local improvement of a repair that keeps every kept sortie's slot.
///
/// `kept` are later sorties of surviving aircraft, `pool` the people without
/// a sortie (the lost aircraft's passengers), who would otherwise be planned
/// after every kept sortie, from about `tail_h`. Two moves, earliest first:
/// - *insert*: a new sortie with pool people in an idle gap between two
///   sorties of one aircraft (no manifest changes), whenever it fits;
/// - *exchange*: a kept sortie `Y` is replaced in its own slot (same
///   aircraft, between its neighbours) by a sortie with pool people; `Y`'s
///   people join the pool. Made when the estimated exposure saving (pool
///   people leaving now rather than at `tail_h`, minus `Y`'s people leaving
///   at `tail_h` instead) exceeds `price`, the exposure one changed manifest
///   is worth. Sorties from a site whose deadline falls before `tail_h` +
///   24 h are not replaced, and pool people such a deadline would otherwise
///   miss go first.
///
/// Every sortie ends at the destination, so each aircraft's later sorties
/// still start where it is. Returns (inserted, exchanged). Deterministic.
fn improve_repair(
    q: &Problem,
    pre: &Prepared,
    fixed: &[SortieI],
    kept: &mut Vec<SortieI>,
    pool: &mut BTreeSet<usize>,
    now_h: f64,
    tail_h: f64,
    price: f64,
) -> (u32, u32) {
    // What leaving at the tail instead of at `pick` costs one person of site
    // `s`; a deadline the tail would miss (and `pick` meets) counts as
    // `MISS`, so such people go first (misses rank above exposure).
    const MISS: f64 = 1e12;
    let late = |s: usize, pick: f64| {
        let miss = q.sites[s]
            .deadline_h
            .is_some_and(|d| d < tail_h + 24.0 && pick <= d + 1e-6);
        q.exposure_until(s, tail_h) - q.exposure_until(s, pick) + if miss { MISS } else { 0.0 }
    };
    let inserted = insert_pass(q, pre, fixed, kept, pool, now_h, &late);
    let mut exchanged = 0;
    // One probing simulation, rebuilt after each accepted move.
    let mut sim: Option<Sim> = None;
    let mut order: Vec<usize> = (0..kept.len()).collect();
    order.sort_by(|&x, &y| kept[x].legs[0].dep.total_cmp(&kept[y].legs[0].dep));
    for k in order {
        if pool.is_empty() {
            break;
        }
        let y = &kept[k];
        let b = y.ac;
        if q.sites[y.origin]
            .deadline_h
            .is_some_and(|d| d < tail_h + 24.0)
        {
            continue;
        }
        let y_cost: f64 = y.people.len() as f64 * late(y.origin, pick_of(y));
        // Upper bound on the saving: a full cabin from the pool's worst-off site.
        let seats = q.aircraft[b].usable_seats(q.rules.kg_per_seat) as f64;
        let most = pool
            .iter()
            .map(|&i| late(q.people[i].site, y.legs[0].dep))
            .fold(0.0, f64::max);
        if seats * most - y_cost <= price {
            continue;
        }
        let others: Vec<&SortieI> = fixed
            .iter()
            .chain(
                kept.iter()
                    .enumerate()
                    .filter(|(j, _)| *j != k)
                    .map(|x| x.1),
            )
            .collect();
        let chain = chain_of(&others, b);
        let dep_y = y.legs[0].dep;
        let prev = chain.iter().rev().copied().find(|x| x.legs[0].dep < dep_y);
        let next = chain.iter().copied().find(|x| x.legs[0].dep >= dep_y);
        let sl = slot(q, others.clone(), b, prev, next, now_h);
        let probe = sim.get_or_insert_with(|| probe_sim(q, pre, fixed, kept, pool, now_h));
        let found = best_in_slot(q, pre, probe, &sl, Some(y), pool, &late);
        if let Some((v, cand)) = found
            && v - y_cost > price
        {
            for i in &cand.people {
                pool.remove(i);
            }
            pool.extend(kept[k].people.iter().copied());
            kept[k] = cand;
            exchanged += 1;
            sim = None;
        }
    }
    let inserted2 = insert_pass(q, pre, fixed, kept, pool, now_h, &late);
    (inserted + inserted2, exchanged)
}

/// Insert pool sorties into idle gaps between an aircraft's sorties that
/// depart after `now_h` (earliest gap first, repeatedly while one fits).
fn insert_pass(
    q: &Problem,
    pre: &Prepared,
    fixed: &[SortieI],
    kept: &mut Vec<SortieI>,
    pool: &mut BTreeSet<usize>,
    now_h: f64,
    value: &dyn Fn(usize, f64) -> f64,
) -> u32 {
    let mut inserted = 0;
    let mut sim: Option<Sim> = None;
    for a in 0..q.aircraft.len() {
        let mut gap = 0;
        loop {
            if pool.is_empty() {
                return inserted;
            }
            let all: Vec<&SortieI> = fixed.iter().chain(kept.iter()).collect();
            let chain = chain_of(&all, a);
            let future: Vec<usize> = (0..chain.len())
                .filter(|&j| chain[j].legs[0].dep >= now_h)
                .collect();
            // Gaps before each later sortie (the one after the last is the tail).
            let Some(&j) = future.get(gap) else { break };
            let prev = j.checked_sub(1).map(|i| chain[i]);
            let sl = slot(q, all.clone(), a, prev, Some(chain[j]), now_h);
            let probe = sim.get_or_insert_with(|| probe_sim(q, pre, fixed, kept, pool, now_h));
            match best_in_slot(q, pre, probe, &sl, None, pool, value) {
                Some((v, cand)) if v > 0.0 => {
                    for i in &cand.people {
                        pool.remove(i);
                    }
                    kept.push(cand);
                    inserted += 1;
                    sim = None;
                    // the same gap may hold another one after it
                }
                _ => gap += 1,
            }
        }
    }
    inserted
}

/// Crew duty per departure day (first departure to last landing) for
/// aircraft `a` with `legs` added to its sorties in `others`.
fn duty_ok(q: &Problem, a: usize, others: &[&SortieI], legs: &[LegI]) -> bool {
    let days: BTreeSet<i64> = legs.iter().map(|l| day_of(l.dep)).collect();
    let all = others
        .iter()
        .filter(|x| x.ac == a)
        .flat_map(|x| x.legs.iter())
        .chain(legs.iter());
    let mut span: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
    for l in all {
        let d = day_of(l.dep);
        if days.contains(&d) {
            let e = span.entry(d).or_insert((l.dep, l.arr));
            e.0 = e.0.min(l.dep);
            e.1 = e.1.max(l.arr);
        }
    }
    span.values()
        .all(|(f, t)| t - f <= q.aircraft[a].crew_duty_hours - 1e-6)
}

/// The problem after `event`, given the sorties already departed (`fixed`).
pub fn apply_event(
    p: &Problem,
    fixed: &[Sortie],
    now_h: f64,
    event: &Event,
) -> Result<Problem, PlanError> {
    let mut q = p.clone();
    // Nothing already airborne is affected by a new restriction.
    let airborne_until = |tail: Option<&TailNumber>| {
        fixed
            .iter()
            .filter(|s| tail.is_none_or(|t| &s.aircraft == t))
            .map(|s| s.arrive_h())
            .fold(now_h, f64::max)
    };
    match event {
        Event::AircraftUnserviceable { tail, from, days } => {
            let a = q
                .aircraft
                .iter_mut()
                .position(|a| &a.tail == tail)
                .ok_or_else(|| PlanError::Input(format!("event names unknown aircraft {tail}")))?;
            if let Some(d) = days
                && !(d.is_finite() && *d > 0.0)
            {
                return Err(PlanError::Input(format!(
                    "unserviceable for {d} days: must be a positive number"
                )));
            }
            let from_h = p.to_h(*from).max(airborne_until(Some(tail)));
            let to_h = days.map_or(f64::MAX / 4.0, |d| p.to_h(*from) + d * 24.0);
            if to_h > from_h {
                q.aircraft[a].unavailable.push(Interval {
                    from: from_h,
                    to: to_h,
                });
            }
        }
        Event::WeatherClosure { date } => {
            let d = (*date - p.first_day).num_days();
            let from = (d as f64 * 24.0).max(airborne_until(None));
            let to = (d + 1) as f64 * 24.0;
            if to > from {
                q.closures.push(Interval { from, to });
            }
        }
        Event::ThreatChange { site, from, rate } => {
            if !(rate.is_finite() && *rate >= 0.0) {
                return Err(PlanError::Input(format!(
                    "threat rate {rate} must be finite and >= 0"
                )));
            }
            let s = q
                .sites
                .iter_mut()
                .find(|s| &s.id == site)
                .ok_or_else(|| PlanError::Input(format!("event names unknown site {site}")))?;
            let k = ((p.to_h(*from) - p.start_h) / 24.0).floor().max(0.0) as usize;
            let last = s.threat.last().copied().unwrap_or(1.0);
            s.threat.resize(s.threat.len().max(k + 1), last);
            s.threat.truncate(k + 1);
            s.threat[k] = *rate;
        }
        Event::Deadline { site, deadline } => {
            let s = q
                .sites
                .iter_mut()
                .find(|s| &s.id == site)
                .ok_or_else(|| PlanError::Input(format!("event names unknown site {site}")))?;
            if !s.kind.is_origin() {
                return Err(PlanError::Input(format!(
                    "site {site} is not an origin; it has no deadline"
                )));
            }
            s.deadline_h = Some(p.to_h(*deadline));
        }
        Event::PersonUnfit { person } => {
            if let Some(s) = fixed.iter().find(|s| s.manifest.contains(person)) {
                return Err(PlanError::Input(format!(
                    "person {person} already left on sortie {}",
                    s.id
                )));
            }
            let x = q
                .people
                .iter_mut()
                .find(|x| &x.id == person)
                .ok_or_else(|| PlanError::Input(format!("event names unknown person {person}")))?;
            x.fit_to_fly = false;
        }
        Event::IntakeFactor { from, factor } => {
            if !(factor.is_finite() && *factor >= 0.0) {
                return Err(PlanError::Input(format!(
                    "intake factor {factor} must be finite and >= 0"
                )));
            }
            let d0 = day_of(p.to_h(*from)).max(0);
            let mut fixed_in: BTreeMap<i64, u32> = BTreeMap::new();
            for s in fixed.iter().filter(|s| !s.manifest.is_empty()) {
                *fixed_in.entry(day_of(s.arrive_h())).or_default() += s.manifest.len() as u32;
            }
            for d in d0..d0 + 400 {
                let cap = (p.intake_cap(d) as f64 * factor).floor() as u32;
                let cap = cap.max(fixed_in.get(&d).copied().unwrap_or(0));
                q.intake_overrides.insert(d as u32, cap);
            }
        }
    }
    Ok(q)
}

/// Repair `plan` after `event` at time `now`. See the module doc.
pub fn replan(
    p: &Problem,
    plan: &Plan,
    now: DateTime<Utc>,
    event: &Event,
    opts: &SolverOptions,
) -> Result<Replan, PlanError> {
    let started = Instant::now();
    let now_h = p.to_h(now);
    let (fixed, future): (Vec<&Sortie>, Vec<&Sortie>) =
        plan.sorties.iter().partition(|s| s.depart_h() < now_h);
    let fixed_owned: Vec<Sortie> = fixed.iter().map(|s| (*s).clone()).collect();
    let q = apply_event(p, &fixed_owned, now_h, event)?;
    let pre = prepare(&q)?;
    let ids = Ids::new(&q);
    let fixed_i: Vec<SortieI> = fixed
        .iter()
        .map(|s| to_internal(&q, &ids, s))
        .collect::<Result<_, _>>()?;
    // Repair: drop rejected future sorties (and the rest of that aircraft's day chain).
    let mut kept: Vec<Sortie> = future.iter().map(|s| (*s).clone()).collect();
    for _ in 0..20 {
        let mut trial = plan.clone();
        trial.sorties = fixed_owned
            .iter()
            .cloned()
            .chain(kept.iter().cloned())
            .collect();
        trial.unserved = pre.unserved.clone();
        let viol = validate(&q, &trial);
        let kept_ids: HashSet<u32> = kept.iter().map(|s| s.id).collect();
        let mut drop_from: BTreeMap<TailNumber, f64> = BTreeMap::new();
        for v in &viol {
            if matches!(v.rule, Rule::NotMoved | Rule::Deadline | Rule::Holding) {
                continue;
            }
            let (tail, t) = match (v.sortie, &v.aircraft) {
                (Some(id), _) if kept_ids.contains(&id) => {
                    let s = kept.iter().find(|s| s.id == id).expect("kept");
                    (s.aircraft.clone(), s.depart_h())
                }
                (None, Some(tail)) => (tail.clone(), now_h),
                _ => continue,
            };
            let e = drop_from.entry(tail).or_insert(t);
            *e = e.min(t);
        }
        // Intake: departed sorties may land on a day whose capacity the event
        // cut (the validator then names a departed sortie); make room by
        // dropping kept sorties landing that day, latest first.
        let mut by_day: BTreeMap<i64, (u32, Vec<(f64, u32, TailNumber, f64)>)> = BTreeMap::new();
        for s in fixed_owned.iter().filter(|s| !s.manifest.is_empty()) {
            by_day.entry(day_of(s.arrive_h())).or_default().0 += s.manifest.len() as u32;
        }
        for s in kept.iter().filter(|s| !s.manifest.is_empty()) {
            by_day.entry(day_of(s.arrive_h())).or_default().1.push((
                s.arrive_h(),
                s.manifest.len() as u32,
                s.aircraft.clone(),
                s.depart_h(),
            ));
        }
        for (d, (fixed_n, mut list)) in by_day {
            let cap = q.intake_cap(d);
            let mut total = fixed_n + list.iter().map(|x| x.1).sum::<u32>();
            list.sort_by(|a, b| b.0.total_cmp(&a.0));
            for (_, n, tail, dep) in list {
                if total <= cap {
                    break;
                }
                total -= n;
                let e = drop_from.entry(tail).or_insert(dep);
                *e = e.min(dep);
            }
        }
        if drop_from.is_empty() {
            break;
        }
        kept.retain(|s| drop_from.get(&s.aircraft).is_none_or(|&t| s.depart_h() < t));
    }
    let mut kept_i: Vec<SortieI> = kept
        .iter()
        .map(|s| to_internal(&q, &ids, s))
        .collect::<Result<_, _>>()?;
    let movable: BTreeSet<usize> = pre.movable.iter().copied().collect();
    let todo_for = |committed: &[SortieI]| -> BTreeSet<usize> {
        let on: HashSet<usize> = committed
            .iter()
            .flat_map(|s| s.people.iter().copied())
            .collect();
        movable
            .iter()
            .copied()
            .filter(|i| !on.contains(i))
            .collect()
    };
    // The price of one changed manifest, in exposure: a mean-sized manifest
    // of the old plan waiting MANIFEST_PRICE_H more hours at the mean rate.
    let origins: Vec<usize> = (0..q.sites.len())
        .filter(|&s| q.sites[s].kind.is_origin())
        .collect();
    let mean_rate =
        origins.iter().map(|&s| q.rate(s, now_h)).sum::<f64>() / origins.len().max(1) as f64;
    let (n_old, people_old) = future
        .iter()
        .filter(|s| !s.manifest.is_empty())
        .fold((0usize, 0usize), |(n, m), s| (n + 1, m + s.manifest.len()));
    let mean_manifest = people_old as f64 / n_old.max(1) as f64;
    let price = MANIFEST_PRICE_H * mean_rate * mean_manifest;
    // Local improvement (insert into gaps, exchange slots where that pays for
    // the changed manifest). Undone as a whole if the validator rejects the
    // result (it should not: each slot is checked as it is filled).
    let mut pool = todo_for(
        &fixed_i
            .iter()
            .cloned()
            .chain(kept_i.iter().cloned())
            .collect::<Vec<_>>(),
    );
    let tail_h = fixed_i
        .iter()
        .chain(kept_i.iter())
        .filter_map(|s| s.legs.last().map(|l| l.arr))
        .fold(now_h, f64::max);
    let before = (kept_i.clone(), pool.clone());
    let (mut inserted, mut exchanged) = improve_repair(
        &q,
        &pre,
        &fixed_i,
        &mut kept_i,
        &mut pool,
        now_h,
        tail_h,
        price,
    );
    if inserted + exchanged > 0 {
        let mut trial = plan.clone();
        let committed: Vec<SortieI> = fixed_i
            .iter()
            .cloned()
            .chain(kept_i.iter().cloned())
            .collect();
        trial.sorties = export(&q, &committed);
        trial.unserved = pre.unserved.clone();
        let bad = validate(&q, &trial)
            .iter()
            .any(|v| !matches!(v.rule, Rule::NotMoved | Rule::Deadline | Rule::Holding));
        if bad {
            (kept_i, pool) = before;
            (inserted, exchanged) = (0, 0);
        }
    }
    // Bounds first: the fleet LP gets at most a third of the budget (past it
    // the intake bounds stand alone); the two searches share the rest.
    let all_movable: Vec<usize> = (0..q.people.len())
        .filter(|&i| q.people[i].fit_to_fly)
        .collect();
    let lp_budget = (opts.time_limit / 3).min(std::time::Duration::from_secs(20));
    let bounds = lower_bounds_within(&q, &all_movable, lp_budget).unwrap_or_default();
    let half = SolverOptions {
        time_limit: opts.time_limit.saturating_sub(started.elapsed()) / 2,
        ..opts.clone()
    };
    let repair_committed: Vec<SortieI> = fixed_i.iter().cloned().chain(kept_i).collect();
    let pool: Vec<usize> = pool.into_iter().collect();
    let repair = search(
        &q,
        &pre,
        &repair_committed,
        &pool,
        now_h,
        &half,
        Instant::now(),
        None,
    );
    let resolve = search(
        &q,
        &pre,
        &fixed_i,
        &todo_for(&fixed_i).into_iter().collect::<Vec<_>>(),
        now_h,
        &half,
        Instant::now(),
        None,
    );
    // Choose by the stated rule: fewer deadline misses first, then the
    // smaller risk exposure + price × manifests changed.
    let old_keys: Vec<SortieKey> = future
        .iter()
        .filter(|s| !s.manifest.is_empty())
        .map(|s| key(s))
        .collect();
    let changed_of = |built: &crate::solve::Built| -> u32 {
        let new_keys: HashSet<SortieKey> = export(&q, &built.sorties).iter().map(key).collect();
        old_keys.iter().filter(|k| !new_keys.contains(k)).count() as u32
    };
    let cost = |b: &crate::solve::Built, changed: u32| {
        (
            b.obj.deadline_misses,
            b.obj.risk_exposure + price * changed as f64,
        )
    };
    let summary = |b: &crate::solve::Built, changed: u32| Alternative {
        objective: b.obj,
        manifests_changed: changed,
    };
    let (repair, resolve) = match (repair, resolve) {
        (Ok(a), Ok(b)) => (Some(a), Some(b)),
        (Ok(a), Err(_)) => (Some(a), None),
        (Err(_), Ok(b)) => (None, Some(b)),
        (Err(e), Err(_)) => return Err(e),
    };
    let repair_changed = repair.as_ref().map(|a| changed_of(&a.0));
    let resolve_changed = resolve.as_ref().map(|b| changed_of(&b.0));
    let repair_alt = repair
        .as_ref()
        .zip(repair_changed)
        .map(|(a, c)| summary(&a.0, c));
    let resolve_alt = resolve
        .as_ref()
        .zip(resolve_changed)
        .map(|(b, c)| summary(&b.0, c));
    let take_repair = match (&repair, &resolve) {
        (Some(a), Some(b)) => {
            let (ca, cb) = (
                cost(&a.0, repair_changed.unwrap_or(0)),
                cost(&b.0, resolve_changed.unwrap_or(0)),
            );
            ca.0 < cb.0 || (ca.0 == cb.0 && ca.1 <= cb.1)
        }
        (Some(_), None) => true,
        _ => false,
    };
    let ((built, stats), strategy) = if take_repair {
        (repair.expect("repair"), "repair")
    } else {
        (resolve.expect("resolve"), "resolve")
    };
    // (Movable people on fixed sorties count as delivered in the bounds.)
    let sorties = export(&q, &built.sorties);
    let mut new_plan = summarize(&q, sorties, pre.unserved.clone(), bounds, stats);
    // Stability accounting.
    let new_keys: HashSet<_> = new_plan.sorties.iter().map(key).collect();
    let old_future: Vec<&Sortie> = future.clone();
    let kept_same = old_future
        .iter()
        .filter(|s| new_keys.contains(&key(s)))
        .count() as u32;
    let changed = old_future
        .iter()
        .filter(|s| !s.manifest.is_empty() && !new_keys.contains(&key(s)))
        .count() as u32;
    let mut seat: HashMap<&PersonId, (TailNumber, i64)> = HashMap::new();
    for s in &plan.sorties {
        for id in &s.manifest {
            seat.insert(
                id,
                (s.aircraft.clone(), (s.depart_h() * 1000.0).round() as i64),
            );
        }
    }
    let mut moved_people = 0u32;
    for s in &new_plan.sorties {
        let k = (s.aircraft.clone(), (s.depart_h() * 1000.0).round() as i64);
        for id in &s.manifest {
            if seat.get(id) != Some(&k) {
                moved_people += 1;
            }
        }
    }
    let solve_ms = started.elapsed().as_millis() as u64;
    new_plan.stats.solve_ms = solve_ms;
    Ok(Replan {
        problem: q,
        plan: new_plan,
        sorties_fixed: fixed.len() as u32,
        sorties_kept: kept_same,
        manifests_changed: changed,
        people_moved_to_other_sortie: moved_people,
        strategy: strategy.into(),
        solve_ms,
        sorties_exchanged: exchanged,
        sorties_inserted: inserted,
        manifest_price: price,
        repair: repair_alt,
        resolve: resolve_alt,
    })
}
