//! Field-device custody sync: devices post batches of custody events and
//! re-send until acknowledged; `(device, seq)` is the idempotency key.
//!
//! Invariants: a batch is stored whole or not at all (one transaction); an
//! acknowledgement is sent only after the commit, so an acknowledged event
//! survives a crash or restart; a re-sent event with the same content is
//! counted as a duplicate and changes nothing; a re-sent `seq` with different
//! content rejects the batch with 409. A person's current site and custodian
//! follow their latest event by time, so late-arriving old events do not
//! overwrite newer custody.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sallyport_core::{Agency, Person};
use sallyport_store::Store;
use sallyport_store::sqlx::{self, Row};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::problem::ApiError;

/// Largest batch a device may send at once.
pub const MAX_BATCH: usize = 1000;

/// What happened to the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Seen and counted at a site.
    Checkpoint,
    /// Left `site`'s holding area for transport (custody with `custodian`).
    Departed,
    /// Arrived at `site`.
    Arrived,
    /// Custody handed to `custodian` at `site`.
    Handover,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Checkpoint => "checkpoint",
            EventKind::Departed => "departed",
            EventKind::Arrived => "arrived",
            EventKind::Handover => "handover",
        }
    }
}

/// One custody event recorded on a field device. After it, `person` is at
/// `site` in the custody of `custodian`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldEvent {
    /// The device's own sequence number, from 1; with the device id, the idempotency key.
    #[schema(minimum = 1)]
    pub seq: u64,
    #[schema(min_length = 1, max_length = 64)]
    pub person: String,
    pub kind: EventKind,
    #[schema(min_length = 1, max_length = 64)]
    pub site: String,
    #[schema(min_length = 1, max_length = 64)]
    pub custodian: String,
    /// When it happened (device clock, UTC).
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncBatch {
    #[schema(max_items = 1000)]
    pub events: Vec<FieldEvent>,
}

/// Sent only after the batch is committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SyncAck {
    pub device: String,
    /// Events newly stored.
    pub accepted: u64,
    /// Events already stored from an earlier send.
    pub duplicates: u64,
    /// Highest sequence number stored for this device.
    pub high_water: u64,
}

/// Summary of an accepted batch for the live bus: (site, custodian, kind) → people.
pub type Moves = Vec<(String, String, EventKind, u32)>;

fn check_id(what: &str, i: usize, v: &str) -> Result<(), ApiError> {
    sallyport_core::PersonId::new(v)
        .map(|_| ())
        .map_err(|e| ApiError::unprocessable(format!("events[{i}].{what}: {}", e.rule)))
}

/// Validate and store a batch; see the module invariants.
///
/// `authorize` decides on the agencies and the batch's people as read inside
/// the write transaction (people locked there on PostgreSQL), so it holds at
/// commit: a person re-marked or put on hold meanwhile waits for this batch
/// or is seen with the new marking. Its error rejects the whole batch.
pub async fn sync(
    store: &Store,
    device: &str,
    batch: &SyncBatch,
    authorize: impl FnOnce(&[Agency], &[Person]) -> Result<(), ApiError>,
) -> Result<(SyncAck, Moves), ApiError> {
    if batch.events.len() > MAX_BATCH {
        return Err(ApiError::unprocessable(format!(
            "at most {MAX_BATCH} events per batch, got {}",
            batch.events.len()
        )));
    }
    let now = Utc::now();
    let mut seqs = HashSet::new();
    for (i, e) in batch.events.iter().enumerate() {
        if e.seq == 0 || e.seq > i64::MAX as u64 {
            return Err(ApiError::unprocessable(format!(
                "events[{i}].seq: must be within 1..=2^63-1"
            )));
        }
        if !seqs.insert(e.seq) {
            return Err(ApiError::unprocessable(format!(
                "events[{i}].seq: {} appears twice in the batch",
                e.seq
            )));
        }
        check_id("person", i, &e.person)?;
        check_id("site", i, &e.site)?;
        check_id("custodian", i, &e.custodian)?;
        if e.at > now + Duration::days(1) || e.at.timestamp_millis() < 0 {
            return Err(ApiError::unprocessable(format!(
                "events[{i}].at: {} is not a plausible time",
                e.at
            )));
        }
    }
    let mut tx = store.begin_write().await.map_err(ApiError::internal)?;
    let sites: HashSet<String> = ids(&mut tx, "SELECT id FROM sites").await?;
    let agency_list = store.agencies_in_tx(&mut tx).await?;
    let agencies: HashSet<&str> = agency_list.iter().map(|a| a.id.as_str()).collect();
    for (i, e) in batch.events.iter().enumerate() {
        if !sites.contains(&e.site) {
            return Err(ApiError::unprocessable(format!(
                "events[{i}].site: no site {:?}",
                e.site
            )));
        }
        if !agencies.contains(e.custodian.as_str()) {
            return Err(ApiError::unprocessable(format!(
                "events[{i}].custodian: no agency {:?}",
                e.custodian
            )));
        }
    }
    let ids: Vec<&str> = batch.events.iter().map(|e| e.person.as_str()).collect();
    let people = store.people_by_ids_locked(&mut tx, &ids).await?;
    authorize(&agency_list, &people)?;
    let on_record: HashSet<&str> = people.iter().map(|p| p.id.as_str()).collect();
    let (mut accepted, mut duplicates) = (0u64, 0u64);
    let mut moves: std::collections::BTreeMap<(String, String, EventKind), u32> =
        Default::default();
    for (i, e) in batch.events.iter().enumerate() {
        if !on_record.contains(e.person.as_str()) {
            return Err(ApiError::unprocessable(format!(
                "events[{i}].person: no person {:?}",
                e.person
            )));
        }
        let at_ms = e.at.timestamp_millis();
        let done = sqlx::query(
            "INSERT INTO server_field_events (device, seq, person, kind, site, custodian, at_ms, received_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (device, seq) DO NOTHING",
        )
        .bind(device.to_string())
        .bind(e.seq as i64)
        .bind(e.person.clone())
        .bind(e.kind.as_str())
        .bind(e.site.clone())
        .bind(e.custodian.clone())
        .bind(at_ms)
        .bind(now.timestamp_millis())
        .execute(&mut *tx)
        .await
        .map_err(ApiError::internal)?;
        if done.rows_affected() == 0 {
            let r = sqlx::query("SELECT person, kind, site, custodian, at_ms FROM server_field_events WHERE device = $1 AND seq = $2")
                .bind(device.to_string())
                .bind(e.seq as i64)
                .fetch_one(&mut *tx)
                .await
                .map_err(ApiError::internal)?;
            let same = r.try_get::<String, _>(0).ok().as_deref() == Some(e.person.as_str())
                && r.try_get::<String, _>(1).ok().as_deref() == Some(e.kind.as_str())
                && r.try_get::<String, _>(2).ok().as_deref() == Some(e.site.as_str())
                && r.try_get::<String, _>(3).ok().as_deref() == Some(e.custodian.as_str())
                && r.try_get::<i64, _>(4).ok() == Some(at_ms);
            if !same {
                return Err(ApiError::conflict(format!(
                    "events[{i}]: device {device:?} already sent seq {} with different content",
                    e.seq
                )));
            }
            duplicates += 1;
            continue;
        }
        accepted += 1;
        sqlx::query(
            "UPDATE people SET site = $1, custodian = $2 WHERE id = $3 AND NOT EXISTS \
             (SELECT 1 FROM server_field_events f WHERE f.person = $3 AND f.at_ms > $4)",
        )
        .bind(e.site.clone())
        .bind(e.custodian.clone())
        .bind(e.person.clone())
        .bind(at_ms)
        .execute(&mut *tx)
        .await
        .map_err(ApiError::internal)?;
        *moves
            .entry((e.site.clone(), e.custodian.clone(), e.kind))
            .or_default() += 1;
    }
    let high_water = high_water_in(&mut *tx, device).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    let moves = moves
        .into_iter()
        .map(|((s, c, k), n)| (s, c, k, n))
        .collect();
    Ok((
        SyncAck {
            device: device.to_string(),
            accepted,
            duplicates,
            high_water,
        },
        moves,
    ))
}

async fn ids(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    sql: &str,
) -> Result<HashSet<String>, ApiError> {
    let rows = sqlx::query(sql)
        .fetch_all(&mut **tx)
        .await
        .map_err(ApiError::internal)?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(ApiError::internal))
        .collect()
}

async fn high_water_in<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    device: &str,
) -> Result<u64, ApiError> {
    let r = sqlx::query(
        "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM server_field_events WHERE device = $1",
    )
    .bind(device.to_string())
    .fetch_one(ex)
    .await
    .map_err(ApiError::internal)?;
    Ok(r.try_get::<i64, _>(0).map_err(ApiError::internal)? as u64)
}

/// Highest sequence number stored for `device` (0 when none).
pub async fn high_water(store: &Store, device: &str) -> Result<u64, ApiError> {
    high_water_in(store.pool(), device).await
}

/// A person's custody timeline, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    pub site: String,
    pub custodian: String,
    pub device: String,
    pub seq: u64,
}

pub async fn timeline(store: &Store, person: &str) -> Result<Vec<TimelineEntry>, ApiError> {
    let rows = sqlx::query(
        "SELECT at_ms, kind, site, custodian, device, seq FROM server_field_events WHERE person = $1 ORDER BY at_ms, device, seq",
    )
    .bind(person.to_string())
    .fetch_all(store.pool())
    .await
    .map_err(ApiError::internal)?;
    rows.iter()
        .map(|r| {
            let kind = match r
                .try_get::<String, _>(1)
                .map_err(ApiError::internal)?
                .as_str()
            {
                "departed" => EventKind::Departed,
                "arrived" => EventKind::Arrived,
                "handover" => EventKind::Handover,
                _ => EventKind::Checkpoint,
            };
            Ok(TimelineEntry {
                at: DateTime::from_timestamp_millis(r.try_get(0).map_err(ApiError::internal)?)
                    .unwrap_or_default(),
                kind,
                site: r.try_get(2).map_err(ApiError::internal)?,
                custodian: r.try_get(3).map_err(ApiError::internal)?,
                device: r.try_get(4).map_err(ApiError::internal)?,
                seq: r.try_get::<i64, _>(5).map_err(ApiError::internal)? as u64,
            })
        })
        .collect()
}
