//! The planning problem: sites, fleet, people and rules on one clock, built
//! from a [`Scenario`], its people and per-site threat rates.
//!
//! Time is in hours on the *plan clock*: hour 0 is local midnight (operation
//! time zone, offset fixed at the operation start) of the operation's first
//! day, so day `d` is `[24d, 24d + 24)` and hour-of-day arithmetic is local.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Offset, TimeZone, Timelike, Utc};
use sallyport_core::{
    AircraftTypeId, Category, EscortNeed, LatLon, Person, PersonId, RiskClass, Scenario, SiteId,
    SiteKind, TailNumber,
};
use serde::{Deserialize, Serialize};

use crate::PlanError;

/// Per origin site, a threat rate per day (day 0 = first operation day); the
/// last value holds for later days. Sites not listed have rate 1.0 throughout,
/// so exposure then is plain person-hours of waiting.
pub type ThreatRates = BTreeMap<SiteId, Vec<f64>>;

/// A half-open interval `[from, to)` on the plan clock, hours.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub from: f64,
    pub to: f64,
}

impl Interval {
    pub fn overlaps(&self, a: f64, b: f64) -> bool {
        a < self.to && b > self.from
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteSpec {
    pub id: SiteId,
    pub kind: SiteKind,
    pub position: LatLon,
    pub runway: bool,
    pub refuel: bool,
    pub holding_capacity: u32,
    /// Local opening hours `(open, close)` as hours of day; `None` = 24 h.
    pub hours: Option<(f64, f64)>,
    /// Site must be empty by then (plan clock).
    pub deadline_h: Option<f64>,
    /// Threat rate per day (see [`ThreatRates`]); empty = 1.0.
    pub threat: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AircraftSpec {
    pub tail: TailNumber,
    pub type_id: AircraftTypeId,
    pub seats: u32,
    pub payload_kg: u32,
    pub cruise_kmh: f64,
    pub range_km: f64,
    pub turnaround_h: f64,
    pub max_flight_hours_per_day: f64,
    pub crew_duty_hours: f64,
    pub needs_runway: bool,
    pub night_capable: bool,
    /// Index into [`Problem::sites`].
    pub base: usize,
    /// Windows the airframe may fly in; empty = always.
    pub available: Vec<Interval>,
    /// Windows it may not fly in (unserviceable), from re-planning events.
    pub unavailable: Vec<Interval>,
}

impl AircraftSpec {
    /// Seats usable under the payload limit.
    pub fn usable_seats(&self, kg_per_seat: u32) -> u32 {
        let by_mass = self.payload_kg.checked_div(kg_per_seat).unwrap_or(u32::MAX);
        self.seats.min(by_mass)
    }
    pub fn hours_for(&self, km: f64) -> f64 {
        km / self.cruise_kmh
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonSpec {
    pub id: PersonId,
    /// Index into [`Problem::sites`].
    pub site: usize,
    pub category: Category,
    pub risk: RiskClass,
    /// Separation groups as dense indices.
    pub groups: Vec<u32>,
    pub fit_to_fly: bool,
    pub escort: EscortNeed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    /// Guards per detainee by risk class, indexed low, medium, high, critical.
    pub guards_per_detainee: [f64; 4],
    pub escorts_for_women_and_minors: u32,
    pub stretcher_seats: u32,
    pub kg_per_seat: u32,
    pub day_start_h: f64,
    pub day_end_h: f64,
    /// Ground time at a refuelling stop, hours.
    pub refuel_stop_h: f64,
}

impl Rules {
    pub fn guard_ratio(&self, r: RiskClass) -> f64 {
        self.guards_per_detainee[risk_index(r)]
    }
    /// Seats a person takes, not counting guards: 1 (stretcher: `stretcher_seats`)
    /// plus one for a medical escort when one is needed.
    pub fn person_seats(&self, p: &PersonSpec) -> u32 {
        match p.escort {
            EscortNeed::None => 1,
            EscortNeed::Medical => 2,
            EscortNeed::Stretcher => self.stretcher_seats.max(1) + 1,
        }
    }
    pub fn escorts_for(&self, c: Category) -> u32 {
        if c == Category::AdultMale {
            0
        } else {
            self.escorts_for_women_and_minors
        }
    }
    /// Guard seats for a set of risk classes: ceil of the summed ratios.
    pub fn guard_seats(&self, ratio_sum: f64) -> u32 {
        (ratio_sum - 1e-9).ceil().max(0.0) as u32
    }
}

pub fn risk_index(r: RiskClass) -> usize {
    match r {
        RiskClass::Low => 0,
        RiskClass::Medium => 1,
        RiskClass::High => 2,
        RiskClass::Critical => 3,
    }
}

/// Everything the solver, the bound and the validator read. Serialisable so
/// instances can be exported (e.g. to the CP-SAT peer) and re-planned later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// UTC instant of hour 0 of the plan clock.
    pub epoch: DateTime<Utc>,
    /// Operation start on the plan clock; nothing departs earlier.
    pub start_h: f64,
    /// Local calendar date of plan-clock day 0.
    pub first_day: NaiveDate,
    pub sites: Vec<SiteSpec>,
    /// Index of the destination site.
    pub destination: usize,
    pub aircraft: Vec<AircraftSpec>,
    pub people: Vec<PersonSpec>,
    pub rules: Rules,
    /// Destination intake per day (enrolment throughput).
    pub intake_per_day: u32,
    /// Per-day overrides of the intake (day index → capacity).
    pub intake_overrides: BTreeMap<u32, u32>,
    /// Periods when nothing flies (weather), plan clock.
    pub closures: Vec<Interval>,
}

impl Problem {
    /// Build from a validated scenario, its people and threat rates.
    /// Errors name the record that cannot be used.
    pub fn from_scenario(
        scenario: &Scenario,
        people: &[Person],
        threat: &ThreatRates,
    ) -> Result<Problem, PlanError> {
        scenario
            .validate()
            .map_err(|e| PlanError::Input(format!("scenario: {e}")))?;
        let start = scenario.operation.start;
        let offset_s = scenario
            .operation
            .time_zone
            .offset_from_utc_datetime(&start.naive_utc())
            .fix()
            .local_minus_utc();
        let local_start = start + Duration::seconds(offset_s as i64);
        let local_midnight = local_start
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists");
        let epoch = Utc.from_utc_datetime(&local_midnight) - Duration::seconds(offset_s as i64);
        let to_h = |t: DateTime<Utc>| (t - epoch).num_milliseconds() as f64 / 3_600_000.0;
        let start_h = to_h(start);

        let mut sites = Vec::new();
        let mut index = BTreeMap::new();
        for s in &scenario.sites {
            let deadline_h = scenario
                .origins
                .iter()
                .find(|o| o.site == s.id)
                .and_then(|o| o.deadline)
                .map(to_h);
            let threat_v = threat.get(&s.id).cloned().unwrap_or_default();
            if let Some(bad) = threat_v.iter().find(|r| !(r.is_finite() && **r >= 0.0)) {
                return Err(PlanError::Input(format!(
                    "threat rate {bad} for site {} is not a finite rate >= 0",
                    s.id
                )));
            }
            let hours = s.operating_hours.map(|h| {
                let f = |t: chrono::NaiveTime| t.hour() as f64 + t.minute() as f64 / 60.0;
                (f(h.open), f(h.close))
            });
            index.insert(s.id.clone(), sites.len());
            sites.push(SiteSpec {
                id: s.id.clone(),
                kind: s.kind,
                position: s.position,
                runway: s.runway,
                refuel: s.refuel,
                holding_capacity: s.holding_capacity,
                hours,
                deadline_h,
                threat: threat_v,
            });
        }
        for k in threat.keys() {
            if !index.contains_key(k) {
                return Err(PlanError::Input(format!(
                    "threat rates given for unknown site {k}"
                )));
            }
        }
        let dests: Vec<usize> = sites
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == SiteKind::Destination)
            .map(|(i, _)| i)
            .collect();
        if dests.len() != 1 {
            return Err(PlanError::Input(format!(
                "the planner needs exactly one destination, the scenario has {}",
                dests.len()
            )));
        }
        let destination = dests[0];
        let dsite = &scenario.sites[destination];
        let intake_per_day = dsite.daily_intake_capacity.unwrap_or(0);

        let mut aircraft = Vec::new();
        let all = scenario
            .aircraft()
            .map_err(|e| PlanError::Input(format!("fleet: {e}")))?;
        for a in all {
            let t = scenario
                .aircraft_types
                .iter()
                .find(|t| t.id == a.type_id)
                .ok_or_else(|| {
                    PlanError::Input(format!("aircraft {}: unknown type {}", a.tail, a.type_id))
                })?;
            aircraft.push(AircraftSpec {
                tail: a.tail.clone(),
                type_id: t.id.clone(),
                seats: t.seats,
                payload_kg: t.payload_kg,
                cruise_kmh: t.cruise_kmh as f64,
                range_km: t.range_km as f64,
                turnaround_h: t.turnaround_min as f64 / 60.0,
                max_flight_hours_per_day: t.max_flight_hours_per_day,
                crew_duty_hours: t.crew_duty_hours,
                needs_runway: t.needs_runway,
                night_capable: t.night_capable,
                base: index[&a.base],
                available: a
                    .availability
                    .iter()
                    .map(|w| Interval {
                        from: to_h(w.from),
                        to: to_h(w.to),
                    })
                    .collect(),
                unavailable: Vec::new(),
            });
        }

        let mut groups: BTreeMap<String, u32> = BTreeMap::new();
        let mut ps = Vec::with_capacity(people.len());
        let mut seen = std::collections::HashSet::new();
        for p in people {
            if !seen.insert(p.id.clone()) {
                return Err(PlanError::Input(format!("person {} is listed twice", p.id)));
            }
            let site = *index.get(&p.site).ok_or_else(|| {
                PlanError::Input(format!("person {}: unknown site {}", p.id, p.site))
            })?;
            if site == destination {
                continue; // already delivered
            }
            let g = p
                .separation_groups
                .iter()
                .map(|g| {
                    let n = groups.len() as u32;
                    *groups.entry(g.as_str().to_string()).or_insert(n)
                })
                .collect();
            ps.push(PersonSpec {
                id: p.id.clone(),
                site,
                category: p.category,
                risk: p.risk,
                groups: g,
                fit_to_fly: p.medical.fit_to_fly,
                escort: p.medical.escort,
            });
        }
        let r = &scenario.rules;
        let ratio = |k: &str| r.guards_per_detainee.get(k).copied().unwrap_or(0.0);
        let rules = Rules {
            guards_per_detainee: [
                ratio("low"),
                ratio("medium"),
                ratio("high"),
                ratio("critical"),
            ],
            escorts_for_women_and_minors: r.escorts_for_women_and_minors,
            stretcher_seats: r.stretcher_seats,
            kg_per_seat: r.kg_per_seat,
            day_start_h: r.day_start_hour as f64,
            day_end_h: r.day_end_hour as f64,
            refuel_stop_h: 0.5,
        };
        Ok(Problem {
            epoch,
            start_h,
            first_day: local_start.date_naive(),
            sites,
            destination,
            aircraft,
            people: ps,
            rules,
            intake_per_day,
            intake_overrides: BTreeMap::new(),
            closures: Vec::new(),
        })
    }

    pub fn to_h(&self, t: DateTime<Utc>) -> f64 {
        (t - self.epoch).num_milliseconds() as f64 / 3_600_000.0
    }
    pub fn to_utc(&self, h: f64) -> DateTime<Utc> {
        self.epoch + Duration::milliseconds((h * 3_600_000.0).round() as i64)
    }
    /// Local calendar date of plan-clock day `d`.
    pub fn date_of_day(&self, d: i64) -> NaiveDate {
        self.first_day + Duration::days(d)
    }

    pub fn intake_cap(&self, day: i64) -> u32 {
        if day < 0 {
            return 0;
        }
        self.intake_overrides
            .get(&(day as u32))
            .copied()
            .unwrap_or(self.intake_per_day)
    }

    pub fn dist(&self, a: usize, b: usize) -> f64 {
        self.sites[a].position.distance_km(&self.sites[b].position)
    }

    /// Threat rate at site `s`, plan-clock hour `t`.
    pub fn rate(&self, s: usize, t: f64) -> f64 {
        let v = &self.sites[s].threat;
        if v.is_empty() {
            return 1.0;
        }
        let d = ((t - self.start_h) / 24.0).floor().max(0.0) as usize;
        v[d.min(v.len() - 1)]
    }

    /// ∫ rate dt over `[start_h, t]`, hours: the exposure of one person who
    /// leaves site `s` at `t`.
    pub fn exposure_until(&self, s: usize, t: f64) -> f64 {
        let v = &self.sites[s].threat;
        let span = (t - self.start_h).max(0.0);
        if v.is_empty() {
            return span;
        }
        let mut acc = 0.0;
        let mut d = 0usize;
        let mut left = span;
        while left > 0.0 {
            let r = v[d.min(v.len() - 1)];
            if d + 1 >= v.len() {
                acc += r * left;
                break;
            }
            let take = left.min(24.0);
            acc += r * take;
            left -= take;
            d += 1;
        }
        acc
    }

    /// Is `[a, b]` inside site `s`'s opening hours (same local day)?
    pub fn site_open(&self, s: usize, a: f64, b: f64) -> bool {
        match self.sites[s].hours {
            None => true,
            Some((open, close)) => within_daily(a, b, open, close),
        }
    }
}

/// `[a, b]` lies within `[open, close]` hours of one day (close may be 24).
pub fn within_daily(a: f64, b: f64, open: f64, close: f64) -> bool {
    let eps = 1e-6;
    let day = (a / 24.0).floor();
    let lo = day * 24.0 + open;
    let hi = day * 24.0 + close;
    if close > open {
        a >= lo - eps && b <= hi + eps
    } else {
        // window crosses midnight: open..24 or 0..close
        let in_late = a >= lo - eps && b <= day * 24.0 + 24.0 + close + eps;
        let in_early = b <= hi + eps;
        in_late || in_early
    }
}

pub fn day_of(t: f64) -> i64 {
    (t / 24.0).floor() as i64
}

/// A route between two sites for one aircraft: the stops, first to last.
pub type Route = Vec<usize>;

/// Shortest route from `a` to `b` for `ac`: legs within range, refuelling at
/// refuel sites, landing only on runways if the type needs one. Cost is
/// distance plus the refuel stop time at cruise speed.
pub fn route(p: &Problem, ac: &AircraftSpec, a: usize, b: usize) -> Option<Route> {
    if a == b {
        return Some(vec![a]);
    }
    if ac.needs_runway && !(p.sites[a].runway && p.sites[b].runway) {
        return None;
    }
    let stop_km = p.rules.refuel_stop_h * ac.cruise_kmh;
    let usable =
        |i: usize| i == b || (p.sites[i].refuel && (!ac.needs_runway || p.sites[i].runway));
    let (dist, prev) = shortest(p.sites.len(), a, b, |u, v| {
        let d = p.dist(u, v);
        (usable(v) && d <= ac.range_km).then_some(d + if v == b { 0.0 } else { stop_km })
    });
    if !dist[b].is_finite() {
        return None;
    }
    let mut r = vec![b];
    let mut c = b;
    while c != a {
        c = prev[c];
        r.push(c);
    }
    r.reverse();
    Some(r)
}

/// Dijkstra over the `n` sites as a dense graph, from `a` until `b` is settled;
/// `cost(u, v)` is the edge's cost, `None` where there is no edge. Returns the
/// distances and predecessors (`usize::MAX` where none). Ties go to the lower index.
pub(crate) fn shortest(
    n: usize,
    a: usize,
    b: usize,
    cost: impl Fn(usize, usize) -> Option<f64>,
) -> (Vec<f64>, Vec<usize>) {
    let mut dist = vec![f64::INFINITY; n];
    let mut prev = vec![usize::MAX; n];
    let mut done = vec![false; n];
    dist[a] = 0.0;
    while let Some(u) = (0..n)
        .filter(|&i| !done[i] && dist[i].is_finite())
        .min_by(|&i, &j| dist[i].total_cmp(&dist[j]))
    {
        if u == b {
            break;
        }
        done[u] = true;
        for v in (0..n).filter(|&v| !done[v]) {
            if let Some(c) = cost(u, v)
                && dist[u] + c < dist[v]
            {
                dist[v] = dist[u] + c;
                prev[v] = u;
            }
        }
    }
    (dist, prev)
}

/// Flight hours of a route (legs at cruise) plus refuel ground time.
pub fn route_hours(p: &Problem, ac: &AircraftSpec, r: &Route) -> f64 {
    let fly: f64 = r.windows(2).map(|w| ac.hours_for(p.dist(w[0], w[1]))).sum();
    fly + p.rules.refuel_stop_h * (r.len().saturating_sub(2)) as f64
}
