//! Persistence: all-or-nothing, idempotent ingestion into the store, and loading.

use std::path::Path;

use chrono::NaiveDate;
use sallyport_store::Store;
use sallyport_store::sqlx::{self, Row};
use serde::Serialize;

use crate::event::{Event, EventKind, Source};
use crate::parse::{Parsed, Rejected, parse_bytes};
use crate::ThreatError;

/// How strict an ingest is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestOptions {
    /// Store the valid rows even when some rows were rejected (they are still
    /// reported). Off by default: one bad row and nothing is written.
    pub skip_invalid: bool,
}

/// What happened to one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub file: String,
    pub source: Option<Source>,
    /// Data rows read.
    pub rows: u64,
    /// Rows that passed validation.
    pub accepted: u64,
    /// Rows new to the store (0 when nothing was committed).
    pub added: u64,
    /// Accepted rows already in the store (same source and event id).
    pub already_present: u64,
    pub rejected: Vec<Rejected>,
}

/// What an ingest did, file by file.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub files: Vec<FileReport>,
    /// Whether anything was written (false: the store is exactly as before).
    pub committed: bool,
    pub added: u64,
    pub rejected: u64,
    pub summary: String,
}

const COLS: usize = 14;

/// Read and ingest files: one transaction for all of them.
pub async fn ingest_files<P: AsRef<Path>>(
    store: &Store,
    paths: &[P],
    opts: IngestOptions,
) -> Result<IngestReport, ThreatError> {
    let mut parsed = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let bytes = std::fs::read(p).map_err(|e| ThreatError::Io { file: p.display().to_string(), source: e })?;
        parsed.push(parse_bytes(&p.display().to_string(), &bytes));
    }
    ingest_parsed(store, parsed, opts).await
}

/// Ingest already-parsed files: one transaction for all of them, all or nothing.
pub async fn ingest_parsed(store: &Store, parsed: Vec<Parsed>, opts: IngestOptions) -> Result<IngestReport, ThreatError> {
    let rejected: u64 = parsed.iter().map(|p| p.rejected.len() as u64).sum();
    let mut files: Vec<FileReport> = parsed
        .iter()
        .map(|p| FileReport {
            file: p.file.clone(),
            source: p.source,
            rows: p.rows,
            accepted: p.events.len() as u64,
            added: 0,
            already_present: 0,
            rejected: p.rejected.clone(),
        })
        .collect();
    if rejected > 0 && !opts.skip_invalid {
        let summary = format!(
            "nothing ingested: {rejected} row(s) rejected in {} file(s); fix them or pass --skip-invalid",
            files.iter().filter(|f| !f.rejected.is_empty()).count()
        );
        return Ok(IngestReport { files, committed: false, added: 0, rejected, summary });
    }
    let now_ms = chrono::Utc::now().timestamp_millis();
    // Wide statements in each backend's cheapest placeholder style (anonymous
    // `?` on SQLite, where numbered ones make wide statements quadratic).
    let backend = store.backend();
    let batch = backend.rows_per_statement(COLS);
    let mut tx = store.begin_write().await?;
    for (p, fr) in parsed.iter().zip(files.iter_mut()) {
        let mut added = 0u64;
        for chunk in p.events.chunks(batch) {
            let sql = format!(
                "INSERT INTO threat_events (source, event_id, kind, date_start, date_end, known_day, date_prec, \
                 geo_prec, lat, lon, fatalities, location, admin1, file) VALUES {} \
                 ON CONFLICT (source, event_id) DO NOTHING",
                backend.values(chunk.len(), COLS)
            );
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(e.source.as_str())
                    .bind(e.event_id.clone())
                    .bind(e.kind.as_str())
                    .bind(e.date_start.to_string())
                    .bind(e.date_end.to_string())
                    .bind(e.known_day())
                    .bind(e.date_prec as i64)
                    .bind(e.geo_prec as i64)
                    .bind(e.lat)
                    .bind(e.lon)
                    .bind(e.fatalities as i64)
                    .bind(e.location.clone())
                    .bind(e.admin1.clone())
                    .bind(p.file.clone());
            }
            added += q.execute(&mut *tx).await?.rows_affected();
        }
        fr.added = added;
        fr.already_present = fr.accepted - added.min(fr.accepted);
        sqlx::query(
            "INSERT INTO threat_ingests (at_ms, file, source, rows_read, added, already_present, rejected) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(now_ms)
        .bind(p.file.clone())
        .bind(p.source.map_or("unknown", |s| s.as_str()))
        .bind(p.rows as i64)
        .bind(added as i64)
        .bind(fr.already_present as i64)
        .bind(p.rejected.len() as i64)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let added: u64 = files.iter().map(|f| f.added).sum();
    let present: u64 = files.iter().map(|f| f.already_present).sum();
    let summary = format!(
        "{added} new event(s) stored, {present} already present{}",
        if rejected > 0 { format!(", {rejected} row(s) rejected and skipped") } else { String::new() }
    );
    Ok(IngestReport { files, committed: true, added, rejected, summary })
}

/// Number of stored events.
pub async fn event_count(store: &Store) -> Result<u64, ThreatError> {
    let row = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM threat_events").fetch_one(store.pool()).await?;
    Ok(row.try_get::<i64, _>("n")? as u64)
}

/// Every stored event.
pub async fn load_events(store: &Store) -> Result<Vec<Event>, ThreatError> {
    let rows = sqlx::query(
        "SELECT source, event_id, kind, date_start, date_end, date_prec, geo_prec, lat, lon, fatalities, location, \
         admin1 FROM threat_events ORDER BY known_day, source, event_id",
    )
    .fetch_all(store.pool())
    .await?;
    let corrupt = |what: &str, v: &str| ThreatError::Corrupt(format!("threat_events.{what} = {v:?}"));
    let date = |s: String, what: &str| NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| corrupt(what, &s));
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let source: String = r.try_get("source")?;
        let kind: String = r.try_get("kind")?;
        let code = |what: &str| -> Result<u8, ThreatError> {
            let v: i64 = r.try_get(what)?;
            u8::try_from(v).map_err(|_| corrupt(what, &v.to_string()))
        };
        out.push(Event {
            source: Source::parse(&source).ok_or_else(|| corrupt("source", &source))?,
            event_id: r.try_get("event_id")?,
            kind: EventKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
            date_start: date(r.try_get("date_start")?, "date_start")?,
            date_end: date(r.try_get("date_end")?, "date_end")?,
            date_prec: code("date_prec")?,
            geo_prec: code("geo_prec")?,
            lat: r.try_get("lat")?,
            lon: r.try_get("lon")?,
            fatalities: u32::try_from(r.try_get::<i64, _>("fatalities")?).map_err(|_| corrupt("fatalities", "?"))?,
            location: r.try_get("location")?,
            admin1: r.try_get("admin1")?,
        });
    }
    Ok(out)
}
