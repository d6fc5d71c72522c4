//! The operation: one named transfer effort.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ensure;
use crate::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationStatus {
    Planning,
    Active,
    Suspended,
    Completed,
}

impl OperationStatus {
    pub const ALL: [OperationStatus; 4] = [Self::Planning, Self::Active, Self::Suspended, Self::Completed];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planning => "planning",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Completed => "completed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub name: String,
    /// IANA time zone in which days (sitreps, intake quotas) are counted.
    pub time_zone: chrono_tz::Tz,
    pub start: DateTime<Utc>,
    pub status: OperationStatus,
}

impl Operation {
    pub fn validate(&self) -> Result<(), DomainError> {
        ensure(!self.name.trim().is_empty(), "name", || "must not be blank".into())?;
        ensure(self.name.len() <= 200, "name", || "must be at most 200 bytes".into())
    }
}
