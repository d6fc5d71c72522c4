//! Lower bounds on makespan and risk exposure, so every plan reports its gap.
//!
//! Exposure: a transportation relaxation. Each movable person must arrive at
//! the destination on some day `k`, at most `intake(k)` per day. Arriving on
//! day `k` from site `s` means arriving no earlier than
//! `a_sk = max(open_k, start + fly_s)` (`fly_s` = the fastest loaded route from
//! `s` over all aircraft, refuel stops included), hence leaving `s` no earlier
//! than `a_sk − fly_s`; as exposure is non-decreasing in the departure time,
//! `c_sk = exposure_s(a_sk − fly_s)` is a lower bound on every such person's
//! exposure. Minimising `Σ c_sk x_sk` subject to `Σ_k x_sk = n_s` and
//! `Σ_s x_sk ≤ intake(k)` (solved exactly as a min-cost flow) bounds the
//! exposure of every plan. It ignores fleet, seats, guards, daylight and
//! deadlines — all of which only remove plans.
//!
//! Makespan: the maximum of (a) the first day by which cumulative intake
//! covers everyone, at its opening hour, (b) the fastest trip from the
//! farthest site, (c) fleet seat-hours: Σ seats·loaded hours of the people
//! over Σ usable seats·daily flight hours of the fleet.
//!
//! [`lower_bounds`] returns the maximum of these and the fleet LP
//! (`crate::fleet_lp`), which models the fleet's daily flight hours, daylight,
//! duty, trips per airframe-day and the intake together.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::PlanError;
use crate::fleet_lp::{FleetLp, Guide};
use crate::problem::{Problem, day_of, route, route_hours};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    pub risk_exposure: f64,
    pub makespan_h: f64,
    /// Which makespan argument binds: "intake", "flight time", "fleet" or
    /// "fleet LP".
    pub makespan_binding: String,
    /// Which exposure argument binds: "intake" (transportation relaxation)
    /// or "fleet LP" (see [`crate::fleet_lp`]).
    #[serde(default)]
    pub exposure_binding: String,
}

/// Fastest loaded route hours from each site to the destination (`None` if
/// no aircraft can fly it).
pub fn fastest_from_sites(p: &Problem) -> Vec<Option<f64>> {
    (0..p.sites.len())
        .map(|s| {
            p.aircraft
                .iter()
                .filter_map(|a| {
                    if a.needs_runway && !p.sites[s].runway {
                        return None;
                    }
                    route(p, a, s, p.destination).map(|r| route_hours(p, a, &r))
                })
                .min_by(f64::total_cmp)
        })
        .collect()
}

/// Compute both bounds over the people in `movable` (indices into `p.people`),
/// giving the fleet LP up to 3 s.
pub fn lower_bounds(p: &Problem, movable: &[usize]) -> Result<Bounds, PlanError> {
    lower_bounds_within(p, movable, Duration::from_secs(3))
}

/// As [`lower_bounds`], with the fleet LP limited to `budget`; where the LP
/// does not finish in time the intake bounds stand alone (still valid).
pub fn lower_bounds_within(
    p: &Problem,
    movable: &[usize],
    budget: Duration,
) -> Result<Bounds, PlanError> {
    bounds_and_guide(p, movable, budget).map(|x| x.0)
}

/// The bounds and, when the exposure LP solved, its pick-ups as a guide.
pub(crate) fn bounds_and_guide(
    p: &Problem,
    movable: &[usize],
    budget: Duration,
) -> Result<(Bounds, Option<Guide>), PlanError> {
    let mut b = intake_bounds(p, movable)?;
    if movable.is_empty() || budget.is_zero() {
        return Ok((b, None));
    }
    let mut guide = None;
    let started = std::time::Instant::now();
    let intake_days = (b.makespan_h / 24.0).ceil() as i64;
    let mut horizon = ((intake_days.max(1) as f64) * 1.6).ceil() as i64 + 4;
    // Grow the horizon while the fleet cannot finish within it (every try
    // is a valid bound; the overflow bucket keeps short horizons valid).
    for _ in 0..4 {
        let left = budget.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        let Some(lp) = FleetLp::build(p, movable, horizon.min(150)) else {
            break;
        };
        let f = lp.bounds(p, left, b.makespan_h);
        if let Some(e) = f.exposure
            && e > b.risk_exposure
        {
            b.risk_exposure = e;
            b.exposure_binding = "fleet LP".into();
        }
        let end = ((day_of(p.start_h) + horizon.min(150) + 1) as f64) * 24.0 - p.start_h;
        let short = f.makespan_h.is_some_and(|m| m >= end - 1e-6);
        if let Some(m) = f.makespan_h
            && m > b.makespan_h
        {
            b.makespan_h = m;
            b.makespan_binding = "fleet LP".into();
        }
        if f.guide.is_some() {
            guide = f.guide;
        }
        if !short || horizon >= 150 {
            break;
        }
        horizon = (horizon as f64 * 1.7).ceil() as i64;
    }
    Ok((b, guide))
}

/// The intake-only bounds (see the module doc).
pub fn intake_bounds(p: &Problem, movable: &[usize]) -> Result<Bounds, PlanError> {
    if movable.is_empty() {
        return Ok(Bounds {
            risk_exposure: 0.0,
            makespan_h: 0.0,
            makespan_binding: "none".into(),
            exposure_binding: "none".into(),
        });
    }
    let fly = fastest_from_sites(p);
    let ns = p.sites.len();
    let mut n_s = vec![0i64; ns];
    for &i in movable {
        n_s[p.people[i].site] += 1;
    }
    let total: i64 = n_s.iter().sum();
    let (open, close) = p.sites[p.destination].hours.unwrap_or((0.0, 24.0));
    let close = if close <= open { close + 24.0 } else { close };
    let d0 = day_of(p.start_h);
    // Horizon: days until intake covers everyone, plus slack for late-opening sites.
    let mut days = Vec::new();
    let mut cum = 0i64;
    let mut d = d0;
    while cum < total {
        if d - d0 > 3650 {
            return Err(PlanError::Infeasible(vec![format!(
                "the destination's intake cannot receive {total} people within ten years"
            )]));
        }
        cum += p.intake_cap(d) as i64;
        days.push(d);
        d += 1;
    }
    for _ in 0..3 {
        days.push(d);
        d += 1;
    }
    let last_needed = days[days.len() - 4];
    let sites: Vec<usize> = (0..ns).filter(|&s| n_s[s] > 0).collect();
    // Min-cost flow: src → site (n_s, 0) → day (∞, c_sk) → sink (intake, 0).
    let nsite = sites.len();
    let nday = days.len();
    let src = 0;
    let sink = 1 + nsite + nday;
    let mut g = Mcf::new(sink + 1);
    let mut min_arrival = f64::INFINITY;
    for (si, &s) in sites.iter().enumerate() {
        let f = fly[s].ok_or_else(|| {
            PlanError::Infeasible(vec![format!(
                "no aircraft can fly from site {} to the destination",
                p.sites[s].id
            )])
        })?;
        min_arrival = min_arrival.min(p.start_h + f);
        g.add(src, 1 + si, n_s[s], 0.0);
        for (di, &d) in days.iter().enumerate() {
            let a = (d as f64 * 24.0 + open).max(p.start_h + f);
            if a > d as f64 * 24.0 + close + 1e-9 {
                continue;
            }
            g.add(
                1 + si,
                1 + nsite + di,
                i64::MAX / 4,
                p.exposure_until(s, a - f),
            );
        }
    }
    for (di, &d) in days.iter().enumerate() {
        g.add(1 + nsite + di, sink, p.intake_cap(d) as i64, 0.0);
    }
    let (flow, cost) = g.run(src, sink, total);
    if flow < total {
        return Err(PlanError::Infeasible(vec![format!(
            "the destination's opening hours and intake cannot receive all {total} people"
        )]));
    }
    // Makespan.
    let intake_lb = (last_needed as f64 * 24.0 + open).max(min_arrival) - p.start_h;
    let trip_lb = sites.iter().filter_map(|&s| fly[s]).fold(0.0, f64::max);
    let mut need = 0.0;
    for &i in movable {
        let q = &p.people[i];
        if let Some(f) = fly[q.site] {
            need += (p.rules.person_seats(q) as f64 + p.rules.guard_ratio(q.risk))
                * (f - p.rules.refuel_stop_h).max(0.0).min(f);
        }
    }
    let supply: f64 = p
        .aircraft
        .iter()
        .map(|a| a.usable_seats(p.rules.kg_per_seat) as f64 * a.max_flight_hours_per_day)
        .sum();
    let fleet_lb = if supply > 0.0 {
        need / supply * 24.0
    } else {
        f64::INFINITY
    };
    let mut lb = (intake_lb, "intake");
    if trip_lb > lb.0 {
        lb = (trip_lb, "flight time");
    }
    if fleet_lb > lb.0 && fleet_lb.is_finite() {
        lb = (fleet_lb, "fleet");
    }
    Ok(Bounds {
        risk_exposure: cost,
        makespan_h: lb.0,
        makespan_binding: lb.1.into(),
        exposure_binding: "intake".into(),
    })
}

/// Successive-shortest-path min-cost flow (Bellman–Ford queue), for the tiny
/// site × day graphs of the bound.
struct Mcf {
    to: Vec<usize>,
    cap: Vec<i64>,
    cost: Vec<f64>,
    adj: Vec<Vec<usize>>,
}

impl Mcf {
    fn new(n: usize) -> Self {
        Mcf {
            to: vec![],
            cap: vec![],
            cost: vec![],
            adj: vec![vec![]; n],
        }
    }
    fn add(&mut self, a: usize, b: usize, cap: i64, cost: f64) {
        self.adj[a].push(self.to.len());
        self.to.push(b);
        self.cap.push(cap);
        self.cost.push(cost);
        self.adj[b].push(self.to.len());
        self.to.push(a);
        self.cap.push(0);
        self.cost.push(-cost);
    }
    fn run(&mut self, s: usize, t: usize, want: i64) -> (i64, f64) {
        let n = self.adj.len();
        let (mut flow, mut cost) = (0i64, 0.0);
        while flow < want {
            let mut dist = vec![f64::INFINITY; n];
            let mut inq = vec![false; n];
            let mut pe = vec![usize::MAX; n];
            dist[s] = 0.0;
            let mut q = std::collections::VecDeque::from([s]);
            while let Some(u) = q.pop_front() {
                inq[u] = false;
                for &e in &self.adj[u] {
                    let v = self.to[e];
                    if self.cap[e] > 0 && dist[u] + self.cost[e] < dist[v] - 1e-9 {
                        dist[v] = dist[u] + self.cost[e];
                        pe[v] = e;
                        if !inq[v] {
                            inq[v] = true;
                            q.push_back(v);
                        }
                    }
                }
            }
            if !dist[t].is_finite() {
                break;
            }
            let mut push = want - flow;
            let mut v = t;
            while v != s {
                let e = pe[v];
                push = push.min(self.cap[e]);
                v = self.to[e ^ 1];
            }
            let mut v = t;
            while v != s {
                let e = pe[v];
                self.cap[e] -= push;
                self.cap[e ^ 1] += push;
                v = self.to[e ^ 1];
            }
            flow += push;
            cost += push as f64 * dist[t];
        }
        (flow, cost)
    }
}
