//! Live updates: one broadcast bus of [`LiveEvent`]s, fanned out to every
//! Server-Sent-Events client (`GET /api/v1/live`) and to the read-model cache.
//!
//! Anyone holding the [`LiveBus`] (the HTTP handlers, the demo driver) may
//! publish. Publishing never blocks; a slow SSE client that falls more than
//! [`BUS_CAPACITY`] events behind is told to refresh instead of stalling others.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use utoipa::ToSchema;

/// Events buffered per subscriber before it is considered lagging.
pub const BUS_CAPACITY: usize = 4096;

/// Something the common operating picture should show now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A sortie's position along its leg (`progress` 0 at take-off, 1 on landing).
    SortieProgress {
        sortie: String,
        aircraft: String,
        from: String,
        to: String,
        people: u32,
        progress: f64,
        /// `scheduled`, `airborne`, `landed`, `delayed` or `cancelled`.
        status: String,
    },
    /// Custody changed for `people` people at `site` (arrivals, handovers, departures).
    Custody {
        site: String,
        custodian: String,
        people: u32,
        kind: String,
        device: Option<String>,
    },
    /// An alert from threat watch, the ledger or the planner.
    Alert {
        id: String,
        severity: String,
        site: Option<String>,
        message: String,
    },
    /// An operation day ended and its report is stored (see `operation`).
    Day {
        day: u32,
        date: chrono::NaiveDate,
        moved: u32,
        planned: u32,
        arrived_total: u32,
        sorties_flown: u32,
        replans_total: u32,
        open_discrepancies: u32,
    },
    /// Stored data changed in a way the dashboard should re-read.
    Refresh { what: String },
}

impl LiveEvent {
    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            LiveEvent::SortieProgress { .. } => "sortie_progress",
            LiveEvent::Custody { .. } => "custody",
            LiveEvent::Alert { .. } => "alert",
            LiveEvent::Day { .. } => "day",
            LiveEvent::Refresh { .. } => "refresh",
        }
    }
}

/// The publishing end of the bus; clone it freely.
pub type LiveBus = broadcast::Sender<LiveEvent>;

/// A new bus with no subscribers yet.
pub fn bus() -> LiveBus {
    broadcast::channel(BUS_CAPACITY).0
}
