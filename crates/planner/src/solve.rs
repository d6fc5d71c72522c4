//! Construction plus improvement.
//!
//! Construction is an event simulation: the aircraft that is free earliest
//! picks the (site, category) pick-up with the best score — threat rate times a
//! per-site priority multiplier, plus deadline urgency, times load, divided by
//! cycle time^β — schedules the earliest legal sortie (daylight, closures,
//! availability, daily flight hours, crew duty, destination opening hours and
//! daily intake) and fills its manifest greedily (one category, no two people
//! of a separation group, seats for guards, escorts, stretchers and medical
//! escorts, payload).
//!
//! Improvement searches the space of priority vectors (per-site multipliers
//! per plan day, per-class site multipliers, β, urgency weight): each round
//! perturbs one chain's plan into a batch of candidates (seeded ChaCha per
//! candidate) — a global move rebuilds the whole plan, a local move keeps the
//! sorties that leave before a cut day and rebuilds only the rest — builds
//! them in parallel with rayon and keeps the lexicographically best, ties to
//! the lowest candidate index. Four chains from the best starts run in turn
//! until half the budget, then only the best one — so the result depends
//! only on the seed and the number of rounds. If the best plan still misses
//! a deadline, a deadline repair rebuilds it with due deadline pick-ups first
//! (see [`deadline_repair`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use sallyport_core::Category;

use crate::PlanError;
use crate::bound::{Bounds, bounds_and_guide};
use crate::fleet_lp::Guide;
use crate::plan::{Leg, Objective, Plan, SolveStats, Sortie, Unserved, summarize};
use crate::problem::{AircraftSpec, Problem, Route, day_of, route, within_daily};

#[derive(Debug, Clone, PartialEq)]
pub struct SolverOptions {
    /// Wall-clock budget for the improvement phase.
    pub time_limit: Duration,
    pub seed: u64,
    /// Stop after this many improvement rounds (exact reproducibility).
    pub max_rounds: Option<u64>,
    /// Candidates per round (default: 2 × threads).
    pub batch: usize,
}

impl Default for SolverOptions {
    fn default() -> Self {
        SolverOptions {
            time_limit: Duration::from_secs(10),
            seed: 1,
            max_rounds: None,
            batch: 0,
        }
    }
}

pub const CATS: [Category; 3] = [Category::AdultMale, Category::AdultFemale, Category::Minor];
pub fn cat_index(c: Category) -> usize {
    match c {
        Category::AdultMale => 0,
        Category::AdultFemale => 1,
        Category::Minor => 2,
    }
}

/// Internal leg: site indices.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LegI {
    pub from: usize,
    pub to: usize,
    pub dep: f64,
    pub arr: f64,
    pub loaded: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SortieI {
    pub ac: usize,
    pub origin: usize,
    pub cat: Category,
    pub legs: Vec<LegI>,
    pub people: Vec<usize>,
    pub guards: u32,
    pub escorts: u32,
    pub medical: u32,
    pub seats: u32,
}

/// Routes per aircraft class (type) between every pair of sites.
pub(crate) struct Prepared {
    pub class_of: Vec<usize>,
    /// routes[class][from][to]
    pub routes: Vec<Vec<Vec<Option<Route>>>>,
    pub movable: Vec<usize>,
    pub unserved: Vec<Unserved>,
    /// Great-circle km between sites, `km[a * n + b]`.
    pub km: Vec<f64>,
}

impl Prepared {
    pub fn km(&self, a: usize, b: usize) -> f64 {
        let n = (self.km.len() as f64).sqrt() as usize;
        self.km[a * n + b]
    }
}

/// Check the instance can be planned at all; explain why not.
pub(crate) fn prepare(p: &Problem) -> Result<Prepared, PlanError> {
    let mut classes: Vec<usize> = Vec::new(); // representative aircraft per class
    let mut class_of = Vec::with_capacity(p.aircraft.len());
    for (i, a) in p.aircraft.iter().enumerate() {
        match classes.iter().position(|&r| same_class(&p.aircraft[r], a)) {
            Some(c) => class_of.push(c),
            None => {
                class_of.push(classes.len());
                classes.push(i);
            }
        }
    }
    let ns = p.sites.len();
    let routes: Vec<Vec<Vec<Option<Route>>>> = classes
        .iter()
        .map(|&r| {
            (0..ns)
                .map(|a| (0..ns).map(|b| route(p, &p.aircraft[r], a, b)).collect())
                .collect()
        })
        .collect();
    let mut why = Vec::new();
    let mut movable = Vec::new();
    let mut unserved = Vec::new();
    if p.aircraft.is_empty() && !p.people.is_empty() {
        why.push("the fleet is empty: no aircraft to move anyone".to_string());
    }
    let total_intake: u64 =
        p.intake_per_day as u64 + p.intake_overrides.values().map(|&v| v as u64).sum::<u64>();
    if total_intake == 0 && !p.people.is_empty() {
        why.push(format!(
            "destination {} has a daily intake capacity of 0: nobody can be received",
            p.sites[p.destination].id
        ));
    }
    // Reachability per site: some aircraft can fly base → site → destination.
    let mut site_ok = vec![None::<bool>; ns];
    let mut site_people = vec![0u32; ns];
    for q in &p.people {
        site_people[q.site] += 1;
    }
    for s in 0..ns {
        if site_people[s] == 0 {
            continue;
        }
        let ok = p.aircraft.iter().enumerate().any(|(i, a)| {
            let c = class_of[i];
            routes[c][a.base][s].is_some() && routes[c][s][p.destination].is_some()
        });
        site_ok[s] = Some(ok);
        if !ok && !p.aircraft.is_empty() {
            let nearest = (0..ns)
                .filter(|&j| j != s && (p.sites[j].refuel || j == p.destination))
                .map(|j| (p.dist(s, j), j))
                .min_by(|a, b| a.0.total_cmp(&b.0));
            let max_range = p.aircraft.iter().map(|a| a.range_km).fold(0.0, f64::max);
            let helis = p.aircraft.iter().any(|a| !a.needs_runway);
            let detail = match nearest {
                Some((d, j)) if d > max_range => format!(
                    "its nearest refuelling point or destination ({}) is {d:.0} km away, beyond the longest range in the fleet ({max_range:.0} km)",
                    p.sites[j].id
                ),
                _ if !helis && !p.sites[s].runway => "it has no runway and every aircraft needs one".to_string(),
                _ => "no aircraft has a chain of in-range legs from its base to the site and on to the destination".to_string(),
            };
            why.push(format!(
                "{} people at site {} cannot be reached: {detail}",
                site_people[s], p.sites[s].id
            ));
        }
    }
    let max_seats = p
        .aircraft
        .iter()
        .map(|a| a.usable_seats(p.rules.kg_per_seat))
        .max()
        .unwrap_or(0);
    for (i, q) in p.people.iter().enumerate() {
        if !q.fit_to_fly {
            unserved.push(Unserved {
                person: q.id.clone(),
                site: p.sites[q.site].id.clone(),
                reason: "unfit to fly; needs ground evacuation (convoys are not planned by this version)".into(),
            });
            continue;
        }
        let need = p.rules.person_seats(q)
            + p.rules.guard_seats(p.rules.guard_ratio(q.risk))
            + p.rules.escorts_for(q.category);
        if need > max_seats && !p.aircraft.is_empty() {
            why.push(format!(
                "person {} needs {need} seats (with guards, escorts, stretcher) but the largest usable cabin has {max_seats}",
                q.id
            ));
            continue;
        }
        if site_ok[q.site] == Some(true) {
            movable.push(i);
        }
    }
    if !why.is_empty() {
        why.sort();
        why.dedup();
        return Err(PlanError::Infeasible(why));
    }
    let km = (0..ns).flat_map(|a| (0..ns).map(move |b| (a, b))).map(|(a, b)| p.dist(a, b)).collect();
    Ok(Prepared {
        class_of,
        routes,
        movable,
        unserved,
        km,
    })
}

fn same_class(a: &AircraftSpec, b: &AircraftSpec) -> bool {
    a.type_id == b.type_id && a.range_km == b.range_km && a.needs_runway == b.needs_runway
}

/// Priority parameters the improvement phase searches over.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Params {
    /// Per site and plan day (day index from the operation's first day; the
    /// last entry holds for later days): a multiplier on the threat rate.
    pub mult: Vec<Vec<f64>>,
    /// Per aircraft class (`Prepared::class_of`) and site: a multiplier on
    /// the whole score (which sites suit which type).
    pub cmult: Vec<Vec<f64>>,
    pub beta: f64,
    pub urgency: f64,
    /// Weight of following the exposure LP's pick-ups (0 = ignore them).
    pub lp_weight: f64,
    /// Due deadline pick-ups first (see `Sim::best_sortie`): set only by the
    /// deadline repair at the end of [`search`]. The search itself runs
    /// without it, so it does not learn to leave deadline sites until their
    /// last day (the margin a lost aircraft's re-plan needs).
    pub deadline_due: bool,
}

#[derive(Debug, Clone, Default)]
struct DayUse {
    fh: f64,
    first: f64,
}

#[derive(Debug, Clone)]
struct AcState {
    loc: usize,
    free: f64,
    days: BTreeMap<i64, DayUse>,
    alive: bool,
}

pub(crate) struct Sim<'a> {
    p: &'a Problem,
    pre: &'a Prepared,
    ac: Vec<AcState>,
    intake: BTreeMap<i64, u32>,
    queues: Vec<[Vec<usize>; 3]>,
    heads: Vec<[usize; 3]>,
    /// Per site and category, the people in a separation group; and per
    /// group, its members still to move (a group of k needs k sorties, so
    /// the fill takes members of the largest groups first).
    gqueues: Vec<[Vec<usize>; 3]>,
    gleft: Vec<u32>,
    /// Greedy manifests per site and category, by cabin size (see `manifest`).
    cache: std::cell::RefCell<Vec<[Manifests; 3]>>,
    taken: Vec<bool>,
    remaining: Vec<[u32; 3]>,
    rem_site: Vec<u32>,
    pub sorties: Vec<SortieI>,
    not_before: f64,
    /// Cumulative LP pick-ups per LP class, site and day, and what each LP
    /// class has taken from each site so far.
    guide: Option<(&'a Guide, Vec<Vec<Vec<f64>>>)>,
    took: Vec<Vec<f64>>,
}

/// Cached greedy manifests of one site and category: (cabin seats, people).
type Manifests = Vec<(u32, Vec<usize>)>;

const HORIZON_DAYS: f64 = 400.0;
/// Days with their own site multipliers in [`Params::mult`].
pub(crate) const PHASES: usize = 48;
/// A pick-up of a deadline site's last cabin-load at most this long before
/// its deadline (and not after it) is *due*: it is chosen before any pick-up
/// that is not (see `Sim::best_sortie`).
const DEADLINE_DUE_H: f64 = 24.0;
/// Under a time limit, the share of it kept for building the plan from the
/// search's best construction (export, summary: 20–35 ms for 4,300 sorties).
const TAIL_SHARE: f64 = 0.01;
/// Search chains: the best distinct starts, improved in turn (see [`search`]).
const POOL: usize = 4;
/// Share of the search's moves that rebuild only from a cut day on.
const LOCAL_SHARE: f64 = 0.7;
/// Fraction of the budget (time or rounds) after which only the chain with
/// the best plan goes on.
const FOCUS: f64 = 0.5;
/// Under a time limit, no new batch of starting constructions after this
/// fraction of it.
const START_SHARE: f64 = 0.5;

impl<'a> Sim<'a> {
    /// A simulation with `committed` sorties already flown or kept, nothing new
    /// before `not_before`, and `todo` the people still to move.
    pub fn new(
        p: &'a Problem,
        pre: &'a Prepared,
        committed: Vec<SortieI>,
        todo: &[usize],
        not_before: f64,
    ) -> Self {
        let mut ac: Vec<AcState> = p
            .aircraft
            .iter()
            .map(|a| AcState {
                loc: a.base,
                free: p.start_h.max(not_before),
                days: BTreeMap::new(),
                alive: true,
            })
            .collect();
        let mut intake = BTreeMap::new();
        let mut order: Vec<usize> = (0..committed.len()).collect();
        order.sort_by(|&a, &b| {
            committed[a].legs[0]
                .dep
                .total_cmp(&committed[b].legs[0].dep)
        });
        for &k in &order {
            let s = &committed[k];
            let st = &mut ac[s.ac];
            let a = &p.aircraft[s.ac];
            for l in &s.legs {
                let d = st.days.entry(day_of(l.dep)).or_insert(DayUse {
                    fh: 0.0,
                    first: l.dep,
                });
                d.fh += a.hours_for(pre.km(l.from, l.to));
                d.first = d.first.min(l.dep);
            }
            if let Some(last) = s.legs.last() {
                st.loc = last.to;
                st.free = st.free.max(last.arr + a.turnaround_h);
                if !s.people.is_empty() {
                    *intake.entry(day_of(last.arr)).or_insert(0) += s.people.len() as u32;
                }
            }
        }
        let ns = p.sites.len();
        let mut queues: Vec<[Vec<usize>; 3]> = (0..ns).map(|_| [vec![], vec![], vec![]]).collect();
        let mut remaining = vec![[0u32; 3]; ns];
        let mut rem_site = vec![0u32; ns];
        let mut gqueues: Vec<[Vec<usize>; 3]> = (0..ns).map(|_| [vec![], vec![], vec![]]).collect();
        let ng = p.people.iter().flat_map(|q| q.groups.iter()).map(|&g| g as usize + 1).max().unwrap_or(0);
        let mut gleft = vec![0u32; ng];
        for &i in todo {
            let q = &p.people[i];
            queues[q.site][cat_index(q.category)].push(i);
            if !q.groups.is_empty() {
                gqueues[q.site][cat_index(q.category)].push(i);
                for &g in &q.groups {
                    gleft[g as usize] += 1;
                }
            }
            remaining[q.site][cat_index(q.category)] += 1;
            rem_site[q.site] += 1;
        }
        Sim {
            p,
            pre,
            ac,
            intake,
            queues,
            heads: vec![[0; 3]; ns],
            gqueues,
            gleft,
            cache: std::cell::RefCell::new((0..ns).map(|_| [vec![], vec![], vec![]]).collect()),
            taken: vec![false; p.people.len()],
            remaining,
            rem_site,
            sorties: committed,
            not_before,
            guide: None,
            took: Vec::new(),
        }
    }

    /// Follow `g` (the exposure LP's pick-ups) with weight `Params::lp_weight`.
    pub fn with_guide(mut self, g: Option<&'a Guide>) -> Self {
        if let Some(g) = g {
            let cum: Vec<Vec<Vec<f64>>> = g
                .pickups
                .iter()
                .map(|by_site| {
                    by_site
                        .iter()
                        .map(|days| {
                            let mut acc = 0.0;
                            days.iter()
                                .map(|x| {
                                    acc += x;
                                    acc
                                })
                                .collect()
                        })
                        .collect()
                })
                .collect();
            self.took = vec![vec![0.0; self.p.sites.len()]; g.pickups.len()];
            self.guide = Some((g, cum));
        }
        self
    }

    /// Put aircraft `a` at `loc`, free from `free` — for filling a slot
    /// between kept sorties (re-planning); `run` would then append after it.
    pub(crate) fn place(&mut self, a: usize, loc: usize, free: f64) {
        self.ac[a].loc = loc;
        self.ac[a].free = free;
    }

    /// Re-derive aircraft `a`'s flight hours and first departure per day
    /// from `sorties` (its sorties only) — for probing a slot as if one of
    /// its sorties were not flown. Its position and free time stay as set.
    pub(crate) fn reset_days(&mut self, a: usize, sorties: &[&SortieI]) {
        let p = self.p;
        let ac = &p.aircraft[a];
        let days = &mut self.ac[a].days;
        days.clear();
        for l in sorties.iter().flat_map(|s| s.legs.iter()) {
            let d = days.entry(day_of(l.dep)).or_insert(DayUse {
                fh: 0.0,
                first: l.dep,
            });
            d.fh += ac.hours_for(self.pre.km(l.from, l.to));
            d.first = d.first.min(l.dep);
        }
    }

    /// Count `n` more (negative: fewer) arrivals on `day`.
    pub(crate) fn add_intake(&mut self, day: i64, n: i64) {
        let e = self.intake.entry(day).or_insert(0);
        *e = (*e as i64 + n).max(0) as u32;
    }

    /// Arrivals the destination can still take on `day`.
    pub(crate) fn room(&self, day: i64) -> u32 {
        self.p
            .intake_cap(day)
            .saturating_sub(self.intake.get(&day).copied().unwrap_or(0))
    }

    /// People still to move at site `s` in category index `c`.
    pub(crate) fn waiting(&self, s: usize, c: usize) -> u32 {
        self.remaining[s][c]
    }

    fn left(&self) -> u32 {
        self.rem_site.iter().sum()
    }

    /// Run to completion. Returns the people nobody could carry.
    pub fn run(&mut self, prm: &Params) -> Vec<usize> {
        let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<(OrdF, usize)>> =
            (0..self.ac.len())
                .map(|i| std::cmp::Reverse((OrdF(self.ac[i].free), i)))
                .collect();
        while self.left() > 0 {
            let Some(std::cmp::Reverse((_, a))) = heap.pop() else {
                break;
            };
            match self.best_sortie(a, prm) {
                Some(s) => {
                    self.commit(s);
                    heap.push(std::cmp::Reverse((OrdF(self.ac[a].free), a)));
                }
                None => self.ac[a].alive = false,
            }
        }
        let mut left = Vec::new();
        for s in 0..self.queues.len() {
            for c in 0..3 {
                left.extend(
                    self.queues[s][c]
                        .iter()
                        .copied()
                        .filter(|&i| !self.taken[i]),
                );
            }
        }
        left
    }

    fn best_sortie(&self, a: usize, prm: &Params) -> Option<SortieI> {
        let p = self.p;
        let st = &self.ac[a];
        let cls = self.pre.class_of[a];
        // (deadline due, score, site, category, room, legs)
        let mut best: Option<(bool, f64, usize, usize, u32, Vec<LegI>)> = None;
        for s in 0..p.sites.len() {
            if self.rem_site[s] == 0 {
                continue;
            }
            let (Some(pos), Some(load)) = (
                &self.pre.routes[cls][st.loc][s],
                &self.pre.routes[cls][s][p.destination],
            ) else {
                continue;
            };
            let Some(legs) = self.schedule(a, pos, load, st.free) else {
                continue;
            };
            let pick = legs.iter().find(|l| l.loaded).map_or(f64::NAN, |l| l.dep);
            let arr = legs.last().map_or(f64::NAN, |l| l.arr);
            let room = p
                .intake_cap(day_of(arr))
                .saturating_sub(self.intake.get(&day_of(arr)).copied().unwrap_or(0));
            let ph = (day_of(pick) - day_of(p.start_h)).clamp(0, PHASES as i64 - 1) as usize;
            let rate = p.rate(s, pick) * prm.mult[s][ph];
            let urg = match p.sites[s].deadline_h {
                Some(d) => prm.urgency * self.rem_site[s] as f64 / (d - pick).max(1.0),
                None => 0.0,
            };
            // Due (deadline repair only, `Params::deadline_due`): people still
            // at a site whose deadline this pick-up meets and that falls
            // within `DEADLINE_DUE_H` of it. Such a pick-up beats every other
            // one (misses rank above exposure). The score alone can leave a
            // deadline site's last stragglers behind: its urgency grows with
            // the people left and the score with the load, so one straggler
            // waits for full cabins elsewhere.
            let due = prm.deadline_due
                && p.sites[s]
                    .deadline_h
                    .is_some_and(|d| pick <= d && d - pick <= DEADLINE_DUE_H);
            let cycle = (arr - st.free).max(0.0) + 1.0;
            for c in 0..3 {
                if self.remaining[s][c] == 0 {
                    continue;
                }
                let n = self.load_of(a, s, c, room);
                if n == 0 {
                    continue;
                }
                let load = n as f64;
                let mut follow = 0.0;
                if let Some((g, cum)) = &self.guide
                    && prm.lp_weight > 0.0
                {
                    let c = g.class_of_ac[a];
                    let v = &cum[c][s];
                    if !v.is_empty() {
                        let di = (day_of(pick) - g.d0).clamp(0, v.len() as i64 - 1) as usize;
                        // the LP's share of this site in the class's pick-ups that day
                        let day: f64 = g.pickups[c].iter().map(|x| x.get(di).copied().unwrap_or(0.0)).sum();
                        if day > 1e-9 {
                            follow = prm.lp_weight * g.pickups[c][s][di] / day;
                        }
                    }
                }
                let score = (rate + urg + follow) * prm.cmult[cls][s] * load / cycle.powf(prm.beta);
                if best
                    .as_ref()
                    .is_none_or(|(bd, b, ..)| (due, score) > (*bd, *b))
                {
                    best = Some((due, score, s, c, room, legs.clone()));
                }
            }
        }
        let (_, _, s, c, room, legs) = best?;
        self.fill(a, s, c, &legs, room)
    }

    /// Earliest legal legs for positioning along `pos` then carrying along `load`.
    pub(crate) fn schedule(
        &self,
        a: usize,
        pos: &Route,
        load: &Route,
        earliest: f64,
    ) -> Option<Vec<LegI>> {
        let p = self.p;
        let ac = &p.aircraft[a];
        let mut nodes: Vec<(usize, usize, bool)> =
            pos.windows(2).map(|w| (w[0], w[1], false)).collect();
        nodes.extend(load.windows(2).map(|w| (w[0], w[1], true)));
        let t0 = earliest.max(self.not_before).max(p.start_h);
        // Pick-up not before: when the loaded part cannot fly as planned, only
        // it moves later; the positioning stays early (flown today, boarding
        // tomorrow morning, say) instead of the whole sortie sliding.
        let mut lt0 = t0;
        let limit = p.start_h + HORIZON_DAYS * 24.0;
        'attempt: for _ in 0..200 {
            if lt0 > limit {
                return None;
            }
            let mut legs: Vec<LegI> = Vec::with_capacity(nodes.len());
            let mut extra: BTreeMap<i64, DayUse> = BTreeMap::new();
            let mut t = t0;
            for (i, &(f, to, loaded)) in nodes.iter().enumerate() {
                if i > 0 {
                    let prev = &legs[i - 1];
                    let ground = if loaded && !nodes[i - 1].2 {
                        ac.turnaround_h
                    } else {
                        p.rules.refuel_stop_h
                    };
                    t = prev.arr + ground;
                }
                let dur = ac.hours_for(self.pre.km(f, to));
                let first_loaded = loaded && (i == 0 || !nodes[i - 1].2);
                if first_loaded {
                    t = t.max(lt0);
                }
                let dep = self.earliest_leg(a, t, dur, &extra)?;
                if loaded && i > 0 && nodes[i - 1].2 && dep > t + 1e-9 {
                    // people on board may not wait at a refuelling stop: board later
                    let pick = legs.iter().find(|l| l.loaded).map_or(t, |l| l.dep);
                    lt0 = pick + (dep - t);
                    continue 'attempt;
                }
                let e = extra.entry(day_of(dep)).or_insert(DayUse {
                    fh: 0.0,
                    first: dep,
                });
                e.fh += dur;
                e.first = e.first.min(dep);
                legs.push(LegI {
                    from: f,
                    to,
                    dep,
                    arr: dep + dur,
                    loaded,
                });
            }
            let arr = legs.last()?.arr;
            let d = day_of(arr);
            let used = self.intake.get(&d).copied().unwrap_or(0);
            let open_ok = p.site_open(p.destination, arr, arr);
            if !open_ok || used >= p.intake_cap(d) {
                // shift to the destination's next opening on a day with room
                let (open, close) = p.sites[p.destination].hours.unwrap_or((0.0, 24.0));
                let close = if close <= open { close + 24.0 } else { close };
                let mut nd = d;
                loop {
                    let room = self.intake.get(&nd).copied().unwrap_or(0) < p.intake_cap(nd);
                    if room && arr <= nd as f64 * 24.0 + close {
                        break;
                    }
                    nd += 1;
                    if nd as f64 * 24.0 > limit {
                        return None;
                    }
                }
                let target = (nd as f64 * 24.0 + open).max(arr);
                let pick = legs.iter().find(|l| l.loaded).map_or(t0, |l| l.dep);
                lt0 = pick + (target - arr).max(0.25);
                continue 'attempt;
            }
            return Some(legs);
        }
        None
    }

    /// Earliest departure ≥ `t` for a leg of `dur` hours by aircraft `a`.
    fn earliest_leg(
        &self,
        a: usize,
        mut t: f64,
        dur: f64,
        extra: &BTreeMap<i64, DayUse>,
    ) -> Option<f64> {
        let p = self.p;
        let ac = &p.aircraft[a];
        let st = &self.ac[a];
        let (ds, de) = (p.rules.day_start_h, p.rules.day_end_h);
        if !ac.night_capable && dur > de - ds {
            return None;
        }
        if dur > ac.max_flight_hours_per_day || dur > ac.crew_duty_hours {
            return None;
        }
        let limit = p.start_h + HORIZON_DAYS * 24.0;
        for _ in 0..1000 {
            if t > limit {
                return None;
            }
            let day = day_of(t);
            let next_day = (day + 1) as f64 * 24.0;
            if !ac.night_capable && !within_daily(t, t + dur, ds, de) {
                let start_today = day as f64 * 24.0 + ds;
                t = if t < start_today {
                    start_today
                } else {
                    next_day + ds
                };
                continue;
            }
            if let Some(iv) = p
                .closures
                .iter()
                .chain(ac.unavailable.iter())
                .find(|iv| iv.overlaps(t, t + dur))
            {
                t = iv.to;
                continue;
            }
            if !ac.available.is_empty()
                && !ac
                    .available
                    .iter()
                    .any(|w| w.from <= t + 1e-9 && t + dur <= w.to + 1e-9)
            {
                match ac
                    .available
                    .iter()
                    .filter(|w| w.from > t && w.to - w.from >= dur)
                    .map(|w| w.from)
                    .min_by(f64::total_cmp)
                {
                    Some(n) => {
                        t = n;
                        continue;
                    }
                    None => return None,
                }
            }
            let (mut fh, mut first) = (0.0, t);
            for src in [st.days.get(&day), extra.get(&day)].into_iter().flatten() {
                fh += src.fh;
                first = first.min(src.first);
            }
            if fh + dur > ac.max_flight_hours_per_day + 1e-9
                || t + dur - first > ac.crew_duty_hours + 1e-9
            {
                t = next_day;
                continue;
            }
            return Some(t);
        }
        None
    }

    /// The greedy manifest of category `c` at site `s` for a cabin of `cap`
    /// seats (escorts excluded), without an intake limit; a limit of `room`
    /// takes its first `room` people (the greedy adds people in order).
    /// Cached until a sortie takes people from `s`.
    fn manifest(&self, s: usize, c: usize, cap: u32) -> std::cell::Ref<'_, Vec<usize>> {
        let hit = self.cache.borrow()[s][c].iter().position(|x| x.0 == cap);
        let k = match hit {
            Some(k) => k,
            None => {
                let m = self.greedy_manifest(s, c, cap);
                let mut cache = self.cache.borrow_mut();
                cache[s][c].push((cap, m));
                cache[s][c].len() - 1
            }
        };
        std::cell::Ref::map(self.cache.borrow(), |v| &v[s][c][k].1)
    }

    fn greedy_manifest(&self, s: usize, c: usize, cap: u32) -> Vec<usize> {
        let p = self.p;
        let mut people = Vec::new();
        let mut groups: Vec<u32> = Vec::new();
        let (mut seats, mut ratio) = (0u32, 0.0f64);
        let mut take = |i: usize, people: &mut Vec<usize>| -> bool {
            let per = &p.people[i];
            if per.groups.iter().any(|g| groups.contains(g)) {
                return false;
            }
            let need = p.rules.person_seats(per);
            let r2 = ratio + p.rules.guard_ratio(per.risk);
            if seats + need + p.rules.guard_seats(r2) > cap {
                return false;
            }
            seats += need;
            ratio = r2;
            groups.extend_from_slice(&per.groups);
            people.push(i);
            true
        };
        // Members of groups with two or more left first, largest groups first.
        let mut gc: Vec<(u32, usize)> = self.gqueues[s][c]
            .iter()
            .filter(|&&i| !self.taken[i])
            .filter_map(|&i| {
                let k = p.people[i].groups.iter().map(|&g| self.gleft[g as usize]).max()?;
                (k >= 2).then_some((k, i))
            })
            .collect();
        gc.sort_by_key(|x| std::cmp::Reverse(x.0));
        for &(_, i) in &gc {
            take(i, &mut people);
        }
        let picked_groups = people.len();
        let q = &self.queues[s][c];
        let mut scanned = 0;
        for &i in &q[self.heads[s][c]..] {
            if scanned > 4 * cap as usize + 16 {
                break;
            }
            if self.taken[i] || people[..picked_groups].contains(&i) {
                continue;
            }
            scanned += 1;
            take(i, &mut people);
        }
        people
    }

    /// Fill a manifest of category `c` at site `s` for these legs.
    pub(crate) fn fill(
        &self,
        a: usize,
        s: usize,
        c: usize,
        legs: &[LegI],
        room: u32,
    ) -> Option<SortieI> {
        let p = self.p;
        let ac = &p.aircraft[a];
        let cat = CATS[c];
        let escorts = p.rules.escorts_for(cat);
        let cap = ac.usable_seats(p.rules.kg_per_seat).checked_sub(escorts)?;
        let m = self.manifest(s, c, cap);
        let people: Vec<usize> = m[..m.len().min(room as usize)].to_vec();
        drop(m);
        if people.is_empty() {
            return None;
        }
        let (mut seats, mut ratio, mut medical) = (0u32, 0.0f64, 0u32);
        for &i in &people {
            let per = &p.people[i];
            let need = p.rules.person_seats(per);
            seats += need;
            ratio += p.rules.guard_ratio(per.risk);
            medical += need - 1;
        }
        let guards = p.rules.guard_seats(ratio);
        Some(SortieI {
            ac: a,
            origin: s,
            cat,
            legs: legs.to_vec(),
            guards,
            escorts,
            medical,
            seats: seats + guards + escorts,
            people,
        })
    }

    /// How many people `fill` would put on board (without building it).
    fn load_of(&self, a: usize, s: usize, c: usize, room: u32) -> usize {
        let p = self.p;
        let ac = &p.aircraft[a];
        let escorts = p.rules.escorts_for(CATS[c]);
        let Some(cap) = ac.usable_seats(p.rules.kg_per_seat).checked_sub(escorts) else {
            return 0;
        };
        self.manifest(s, c, cap).len().min(room as usize)
    }

    fn commit(&mut self, s: SortieI) {
        let p = self.p;
        let a = s.ac;
        let ac = &p.aircraft[a];
        let st = &mut self.ac[a];
        for l in &s.legs {
            let d = st.days.entry(day_of(l.dep)).or_insert(DayUse {
                fh: 0.0,
                first: l.dep,
            });
            d.fh += ac.hours_for(self.pre.km(l.from, l.to));
            d.first = d.first.min(l.dep);
        }
        let last = s.legs.last().expect("a sortie has legs");
        st.loc = last.to;
        st.free = last.arr + ac.turnaround_h;
        *self.intake.entry(day_of(last.arr)).or_insert(0) += s.people.len() as u32;
        let c = cat_index(s.cat);
        for &i in &s.people {
            self.taken[i] = true;
            for &g in &p.people[i].groups {
                self.gleft[g as usize] -= 1;
            }
        }
        if let Some((g, _)) = &self.guide {
            self.took[g.class_of_ac[a]][s.origin] += s.people.len() as f64;
        }
        for v in self.cache.get_mut()[s.origin].iter_mut() {
            v.clear();
        }
        self.remaining[s.origin][c] -= s.people.len() as u32;
        self.rem_site[s.origin] -= s.people.len() as u32;
        let q = &self.queues[s.origin][c];
        let mut h = self.heads[s.origin][c];
        while h < q.len() && self.taken[q[h]] {
            h += 1;
        }
        self.heads[s.origin][c] = h;
        self.sorties.push(s);
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct OrdF(f64);
impl Eq for OrdF {}
impl PartialOrd for OrdF {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for OrdF {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

/// Convert internal sorties into plan sorties (ids, UTC times, km).
pub(crate) fn export(p: &Problem, sorties: &[SortieI]) -> Vec<Sortie> {
    let mut out: Vec<Sortie> = sorties
        .iter()
        .map(|s| Sortie {
            id: 0,
            aircraft: p.aircraft[s.ac].tail.clone(),
            origin: p.sites[s.origin].id.clone(),
            category: s.cat,
            legs: s
                .legs
                .iter()
                .map(|l| Leg {
                    from: p.sites[l.from].id.clone(),
                    to: p.sites[l.to].id.clone(),
                    depart_h: l.dep,
                    arrive_h: l.arr,
                    depart: p.to_utc(l.dep),
                    arrive: p.to_utc(l.arr),
                    loaded: l.loaded,
                    km: p.dist(l.from, l.to),
                })
                .collect(),
            manifest: s.people.iter().map(|&i| p.people[i].id.clone()).collect(),
            guard_seats: s.guards,
            escort_seats: s.escorts,
            medical_seats: s.medical,
            seats_used: s.seats,
        })
        .collect();
    out.sort_by(|a, b| {
        a.depart_h()
            .total_cmp(&b.depart_h())
            .then_with(|| a.aircraft.cmp(&b.aircraft))
    });
    for (i, s) in out.iter_mut().enumerate() {
        s.id = i as u32 + 1;
    }
    out
}

/// Objective of a finished simulation, without building the whole plan.
fn objective_of(p: &Problem, sorties: &[SortieI]) -> Objective {
    let (mut misses, mut exp, mut last, mut fh) = (0u32, 0.0, p.start_h, 0.0);
    for s in sorties {
        let ac = &p.aircraft[s.ac];
        fh += s
            .legs
            .iter()
            .map(|l| ac.hours_for(p.dist(l.from, l.to)))
            .sum::<f64>();
        if s.people.is_empty() {
            continue;
        }
        let pick = s.legs.iter().find(|l| l.loaded).map_or(f64::NAN, |l| l.dep);
        last = last.max(s.legs.last().map_or(last, |l| l.arr));
        for &i in &s.people {
            let site = p.people[i].site;
            exp += p.exposure_until(site, pick);
            if p.sites[site].deadline_h.is_some_and(|d| pick > d + 1e-6) {
                misses += 1;
            }
        }
    }
    Objective {
        deadline_misses: misses,
        risk_exposure: exp,
        makespan_h: last - p.start_h,
        flight_hours: fh,
    }
}

#[derive(Clone)]
pub(crate) struct Built {
    pub sorties: Vec<SortieI>,
    pub obj: Objective,
}

/// One construction with `prm`; `Err` lists people that could not be carried.
pub(crate) fn construct(
    p: &Problem,
    pre: &Prepared,
    committed: &[SortieI],
    todo: &[usize],
    not_before: f64,
    prm: &Params,
    guide: Option<&Guide>,
) -> Result<Built, Vec<usize>> {
    let mut sim = Sim::new(p, pre, committed.to_vec(), todo, not_before).with_guide(guide);
    let left = sim.run(prm);
    if !left.is_empty() {
        return Err(left);
    }
    let obj = objective_of(p, &sim.sorties);
    Ok(Built {
        sorties: sim.sorties,
        obj,
    })
}

/// A global move: rescale 1–3 sites' multipliers on every day, maybe β, the
/// urgency weight and the LP weight; the whole plan is rebuilt.
fn perturb(base: &Params, rng: &mut ChaCha8Rng, p: &Problem) -> Params {
    let mut m = base.clone();
    let ns = m.mult.len();
    let k = rng.gen_range(1..=3.min(ns.max(1)));
    let origins: Vec<usize> = (0..ns).filter(|&s| p.sites[s].kind.is_origin()).collect();
    for _ in 0..k {
        if origins.is_empty() {
            break;
        }
        let s = origins[rng.gen_range(0..origins.len())];
        let f: f64 = (rng.gen_range(-0.7f64..0.7)).exp();
        for x in m.mult[s].iter_mut() {
            *x = (*x * f).clamp(0.05, 20.0);
        }
    }
    if rng.gen_bool(0.3) && !origins.is_empty() {
        let c = rng.gen_range(0..m.cmult.len());
        let s = origins[rng.gen_range(0..origins.len())];
        m.cmult[c][s] = (m.cmult[c][s] * rng.gen_range(-0.7f64..0.7).exp()).clamp(0.05, 20.0);
    }
    if rng.gen_bool(0.3) {
        m.beta = (m.beta + rng.gen_range(-0.3..0.3)).clamp(0.0, 2.0);
    }
    if rng.gen_bool(0.3) {
        m.urgency = (m.urgency * rng.gen_range(0.5f64..2.0)).clamp(0.01, 1e4);
    }
    if m.lp_weight > 0.0 && rng.gen_bool(0.2) {
        m.lp_weight = (m.lp_weight * rng.gen_range(0.5f64..2.0)).clamp(1e-3, 1e4);
    }
    m
}

/// A local move from plan day `d` on: rescale 1–3 sites' multipliers on
/// days `d..d + w` (w = 1–3 days, or all later days); only the part of the
/// plan from day `d` is rebuilt (see [`search`]).
fn perturb_from(base: &Params, rng: &mut ChaCha8Rng, p: &Problem, d: usize) -> Params {
    let mut m = base.clone();
    let ns = m.mult.len();
    let origins: Vec<usize> = (0..ns).filter(|&s| p.sites[s].kind.is_origin()).collect();
    if origins.is_empty() {
        return m;
    }
    let k = rng.gen_range(1..=3.min(origins.len()));
    let end = if rng.gen_bool(0.5) {
        PHASES
    } else {
        (d + rng.gen_range(1..=3)).min(PHASES)
    };
    for _ in 0..k {
        let s = origins[rng.gen_range(0..origins.len())];
        let f: f64 = (rng.gen_range(-1.0f64..1.0)).exp();
        for x in &mut m.mult[s][d.min(PHASES - 1)..end.max(d.min(PHASES - 1) + 1)] {
            *x = (*x * f).clamp(0.02, 50.0);
        }
    }
    if rng.gen_bool(0.1) {
        m.beta = (m.beta + rng.gen_range(-0.2..0.2)).clamp(0.0, 2.0);
    }
    if rng.gen_bool(0.15) {
        let c = rng.gen_range(0..m.cmult.len());
        let s = origins[rng.gen_range(0..origins.len())];
        m.cmult[c][s] = (m.cmult[c][s] * rng.gen_range(-0.7f64..0.7).exp()).clamp(0.05, 20.0);
    }
    m
}

fn no_carrier(p: &Problem, left: &[usize]) -> PlanError {
    let mut by_site: BTreeMap<String, u32> = BTreeMap::new();
    for &i in left {
        *by_site
            .entry(p.sites[p.people[i].site].id.to_string())
            .or_default() += 1;
    }
    PlanError::Infeasible(
        by_site
            .into_iter()
            .map(|(s, n)| {
                format!(
                    "{n} people at site {s} could not be given a sortie within {HORIZON_DAYS} days (aircraft availability, daylight, crew-duty or intake leave no slot)"
                )
            })
            .collect(),
    )
}

/// Search: initial constructions, then perturbation rounds until the limit.
pub(crate) fn search(
    p: &Problem,
    pre: &Prepared,
    committed: &[SortieI],
    todo: &[usize],
    not_before: f64,
    opts: &SolverOptions,
    started: Instant,
    guide: Option<&Guide>,
) -> Result<(Built, SolveStats), PlanError> {
    let ns = p.sites.len();
    let mean_rate = {
        let v: Vec<f64> = (0..ns)
            .filter(|&s| p.sites[s].kind.is_origin())
            .map(|s| p.rate(s, p.start_h))
            .collect();
        if v.is_empty() {
            1.0
        } else {
            (v.iter().sum::<f64>() / v.len() as f64).max(1e-3)
        }
    };
    let lp_weights: &[f64] = if guide.is_some() { &[0.0, 1.0, 3.0, 10.0] } else { &[0.0] };
    let nclass = pre.routes.len();
    // Starts, the usually strongest first (β 1, 0.5, 0; urgency 1, 0.1, 10).
    let starts: Vec<Params> = [1.0, 0.5, 0.0]
        .into_iter()
        .flat_map(|beta| {
            [1.0, 0.1, 10.0].into_iter().flat_map(move |u| {
                lp_weights.iter().map(move |&w| Params {
                    mult: vec![vec![1.0; PHASES]; ns],
                    cmult: vec![vec![1.0; ns]; nclass],
                    beta,
                    urgency: u * mean_rate,
                    lp_weight: w * mean_rate,
                    deadline_due: false,
                })
            })
        })
        .collect();
    // Built `threads` at a time; under a time limit (no `max_rounds`) no new
    // batch of starts begins after `START_SHARE` of it (large instances,
    // short limits: re-planning), so the limit holds.
    let threads = rayon::current_num_threads().max(1);
    let mut built: Vec<(usize, Result<Built, Vec<usize>>)> = Vec::new();
    for (ci, ch) in starts.chunks(threads).enumerate() {
        if ci > 0
            && opts.max_rounds.is_none()
            && started.elapsed().as_secs_f64() >= START_SHARE * opts.time_limit.as_secs_f64()
        {
            break;
        }
        let part: Vec<(usize, Result<Built, Vec<usize>>)> = ch
            .par_iter()
            .enumerate()
            .map(|(k, prm)| {
                let r = construct(p, pre, committed, todo, not_before, prm, guide);
                (ci * threads + k, r)
            })
            .collect();
        built.extend(part);
    }
    // A small pool of the best distinct starts, improved in turn (round
    // robin), so one strong basin does not starve the others.
    let mut pool: Vec<(Params, Built)> = Vec::new();
    let mut last_err = None;
    for (k, b) in built {
        match b {
            Ok(b) => pool.push((starts[k].clone(), b)),
            Err(left) => last_err = Some(left),
        }
    }
    if pool.is_empty() {
        return Err(no_carrier(p, &last_err.unwrap_or_default()));
    }
    pool.sort_by(|a, b| a.1.obj.cmp_key(&b.1.obj)); // stable: ties keep start order
    pool.dedup_by(|a, b| a.1.obj == b.1.obj);
    pool.truncate(POOL);
    let batch = if opts.batch > 0 {
        opts.batch
    } else {
        2 * threads
    };
    let d0 = day_of(p.start_h);
    let (mut rounds, mut improvements) = (0u64, 0u64);
    let mut best: Vec<(Params, Built)> = pool.iter().map(|(a, b)| (a.clone(), b.clone())).collect();
    let mut focused = false;
    let mut slowest = Duration::ZERO;
    loop {
        if opts.max_rounds.is_some_and(|m| rounds >= m) {
            break;
        }
        // Under a time limit, no round that would end past it — by 1.5 × the
        // slowest round so far (on a large instance a round takes 0.1–1 s and
        // varies by half under load), plus `TAIL_SHARE` of the limit for
        // turning the best construction into the plan.
        if opts.max_rounds.is_none() {
            let mut reserve = opts.time_limit.mul_f64(TAIL_SHARE);
            if best.iter().all(|b| b.1.obj.deadline_misses > 0) {
                reserve += slowest; // for the deadline repair
            }
            if started.elapsed() + slowest.mul_f64(1.5) + reserve >= opts.time_limit {
                break;
            }
        }
        let round_start = Instant::now();
        let m = (rounds % pool.len() as u64) as usize;
        // Days the incumbent's new sorties span (where a local move may cut).
        let inc = &pool[m].1;
        let first_day = (day_of(not_before.max(p.start_h)) - d0).max(0) as usize;
        let last_day = inc.sorties[committed.len()..]
            .iter()
            .map(|s| (day_of(s.legs[0].dep) - d0).max(0) as usize)
            .max()
            .unwrap_or(first_day);
        let cands: Vec<(Params, Option<usize>)> = (0..batch)
            .map(|k| {
                let mut rng = ChaCha8Rng::seed_from_u64(
                    opts.seed ^ (rounds.wrapping_mul(0x9E37_79B9_7F4A_7C15)) ^ (k as u64) << 48,
                );
                if !rng.gen_bool(LOCAL_SHARE) || last_day <= first_day {
                    (perturb(&pool[m].0, &mut rng, p), None)
                } else {
                    let d = rng.gen_range(first_day + 1..=last_day);
                    (perturb_from(&pool[m].0, &mut rng, p, d), Some(d))
                }
            })
            .collect();
        let res: Vec<Option<Built>> = cands
            .par_iter()
            .map(|(c, cut)| match cut {
                None => construct(p, pre, committed, todo, not_before, c, guide).ok(),
                Some(d) => {
                    let t = (d0 + *d as i64) as f64 * 24.0;
                    rebuild_from(p, pre, committed, todo, not_before, c, guide, inc, t)
                }
            })
            .collect();
        // The round's best candidate replaces the chain's plan when better;
        // the best plan each chain has seen is kept apart.
        let mut top: Option<(usize, Built)> = None;
        for (k, r) in res.into_iter().enumerate() {
            if let Some(b) = r
                && top.as_ref().is_none_or(|t| b.obj.better_than(&t.1.obj))
            {
                top = Some((k, b));
            }
        }
        if let Some((k, b)) = top
            && b.obj.better_than(&pool[m].1.obj)
        {
            if b.obj.better_than(&best[m].1.obj) {
                best[m] = (cands[k].0.clone(), b.clone());
                improvements += 1;
            }
            pool[m] = (cands[k].0.clone(), b);
        }
        slowest = slowest.max(round_start.elapsed());
        rounds += 1;
        // Past the focus point only the chain with the best plan goes on.
        let past = match opts.max_rounds {
            Some(mr) => rounds as f64 >= FOCUS * mr as f64,
            None => started.elapsed().as_secs_f64() >= FOCUS * opts.time_limit.as_secs_f64(),
        };
        if past && !focused && pool.len() > 1 && (rounds % pool.len() as u64) == 0 {
            focused = true;
            let mut b = 0;
            for i in 1..best.len() {
                if best[i].1.obj.better_than(&best[b].1.obj) {
                    b = i;
                }
            }
            let keep_best = best.swap_remove(b);
            let keep_cur = pool.swap_remove(b);
            best = vec![keep_best];
            pool = vec![keep_cur];
        }
    }
    let mut pool = best;
    let mut best = 0;
    for i in 1..pool.len() {
        if pool[i].1.obj.better_than(&pool[best].1.obj) {
            best = i;
        }
    }
    let (prm, mut inc) = pool.swap_remove(best);
    if inc.obj.deadline_misses > 0
        && let Some(b) = deadline_repair(p, pre, committed, todo, not_before, &prm, &inc, guide)
        && b.obj.better_than(&inc.obj)
    {
        inc = b;
        improvements += 1;
    }
    let stats = SolveStats {
        seed: opts.seed,
        iterations: rounds * batch as u64,
        improvements,
        solve_ms: started.elapsed().as_millis() as u64,
        threads,
    };
    Ok((inc, stats))
}

/// The deadline repair of the search's best plan `inc` (built with `prm`)
/// when it misses deadlines: rebuilt with due deadline pick-ups first
/// (`Params::deadline_due`) — once keeping `inc`'s sorties that leave before
/// the day `DEADLINE_DUE_H` before the earliest missed deadline, once from
/// scratch; in parallel. The better of the two, if any.
/// Keeps the committed sorties and those of `inc` that leave before time `t` (a prefix of
/// every aircraft's chain) and constructs the rest with `prm`.
#[allow(clippy::too_many_arguments)]
fn rebuild_from(
    p: &Problem,
    pre: &Prepared,
    committed: &[SortieI],
    todo: &[usize],
    not_before: f64,
    prm: &Params,
    guide: Option<&Guide>,
    inc: &Built,
    t: f64,
) -> Option<Built> {
    let kept: Vec<SortieI> = inc
        .sorties
        .iter()
        .enumerate()
        .filter(|(i, s)| *i < committed.len() || s.legs[0].dep < t)
        .map(|(_, s)| s.clone())
        .collect();
    let mut on = vec![false; p.people.len()];
    for s in &kept[committed.len()..] {
        for &i in &s.people {
            on[i] = true;
        }
    }
    let left: Vec<usize> = todo.iter().copied().filter(|&i| !on[i]).collect();
    construct(p, pre, &kept, &left, not_before, prm, guide).ok()
}

fn deadline_repair(
    p: &Problem,
    pre: &Prepared,
    committed: &[SortieI],
    todo: &[usize],
    not_before: f64,
    prm: &Params,
    inc: &Built,
    guide: Option<&Guide>,
) -> Option<Built> {
    let missed = inc.sorties[committed.len()..]
        .iter()
        .filter(|s| !s.people.is_empty())
        .filter_map(|s| {
            let d = p.sites[s.origin].deadline_h?;
            let pick = s.legs.iter().find(|l| l.loaded).map_or(f64::NAN, |l| l.dep);
            (pick > d + 1e-6).then_some(d)
        })
        .min_by(f64::total_cmp)?;
    let due = Params {
        deadline_due: true,
        ..prm.clone()
    };
    let cut = (day_of(missed - DEADLINE_DUE_H) as f64 * 24.0).max(not_before);
    let variants = [Some(cut), None];
    let res: Vec<Option<Built>> = variants
        .par_iter()
        .map(|v| match v {
            None => construct(p, pre, committed, todo, not_before, &due, guide).ok(),
            Some(t) => rebuild_from(p, pre, committed, todo, not_before, &due, guide, inc, *t),
        })
        .collect();
    let mut out: Option<Built> = None;
    for b in res.into_iter().flatten() {
        if out.as_ref().is_none_or(|o| b.obj.better_than(&o.obj)) {
            out = Some(b);
        }
    }
    out
}

/// Solve from scratch.
pub fn solve(p: &Problem, opts: &SolverOptions) -> Result<Plan, PlanError> {
    let started = Instant::now();
    let pre = prepare(p)?;
    // The fleet LP gets a share of the budget; its pick-ups seed the search.
    let lp_budget = (opts.time_limit / 3).min(Duration::from_secs(30));
    let (bounds, guide): (Bounds, _) = bounds_and_guide(p, &pre.movable, lp_budget)?;
    let (built, stats) = search(
        p,
        &pre,
        &[],
        &pre.movable,
        p.start_h,
        opts,
        started,
        guide.as_ref(),
    )?;
    let sorties = export(p, &built.sorties);
    let mut plan = summarize(p, sorties, pre.unserved.clone(), bounds, stats);
    plan.stats.solve_ms = started.elapsed().as_millis() as u64;
    Ok(plan)
}


