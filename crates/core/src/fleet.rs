//! Aircraft types, airframes and ground convoy routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ensure;
use crate::{AircraftTypeId, DomainError, SiteId, TailNumber};

/// Published performance of an aircraft type, as used by the planner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AircraftType {
    pub id: AircraftTypeId,
    pub name: String,
    /// Passenger seats (detainees, guards and escorts each take one).
    pub seats: u32,
    /// Internal payload, kg.
    pub payload_kg: u32,
    pub cruise_kmh: u32,
    /// Range with the payload above, no reserve deducted, km.
    pub range_km: u32,
    /// Ground time between sorties (load, refuel, unload), minutes.
    pub turnaround_min: u32,
    /// Most flight hours one airframe flies per day.
    pub max_flight_hours_per_day: f64,
    /// Longest crew duty day, hours (from first take-off prep to last shutdown).
    pub crew_duty_hours: f64,
    /// Needs a runway (fixed wing) to land.
    #[serde(default)]
    pub needs_runway: bool,
    /// May fly at night.
    #[serde(default)]
    pub night_capable: bool,
    /// Where the figures come from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

impl AircraftType {
    pub fn validate(&self) -> Result<(), DomainError> {
        ensure(!self.name.trim().is_empty(), "name", || "must not be blank".into())?;
        ensure(self.seats > 0, "seats", || "must be at least 1".into())?;
        ensure(self.cruise_kmh >= 50, "cruise_kmh", || format!("{} km/h is not a cruise speed", self.cruise_kmh))?;
        ensure(self.range_km >= 10, "range_km", || "must be at least 10 km".into())?;
        let h = self.max_flight_hours_per_day;
        ensure(h.is_finite() && h > 0.0 && h <= 24.0, "max_flight_hours_per_day", || format!("{h} is not within (0, 24]"))?;
        let d = self.crew_duty_hours;
        ensure(d.is_finite() && d > 0.0 && d <= 24.0, "crew_duty_hours", || format!("{d} is not within (0, 24]"))
    }

    /// Hours of flight for `km`, at cruise.
    pub fn flight_hours(&self, km: f64) -> f64 {
        km / self.cruise_kmh as f64
    }
}

/// A period during which an airframe is available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailabilityWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aircraft {
    pub tail: TailNumber,
    #[serde(rename = "type")]
    pub type_id: AircraftTypeId,
    pub base: SiteId,
    /// When the airframe may fly; empty means the whole operation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability: Vec<AvailabilityWindow>,
}

impl Aircraft {
    pub fn validate(&self) -> Result<(), DomainError> {
        for (i, w) in self.availability.iter().enumerate() {
            ensure(w.from < w.to, &format!("availability[{i}]"), || format!("from {} is not before to {}", w.from, w.to))?;
        }
        Ok(())
    }
}

/// A road leg the scenario allows ground convoys on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvoyRoute {
    pub from: SiteId,
    pub to: SiteId,
    pub distance_km: f64,
    pub speed_kmh: f64,
    pub vehicles: u32,
    pub seats_per_vehicle: u32,
}

impl ConvoyRoute {
    pub fn validate(&self) -> Result<(), DomainError> {
        ensure(self.from != self.to, "to", || "a convoy must go somewhere else".into())?;
        ensure(self.distance_km.is_finite() && self.distance_km > 0.0, "distance_km", || "must be positive".into())?;
        ensure(self.speed_kmh.is_finite() && self.speed_kmh > 0.0, "speed_kmh", || "must be positive".into())?;
        ensure(self.vehicles > 0 && self.seats_per_vehicle > 0, "vehicles", || "needs vehicles with seats".into())
    }
}
