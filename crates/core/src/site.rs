//! Sites: where people are held, staged, landed and received.

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use crate::error::ensure;
use crate::{AgencyId, DomainError, LatLon, SiteId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteKind {
    DetentionFacility,
    Camp,
    StagingBase,
    LandingZone,
    Destination,
}

impl SiteKind {
    pub const ALL: [SiteKind; 5] =
        [Self::DetentionFacility, Self::Camp, Self::StagingBase, Self::LandingZone, Self::Destination];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DetentionFacility => "detention_facility",
            Self::Camp => "camp",
            Self::StagingBase => "staging_base",
            Self::LandingZone => "landing_zone",
            Self::Destination => "destination",
        }
    }
    /// Sites people are moved *from*.
    pub fn is_origin(self) -> bool {
        matches!(self, Self::DetentionFacility | Self::Camp)
    }
}

/// Daily window in local time during which a site receives or dispatches flights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatingHours {
    pub open: NaiveTime,
    pub close: NaiveTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    pub id: SiteId,
    pub name: String,
    pub kind: SiteKind,
    pub position: LatLon,
    /// Reported number of people held (origins); 0 for bases.
    #[serde(default)]
    pub population: u32,
    /// How many people the site can hold at once.
    pub holding_capacity: u32,
    /// People per day the site can take in (destination enrolment, staging).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_intake_capacity: Option<u32>,
    /// Local operating hours; `None` means around the clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_hours: Option<OperatingHours>,
    /// Aircraft can refuel here.
    #[serde(default)]
    pub refuel: bool,
    /// Fixed-wing aircraft can land here (helicopters land anywhere).
    #[serde(default)]
    pub runway: bool,
    /// The agency running the site (custodian of the people held there).
    pub operator: AgencyId,
    /// Free-text provenance of the position and population figures.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

impl Site {
    pub fn validate(&self) -> Result<(), DomainError> {
        ensure(!self.name.trim().is_empty(), "name", || "must not be blank".into())?;
        ensure(self.population <= self.holding_capacity, "population", || {
            format!("{} exceeds the holding capacity {}", self.population, self.holding_capacity)
        })?;
        let intake_kind = matches!(self.kind, SiteKind::Destination | SiteKind::StagingBase);
        match self.daily_intake_capacity {
            Some(_) if !intake_kind => Err(DomainError::new(
                "daily_intake_capacity",
                format!("only destinations and staging bases have an intake capacity, not a {}", self.kind.as_str()),
            )),
            None if self.kind == SiteKind::Destination => {
                Err(DomainError::new("daily_intake_capacity", "a destination must state its daily intake capacity"))
            }
            _ => Ok(()),
        }?;
        if let Some(h) = self.operating_hours {
            ensure(h.open != h.close, "operating_hours", || "open and close must differ (omit for 24 h)".into())?;
        }
        Ok(())
    }
}
