//! Conflict events as the threat model sees them, whatever their source.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The dataset an event comes from. With the source's own event id it is the
/// idempotency key of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// UCDP Georeferenced Event Dataset (any version's CSV).
    UcdpGed,
    /// ACLED CSV export.
    Acled,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::UcdpGed => "ucdp_ged",
            Source::Acled => "acled",
        }
    }
    pub fn parse(s: &str) -> Option<Source> {
        match s {
            "ucdp_ged" => Some(Source::UcdpGed),
            "acled" => Some(Source::Acled),
            _ => None,
        }
    }
}

/// Event type, in the source's own vocabulary (GED `type_of_violence`, ACLED `event_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// GED type 1: state-based armed conflict.
    StateBased,
    /// GED type 2: non-state conflict.
    NonState,
    /// GED type 3: one-sided violence against civilians.
    OneSided,
    /// ACLED "Battles".
    Battles,
    /// ACLED "Explosions/Remote violence".
    ExplosionsRemoteViolence,
    /// ACLED "Violence against civilians".
    ViolenceAgainstCivilians,
    /// ACLED "Riots".
    Riots,
    /// ACLED "Protests".
    Protests,
    /// ACLED "Strategic developments".
    StrategicDevelopments,
}

impl EventKind {
    pub const ALL: [EventKind; 9] = [
        Self::StateBased,
        Self::NonState,
        Self::OneSided,
        Self::Battles,
        Self::ExplosionsRemoteViolence,
        Self::ViolenceAgainstCivilians,
        Self::Riots,
        Self::Protests,
        Self::StrategicDevelopments,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StateBased => "state_based",
            Self::NonState => "non_state",
            Self::OneSided => "one_sided",
            Self::Battles => "battles",
            Self::ExplosionsRemoteViolence => "explosions_remote_violence",
            Self::ViolenceAgainstCivilians => "violence_against_civilians",
            Self::Riots => "riots",
            Self::Protests => "protests",
            Self::StrategicDevelopments => "strategic_developments",
        }
    }
    pub fn parse(s: &str) -> Option<EventKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// GED `type_of_violence` 1–3.
    pub fn from_ged(code: u8) -> Option<EventKind> {
        match code {
            1 => Some(Self::StateBased),
            2 => Some(Self::NonState),
            3 => Some(Self::OneSided),
            _ => None,
        }
    }
    /// ACLED `event_type`, exactly as ACLED spells it (case-insensitive).
    pub fn from_acled(s: &str) -> Option<EventKind> {
        let s = s.trim().to_ascii_lowercase();
        Some(match s.as_str() {
            "battles" => Self::Battles,
            "explosions/remote violence" | "remote violence" => Self::ExplosionsRemoteViolence,
            "violence against civilians" => Self::ViolenceAgainstCivilians,
            "riots" | "riots/protests" => Self::Riots,
            "protests" => Self::Protests,
            "strategic developments" => Self::StrategicDevelopments,
            _ => return None,
        })
    }
}

/// One validated conflict event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub source: Source,
    /// The source's event id (GED `id`, ACLED `event_id_cnty`).
    pub event_id: String,
    pub kind: EventKind,
    pub date_start: NaiveDate,
    /// Last day of the event; the model treats an event as *known* from this day
    /// on (never earlier: no look-ahead). ACLED events have start = end.
    pub date_end: NaiveDate,
    /// Source date-precision code (GED `date_prec` 1–5, ACLED `time_precision` 1–3).
    pub date_prec: u8,
    /// Source geo-precision code (GED `where_prec` 1–7, ACLED `geo_precision` 1–3).
    pub geo_prec: u8,
    pub lat: f64,
    pub lon: f64,
    /// Best estimate of deaths (GED `best`, ACLED `fatalities`).
    pub fatalities: u32,
    /// Place name as reported (GED `where_coordinates`, ACLED `location`).
    pub location: String,
    /// First-order administrative division (GED `adm_1`, ACLED `admin1`).
    pub admin1: String,
}

impl Event {
    /// Radius (km) over which the reported point should be spread, from the
    /// source's geo-precision code: a province-level event is not a point.
    ///
    /// GED `where_prec`: 1 exact place, 2 within ~25 km, 3 second-order admin
    /// unit (district), 4 first-order unit (governorate), 5 between places /
    /// along a linear feature, 6 country, 7 international waters or airspace.
    /// ACLED `geo_precision`: 1 the town itself, 2 near a town / part of a
    /// region, 3 only a larger region (admin unit) is known.
    pub fn uncertainty_km(&self) -> f64 {
        uncertainty_km(self.source, self.geo_prec)
    }

    /// Whether the place is known to about district level or better, so that
    /// the event may count as "near" a site in the backtest's ground truth.
    pub fn precisely_located(&self) -> bool {
        match self.source {
            Source::UcdpGed => self.geo_prec <= 3,
            Source::Acled => self.geo_prec <= 2,
        }
    }

    /// Whether the place is known at all below country level. GED `where_prec`
    /// 6 (only the country is known; the point is the country's centroid) and
    /// 7 (international waters or airspace) say nothing about which facility
    /// is near: such events are left out of site scores rather than piled on
    /// the centroid or smeared across borders.
    pub fn locatable(&self) -> bool {
        match self.source {
            Source::UcdpGed => self.geo_prec <= 5,
            Source::Acled => true,
        }
    }

    /// Days since 1970-01-01 of [`Event::date_end`].
    pub fn known_day(&self) -> i64 {
        day_number(self.date_end)
    }
}

/// See [`Event::uncertainty_km`].
pub fn uncertainty_km(source: Source, geo_prec: u8) -> f64 {
    match (source, geo_prec) {
        (Source::UcdpGed, 1) => 2.0,
        (Source::UcdpGed, 2) => 25.0,
        (Source::UcdpGed, 3) => 40.0,
        (Source::UcdpGed, 4) => 100.0,
        (Source::UcdpGed, 5) => 50.0,
        (Source::UcdpGed, _) => 300.0,
        (Source::Acled, 1) => 3.0,
        (Source::Acled, 2) => 25.0,
        (Source::Acled, _) => 75.0,
    }
}

/// Days since 1970-01-01.
pub fn day_number(d: NaiveDate) -> i64 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days()
}

/// Inverse of [`day_number`].
pub fn day_date(n: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Duration::days(n)
}
