//! The plan: sorties with legs, times and manifests, plus per-site emptying
//! times, per-day intake and KPIs. Serialisable (JSON) and self-describing:
//! ids are the scenario's ids, times are both plan-clock hours and UTC.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sallyport_core::{Category, PersonId, SiteId, TailNumber};
use serde::{Deserialize, Serialize};

use crate::bound::Bounds;
use crate::problem::{Problem, day_of};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leg {
    pub from: SiteId,
    pub to: SiteId,
    /// Plan-clock hours.
    pub depart_h: f64,
    pub arrive_h: f64,
    pub depart: DateTime<Utc>,
    pub arrive: DateTime<Utc>,
    /// People on board for this leg.
    pub loaded: bool,
    pub km: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sortie {
    pub id: u32,
    pub aircraft: TailNumber,
    /// Pick-up site (all people on board come from it).
    pub origin: SiteId,
    pub category: Category,
    pub legs: Vec<Leg>,
    pub manifest: Vec<PersonId>,
    pub guard_seats: u32,
    pub escort_seats: u32,
    /// Seats for stretchers and medical escorts beyond one seat per person.
    pub medical_seats: u32,
    pub seats_used: u32,
}

impl Sortie {
    pub fn depart_h(&self) -> f64 {
        self.legs.first().map_or(f64::NAN, |l| l.depart_h)
    }
    pub fn arrive_h(&self) -> f64 {
        self.legs.last().map_or(f64::NAN, |l| l.arrive_h)
    }
    /// When the people leave their site: departure of the first loaded leg.
    pub fn pickup_h(&self) -> f64 {
        self.legs
            .iter()
            .find(|l| l.loaded)
            .map_or(f64::NAN, |l| l.depart_h)
    }
    pub fn flight_hours(&self, cruise_kmh: f64) -> f64 {
        self.legs.iter().map(|l| l.km / cruise_kmh).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unserved {
    pub person: PersonId,
    pub site: SiteId,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteEmptying {
    pub site: SiteId,
    pub people: u32,
    /// When the last movable person leaves (plan clock); `None` if nobody moves.
    pub emptied_h: Option<f64>,
    pub emptied: Option<DateTime<Utc>>,
    pub deadline: Option<DateTime<Utc>>,
    /// People still there at the end (unfit to fly).
    pub left_behind: u32,
    /// People who leave after the deadline.
    pub late: u32,
    /// Deadline minus the last pick-up, hours: the buffer a delay may eat
    /// before people are late (negative when they already are). `None`
    /// without a deadline or when nobody moves.
    pub slack_h: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayIntake {
    pub day: i64,
    pub date: NaiveDate,
    pub people: u32,
    pub capacity: u32,
}

/// Objective values and headline figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kpis {
    pub people_moved: u32,
    pub people_unserved: u32,
    pub sorties: u32,
    /// People who leave a deadline site after its deadline (objective level 1).
    pub deadline_misses: u32,
    /// Σ over moved people of ∫ threat rate dt while waiting at their site (level 2).
    pub risk_exposure: f64,
    /// Last arrival at the destination minus operation start, hours (level 3).
    pub makespan_h: f64,
    pub makespan_days: f64,
    /// Total flight hours, all legs (level 4).
    pub flight_hours: f64,
    pub mean_wait_h: f64,
}

/// The lexicographic objective: deadline misses, exposure, makespan, flight hours.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    pub deadline_misses: u32,
    pub risk_exposure: f64,
    pub makespan_h: f64,
    pub flight_hours: f64,
}

impl Objective {
    pub fn better_than(&self, o: &Objective) -> bool {
        self.cmp_key(o) == std::cmp::Ordering::Less
    }
    pub fn cmp_key(&self, o: &Objective) -> std::cmp::Ordering {
        self.deadline_misses
            .cmp(&o.deadline_misses)
            .then(self.risk_exposure.total_cmp(&o.risk_exposure))
            .then(self.makespan_h.total_cmp(&o.makespan_h))
            .then(self.flight_hours.total_cmp(&o.flight_hours))
    }
}

/// Solver statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SolveStats {
    pub seed: u64,
    pub iterations: u64,
    pub improvements: u64,
    pub solve_ms: u64,
    pub threads: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub epoch: DateTime<Utc>,
    pub start_h: f64,
    pub sorties: Vec<Sortie>,
    pub unserved: Vec<Unserved>,
    pub sites: Vec<SiteEmptying>,
    pub intake: Vec<DayIntake>,
    pub kpis: Kpis,
    pub bounds: Bounds,
    /// Relative gaps to the lower bounds: (value − bound) / value.
    pub gap: Gaps,
    pub stats: SolveStats,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Gaps {
    pub risk_exposure: f64,
    pub makespan: f64,
}

impl Plan {
    pub fn objective(&self) -> Objective {
        Objective {
            deadline_misses: self.kpis.deadline_misses,
            risk_exposure: self.kpis.risk_exposure,
            makespan_h: self.kpis.makespan_h,
            flight_hours: self.kpis.flight_hours,
        }
    }
}

fn gap(value: f64, bound: f64) -> f64 {
    if value <= 1e-12 {
        0.0
    } else {
        ((value - bound) / value).max(0.0)
    }
}

/// Fill the derived parts of a plan (site emptying, intake per day, KPIs, gaps)
/// from its sorties. Unknown ids are skipped here; the validator reports them.
pub fn summarize(
    p: &Problem,
    sorties: Vec<Sortie>,
    unserved: Vec<Unserved>,
    bounds: Bounds,
    stats: SolveStats,
) -> Plan {
    let site_ix: HashMap<&SiteId, usize> = p
        .sites
        .iter()
        .enumerate()
        .map(|(i, s)| (&s.id, i))
        .collect();
    let person_ix: HashMap<&PersonId, usize> = p
        .people
        .iter()
        .enumerate()
        .map(|(i, q)| (&q.id, i))
        .collect();
    let cruise: HashMap<&TailNumber, f64> =
        p.aircraft.iter().map(|a| (&a.tail, a.cruise_kmh)).collect();
    let mut emptied: Vec<Option<f64>> = vec![None; p.sites.len()];
    let mut late = vec![0u32; p.sites.len()];
    let mut count = vec![0u32; p.sites.len()];
    let mut behind = vec![0u32; p.sites.len()];
    for q in &p.people {
        count[q.site] += 1;
    }
    let mut intake: BTreeMap<i64, u32> = BTreeMap::new();
    let (mut moved, mut exposure, mut misses, mut fh, mut last, mut wait) =
        (0u32, 0.0, 0u32, 0.0, p.start_h, 0.0);
    for s in &sorties {
        fh += s.flight_hours(cruise.get(&s.aircraft).copied().unwrap_or(f64::INFINITY));
        if s.manifest.is_empty() {
            continue;
        }
        let pick = s.pickup_h();
        let arr = s.arrive_h();
        *intake.entry(day_of(arr)).or_default() += s.manifest.len() as u32;
        last = last.max(arr);
        for id in &s.manifest {
            let Some(&pi) = person_ix.get(id) else {
                continue;
            };
            let site = p.people[pi].site;
            moved += 1;
            exposure += p.exposure_until(site, pick);
            wait += pick - p.start_h;
            emptied[site] = Some(emptied[site].map_or(pick, |e: f64| e.max(pick)));
            if p.sites[site].deadline_h.is_some_and(|d| pick > d + 1e-6) {
                misses += 1;
                late[site] += 1;
            }
        }
    }
    for u in &unserved {
        if let Some(&i) = site_ix.get(&u.site) {
            behind[i] += 1;
        }
    }
    let first_day = day_of(p.start_h);
    let last_day = intake.keys().next_back().copied().unwrap_or(first_day);
    let intake_v = (first_day..=last_day)
        .map(|d| DayIntake {
            day: d,
            date: p.date_of_day(d),
            people: intake.get(&d).copied().unwrap_or(0),
            capacity: p.intake_cap(d),
        })
        .collect();
    let sites = p
        .sites
        .iter()
        .enumerate()
        .filter(|(_, s)| s.kind.is_origin() || count[site_ix[&s.id]] > 0)
        .map(|(i, s)| SiteEmptying {
            site: s.id.clone(),
            people: count[i],
            emptied_h: emptied[i],
            emptied: emptied[i].map(|h| p.to_utc(h)),
            deadline: s.deadline_h.map(|h| p.to_utc(h)),
            left_behind: behind[i],
            late: late[i],
            slack_h: s.deadline_h.zip(emptied[i]).map(|(d, e)| d - e),
        })
        .collect();
    let makespan_h = last - p.start_h;
    let kpis = Kpis {
        people_moved: moved,
        people_unserved: unserved.len() as u32,
        sorties: sorties.len() as u32,
        deadline_misses: misses,
        risk_exposure: exposure,
        makespan_h,
        makespan_days: makespan_h / 24.0,
        flight_hours: fh,
        mean_wait_h: if moved > 0 { wait / moved as f64 } else { 0.0 },
    };
    let gap = Gaps {
        risk_exposure: gap(exposure, bounds.risk_exposure),
        makespan: gap(makespan_h, bounds.makespan_h),
    };
    Plan {
        epoch: p.epoch,
        start_h: p.start_h,
        sorties,
        unserved,
        sites,
        intake: intake_v,
        kpis,
        bounds,
        gap,
        stats,
    }
}
