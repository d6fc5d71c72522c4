//! WGS84 positions.

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Mean Earth radius used for great-circle distances, km.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// A WGS84 latitude/longitude in decimal degrees, valid by construction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawLatLon")]
pub struct LatLon {
    lat: f64,
    lon: f64,
}

#[derive(Deserialize)]
struct RawLatLon {
    lat: f64,
    lon: f64,
}

impl TryFrom<RawLatLon> for LatLon {
    type Error = DomainError;
    fn try_from(r: RawLatLon) -> Result<Self, DomainError> {
        LatLon::new(r.lat, r.lon)
    }
}

impl LatLon {
    pub fn new(lat: f64, lon: f64) -> Result<Self, DomainError> {
        if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
            return Err(DomainError::new("lat", format!("latitude must be within -90..=90 degrees, got {lat}")));
        }
        if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
            return Err(DomainError::new("lon", format!("longitude must be within -180..=180 degrees, got {lon}")));
        }
        Ok(LatLon { lat, lon })
    }
    pub fn lat(&self) -> f64 {
        self.lat
    }
    pub fn lon(&self) -> f64 {
        self.lon
    }

    /// Great-circle (haversine) distance in km.
    pub fn distance_km(&self, other: &LatLon) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_out_of_range() {
        assert!(LatLon::new(91.0, 0.0).is_err());
        assert!(LatLon::new(0.0, -180.5).is_err());
        assert!(LatLon::new(f64::NAN, 0.0).is_err());
        let e: Result<LatLon, _> = serde_json::from_str(r#"{"lat": 36.5, "lon": 200}"#);
        assert!(e.unwrap_err().to_string().contains("longitude"));
    }

    #[test]
    fn hasakah_to_baghdad_airport_is_about_600_km() {
        let hasakah = LatLon::new(36.5024, 40.7477).unwrap();
        let bgw = LatLon::new(33.2625, 44.2346).unwrap();
        let d = hasakah.distance_km(&bgw);
        assert!((470.0..500.0).contains(&d), "{d}");
        assert_eq!(hasakah.distance_km(&hasakah), 0.0);
    }
}
