//! Threat per site from threat watch (`sallyport-threat`) over the conflict
//! events stored in the database (table `threat_events`, `sallyport threat
//! ingest`): the model's rate, the level with the alert rules' hysteresis, the
//! trend and advance of fighting, the top contributing event, and the level
//! changes (alerts) of the last two weeks.
//!
//! Which day is assessed:
//! - with a replay start configured (`Config::threat_replay_from`, as the demo
//!   does), operation day k is assessed as historical day start + k — a
//!   labelled REPLAY of recorded history, not a forecast;
//! - otherwise the operation's current date, or the last day with a stored
//!   event when the data end earlier (labelled stale when over 30 days old).
//!
//! With no events stored the picture says so ([`ThreatPicture::source`] =
//! `none`) and the read model falls back to the alerts it received.
//!
//! The model is kept until the stored events change (count, last day); the
//! assessment until the assessed day changes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sallyport_core::Site;
use sallyport_store::Store;
use sallyport_store::sqlx::{self, Row};
use sallyport_threat::{AlertRules, ModelParams, ThreatModel};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::problem::ApiError;
use crate::readmodel::AlertView;

/// Threat watch's view of one site on the assessed day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SiteThreat {
    /// `low`, `elevated`, `high` or `critical` (alert rules with hysteresis).
    pub level: String,
    /// Relative hazard (1 = quiet).
    pub rate: f64,
    /// `rising`, `steady` or `falling`.
    pub trend: String,
    /// Distance to the estimated front of fighting and its approach, when estimated.
    pub front: Option<String>,
    /// The event that contributed most that day, if any.
    pub top_event: Option<String>,
}

/// Threat per site and how it was obtained.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ThreatPicture {
    /// `model` (threat watch over stored events) or `none` (no events stored).
    pub source: String,
    /// One sentence on what the levels are based on.
    pub basis: String,
    /// The day assessed (historical day when replaying).
    pub as_of: Option<NaiveDate>,
    pub events: u64,
    pub sites: BTreeMap<String, SiteThreat>,
    /// Level changes within the 14 days before the assessed day, newest first.
    pub alerts: Vec<AlertView>,
}

/// (event count, last known day, operation date, operation start, replay start).
type Key = (i64, i64, NaiveDate, Option<NaiveDate>, Option<NaiveDate>);

/// Caches the model and the last assessment.
#[derive(Default)]
pub struct ThreatCache {
    model: Mutex<Option<((i64, i64), Arc<ThreatModel>)>>,
    picture: Mutex<Option<(Key, Arc<ThreatPicture>)>>,
}

impl ThreatCache {
    /// Threat per site for the operation clock `now`.
    pub async fn picture(
        &self,
        store: &Store,
        start: Option<NaiveDate>,
        now: DateTime<Utc>,
        replay_from: Option<NaiveDate>,
    ) -> Result<Arc<ThreatPicture>, ApiError> {
        let row = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(MAX(known_day), 0) AS BIGINT) FROM threat_events",
        )
        .fetch_one(store.pool())
        .await
        .map_err(ApiError::internal)?;
        let count: i64 = row.try_get(0).map_err(ApiError::internal)?;
        let last: i64 = row.try_get(1).map_err(ApiError::internal)?;
        if count == 0 {
            return Ok(Arc::new(ThreatPicture {
                source: "none".into(),
                basis: "no conflict events are stored (`sallyport threat ingest FILE.csv`): threat watch has no assessment; levels shown come from alerts received, else unassessed".into(),
                as_of: None,
                events: 0,
                sites: BTreeMap::new(),
                alerts: Vec::new(),
            }));
        }
        let today = now.date_naive();
        let key: Key = (count, last, today, start, replay_from);
        if let Some((k, p)) = &*self.picture.lock().unwrap_or_else(|p| p.into_inner())
            && *k == key
        {
            return Ok(p.clone());
        }
        let model = self.model(store, (count, last)).await?;
        let sites = store.sites().await?;
        let picture = tokio::task::spawn_blocking(move || {
            assess(&model, &sites, today, start, replay_from, count as u64)
        })
        .await
        .map_err(ApiError::internal)?;
        let picture = Arc::new(picture);
        *self.picture.lock().unwrap_or_else(|p| p.into_inner()) = Some((key, picture.clone()));
        Ok(picture)
    }

    async fn model(&self, store: &Store, key: (i64, i64)) -> Result<Arc<ThreatModel>, ApiError> {
        if let Some((k, m)) = &*self.model.lock().unwrap_or_else(|p| p.into_inner())
            && *k == key
        {
            return Ok(m.clone());
        }
        let events = sallyport_threat::load_events(store)
            .await
            .map_err(ApiError::internal)?;
        let m = Arc::new(
            tokio::task::spawn_blocking(move || ThreatModel::new(events, ModelParams::default()))
                .await
                .map_err(ApiError::internal)?,
        );
        *self.model.lock().unwrap_or_else(|p| p.into_inner()) = Some((key, m.clone()));
        Ok(m)
    }
}

fn assess(
    model: &ThreatModel,
    sites: &[Site],
    today: NaiveDate,
    start: Option<NaiveDate>,
    replay_from: Option<NaiveDate>,
    events: u64,
) -> ThreatPicture {
    let rules = AlertRules::default();
    let last = model
        .events()
        .iter()
        .map(|e| e.date_end)
        .max()
        .unwrap_or(today);
    // Historical day assessed, and how to show a historical day on the operation's calendar.
    let (as_of, shift, basis) = match (replay_from, start) {
        (Some(from), Some(start)) => {
            let k = (today - start).num_days().max(0);
            let as_of = from + Duration::days(k);
            (
                as_of,
                (start - from).num_days(),
                format!(
                    "threat watch over {events} stored conflict events, REPLAY of recorded history: operation day {k} ({today}) is assessed as {as_of} — not a forecast of the operation's period"
                ),
            )
        }
        _ => {
            let as_of = today.min(last);
            let stale = (today - last).num_days();
            let mut basis = format!(
                "threat watch over {events} stored conflict events, as of {as_of} (events known by that day)"
            );
            if stale > 30 {
                basis.push_str(&format!(
                    "; the latest stored event is from {last}, {stale} days before the operation's date: STALE"
                ));
            }
            (as_of, 0, basis)
        }
    };
    let mut out = BTreeMap::new();
    let mut alerts = Vec::new();
    for site in sites {
        let series = model.series(site, as_of - Duration::days(120), as_of);
        let (levels, changes) = sallyport_threat::alerts::levels(&series, &rules);
        let (Some(day), Some(level)) = (series.days.last(), levels.last()) else {
            continue;
        };
        let front = day.advance.map(|a| {
            format!(
                "front ~{:.0} km at {:.0}°, {:+.1} km/day",
                a.distance_km, a.bearing_deg, a.approach_km_per_day
            )
        });
        let top_event = model.contributors(site, as_of, 1).first().map(|c| {
            format!(
                "{} at {} on {} ({} killed, {:.0} km away)",
                c.kind.as_str(),
                c.location,
                c.date_end,
                c.fatalities,
                c.distance_km
            )
        });
        out.insert(
            site.id.to_string(),
            SiteThreat {
                level: level.as_str().into(),
                rate: (day.rate * 100.0).round() / 100.0,
                trend: format!("{:?}", day.trend.direction).to_lowercase(),
                front,
                top_event,
            },
        );
        for a in changes
            .iter()
            .filter(|a| a.day > as_of - Duration::days(14) && a.day <= as_of)
        {
            let shown = a.day + Duration::days(shift);
            alerts.push(AlertView {
                at: shown
                    .and_hms_opt(0, 0, 0)
                    .map(|t| t.and_utc())
                    .unwrap_or_default(),
                id: format!("threat-{}-{}", a.site, a.day),
                severity: a.level.as_str().into(),
                site: Some(a.site.to_string()),
                message: format!(
                    "threat watch: {} {} from {} to {} (rate {:.1}): {}",
                    a.site_name,
                    match a.change {
                        sallyport_threat::Change::Raised => "raised",
                        sallyport_threat::Change::Lowered => "lowered",
                    },
                    a.previous.as_str(),
                    a.level.as_str(),
                    a.rate,
                    a.cause
                ),
            });
        }
    }
    alerts.sort_by(|a, b| b.at.cmp(&a.at).then(a.id.cmp(&b.id)));
    ThreatPicture {
        source: "model".into(),
        basis,
        as_of: Some(as_of),
        events,
        sites: out,
        alerts,
    }
}
