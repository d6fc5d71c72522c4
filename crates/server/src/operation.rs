//! The running operation (tables `server_operation_run` and
//! `server_operation_days`, migration 7002): an execution run — `sallyport
//! demo --serve` — records each operation day's report here as the day ends,
//! and the dashboard follows it: the operation clock is the end of the latest
//! recorded day (simulated time), per-site headcounts come from that day's
//! ledger reconciliation while the run is in progress, and people moved per
//! day come from the reports.
//!
//! Publishing through [`record_day`] stores the day, then tells every
//! dashboard (a [`LiveEvent::Day`] and an alert per disruption).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use sallyport_store::Store;
use sallyport_store::sqlx::{self, Row};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::live::{LiveBus, LiveEvent};
use crate::problem::ApiError;

/// One operation day's report, as the execution engine produces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OperationDay {
    /// Day number from 0.
    pub day: u32,
    /// The operation's local date of the day.
    pub date: NaiveDate,
    /// When the day ends (UTC, simulated): the operation clock once it is recorded.
    pub end: DateTime<Utc>,
    pub sorties_flown: u32,
    /// People who reached the destination that day.
    pub moved: u32,
    /// People the initial plan brought to the destination that day.
    pub planned_moved: u32,
    /// People at the destination so far.
    pub arrived_total: u32,
    pub with_receiving_government: u32,
    pub queue_at_destination: u32,
    pub held_back_today: u32,
    /// People per site by the day's ledger reconciliation.
    pub per_site: BTreeMap<String, u64>,
    /// The run's threat rate per origin that day.
    pub threat: BTreeMap<String, f64>,
    pub disruptions: Vec<String>,
    pub delays: Vec<String>,
    pub replans_today: u32,
    pub replans_total: u32,
    pub open_discrepancies: u32,
}

/// The run the days belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OperationRun {
    pub label: String,
    /// `running`, `completed` or `failed`.
    pub status: String,
    pub started: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// The recorded run and its days, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Operation {
    pub run: OperationRun,
    pub days: Vec<OperationDay>,
}

impl Operation {
    pub fn running(&self) -> bool {
        self.run.status == "running"
    }
    pub fn latest(&self) -> Option<&OperationDay> {
        self.days.last()
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Start recording a run: forget earlier days, mark the run `running`.
pub async fn begin(store: &Store, label: &str) -> Result<(), ApiError> {
    let now = ms(Utc::now());
    let mut tx = store.begin_write().await.map_err(ApiError::internal)?;
    sqlx::query("DELETE FROM server_operation_days")
        .execute(&mut *tx)
        .await
        .map_err(ApiError::internal)?;
    sqlx::query("DELETE FROM server_operation_run")
        .execute(&mut *tx)
        .await
        .map_err(ApiError::internal)?;
    sqlx::query(
        "INSERT INTO server_operation_run (id, label, status, started_ms, updated_ms) VALUES (1, $1, 'running', $2, $2)",
    )
    .bind(label.to_string())
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(ApiError::internal)?;
    tx.commit().await.map_err(ApiError::internal)
}

/// Store one day (replacing a report of the same day), then publish it.
pub async fn record_day(store: &Store, bus: &LiveBus, d: &OperationDay) -> Result<(), ApiError> {
    let json = serde_json::to_string(d).map_err(ApiError::internal)?;
    let mut tx = store.begin_write().await.map_err(ApiError::internal)?;
    let running = sqlx::query("SELECT status FROM server_operation_run WHERE id = 1")
        .fetch_optional(&mut *tx)
        .await
        .map_err(ApiError::internal)?;
    match running {
        Some(r) if r.try_get::<String, _>(0).map_err(ApiError::internal)? == "running" => {}
        _ => {
            return Err(ApiError::conflict(
                "no operation run is being recorded: begin one first",
            ));
        }
    }
    sqlx::query("DELETE FROM server_operation_days WHERE day = $1")
        .bind(d.day as i64)
        .execute(&mut *tx)
        .await
        .map_err(ApiError::internal)?;
    sqlx::query(
        "INSERT INTO server_operation_days (day, date, end_ms, json) VALUES ($1, $2, $3, $4)",
    )
    .bind(d.day as i64)
    .bind(d.date.to_string())
    .bind(ms(d.end))
    .bind(json)
    .execute(&mut *tx)
    .await
    .map_err(ApiError::internal)?;
    sqlx::query("UPDATE server_operation_run SET updated_ms = $1 WHERE id = 1")
        .bind(ms(Utc::now()))
        .execute(&mut *tx)
        .await
        .map_err(ApiError::internal)?;
    tx.commit().await.map_err(ApiError::internal)?;
    for text in &d.disruptions {
        let _ = bus.send(LiveEvent::Alert {
            id: format!("day-{}-{}", d.day, short_hash(text)),
            severity: if text.contains("threat") {
                "high".into()
            } else {
                "warning".into()
            },
            site: d.threat.keys().find(|s| text.contains(s.as_str())).cloned(),
            message: format!("day {} ({}): {text}", d.day, d.date),
        });
    }
    let _ = bus.send(LiveEvent::Day {
        day: d.day,
        date: d.date,
        moved: d.moved,
        planned: d.planned_moved,
        arrived_total: d.arrived_total,
        sorties_flown: d.sorties_flown,
        replans_total: d.replans_total,
        open_discrepancies: d.open_discrepancies,
    });
    Ok(())
}

fn short_hash(s: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(s.as_bytes())[..4])
}

/// Mark the run `completed` or `failed`, and tell the dashboards to re-read.
pub async fn finish(store: &Store, bus: &LiveBus, completed: bool) -> Result<(), ApiError> {
    sqlx::query("UPDATE server_operation_run SET status = $1, updated_ms = $2 WHERE id = 1")
        .bind(if completed { "completed" } else { "failed" })
        .bind(ms(Utc::now()))
        .execute(store.pool())
        .await
        .map_err(ApiError::internal)?;
    let _ = bus.send(LiveEvent::Refresh {
        what: "operation finished".into(),
    });
    Ok(())
}

/// The recorded run, if any. Stored rows are untrusted: a day that does not
/// parse is an error naming it.
pub async fn load(store: &Store) -> Result<Option<Operation>, ApiError> {
    let Some(r) = sqlx::query(
        "SELECT label, status, started_ms, updated_ms FROM server_operation_run WHERE id = 1",
    )
    .fetch_optional(store.pool())
    .await
    .map_err(ApiError::internal)?
    else {
        return Ok(None);
    };
    let t = |v: i64| DateTime::from_timestamp_millis(v).unwrap_or_default();
    let run = OperationRun {
        label: r.try_get(0).map_err(ApiError::internal)?,
        status: r.try_get(1).map_err(ApiError::internal)?,
        started: t(r.try_get(2).map_err(ApiError::internal)?),
        updated: t(r.try_get(3).map_err(ApiError::internal)?),
    };
    let rows = sqlx::query("SELECT day, json FROM server_operation_days ORDER BY day")
        .fetch_all(store.pool())
        .await
        .map_err(ApiError::internal)?;
    let mut days = Vec::with_capacity(rows.len());
    for r in rows {
        let day: i64 = r.try_get(0).map_err(ApiError::internal)?;
        let json: String = r.try_get(1).map_err(ApiError::internal)?;
        days.push(serde_json::from_str(&json).map_err(|e| {
            ApiError::internal(format!("stored operation day {day} is invalid: {e}"))
        })?);
    }
    Ok(Some(Operation { run, days }))
}

/// The operation clock: the end of the latest recorded day, else the wall clock.
pub fn clock(op: Option<&Operation>) -> (DateTime<Utc>, String) {
    match op.and_then(|o| o.latest().map(|d| (o, d))) {
        Some((o, d)) => (
            d.end,
            format!(
                "operation day {} ({}), simulated time of {} ({})",
                d.day, d.date, o.run.label, o.run.status
            ),
        ),
        None => (Utc::now(), "wall clock".into()),
    }
}
