//! Disruptions: what can go wrong during the run, seeded or injected by hand.
//!
//! Each is pinned to an operation day (0 = the day the operation starts,
//! local calendar of the operation) and is applied at 05:00 local, before
//! flying starts. Plan-affecting disruptions become planner events and
//! trigger a re-plan; device disruptions act on a field device's sync.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// One disruption. JSON form: `{"kind":"weather_closure","day":4}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Disruption {
    /// An airframe is unserviceable from `day` for `days` days.
    AircraftUnserviceable { day: u32, tail: String, days: f64 },
    /// Weather closes the whole local day `day`: nothing flies.
    WeatherClosure { day: u32 },
    /// A site's threat jumps to `rate` (relative hazard) and its deadline
    /// moves to `deadline_hours` after the disruption.
    ThreatJump { day: u32, site: String, rate: f64, deadline_hours: f64 },
    /// A detainee is found unfit to fly.
    PersonUnfit { day: u32, person: String },
    /// A detainee dies in custody before transfer.
    PersonDied { day: u32, person: String },
    /// A field device syncs half its pending records, then loses the rest.
    DeviceDataLoss { day: u32, device: String },
    /// A stale copy of a field device (restored backup) comes back and
    /// presents an old head.
    DeviceReplay { day: u32, device: String },
}

impl Disruption {
    pub fn day(&self) -> u32 {
        match self {
            Disruption::AircraftUnserviceable { day, .. }
            | Disruption::WeatherClosure { day }
            | Disruption::ThreatJump { day, .. }
            | Disruption::PersonUnfit { day, .. }
            | Disruption::PersonDied { day, .. }
            | Disruption::DeviceDataLoss { day, .. }
            | Disruption::DeviceReplay { day, .. } => *day,
        }
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Disruption::AircraftUnserviceable { .. } => "aircraft_unserviceable",
            Disruption::WeatherClosure { .. } => "weather_closure",
            Disruption::ThreatJump { .. } => "threat_jump",
            Disruption::PersonUnfit { .. } => "person_unfit",
            Disruption::PersonDied { .. } => "person_died",
            Disruption::DeviceDataLoss { .. } => "device_data_loss",
            Disruption::DeviceReplay { .. } => "device_replay",
        }
    }
    /// One line for sitreps and progress.
    pub fn describe(&self) -> String {
        match self {
            Disruption::AircraftUnserviceable { tail, days, .. } => format!("aircraft {tail} unserviceable for {days} day(s)"),
            Disruption::WeatherClosure { .. } => "weather closes the day: nothing flies".into(),
            Disruption::ThreatJump { site, rate, deadline_hours, .. } => {
                format!("threat at {site} jumps to {rate:.1}; site must be empty within {deadline_hours:.0} h")
            }
            Disruption::PersonUnfit { person, .. } => format!("{person} found unfit to fly"),
            Disruption::PersonDied { person, .. } => format!("{person} died in custody before transfer"),
            Disruption::DeviceDataLoss { device, .. } => format!("field device {device} lost its unsynced data after syncing half"),
            Disruption::DeviceReplay { device, .. } => format!("stale copy of field device {device} replayed an old head"),
        }
    }
    /// Parse untrusted JSON (one object or an array).
    pub fn parse_list(text: &str) -> Result<Vec<Disruption>, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let list = match v {
            serde_json::Value::Array(a) => a,
            o => vec![o],
        };
        let mut out = Vec::new();
        for (i, d) in list.into_iter().enumerate() {
            let d: Disruption = serde_json::from_value(d).map_err(|e| format!("disruption {i}: {e}"))?;
            d.check().map_err(|e| format!("disruption {i}: {e}"))?;
            out.push(d);
        }
        Ok(out)
    }
    /// Range checks on numbers (ids are checked when applied).
    pub fn check(&self) -> Result<(), String> {
        if self.day() > 400 {
            return Err(format!("day {} is beyond the 400-day horizon", self.day()));
        }
        match self {
            Disruption::AircraftUnserviceable { days, .. } if !(days.is_finite() && *days > 0.0 && *days <= 400.0) => {
                Err(format!("days must be within (0, 400], got {days}"))
            }
            Disruption::ThreatJump { rate, deadline_hours, .. }
                if !(rate.is_finite() && *rate >= 0.0 && *rate <= 1e6 && deadline_hours.is_finite() && *deadline_hours >= 0.0 && *deadline_hours <= 9600.0) =>
            {
                Err("rate must be within 0..=1e6 and deadline_hours within 0..=9600".into())
            }
            _ => Ok(()),
        }
    }
}

/// The seeded schedule of disruptions for a run whose initial plan lasts
/// `makespan_days`. Names (tails, devices, people, sites) are picked by the
/// engine from the live state when the disruption fires if the given name is
/// `"auto"`.
pub fn seeded(seed: u64, makespan_days: f64, jump_day: Option<usize>) -> Vec<Disruption> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xD152u64);
    let m = makespan_days.max(4.0);
    let at = |f: f64, rng: &mut ChaCha8Rng| -> u32 { ((m * f) + rng.gen_range(0.0..1.0)).floor().max(1.0) as u32 };
    let jump = jump_day.map(|d| d as u32).filter(|&d| d >= 1 && (d as f64) < m - 1.0).unwrap_or_else(|| at(0.35, &mut rng));
    let auto = || "auto".to_string();
    let mut v = vec![
        Disruption::AircraftUnserviceable { day: 1, tail: auto(), days: rng.gen_range(2.0..4.0f64).round() },
        Disruption::PersonUnfit { day: 2, person: auto() },
        Disruption::PersonDied { day: at(0.2, &mut rng), person: auto() },
        Disruption::WeatherClosure { day: at(0.3, &mut rng) },
        Disruption::ThreatJump { day: jump, site: auto(), rate: 0.0, deadline_hours: 48.0 },
        Disruption::DeviceDataLoss { day: at(0.45, &mut rng), device: auto() },
        Disruption::DeviceReplay { day: at(0.6, &mut rng), device: auto() },
    ];
    v.sort_by_key(|d| d.day());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_bad_input() {
        assert!(Disruption::parse_list("{").is_err());
        assert!(Disruption::parse_list(r#"{"kind":"nope","day":1}"#).is_err());
        assert!(Disruption::parse_list(r#"{"kind":"weather_closure","day":1,"x":2}"#).is_err());
        assert!(Disruption::parse_list(r#"{"kind":"aircraft_unserviceable","day":1,"tail":"A","days":-1}"#).is_err());
        let ok = Disruption::parse_list(r#"[{"kind":"weather_closure","day":3},{"kind":"person_unfit","day":1,"person":"P-000001"}]"#).unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0], Disruption::WeatherClosure { day: 3 });
    }

    #[test]
    fn seeded_schedule_is_deterministic_and_complete() {
        let a = seeded(5, 20.0, Some(6));
        assert_eq!(a, seeded(5, 20.0, Some(6)));
        let kinds: std::collections::BTreeSet<_> = a.iter().map(|d| d.kind()).collect();
        assert_eq!(kinds.len(), 7);
        assert!(a.windows(2).all(|w| w[0].day() <= w[1].day()));
    }
}
