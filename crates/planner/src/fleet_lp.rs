//! Fleet-aware lower bounds: a time-indexed linear relaxation of the fleet
//! and the destination intake, solved with `microlp`.
//!
//! Why every valid plan is a feasible point of this LP (so its optimum is a
//! lower bound) is written out in `docs/architecture/planner.md`
//! ("Fleet LP bound"). In short, for each aircraft *class* `a` (identical
//! airframes at one base), each day `d` and each trip index `j` (the `j`-th
//! pick-up of one airframe on that day):
//!
//! * a person group `g` (site, category, seat weight rounded down) sends
//!   `x[g,a,d,j]` people; `w_g / (U_a − escorts_g)` of a trip per person
//!   (guards are ⌈Σ ratio⌉ ≥ Σ ratio seats, so the fractional trip count never
//!   exceeds the real one);
//! * at most `N_a(d)` airframes fly that day, so trip index `j` has at most
//!   `N_a(d)` trips;
//! * the `j`-th pick-up cannot be earlier than the day's flying window opens
//!   plus `j − 1` shortest cycles, which prices the person's exposure;
//! * flight hours: each trip costs at least its loaded distance and one
//!   positioning leg from the destination at cruise; over any window of days
//!   the fleet has `F_a` hours per airframe-day, plus a credit of one
//!   positioning leg per airframe (flown before the window);
//! * duty/daylight: the trips of one airframe on one day fit between its first
//!   pick-up and its last arrival, so Σ (loaded + positioning time + two
//!   turnarounds) ≤ window + one positioning leg + two turnarounds;
//! * intake: non-night aircraft land the same day they pick up, so their
//!   passengers count against that day's intake;
//! * day patterns: what one airframe can fly in a day; on the first days
//!   with the site it spends each night at, so the positioning for a day's
//!   first trip is flown inside some day's daylight, duty and flight hours
//!   (a flow of airframes over sites from the base).
//!
//! People who are not picked up within the horizon go to an overflow bucket
//! priced at the horizon's end, so no plan is cut off by the horizon.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use microlp::{ComparisonOp, OptimizationDirection, Problem as Lp, Variable};

use crate::problem::{AircraftSpec, Interval, Problem, day_of, route, route_hours};

/// Shortest chain of in-range legs from `a` to `b` in km; loaded chains may
/// stop only at refuelling sites, positioning chains anywhere (a sortie may
/// end at any site). Runway types use runways only.
pub(crate) fn min_km(p: &Problem, ac: &AircraftSpec, a: usize, b: usize, loaded: bool) -> Option<f64> {
    if a == b {
        return Some(0.0);
    }
    let ok = |i: usize| !ac.needs_runway || p.sites[i].runway;
    if !ok(a) || !ok(b) {
        return None;
    }
    let (dist, _) = crate::problem::shortest(p.sites.len(), a, b, |u, v| {
        let d = p.dist(u, v);
        let stop_ok = v == b || !loaded || p.sites[v].refuel;
        (ok(v) && stop_ok && d <= ac.range_km + 1e-6).then_some(d)
    });
    dist[b].is_finite().then_some(dist[b])
}

/// Fewest legs of any chain of in-range legs from `a` to `b` (any site may
/// be a stop; runway types use runways only).
pub(crate) fn min_legs(p: &Problem, ac: &AircraftSpec, a: usize, b: usize) -> Option<usize> {
    if a == b {
        return Some(0);
    }
    let ok = |i: usize| !ac.needs_runway || p.sites[i].runway;
    let n = p.sites.len();
    let mut depth = vec![usize::MAX; n];
    depth[a] = 0;
    let mut q = std::collections::VecDeque::from([a]);
    while let Some(u) = q.pop_front() {
        for v in 0..n {
            if depth[v] == usize::MAX && ok(v) && p.dist(u, v) <= ac.range_km + 1e-6 {
                depth[v] = depth[u] + 1;
                if v == b {
                    return Some(depth[v]);
                }
                q.push_back(v);
            }
        }
    }
    None
}

fn same_class(a: &AircraftSpec, b: &AircraftSpec) -> bool {
    a.type_id == b.type_id
        && a.seats == b.seats
        && a.payload_kg == b.payload_kg
        && a.cruise_kmh == b.cruise_kmh
        && a.range_km == b.range_km
        && a.turnaround_h == b.turnaround_h
        && a.max_flight_hours_per_day == b.max_flight_hours_per_day
        && a.crew_duty_hours == b.crew_duty_hours
        && a.needs_runway == b.needs_runway
        && a.night_capable == b.night_capable
        && a.base == b.base
}

/// Is `[s, e]` entirely covered by the union of `ivs`?
fn covered(ivs: &[Interval], s: f64, e: f64) -> bool {
    let mut v: Vec<(f64, f64)> = ivs
        .iter()
        .filter(|iv| iv.to > s && iv.from < e)
        .map(|iv| (iv.from, iv.to))
        .collect();
    v.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut t = s;
    for (f, to) in v {
        if f > t + 1e-9 {
            return false;
        }
        t = t.max(to);
        if t >= e - 1e-9 {
            return true;
        }
    }
    t >= e - 1e-9
}

/// Trip indices per airframe-day; the last one stands for all later trips.
const JMAX: usize = 12;
/// Site clusters, trips per airframe-day and patterns per class for the
/// day-pattern constraints (beyond them a class keeps the aggregate rows).
const MAX_CLUSTERS: usize = 8;
const MAX_TRIPS: usize = 6;
const MAX_PATTERNS: usize = 60_000;
/// Person groups per site and category (seat-weight buckets), and the size
/// budget (groups × classes × days × trip indices, roughly) that limits them.
const MAX_BUCKETS: usize = 4;
const LP_WORK: usize = 30_000;

struct Class {
    members: Vec<usize>,
    night: bool,
    turn: f64,
    fh: f64,
    /// Per site: (loaded time, loaded flight hours, positioning hours from
    /// the destination, positioning hours from base) when the class can
    /// carry people from it.
    site: Vec<Option<(f64, f64, f64, f64)>>,
    seats: u32,
    lt_min: f64,
    pt_max: f64,
    lfh_max: f64,
    base_credit: f64,
    /// Per site: least elapsed time of positioning from the destination and
    /// from base — flight hours plus, per intermediate landing, the least
    /// ground time (a refuelling stop, or a turnaround between sorties).
    ptime: Vec<f64>,
    btime: Vec<f64>,
    ptime_min: f64,
}

/// Day patterns of one class: what one airframe can fly on one day.
///
/// *Stateless* (`states == None`): the sequences of trips (by site cluster)
/// with the first one already positioned. *With overnight states*: each
/// pattern also names the site the airframe spends the night before at
/// (`from`) and the night after at (`to`), and its time and flight hours
/// include the positioning flown that day before the first pick-up and after
/// the last landing; the patterns of consecutive days are linked by a flow
/// of airframes over those sites, starting at the class's base.
struct Patterns {
    cluster_of: Vec<Option<usize>>,
    /// Per day index: feasible patterns.
    by_day: Vec<Vec<DayPattern>>,
    /// With overnight states: (number of states, the base's state, the
    /// number of days with states — later days are stateless).
    states: Option<(usize, usize, usize)>,
    /// With overnight states: the cluster of each state's site, and per
    /// cluster the least time from a night spent outside it to boarding there.
    state_cluster: Vec<Option<usize>>,
    first_shift: Vec<f64>,
}

struct DayPattern {
    seq: Vec<usize>,
    from: usize,
    to: usize,
}

struct Var {
    g: usize,
    a: usize,
    d: i64,
    /// Earliest arrival (the pick-up's exposure is already in `cost`).
    arr: f64,
    cost: f64,
    /// Trip fraction per person.
    f: f64,
}

pub(crate) struct FleetLp {
    groups: Vec<(usize, u32, f64)>, // site, people, seat weight
    vars: Vec<Var>,
    classes: Vec<Class>,
    days: Vec<i64>,
    n_ad: Vec<Vec<f64>>,     // airframes that can carry people, per class per day index
    n_fly: Vec<Vec<f64>>,    // airframes that can fly at all, per class per day index
    tday: Vec<Vec<f64>>,     // duty/daylight span per class per day index
    wave_of: Vec<usize>,     // trip index per var
    pats: Vec<Option<Patterns>>,
    overflow_cost: Vec<f64>, // per group
    d0: i64,
}

/// Result of the fleet relaxation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FleetBounds {
    pub exposure: Option<f64>,
    pub makespan_h: Option<f64>,
    pub guide: Option<Guide>,
}

/// The exposure LP's optimal pick-ups, which the solver may follow:
/// `pickups[class][site][day − d0]` people, `class_of_ac[aircraft]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Guide {
    pub class_of_ac: Vec<usize>,
    pub d0: i64,
    pub pickups: Vec<Vec<Vec<f64>>>,
}

/// Overnight sites per class beyond which the class keeps the stateless day
/// patterns, and the most patterns with overnight states per class.
const MAX_STATES: usize = 16;
const MAX_STATE_PATTERNS: usize = 150_000;
/// Days (from the start) whose day patterns carry overnight states.
const STATE_DAYS: usize = 5;

/// Day patterns with overnight states for one (non-night) class: per day and
/// per site `u` the airframe spent the night at, every sequence of trips (by
/// site cluster) and site `v` it spends the next night at that one airframe
/// can fly that day, timed from the first moment of daylight: positioning
/// `u →` the first pick-up (none when `u` is in that cluster) and a
/// turnaround, the trips (each later one after a turnaround, positioning and
/// a turnaround), then after a turnaround positioning to `v` (none when `v`
/// is the destination), all within daylight (loaded landings within the
/// destination's hours), crew duty and the daily flight hours. A sequence is
/// dropped when a longer one with the same `u` and `v` also fits (it does
/// everything the shorter does). `None`: too many sites or patterns.
#[allow(clippy::too_many_arguments)]
fn state_patterns(
    p: &Problem,
    c: &Class,
    cluster_of: &[Option<usize>],
    par: &[(f64, f64, f64, f64, f64)],
    days: &[i64],
    windows: &[(f64, f64)],
    n_ad: &[f64],
    n_fly: &[f64],
) -> Option<Patterns> {
    let ac = &p.aircraft[c.members[0]];
    let r = &p.rules;
    let states: Vec<usize> = (0..p.sites.len())
        .filter(|&v| !ac.needs_runway || p.sites[v].runway)
        .collect();
    if states.len() > MAX_STATES {
        return None;
    }
    let base = states.iter().position(|&v| v == ac.base)?;
    let dest = states.iter().position(|&v| v == p.destination)?;
    let nst = states.len();
    let ground = r.refuel_stop_h.min(ac.turnaround_h).max(0.0);
    let duty = ac.crew_duty_hours + 1e-9;
    let fh_max = c.fh + 1e-9;
    // Positioning between two sites: (least elapsed time, flight hours).
    let pos: Vec<Vec<Option<(f64, f64)>>> = states
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            states
                .iter()
                .enumerate()
                .map(|(j, &b)| {
                    if i == j {
                        return Some((0.0, 0.0));
                    }
                    let fh = min_km(p, ac, a, b, false)? / ac.cruise_kmh;
                    let legs = min_legs(p, ac, a, b)?;
                    Some((fh + legs.saturating_sub(1) as f64 * ground, fh))
                })
                .collect()
        })
        .collect();
    let k = par.len();
    // From the night's site to boarding in cluster `cl`: (time, flight hours).
    let morning: Vec<Vec<Option<(f64, f64)>>> = (0..nst)
        .map(|u| {
            (0..k)
                .map(|cl| {
                    if cluster_of[states[u]] == Some(cl) {
                        return Some((0.0, 0.0));
                    }
                    let mut best: Option<(f64, f64)> = None;
                    for (v, &s) in states.iter().enumerate() {
                        if cluster_of[s] != Some(cl) {
                            continue;
                        }
                        if let Some((t, f)) = pos[u][v] {
                            let b = best.get_or_insert((f64::INFINITY, f64::INFINITY));
                            b.0 = b.0.min(t + ac.turnaround_h);
                            b.1 = b.1.min(f);
                        }
                    }
                    best
                })
                .collect()
        })
        .collect();
    let mut by_day = Vec::with_capacity(days.len());
    let mut count = 0usize;
    for (di, &d) in days.iter().enumerate() {
        let (ws, we) = windows[di];
        // every leg lands within daylight of its departure day
        let fe = d as f64 * 24.0 + r.day_end_h;
        // after the last landing: a turnaround, then positioning to `v`
        let ends = |arr: f64, fh: f64, v: usize| -> bool {
            if v == dest {
                return true;
            }
            let Some((t, f)) = pos[dest][v] else {
                return false;
            };
            let a = arr + ac.turnaround_h + t;
            a <= fe + 1e-9 && fh + f <= fh_max && a - ws <= duty
        };
        let mut out: Vec<DayPattern> = Vec::new();
        for u in 0..nst {
            out.push(DayPattern { seq: Vec::new(), from: u, to: u });
            if n_fly[di] > 0.0 && fe > ws {
                for (v, &pv) in pos[u].iter().enumerate() {
                    if let Some((t, f)) = pv
                        && v != u
                        && ws + t <= fe + 1e-9
                        && f <= fh_max
                        && t <= duty
                    {
                        out.push(DayPattern { seq: Vec::new(), from: u, to: v });
                    }
                }
            }
            if n_ad[di] <= 0.0 || we <= ws {
                continue;
            }
            // depth-first over sequences: (seq, last landing, flight hours)
            let mut stack: Vec<(Vec<usize>, f64, f64)> = Vec::new();
            for cl in 0..k {
                let Some((mt, mf)) = morning[u][cl] else {
                    continue;
                };
                let arr = ws + mt + par[cl].0;
                let f = mf + par[cl].1;
                if arr <= we + 1e-9 && f <= fh_max && arr - ws <= duty {
                    stack.push((vec![cl], arr, f));
                }
            }
            while let Some((seq, arr, fh)) = stack.pop() {
                if seq.len() >= MAX_TRIPS {
                    return None;
                }
                let mut longer: Vec<(f64, f64)> = Vec::new();
                for (cl, q) in par.iter().enumerate() {
                    let a2 = arr + 2.0 * c.turn + q.4 + q.0;
                    let f2 = fh + q.1 + q.2;
                    if a2 <= we + 1e-9 && f2 <= fh_max && a2 - ws <= duty {
                        longer.push((a2, f2));
                        let mut s2 = seq.clone();
                        s2.push(cl);
                        stack.push((s2, a2, f2));
                    }
                }
                for v in 0..nst {
                    if ends(arr, fh, v) && !longer.iter().any(|&(a2, f2)| ends(a2, f2, v)) {
                        out.push(DayPattern { seq: seq.clone(), from: u, to: v });
                        count += 1;
                    }
                }
                if count > MAX_STATE_PATTERNS {
                    return None;
                }
            }
        }
        by_day.push(out);
    }
    let first_shift = (0..k)
        .map(|cl| {
            (0..nst)
                .filter(|&u| cluster_of[states[u]] != Some(cl))
                .filter_map(|u| morning[u][cl].map(|m| m.0))
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    Some(Patterns {
        cluster_of: cluster_of.to_vec(),
        by_day,
        states: Some((nst, base, days.len())),
        state_cluster: states.iter().map(|&v| cluster_of[v]).collect(),
        first_shift,
    })
}

impl FleetLp {
    pub fn build(p: &Problem, movable: &[usize], horizon_days: i64) -> Option<FleetLp> {
        let ns = p.sites.len();
        let r = &p.rules;
        // Person groups: site × category, split into up to B seat-weight
        // buckets, each priced at its lightest member.
        let mut by: BTreeMap<(usize, u8), Vec<f64>> = BTreeMap::new();
        for &i in movable {
            let q = &p.people[i];
            let w = r.person_seats(q) as f64 + r.guard_ratio(q.risk);
            by.entry((q.site, crate::solve::cat_index(q.category) as u8))
                .or_default()
                .push(w);
        }
        if by.is_empty() {
            return None;
        }
        // Classes.
        let mut classes: Vec<Class> = Vec::new();
        for (i, ac) in p.aircraft.iter().enumerate() {
            if let Some(c) = classes
                .iter_mut()
                .find(|c| same_class(&p.aircraft[c.members[0]], ac))
            {
                c.members.push(i);
                continue;
            }
            let night = ac.night_capable || r.day_end_h <= r.day_start_h;
            let ground = r.refuel_stop_h.min(ac.turnaround_h).max(0.0);
            let stops = |a: usize, b: usize| {
                min_legs(p, ac, a, b).map_or(0.0, |k| k.saturating_sub(1) as f64) * ground
            };
            let mut ptime = vec![0.0; ns];
            let mut btime = vec![0.0; ns];
            let mut site = vec![None; ns];
            for (s, slot) in site.iter_mut().enumerate() {
                if s == p.destination || !by.keys().any(|k| k.0 == s) {
                    continue;
                }
                let Some(rt) = route(p, ac, s, p.destination) else {
                    continue;
                };
                let lt = route_hours(p, ac, &rt);
                let lfh = min_km(p, ac, s, p.destination, true).unwrap_or(0.0) / ac.cruise_kmh;
                let pfh = min_km(p, ac, p.destination, s, false).unwrap_or(0.0) / ac.cruise_kmh;
                let pb = min_km(p, ac, ac.base, s, false).unwrap_or(0.0) / ac.cruise_kmh;
                *slot = Some((lt, lfh, pfh, pb));
                ptime[s] = pfh + stops(p.destination, s);
                btime[s] = pb + stops(ac.base, s);
            }
            let ptime_min = (0..ns)
                .filter(|&s| site[s].is_some())
                .map(|s| ptime[s])
                .fold(f64::INFINITY, f64::min);
            let serv: Vec<(f64, f64, f64, f64)> = site.iter().flatten().copied().collect();
            if serv.is_empty() {
                classes.push(Class {
                    members: vec![i],
                    night,
                    turn: ac.turnaround_h,
                    fh: ac.max_flight_hours_per_day,
                    site,
                    seats: 0,
                    lt_min: 0.0,
                    pt_max: 0.0,
                    lfh_max: 0.0,
                    base_credit: 0.0,
                    ptime,
                    btime,
                    ptime_min: 0.0,
                });
                continue;
            }
            let mn = |f: fn(&(f64, f64, f64, f64)) -> f64| serv.iter().map(f).fold(f64::INFINITY, f64::min);
            let mx = |f: fn(&(f64, f64, f64, f64)) -> f64| serv.iter().map(f).fold(0.0, f64::max);
            classes.push(Class {
                members: vec![i],
                night,
                turn: ac.turnaround_h,
                fh: ac.max_flight_hours_per_day,
                seats: ac.usable_seats(r.kg_per_seat),
                lt_min: mn(|x| x.0),
                pt_max: mx(|x| x.2),
                lfh_max: mx(|x| x.1),
                base_credit: serv.iter().map(|x| (x.2 - x.3).max(0.0)).fold(0.0, f64::max),
                site,
                ptime,
                btime,
                ptime_min,
            });
        }
        let d0 = day_of(p.start_h);
        let days: Vec<i64> = (d0..=d0 + horizon_days).collect();
        let total: usize = by.values().map(|v| v.len()).sum();
        let bucket_count = {
            // size by a fixed 4-week horizon so a longer horizon never coarsens
            let work = by.len() * classes.len().max(1) * 28 * 3;
            (LP_WORK / work.max(1)).clamp(1, MAX_BUCKETS)
        };
        let mut groups = Vec::new();
        let mut group_cat = Vec::new();
        for ((s, c), mut ws) in by {
            ws.sort_by(f64::total_cmp);
            // Buckets of equal seat weight (few distinct values: seats per
            // person × guard ratio), then the cheapest merges (heavier into
            // lighter, priced at the lighter) down to `bucket_count`.
            let mut b: Vec<(f64, u32)> = Vec::new();
            for &w in &ws {
                match b.last_mut() {
                    Some(last) if (w - last.0).abs() < 1e-9 => last.1 += 1,
                    _ => b.push((w, 1)),
                }
            }
            while b.len() > bucket_count {
                let k = (1..b.len())
                    .min_by(|&i, &j| {
                        let li = b[i].1 as f64 * (b[i].0 - b[i - 1].0);
                        let lj = b[j].1 as f64 * (b[j].0 - b[j - 1].0);
                        li.total_cmp(&lj)
                    })
                    .expect("two buckets");
                b[k - 1].1 += b[k].1;
                b.remove(k);
            }
            for (w, n) in b {
                groups.push((s, n, w));
                group_cat.push(c);
            }
        }
        debug_assert_eq!(groups.iter().map(|g| g.1 as usize).sum::<usize>(), total);
        let (open, close) = p.sites[p.destination].hours.unwrap_or((0.0, 24.0));
        let mut n_ad = vec![vec![0.0; days.len()]; classes.len()];
        let mut n_fly = vec![vec![0.0; days.len()]; classes.len()];
        let mut tday = vec![vec![0.0; days.len()]; classes.len()];
        let mut windows = vec![vec![(0.0, 0.0); days.len()]; classes.len()];
        for (ci, c) in classes.iter().enumerate() {
            let ac = &p.aircraft[c.members[0]];
            for (di, &d) in days.iter().enumerate() {
                let day0 = d as f64 * 24.0;
                let (s, e) = if c.night {
                    (day0.max(p.start_h), day0 + 24.0)
                } else {
                    let mut e = day0 + r.day_end_h;
                    if close > open {
                        e = e.min(day0 + close);
                    }
                    ((day0 + r.day_start_h).max(p.start_h), e)
                };
                windows[ci][di] = (s, e);
                // Any leg at all (positioning included) departs in this window.
                let (fs, fe) = if c.night {
                    (day0.max(p.start_h), day0 + 24.0)
                } else {
                    ((day0 + r.day_start_h).max(p.start_h), day0 + r.day_end_h)
                };
                if e > s + 1e-9 {
                    tday[ci][di] = if c.night {
                        f64::INFINITY
                    } else {
                        (e - s).min(ac.crew_duty_hours)
                    };
                }
                let (mut n, mut nf) = (0.0, 0.0);
                for &m in &c.members {
                    let am = &p.aircraft[m];
                    let mut block: Vec<Interval> = p.closures.clone();
                    block.extend(am.unavailable.iter().copied());
                    if !am.available.is_empty() {
                        // gaps between availability windows block flying
                        let mut w: Vec<Interval> = am.available.clone();
                        w.sort_by(|x, y| x.from.total_cmp(&y.from));
                        let mut t = f64::NEG_INFINITY;
                        for iv in &w {
                            if iv.from > t {
                                block.push(Interval { from: t, to: iv.from });
                            }
                            t = t.max(iv.to);
                        }
                        block.push(Interval { from: t, to: f64::INFINITY });
                    }
                    if e > s + 1e-9 && !covered(&block, s, e) {
                        n += 1.0;
                    }
                    if fe > fs + 1e-9 && !covered(&block, fs, fe) {
                        nf += 1.0;
                    }
                }
                n_fly[ci][di] = nf;
                n_ad[ci][di] = n;
            }
        }
        // Earliest moment an airframe of class c can be ready at site s.
        let ready = |ci: usize, s: usize| -> f64 {
            let c = &classes[ci];
            let ac = &p.aircraft[c.members[0]];
            let day0 = d0 as f64 * 24.0;
            let first = if c.night {
                p.start_h
            } else {
                let s0 = (day0 + r.day_start_h).max(p.start_h);
                if s0 < day0 + r.day_end_h { s0 } else { day0 + 24.0 + r.day_start_h }
            };
            if ac.base == s {
                first
            } else {
                first + c.btime[s] + c.turn
            }
        };
        let pats: Vec<Option<Patterns>> = (0..classes.len())
            .map(|ci| {
                let c = &classes[ci];
                if c.night {
                    return None;
                }
                let ac = &p.aircraft[c.members[0]];
                let mut serv: Vec<usize> = (0..ns).filter(|&s| c.site[s].is_some()).collect();
                if serv.is_empty() {
                    return None;
                }
                serv.sort_by(|&x, &y| {
                    let (a, b) = (c.site[x].expect("servable"), c.site[y].expect("servable"));
                    (a.0 + a.2).total_cmp(&(b.0 + b.2))
                });
                let k = serv.len().min(MAX_CLUSTERS);
                let mut cluster_of = vec![None; ns];
                // per cluster: min loaded time, loaded fh, positioning h, earliest ready, positioning time
                let mut par = vec![(f64::INFINITY, f64::INFINITY, f64::INFINITY, f64::INFINITY, f64::INFINITY); k];
                for (i, &s) in serv.iter().enumerate() {
                    let cl = i * k / serv.len();
                    cluster_of[s] = Some(cl);
                    let x = c.site[s].expect("servable");
                    let q = &mut par[cl];
                    q.0 = q.0.min(x.0);
                    q.1 = q.1.min(x.1);
                    q.2 = q.2.min(x.2);
                    q.3 = q.3.min(ready(ci, s));
                    q.4 = q.4.min(c.ptime[s]);
                }
                let hs = STATE_DAYS.min(days.len());
                let stateful = state_patterns(p, c, &cluster_of, &par, &days[..hs], &windows[ci][..hs], &n_ad[ci][..hs], &n_fly[ci][..hs]);
                let mut by_day = Vec::with_capacity(days.len());
                let mut count = 0usize;
                for di in 0..days.len() {
                    let (ws, we) = windows[ci][di];
                    let mut out: Vec<DayPattern> = Vec::new();
                    if n_ad[ci][di] > 0.0 {
                        // depth-first over sequences: (seq, time of arrival, fh, span start)
                        let mut stack: Vec<(Vec<usize>, f64, f64, f64)> = Vec::new();
                        for cl in 0..k {
                            let t1 = ws.max(par[cl].3);
                            let arr = t1 + par[cl].0;
                            if arr <= we + 1e-9 && par[cl].1 <= c.fh + 1e-9 && par[cl].0 <= ac.crew_duty_hours + 1e-9 {
                                stack.push((vec![cl], arr, par[cl].1, t1));
                            }
                        }
                        while let Some((seq, arr, fh, t1)) = stack.pop() {
                            if seq.len() >= MAX_TRIPS {
                                return None; // too many trips a day to enumerate: no patterns
                            }
                            for cl in 0..k {
                                let t = arr + 2.0 * c.turn + par[cl].4;
                                let a2 = t + par[cl].0;
                                let f2 = fh + par[cl].1 + par[cl].2;
                                if a2 <= we + 1e-9 && f2 <= c.fh + 1e-9 && a2 - t1 <= ac.crew_duty_hours + 1e-9 {
                                    let mut s2 = seq.clone();
                                    s2.push(cl);
                                    stack.push((s2, a2, f2, t1));
                                }
                            }
                            out.push(DayPattern { seq, from: 0, to: 0 });
                            count += 1;
                            if count > MAX_PATTERNS {
                                return None;
                            }
                        }
                    }
                    by_day.push(out);
                }
                if let Some(mut sp) = stateful {
                    // overnight states on the first days, stateless after
                    sp.by_day.extend(by_day.drain(hs..));
                    return Some(sp);
                }
                Some(Patterns { cluster_of, by_day, states: None, state_cluster: Vec::new(), first_shift: Vec::new() })
            })
            .collect();
        let mut vars = Vec::new();
        let mut wave_of = Vec::new();
        for (gi, &(s, _, w)) in groups.iter().enumerate() {
            let esc = r.escorts_for(crate::solve::CATS[group_cat[gi] as usize]) as f64;
            for (ci, c) in classes.iter().enumerate() {
                let Some((lt, _, _, _)) = c.site[s] else {
                    continue;
                };
                let pt = c.ptime[s];
                let cap = c.seats as f64 - esc;
                if cap < w - 1e-9 || cap <= 0.0 {
                    continue;
                }
                let rdy = ready(ci, s);
                // the day's first pick-up, wherever it is, is no earlier than this
                let rdy_any = (0..ns)
                    .filter(|&x| c.site[x].is_some())
                    .map(|x| ready(ci, x))
                    .fold(f64::INFINITY, f64::min);
                let ac = &p.aircraft[c.members[0]];
                let cyc = c.lt_min + 2.0 * c.turn;
                for (di, &d) in days.iter().enumerate() {
                    if n_ad[ci][di] <= 0.0 {
                        continue;
                    }
                    let (ws, we) = windows[ci][di];
                    for j in 1..=JMAX {
                        let extra = if j == 1 {
                            0.0
                        } else {
                            (j - 1) as f64 * cyc + (j - 2) as f64 * c.ptime_min + pt
                        };
                        let t = (ws.max(rdy_any) + extra).max(rdy);
                        if c.night {
                            if t >= we {
                                break;
                            }
                        } else if t + lt > we + 1e-9 || extra + lt > ac.crew_duty_hours + 1e-9 {
                            break;
                        }
                        vars.push(Var {
                            g: gi,
                            a: ci,
                            d,
                            arr: t + lt,
                            cost: p.exposure_until(s, t),
                            f: w / cap,
                        });
                        wave_of.push(j);
                        // On days with overnight states a day's first trip is
                        // either boarded where the airframe spent the night
                        // (above) or after positioning from elsewhere that
                        // morning (trip index 0): boarding no earlier than
                        // first light + the least such positioning.
                        if j == 1
                            && let Some(pt) = &pats[ci]
                            && pt.states.is_some_and(|(_, _, hs)| di < hs)
                            && !c.night
                        {
                            let cl = pt.cluster_of[s].expect("servable site has a cluster");
                            let shift = pt.first_shift[cl];
                            let t0 = (ws + shift).max(rdy_any).max(rdy);
                            if shift.is_finite() && t0 + lt <= we + 1e-9 && shift + lt <= ac.crew_duty_hours + 1e-9 {
                                vars.push(Var {
                                    g: gi,
                                    a: ci,
                                    d,
                                    arr: t0 + lt,
                                    cost: p.exposure_until(s, t0),
                                    f: w / cap,
                                });
                                wave_of.push(0);
                            }
                        }
                    }
                }
            }
        }
        let t_end = (*days.last().expect("days") + 1) as f64 * 24.0;
        let overflow_cost = groups.iter().map(|g| p.exposure_until(g.0, t_end)).collect();
        Some(FleetLp {
            groups,
            vars,
            classes,
            days,
            n_ad,
            n_fly,
            tday,
            wave_of,
            pats,
            overflow_cost,
            d0,
        })
    }

    /// Build the LP over the variables `keep` selects; `overflow` allows
    /// pick-ups after the horizon. Returns the LP and the variable handles.
    fn model(
        &self,
        p: &Problem,
        keep: &dyn Fn(&Var) -> bool,
        overflow: bool,
        objective: bool,
        flow: bool,
    ) -> (Lp, Vec<Option<Variable>>) {
        let mut lp = Lp::new(OptimizationDirection::Minimize);
        let nd = self.days.len();
        let nc = self.classes.len();
        let scale = 1e-3; // keep objective coefficients moderate
        let mut handles: Vec<Option<Variable>> = Vec::with_capacity(self.vars.len());
        for v in &self.vars {
            handles.push(keep(v).then(|| lp.add_var(if objective { v.cost * scale } else { 0.0 }, (0.0, f64::INFINITY))));
        }
        let mut supply: Vec<Vec<(Variable, f64)>> = vec![Vec::new(); self.groups.len()];
        let mut intake: Vec<Vec<(Variable, f64)>> = vec![Vec::new(); nd];
        let mut trips: BTreeMap<(usize, usize, usize), Vec<(Variable, f64)>> = BTreeMap::new();
        let mut fh: Vec<Vec<Vec<(Variable, f64)>>> = vec![vec![Vec::new(); nd]; nc];
        let mut busy: Vec<Vec<Vec<(Variable, f64)>>> = vec![vec![Vec::new(); nd]; nc];
        let mut fh_day: Vec<Vec<Vec<(Variable, f64)>>> = vec![vec![Vec::new(); nd]; nc];
        for (k, v) in self.vars.iter().enumerate() {
            let Some(h) = handles[k] else { continue };
            let di = (v.d - self.d0) as usize;
            let c = &self.classes[v.a];
            let s = self.groups[v.g].0;
            let (lt, lfh, pfh, _) = c.site[s].expect("servable");
            supply[v.g].push((h, 1.0));
            if !c.night {
                intake[di].push((h, 1.0));
            }
            trips.entry((v.a, di, self.wave_of[k].max(1))).or_default().push((h, v.f));
            let later = self.wave_of[k] > 1;
            fh[v.a][di].push((h, v.f * (lfh + pfh)));
            if !c.night {
                // Within one day only trips after the first need a positioning
                // leg that same day, and the day's span covers them all.
                let pos = if later { pfh } else { 0.0 };
                fh_day[v.a][di].push((h, v.f * (lfh + pos)));
                let gap = if later { c.ptime[s] + 2.0 * c.turn } else { 0.0 };
                busy[v.a][di].push((h, v.f * (lt + gap)));
            }
        }
        for (g, row) in supply.into_iter().enumerate() {
            let mut row = row;
            if overflow {
                let o = lp.add_var(if objective { self.overflow_cost[g] * scale } else { 0.0 }, (0.0, f64::INFINITY));
                row.push((o, 1.0));
            }
            lp.add_constraint(row.as_slice(), ComparisonOp::Eq, self.groups[g].1 as f64);
        }
        for (di, row) in intake.iter().enumerate() {
            if !row.is_empty() {
                lp.add_constraint(row.as_slice(), ComparisonOp::Le, p.intake_cap(self.days[di]) as f64);
            }
        }
        for ((a, di, j), row) in &trips {
            if *j == JMAX {
                continue;
            }
            lp.add_constraint(row.as_slice(), ComparisonOp::Le, self.n_ad[*a][*di]);
        }
        // Day patterns: trips of wave j from cluster k need patterns that fly
        // a j-th trip from k; at most N_a(d) patterns a day.
        let mut cap_rows: BTreeMap<(usize, usize, usize, usize), Vec<(Variable, f64)>> = BTreeMap::new();
        for (k, v) in self.vars.iter().enumerate() {
            let Some(h) = handles[k] else { continue };
            if let Some(pt) = &self.pats[v.a] {
                let cl = pt.cluster_of[self.groups[v.g].0].expect("servable site has a cluster");
                let di = (v.d - self.d0) as usize;
                // index 0 (first trip, positioned that morning) is its own
                // row only where the overnight flow is modelled
                let flowing = flow && pt.states.is_some_and(|(_, _, hs)| di < hs);
                let j = if flowing { self.wave_of[k] } else { self.wave_of[k].max(1) };
                cap_rows.entry((v.a, di, cl, j)).or_default().push((h, v.f));
            }
        }
        for (a, pt) in self.pats.iter().enumerate() {
            let Some(pt) = pt else { continue };
            let mut stateless_from = 0;
            if let Some((nst, base, hs)) = pt.states.filter(|_| flow) {
                stateless_from = hs;
                // Overnight states: one pattern per airframe and day, the
                // airframes flow from the site of one night to the next.
                let n_all = self.classes[a].members.len() as f64;
                let mut arriving: Vec<Vec<(Variable, f64)>> = vec![Vec::new(); nst];
                for (di, list) in pt.by_day.iter().enumerate().take(hs) {
                    let mut leaving: Vec<Vec<(Variable, f64)>> = vec![Vec::new(); nst];
                    let mut next: Vec<Vec<(Variable, f64)>> = vec![Vec::new(); nst];
                    let (mut flying, mut moving) = (Vec::new(), Vec::new());
                    let mut moves: std::collections::BTreeSet<(usize, usize)> = Default::default();
                    for pat in list {
                        if pat.seq.is_empty() {
                            moves.insert((pat.from, pat.to));
                        }
                    }
                    // the first trip's row: boarded where the night was spent
                    // (1) or after positioning that morning (0)
                    let key = |pat: &DayPattern, j: usize, cl: usize| {
                        let w = if j == 0 && pt.state_cluster[pat.from] != Some(cl) { 0 } else { j + 1 };
                        (a, di, cl, w)
                    };
                    for pat in list {
                        let used = pat
                            .seq
                            .iter()
                            .enumerate()
                            .any(|(j, cl)| cap_rows.contains_key(&key(pat, j, *cl)));
                        // trips no variable uses: the empty pattern with the
                        // same nights does as much (and less)
                        if !pat.seq.is_empty() && !used && moves.contains(&(pat.from, pat.to)) {
                            continue;
                        }
                        let y = lp.add_var(0.0, (0.0, f64::INFINITY));
                        leaving[pat.from].push((y, 1.0));
                        next[pat.to].push((y, -1.0));
                        if !pat.seq.is_empty() {
                            flying.push((y, 1.0));
                        }
                        if !pat.seq.is_empty() || pat.from != pat.to {
                            moving.push((y, 1.0));
                        }
                        for (j, cl) in pat.seq.iter().enumerate() {
                            if let Some(row) = cap_rows.get_mut(&key(pat, j, *cl)) {
                                row.push((y, -1.0));
                            }
                        }
                    }
                    for u in 0..nst {
                        let mut row = std::mem::take(&mut leaving[u]);
                        let rhs = if di == 0 {
                            if u == base { n_all } else { 0.0 }
                        } else {
                            row.append(&mut arriving[u]);
                            0.0
                        };
                        if !row.is_empty() || rhs != 0.0 {
                            lp.add_constraint(row.as_slice(), ComparisonOp::Eq, rhs);
                        }
                    }
                    if !flying.is_empty() {
                        lp.add_constraint(flying.as_slice(), ComparisonOp::Le, self.n_ad[a][di]);
                    }
                    if !moving.is_empty() {
                        lp.add_constraint(moving.as_slice(), ComparisonOp::Le, self.n_fly[a][di]);
                    }
                    arriving = next;
                }
            }
            for (di, list) in pt.by_day.iter().enumerate().skip(stateless_from) {
                let mut day_row = Vec::new();
                // without the flow, patterns that differ only in their nights
                // are one (a relaxation of the flow: it keeps only the count)
                let mut seen = std::collections::BTreeSet::new();
                for DayPattern { seq, .. } in list {
                    if !seen.insert(seq) {
                        continue;
                    }
                    if !seq.iter().enumerate().any(|(j, cl)| cap_rows.contains_key(&(a, di, *cl, j + 1))) {
                        continue;
                    }
                    let y = lp.add_var(0.0, (0.0, f64::INFINITY));
                    day_row.push((y, 1.0));
                    for (j, cl) in seq.iter().enumerate() {
                        if let Some(row) = cap_rows.get_mut(&(a, di, *cl, j + 1)) {
                            row.push((y, -1.0));
                        }
                    }
                }
                if !day_row.is_empty() {
                    lp.add_constraint(day_row.as_slice(), ComparisonOp::Le, self.n_ad[a][di]);
                }
            }
        }
        for row in cap_rows.values() {
            lp.add_constraint(row.as_slice(), ComparisonOp::Le, 0.0);
        }
        for (a, c) in self.classes.iter().enumerate() {
            let n_all = c.members.len() as f64;
            // Flight hours: one variable per day, then windows over them.
            let hv: Vec<Option<Variable>> = (0..nd)
                .map(|di| {
                    if fh[a][di].is_empty() {
                        return None;
                    }
                    let h = lp.add_var(0.0, (0.0, f64::INFINITY));
                    let mut row = fh[a][di].clone();
                    row.push((h, -1.0));
                    lp.add_constraint(row.as_slice(), ComparisonOp::Eq, 0.0);
                    Some(h)
                })
                .collect();
            let spill = if c.night { n_all * c.lfh_max } else { 0.0 };
            for d1 in 0..nd {
                let credit = if d1 == 0 { n_all * c.base_credit } else { n_all * c.pt_max } + spill;
                let mut row: Vec<(Variable, f64)> = Vec::new();
                let mut cap = 0.0;
                for d2 in d1..nd {
                    cap += self.n_fly[a][d2] * c.fh;
                    if let Some(h) = hv[d2] {
                        row.push((h, 1.0));
                    }
                    let len = d2 - d1 + 1;
                    if row.is_empty() || !(d1 == 0 || len <= 3 || len == 7 || len == 14) {
                        continue;
                    }
                    lp.add_constraint(row.as_slice(), ComparisonOp::Le, cap + credit);
                }
            }
            if !c.night {
                for di in 0..nd {
                    if busy[a][di].is_empty() {
                        continue;
                    }
                    let rhs = self.n_ad[a][di] * self.tday[a][di];
                    lp.add_constraint(busy[a][di].as_slice(), ComparisonOp::Le, rhs);
                    let rhs = self.n_fly[a][di] * c.fh;
                    lp.add_constraint(fh_day[a][di].as_slice(), ComparisonOp::Le, rhs);
                }
            }
        }
        (lp, handles)
    }

    /// Solve both bounds within `budget`; `None` where the LP did not finish.
    /// `known_makespan_h`: a makespan already proven (so smaller candidates
    /// need no test).
    pub fn bounds(&self, p: &Problem, budget: Duration, known_makespan_h: f64) -> FleetBounds {
        let started = Instant::now();
        let left = |started: Instant| budget.saturating_sub(started.elapsed());
        let solve = |lp: &mut Lp, t: Duration| -> Result<Option<microlp::Solution>, ()> {
            if t.is_zero() {
                return Err(());
            }
            lp.set_time_limit(t);
            match lp.solve() {
                Ok(out) => out.into_solution().map(Some).map_err(|_| ()),
                Err(microlp::Error::Infeasible) => Ok(None),
                Err(_) => Err(()),
            }
        };
        // The overnight flow makes the exposure LP several times slower
        // (~0.1 → ~0.5 s on the flagship). With a short budget (re-planning,
        // short time limits) only the LP without it is solved, so the search
        // keeps its time; otherwise the flow LP first, and without it only if
        // that one did not finish. Both are valid.
        let order: &[bool] = if budget < Duration::from_secs(1) { &[false] } else { &[true, false] };
        let mut guide = None;
        let mut feasible_t: Option<f64> = None;
        let mut exposure: Option<f64> = None;
        for &flow in order {
            if flow && !self.pats.iter().flatten().any(|pt| pt.states.is_some()) {
                continue; // no class has overnight states: the same LP
            }
            if exposure.is_some() && !flow {
                break; // the flow LP solved: it is at least as tight
            }
            let (mut lp, handles) = self.model(p, &|_| true, true, true, flow);
            let Ok(Some(sol)) = solve(&mut lp, left(started)) else {
                continue;
            };
            let value = (sol.objective() * 1e3 * (1.0 - 1e-7) - 1e-6).max(0.0);
            if exposure.is_some_and(|e| e >= value) {
                continue;
            }
            exposure = Some(value);
            {
                // The LP's pick-ups per class, site and day guide the solver.
                let nd = self.days.len();
                let mut q = vec![vec![vec![0.0; nd]; p.sites.len()]; self.classes.len()];
                for (k, v) in self.vars.iter().enumerate() {
                    if let Some(h) = handles[k] {
                        q[v.a][self.groups[v.g].0][(v.d - self.d0) as usize] += sol.var_value(h);
                    }
                }
                let mut class_of_ac = vec![0; p.aircraft.len()];
                for (ci, c) in self.classes.iter().enumerate() {
                    for &m in &c.members {
                        class_of_ac[m] = ci;
                    }
                }
                guide = Some(Guide {
                    class_of_ac,
                    d0: self.d0,
                    pickups: q,
                });
                // Its makespan (if nobody overflows) is a feasible T.
                let (mut moved, mut last) = (0.0, f64::NEG_INFINITY);
                for (k, v) in self.vars.iter().enumerate() {
                    if let Some(h) = handles[k] {
                        let x = sol.var_value(h);
                        moved += x;
                        if x > 1e-7 {
                            last = last.max(v.arr);
                        }
                    }
                }
                let total: f64 = self.groups.iter().map(|g| g.1 as f64).sum();
                if moved >= total - 1e-6 {
                    feasible_t = Some(last);
                }
            }
        }
        // Makespan: smallest candidate arrival T whose restricted LP is feasible.
        // These LPs leave out the overnight flow (a relaxation: still valid,
        // and several times cheaper); the exposure optimum is feasible in them.
        let mut cand: Vec<f64> = self.vars.iter().map(|v| v.arr).collect();
        cand.sort_by(f64::total_cmp);
        cand.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
        // Answer in [lo, hi]; hi = len: none feasible. Candidates below the
        // known bound need no test; the exposure optimum's makespan is feasible.
        // (the largest candidate below the known bound is still tested: only
        // its infeasibility lifts the bound to the next candidate)
        let lo0 = cand
            .partition_point(|&t| t < p.start_h + known_makespan_h - 1e-9)
            .saturating_sub(1);
        let (mut lo, mut hi) = (lo0, cand.len());
        if let Some(t) = feasible_t {
            hi = hi.min(cand.partition_point(|&c| c < t - 1e-9)).max(lo);
        }
        while lo < hi {
            let mid = (lo + hi) / 2;
            let t = cand[mid] + 1e-9;
            let (mut lp, _) = self.model(p, &|v| v.arr <= t, false, false, false);
            match solve(&mut lp, left(started)) {
                Ok(Some(_)) => hi = mid,
                Ok(None) => lo = mid + 1,
                Err(()) => {
                    // unknown: only what is proven so far counts
                    return FleetBounds {
                        exposure,
                        makespan_h: (lo > lo0).then(|| cand[lo] - p.start_h),
                        guide,
                    };
                }
            }
        }
        // `cand[lo]` is proven only if the candidate below it was shown
        // infeasible (or there is none); otherwise the known bound stands.
        let makespan_h = if lo == lo0 && lo0 > 0 {
            None
        } else if lo < cand.len() {
            Some(cand[lo] - p.start_h)
        } else {
            // Not even the whole horizon suffices: some pick-up is later.
            let t_end = (*self.days.last().expect("days") + 1) as f64 * 24.0;
            Some(t_end - p.start_h)
        };
        FleetBounds {
            exposure,
            makespan_h,
            guide,
        }
    }
}



