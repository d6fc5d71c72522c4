//! Re-planning: apply an event to the problem, keep every sortie that has
//! departed before `now`, keep as many later sorties as remain valid, and
//! rebuild the rest.
//!
//! Two candidates are built: a *repair* (keep each aircraft's future sorties up
//! to its first one the validator rejects under the new problem, then plan the
//! released people after them) and a *re-solve* (keep only departed sorties).
//! The repair wins unless it misses more deadlines or has more than 2 % more
//! risk exposure than the re-solve — the stability/quality trade stated here.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use sallyport_core::{PersonId, SiteId, TailNumber};
use serde::{Deserialize, Serialize};

use crate::PlanError;
use crate::bound::lower_bounds_within;
use crate::plan::{Plan, Sortie, summarize};
use crate::problem::{Interval, Problem, day_of};
use crate::solve::{LegI, SolverOptions, SortieI, export, prepare, search};
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
}

fn to_internal(p: &Problem, s: &Sortie) -> Result<SortieI, PlanError> {
    let site: HashMap<&SiteId, usize> = p
        .sites
        .iter()
        .enumerate()
        .map(|(i, x)| (&x.id, i))
        .collect();
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
    let pix: HashMap<&PersonId, usize> = p
        .people
        .iter()
        .enumerate()
        .map(|(i, q)| (&q.id, i))
        .collect();
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
    let fixed_i: Vec<SortieI> = fixed
        .iter()
        .map(|s| to_internal(&q, s))
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
    let kept_i: Vec<SortieI> = kept
        .iter()
        .map(|s| to_internal(&q, s))
        .collect::<Result<_, _>>()?;
    let movable: BTreeSet<usize> = pre.movable.iter().copied().collect();
    let todo_for = |committed: &[SortieI]| -> Vec<usize> {
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
    let repair = search(
        &q,
        &pre,
        &repair_committed,
        &todo_for(&repair_committed),
        now_h,
        &half,
        Instant::now(),
        None,
    );
    let resolve = search(
        &q,
        &pre,
        &fixed_i,
        &todo_for(&fixed_i),
        now_h,
        &half,
        Instant::now(),
        None,
    );
    let (built, stats, strategy) = match (repair, resolve) {
        (Ok(a), Ok(b)) => {
            let a_ok = a.0.obj.deadline_misses <= b.0.obj.deadline_misses
                && a.0.obj.risk_exposure <= b.0.obj.risk_exposure * 1.02 + 1e-9;
            if a_ok {
                (a.0, a.1, "repair")
            } else {
                (b.0, b.1, "resolve")
            }
        }
        (Ok(a), Err(_)) => (a.0, a.1, "repair"),
        (Err(_), Ok(b)) => (b.0, b.1, "resolve"),
        (Err(e), Err(_)) => return Err(e),
    };
    // (Movable people on fixed sorties count as delivered in the bounds.)
    let sorties = export(&q, &built.sorties);
    let mut new_plan = summarize(&q, sorties, pre.unserved.clone(), bounds, stats);
    // Stability accounting.
    let key = |s: &Sortie| {
        let mut m: Vec<&PersonId> = s.manifest.iter().collect();
        m.sort();
        (
            s.aircraft.clone(),
            (s.depart_h() * 1000.0).round() as i64,
            m.into_iter().cloned().collect::<Vec<_>>(),
        )
    };
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
    })
}
