//! Read models: what the dashboard and the API show, computed from the store
//! in one pass and cached as serialised JSON (see [`crate::state::ReadCache`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use sallyport_core::{Scenario, SiteKind};
use sallyport_store::Store;
use sallyport_store::sqlx::{self, Row};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::live::LiveEvent;
use crate::plans::{PlanInfo, Plans, sortie_name};
use crate::problem::ApiError;
use crate::threat::ThreatPicture;

/// A site with what is held there now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SiteView {
    pub id: String,
    pub name: String,
    /// `detention_facility`, `camp`, `staging_base`, `landing_zone` or `destination`.
    pub kind: String,
    pub lat: f64,
    pub lon: f64,
    /// The agency running the site.
    pub operator: String,
    /// Population reported at planning time (origins).
    pub reported_population: u32,
    /// People held here now, from the custody record.
    pub held_now: u64,
    pub holding_capacity: u32,
    /// `low`, `elevated`, `high`, `critical`, or `unassessed` when neither threat watch nor an alert assessed it.
    pub threat: String,
    /// Where the level comes from: `threat_watch` (model over stored conflict events), `alert` (the latest alert naming the site, when no events are stored) or `none`.
    pub threat_source: String,
    /// Threat watch's relative hazard (1 = quiet), when assessed.
    pub threat_rate: Option<f64>,
    /// Trend, front of fighting and the top contributing event, when assessed.
    pub threat_detail: Option<String>,
    /// The site must be empty by then (origins with a deadline).
    pub deadline: Option<DateTime<Utc>>,
    /// Distinct people counted here by field checkpoints in the last 24 hours.
    pub field_count: Option<u64>,
    /// `reconciled` (field count equals the record), `discrepancy`, or `no_field_count`.
    pub reconciliation: String,
}

/// People at one site in the custody of one agency.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustodyCount {
    pub site: String,
    pub custodian: String,
    pub people: u64,
}

/// An alert shown on the dashboard.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertView {
    pub at: DateTime<Utc>,
    pub id: String,
    pub severity: String,
    pub site: Option<String>,
    pub message: String,
}

/// The common operating picture in one document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Overview {
    pub operation: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub generated_at: DateTime<Utc>,
    /// Everyone in custody, wherever they are.
    pub total_in_custody: u64,
    /// People at the destination(s).
    pub delivered: u64,
    /// People still at origin sites.
    pub at_origins: u64,
    /// People at staging bases and landing zones (in transit).
    pub in_transit: u64,
    pub sites: Vec<SiteView>,
    pub custody: Vec<CustodyCount>,
    pub per_category: BTreeMap<String, u64>,
    pub per_custodian: BTreeMap<String, u64>,
    /// What the threat levels are based on (threat watch over stored events, or the fallback).
    pub threat_basis: String,
    /// Where the headcounts come from: the custody record, or the running
    /// operation's latest daily ledger reconciliation.
    pub headcount_source: String,
    /// The recorded operation run's state, e.g. `running, day 6 (2026-01-27)`.
    pub operation_state: Option<String>,
    /// Alerts received and threat watch's level changes, newest first.
    pub alerts: Vec<AlertView>,
}

/// One day of movement against the baseline plan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DayProgress {
    pub date: NaiveDate,
    /// People recorded arriving at a destination that day (field events and
    /// the running operation's daily reports).
    pub moved: u64,
    pub cumulative: u64,
    /// People the baseline plan brings to the destination that day (a linear
    /// spread of the reported population when no plan is stored).
    pub planned: u64,
    /// Cumulative people planned delivered by the end of that day.
    pub planned_cumulative: u64,
}

/// One origin site against the plan in force.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScheduleRow {
    pub site: String,
    pub name: String,
    pub start: DateTime<Utc>,
    /// The site must be empty by then: the stated deadline (possibly moved
    /// earlier by a re-plan), else the operation-wide end.
    pub deadline: DateTime<Utc>,
    /// Whether the deadline is stated (scenario or plan) or the operation-wide default.
    pub deadline_stated: bool,
    pub reported_population: u32,
    pub held_now: u64,
    /// People the plan in force moves out of the site in all.
    pub planned_total: u64,
    /// People the plan in force has picked up from the site by now.
    pub planned_by_now: u64,
    /// When the plan in force empties the site.
    pub planned_emptied: Option<DateTime<Utc>>,
    /// Share of the reported population moved out, 0..=1.
    pub done: f64,
    /// Share that should be out by now, 0..=1: per the plan in force, or on a
    /// linear plan to the deadline when no plan is stored.
    pub due: f64,
}

/// One sortie of the plan in force.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SortieBar {
    pub id: u32,
    /// `S-0001`, as field reports and the live feed name it.
    pub name: String,
    pub origin: String,
    /// Where it ends (the destination).
    pub to: String,
    /// First leg's departure (including positioning) and last leg's arrival.
    pub depart: DateTime<Utc>,
    pub arrive: DateTime<Utc>,
    /// When the people are picked up at the origin.
    pub pickup: DateTime<Utc>,
    pub people: u32,
    pub category: String,
    /// `scheduled`, `airborne` or `landed` by the operation clock.
    pub status: String,
}

/// One aircraft's line of the Gantt chart.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AircraftRow {
    pub tail: String,
    #[serde(rename = "type")]
    pub type_id: String,
    pub sorties: Vec<SortieBar>,
}

/// The schedule: the latest stored plan's sorties per aircraft, and progress
/// of every origin against it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Schedule {
    /// The operation clock the statuses are computed at.
    pub now: DateTime<Utc>,
    /// What "now" is (wall clock, or the running operation's simulated day).
    pub clock: String,
    /// The plan in force (latest stored), if any.
    pub plan: Option<PlanInfo>,
    /// The plan progress is measured against (first plan of the latest run).
    pub baseline: Option<PlanInfo>,
    /// One sentence on where the schedule comes from.
    pub basis: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub aircraft: Vec<AircraftRow>,
    pub origins: Vec<ScheduleRow>,
    pub sorties_landed: u32,
    pub sorties_airborne: u32,
    pub sorties_scheduled: u32,
    /// People the plan in force has delivered by now.
    pub planned_delivered_by_now: u64,
    /// People at the destination(s) now (those the caller may see).
    pub delivered: u64,
}

/// The plan horizon when no origin states a deadline.
pub const DEFAULT_HORIZON_DAYS: i64 = 21;

/// The operation-wide end: the latest stated origin deadline, else start + 21 days.
pub fn horizon(s: &Scenario) -> DateTime<Utc> {
    s.origins
        .iter()
        .filter_map(|o| o.deadline)
        .max()
        .unwrap_or(s.operation.start + Duration::days(DEFAULT_HORIZON_DAYS))
}

fn alert_views(recent: &[(DateTime<Utc>, LiveEvent)]) -> Vec<AlertView> {
    recent
        .iter()
        .rev()
        .filter_map(|(at, e)| match e {
            LiveEvent::Alert {
                id,
                severity,
                site,
                message,
            } => Some(AlertView {
                at: *at,
                id: id.clone(),
                severity: severity.clone(),
                site: site.clone(),
                message: message.clone(),
            }),
            _ => None,
        })
        .take(50)
        .collect()
}

/// Threat level per site from the latest alert naming it — the fallback when
/// no conflict events are stored: `critical`/`high`/`elevated`/`low`.
fn threat_from_alerts(alerts: &[AlertView]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for a in alerts.iter().rev() {
        if let Some(s) = &a.site {
            let level = match a.severity.as_str() {
                "critical" => "critical",
                "high" | "warning" => "high",
                "low" | "info" => "low",
                _ => "elevated",
            };
            m.insert(s.clone(), level.to_string());
        }
    }
    m
}

/// Everything the overview needs, before it is cut to one caller's rights:
/// people are counted per (site, custodian, category, marking class), and a
/// caller sees only the classes whose custody label the policy lets them read.
pub struct OverviewBase {
    pub operation: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub generated_at: DateTime<Utc>,
    /// Sites with zero counts; filled per caller.
    pub sites: Vec<SiteView>,
    /// (site, custodian, category, class) → people.
    pub groups: BTreeMap<(String, String, String, usize), u64>,
    /// (site, class) → distinct people counted at field checkpoints in the last 24 h.
    pub field: BTreeMap<(String, usize), u64>,
    /// Site id → kind.
    pub kinds: BTreeMap<String, SiteKind>,
    pub threat_basis: String,
    /// The latest day of a run in progress (its headcounts are newer than the custody record).
    pub live_day: Option<crate::operation::OperationDay>,
    pub operation_state: Option<String>,
    pub alerts: Vec<AlertView>,
}

pub async fn overview_base(
    store: &Store,
    index: &crate::api::PeopleIndex,
    recent: &[(DateTime<Utc>, LiveEvent)],
    threat: &ThreatPicture,
    op: Option<&crate::operation::Operation>,
) -> Result<OverviewBase, ApiError> {
    let scenario = store.scenario().await?;
    let sites = store.sites().await?;
    let mut groups: BTreeMap<(String, String, String, usize), u64> = BTreeMap::new();
    for (i, p) in index.people.iter().enumerate() {
        *groups
            .entry((
                p.site.to_string(),
                p.custodian.to_string(),
                p.category.as_str().to_string(),
                index.class_of[i],
            ))
            .or_default() += 1;
    }
    let since = (Utc::now() - Duration::hours(24)).timestamp_millis();
    let counted = sqlx::query(
        "SELECT site, person FROM server_field_events WHERE kind = 'checkpoint' AND at_ms >= $1 GROUP BY site, person",
    )
    .bind(since)
    .fetch_all(store.pool())
    .await
    .map_err(ApiError::internal)?;
    let mut field: BTreeMap<(String, usize), u64> = BTreeMap::new();
    for r in counted {
        let site: String = r.try_get(0).map_err(ApiError::internal)?;
        let person: String = r.try_get(1).map_err(ApiError::internal)?;
        // People no longer on record cannot be attributed to a class: not counted.
        if let Some(&i) = index.by_id.get(&person) {
            *field.entry((site, index.class_of[i])).or_default() += 1;
        }
    }
    let received = alert_views(recent);
    let from_alerts = threat_from_alerts(&received);
    let mut alerts: Vec<AlertView> = received
        .into_iter()
        .chain(threat.alerts.iter().cloned())
        .collect();
    alerts.sort_by_key(|a| std::cmp::Reverse(a.at));
    alerts.truncate(50);
    let deadlines: BTreeMap<String, DateTime<Utc>> = scenario
        .as_ref()
        .map(|s| {
            s.origins
                .iter()
                .filter_map(|o| o.deadline.map(|d| (o.site.to_string(), d)))
                .collect()
        })
        .unwrap_or_default();
    let kinds = sites.iter().map(|s| (s.id.to_string(), s.kind)).collect();
    let sites = sites
        .into_iter()
        .map(|s| SiteView {
            field_count: None,
            reconciliation: "no_field_count".into(),
            threat: match (
                threat.sites.get(s.id.as_str()),
                from_alerts.get(s.id.as_str()),
            ) {
                (Some(t), _) => t.level.clone(),
                (None, Some(l)) => l.clone(),
                (None, None) => "unassessed".into(),
            },
            threat_source: match (
                threat.sites.get(s.id.as_str()),
                from_alerts.get(s.id.as_str()),
            ) {
                (Some(_), _) => "threat_watch",
                (None, Some(_)) => "alert",
                (None, None) => "none",
            }
            .into(),
            threat_rate: threat.sites.get(s.id.as_str()).map(|t| t.rate),
            threat_detail: threat.sites.get(s.id.as_str()).map(|t| {
                let mut d = format!("rate {:.2}, {}", t.rate, t.trend);
                if let Some(f) = &t.front {
                    d.push_str("; ");
                    d.push_str(f);
                }
                if let Some(e) = &t.top_event {
                    d.push_str("; top event: ");
                    d.push_str(e);
                }
                d
            }),
            deadline: deadlines.get(s.id.as_str()).copied(),
            id: s.id.to_string(),
            name: s.name,
            kind: s.kind.as_str().into(),
            lat: s.position.lat(),
            lon: s.position.lon(),
            operator: s.operator.to_string(),
            reported_population: s.population,
            held_now: 0,
            holding_capacity: s.holding_capacity,
        })
        .collect();
    Ok(OverviewBase {
        operation: scenario.as_ref().map(|s| s.operation.name.clone()),
        start: scenario.as_ref().map(|s| s.operation.start),
        generated_at: Utc::now(),
        sites,
        groups,
        field,
        kinds,
        threat_basis: threat.basis.clone(),
        live_day: op.filter(|o| o.running()).and_then(|o| o.latest().cloned()),
        operation_state: op.map(|o| match o.latest() {
            Some(d) => format!(
                "{} — {}, day {} ({})",
                o.run.label, o.run.status, d.day, d.date
            ),
            None => format!("{} — {}, no day ended yet", o.run.label, o.run.status),
        }),
        alerts,
    })
}

/// The overview for a caller who may see the marking classes where `visible` is true.
pub fn overview(base: &OverviewBase, visible: &[bool]) -> Overview {
    let seen = |class: usize| visible.get(class).copied().unwrap_or(false);
    let mut per_site: BTreeMap<&str, u64> = BTreeMap::new();
    let mut custody: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut per_category: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_custodian: BTreeMap<String, u64> = BTreeMap::new();
    let mut total = 0;
    for ((site, custodian, category, class), n) in &base.groups {
        if !seen(*class) {
            continue;
        }
        total += n;
        *per_site.entry(site.as_str()).or_default() += n;
        *custody
            .entry((site.clone(), custodian.clone()))
            .or_default() += n;
        *per_category.entry(category.clone()).or_default() += n;
        *per_custodian.entry(custodian.clone()).or_default() += n;
    }
    let mut field: BTreeMap<&str, u64> = BTreeMap::new();
    for ((site, class), n) in &base.field {
        if seen(*class) {
            *field.entry(site.as_str()).or_default() += n;
        }
    }
    // While a run is in progress its daily ledger reconciliation is newer than
    // the custody record (written when the run ends). Those are totals over
    // everyone, so only a caller who may see every person gets them.
    let all = visible.iter().all(|v| *v);
    let live = base.live_day.as_ref().filter(|_| all);
    let headcount_source = match (live, &base.live_day) {
        (Some(d), _) => format!(
            "ledger reconciliation of operation day {} ({}), run in progress; custody per custodian is the custody record, written when the run ends",
            d.day, d.date
        ),
        (None, Some(_)) => {
            "custody record (the running operation's totals cover people you may not see)".into()
        }
        (None, None) => "custody record".into(),
    };
    if let Some(d) = live {
        per_site = d.per_site.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        total = per_site.values().sum();
    }
    let (mut delivered, mut at_origins, mut in_transit) = (0, 0, 0);
    let sites = base
        .sites
        .iter()
        .map(|s| {
            let held = per_site.get(s.id.as_str()).copied().unwrap_or(0);
            match base.kinds.get(&s.id) {
                Some(SiteKind::Destination) => delivered += held,
                Some(k) if k.is_origin() => at_origins += held,
                _ => in_transit += held,
            }
            let field_count = field.get(s.id.as_str()).copied();
            let reconciliation = match field_count {
                None => "no_field_count",
                Some(c) if c == held => "reconciled",
                Some(_) => "discrepancy",
            };
            SiteView {
                held_now: held,
                field_count,
                reconciliation: reconciliation.into(),
                ..s.clone()
            }
        })
        .collect();
    Overview {
        operation: base.operation.clone(),
        start: base.start,
        generated_at: base.generated_at,
        total_in_custody: total,
        delivered,
        at_origins,
        in_transit,
        sites,
        custody: custody
            .into_iter()
            .map(|((site, custodian), people)| CustodyCount {
                site,
                custodian,
                people,
            })
            .collect(),
        per_category,
        per_custodian,
        threat_basis: base.threat_basis.clone(),
        headcount_source,
        operation_state: base.operation_state.clone(),
        alerts: base.alerts.clone(),
    }
}

/// People moved to a destination per day (from field events), counted per
/// marking class so that each caller sees only the people they may see.
pub struct ProgressBase {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Reported population across origins (the linear plan's total).
    pub total: u64,
    /// (day, class) → arrivals.
    pub arrivals: BTreeMap<(NaiveDate, usize), u64>,
    /// People the baseline plan brings in per day, when a plan is stored.
    pub planned: Option<BTreeMap<NaiveDate, u64>>,
    /// People moved per day by the running operation's reports (totals over everyone).
    pub reported: BTreeMap<NaiveDate, u64>,
}

pub async fn progress_base(
    store: &Store,
    index: &crate::api::PeopleIndex,
    plans: &Plans,
    op: Option<&crate::operation::Operation>,
) -> Result<Option<ProgressBase>, ApiError> {
    let Some(scenario) = store.scenario().await? else {
        return Ok(None);
    };
    let destinations: Vec<String> = scenario
        .sites
        .iter()
        .filter(|s| s.kind == SiteKind::Destination)
        .map(|s| s.id.to_string())
        .collect();
    let total: u64 = scenario
        .sites
        .iter()
        .filter(|s| s.kind.is_origin())
        .map(|s| s.population as u64)
        .sum();
    let rows =
        sqlx::query("SELECT site, at_ms, person FROM server_field_events WHERE kind = 'arrived'")
            .fetch_all(store.pool())
            .await
            .map_err(ApiError::internal)?;
    let mut arrivals: BTreeMap<(NaiveDate, usize), u64> = BTreeMap::new();
    for r in rows {
        let site: String = r.try_get(0).map_err(ApiError::internal)?;
        if !destinations.contains(&site) {
            continue;
        }
        let ms: i64 = r.try_get(1).map_err(ApiError::internal)?;
        let person: String = r.try_get(2).map_err(ApiError::internal)?;
        let Some(&i) = index.by_id.get(&person) else {
            continue;
        };
        if let Some(t) = Utc.timestamp_millis_opt(ms).single() {
            *arrivals
                .entry((t.date_naive(), index.class_of[i]))
                .or_default() += 1;
        }
    }
    let planned = plans.baseline.as_ref().map(|b| {
        let mut m: BTreeMap<NaiveDate, u64> = BTreeMap::new();
        for d in &b.plan.intake {
            *m.entry(d.date).or_default() += d.people as u64;
        }
        m
    });
    let end = planned
        .as_ref()
        .and_then(|m| m.keys().next_back())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or_else(|| horizon(&scenario));
    Ok(Some(ProgressBase {
        start: scenario.operation.start,
        end,
        total,
        arrivals,
        planned,
        reported: op
            .map(|o| o.days.iter().map(|d| (d.date, d.moved as u64)).collect())
            .unwrap_or_default(),
    }))
}

/// Per-day progress for a caller who sees the classes where `visible` is true,
/// against a linear baseline from the operation start to its horizon.
pub fn progress(base: Option<&ProgressBase>, visible: &[bool]) -> Vec<DayProgress> {
    let Some(base) = base else {
        return Vec::new();
    };
    let mut per_day: BTreeMap<NaiveDate, u64> = BTreeMap::new();
    for ((d, class), n) in &base.arrivals {
        if visible.get(*class).copied().unwrap_or(false) {
            *per_day.entry(*d).or_default() += n;
        }
    }
    // The run's reports are totals over everyone: for callers who see everyone.
    if visible.iter().all(|v| *v) {
        for (d, n) in &base.reported {
            *per_day.entry(*d).or_default() += n;
        }
    }
    let (start, end, total) = (base.start, base.end, base.total);
    let span = (end - start).num_seconds().max(1) as f64;
    let first = start.date_naive().min(
        base.planned
            .as_ref()
            .and_then(|m| m.keys().next().copied())
            .unwrap_or(start.date_naive()),
    );
    let last = end
        .date_naive()
        .max(per_day.keys().next_back().copied().unwrap_or(first))
        .max(Utc::now().date_naive().min(end.date_naive()));
    let mut out = Vec::new();
    let (mut cum, mut planned_cum) = (0, 0);
    let mut d = first;
    while d <= last && out.len() < 366 {
        let moved = per_day.get(&d).copied().unwrap_or(0);
        cum += moved;
        let planned = match &base.planned {
            Some(m) => m.get(&d).copied().unwrap_or(0),
            None => {
                let day_end = Utc.from_utc_datetime(
                    &d.succ_opt()
                        .unwrap_or(d)
                        .and_hms_opt(0, 0, 0)
                        .unwrap_or_default(),
                );
                let frac = ((day_end - start).num_seconds() as f64 / span).clamp(0.0, 1.0);
                ((frac * total as f64).round() as u64).saturating_sub(planned_cum)
            }
        };
        planned_cum += planned;
        out.push(DayProgress {
            date: d,
            moved,
            cumulative: cum,
            planned,
            planned_cumulative: planned_cum,
        });
        d = match d.succ_opt() {
            Some(n) => n,
            None => break,
        };
    }
    out
}

/// The schedule at `now` from the stored plans (see [`Schedule`]); origins
/// on a linear plan to their deadlines when no plan is stored.
pub fn schedule(
    scenario: &Scenario,
    ov: &Overview,
    plans: &Plans,
    now: DateTime<Utc>,
    clock: &str,
    aircraft_types: &BTreeMap<String, String>,
) -> Schedule {
    let start = scenario.operation.start;
    let end = horizon(scenario);
    let plan = plans.latest.as_ref();
    let held = |site: &str| {
        ov.sites
            .iter()
            .find(|s| s.id == site)
            .map_or(0, |s| s.held_now)
    };
    let mut rows = Vec::new();
    for o in &scenario.origins {
        let Some(site) = scenario.site(&o.site) else {
            continue;
        };
        let pop = site.population.max(1) as f64;
        let h = held(site.id.as_str());
        let emptying = plan.and_then(|p| p.plan.sites.iter().find(|e| e.site == o.site));
        let plan_deadline = emptying.and_then(|e| e.deadline);
        let deadline = plan_deadline.or(o.deadline).unwrap_or(end);
        let (planned_total, planned_by_now, due) = match plan {
            Some(p) => {
                let mine = p.plan.sorties.iter().filter(|s| s.origin == o.site);
                let (mut total, mut by_now) = (0u64, 0u64);
                for s in mine {
                    total += s.manifest.len() as u64;
                    if pickup(s).is_some_and(|t| t <= now) {
                        by_now += s.manifest.len() as u64;
                    }
                }
                (total, by_now, (by_now as f64 / pop).clamp(0.0, 1.0))
            }
            None => {
                let span = (deadline - start).num_seconds().max(1) as f64;
                (
                    site.population as u64,
                    0,
                    ((now - start).num_seconds() as f64 / span).clamp(0.0, 1.0),
                )
            }
        };
        rows.push(ScheduleRow {
            site: site.id.to_string(),
            name: site.name.clone(),
            start,
            deadline,
            deadline_stated: plan_deadline.is_some() || o.deadline.is_some(),
            reported_population: site.population,
            held_now: h,
            planned_total,
            planned_by_now: if plan.is_some() { planned_by_now } else { 0 },
            planned_emptied: emptying.and_then(|e| e.emptied),
            done: (1.0 - h as f64 / pop).clamp(0.0, 1.0),
            due,
        });
    }
    let mut by_tail: BTreeMap<String, Vec<SortieBar>> = BTreeMap::new();
    let (mut landed, mut airborne, mut scheduled) = (0, 0, 0);
    let mut delivered_by_now = 0u64;
    let mut plan_end: Option<DateTime<Utc>> = None;
    if let Some(p) = plan {
        for s in &p.plan.sorties {
            let (Some(first), Some(last)) = (s.legs.first(), s.legs.last()) else {
                continue;
            };
            let status = if last.arrive <= now {
                landed += 1;
                delivered_by_now += s.manifest.len() as u64;
                "landed"
            } else if first.depart <= now {
                airborne += 1;
                "airborne"
            } else {
                scheduled += 1;
                "scheduled"
            };
            plan_end = Some(plan_end.map_or(last.arrive, |e| e.max(last.arrive)));
            by_tail
                .entry(s.aircraft.to_string())
                .or_default()
                .push(SortieBar {
                    id: s.id,
                    name: sortie_name(s.id),
                    origin: s.origin.to_string(),
                    to: last.to.to_string(),
                    depart: first.depart,
                    arrive: last.arrive,
                    pickup: pickup(s).unwrap_or(first.depart),
                    people: s.manifest.len() as u32,
                    category: s.category.as_str().into(),
                    status: status.into(),
                });
        }
    }
    for v in by_tail.values_mut() {
        v.sort_by_key(|b| (b.depart, b.id));
    }
    let basis = match (plan, plans.baseline.as_ref()) {
        (Some(p), Some(b)) if p.info.id != b.info.id => format!(
            "plan {} ({}, {}) in force; progress measured against plan {} ({})",
            p.info.id, p.info.kind, p.info.note, b.info.id, b.info.note
        ),
        (Some(p), _) => format!("plan {} ({}, {}) in force", p.info.id, p.info.kind, p.info.note),
        (None, _) => "no plan stored (`sallyport plan` or a run stores one): origins shown on a linear plan to their deadlines".into(),
    };
    Schedule {
        now,
        clock: clock.to_string(),
        plan: plan.map(|p| p.info.clone()),
        baseline: plans.baseline.as_ref().map(|p| p.info.clone()),
        basis,
        start: Some(start),
        end: Some(plan_end.unwrap_or(end)),
        aircraft: by_tail
            .into_iter()
            .map(|(tail, sorties)| AircraftRow {
                type_id: aircraft_types.get(&tail).cloned().unwrap_or_default(),
                tail,
                sorties,
            })
            .collect(),
        origins: rows,
        sorties_landed: landed,
        sorties_airborne: airborne,
        sorties_scheduled: scheduled,
        planned_delivered_by_now: delivered_by_now,
        delivered: ov.delivered,
    }
}

/// When a sortie picks its people up (its first loaded leg's departure).
fn pickup(s: &sallyport_planner::Sortie) -> Option<DateTime<Utc>> {
    s.legs.iter().find(|l| l.loaded).map(|l| l.depart)
}
