//! What the backtest examples share: the real GED Syria extract and the
//! flagship's origin sites.

// Each example uses only part of this module.
#![allow(dead_code)]

use std::path::PathBuf;

use sallyport_core::Site;
use chrono::NaiveDate;
use sallyport_threat::event::day_number;
use sallyport_threat::{BacktestConfig, Event, ThreatModel, parse_bytes};

/// The events of `../shared/data/conflict/ucdp-ged-syria-v19.1-2016-2019.csv`
/// (or under `$SALLYPORT_SHARED`) and the origin sites of the flagship scenario.
pub fn ged_and_origins() -> (Vec<Event>, Vec<Site>) {
    let shared = std::env::var_os("SALLYPORT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let bytes = std::fs::read(shared.join("data/conflict/ucdp-ged-syria-v19.1-2016-2019.csv")).expect("GED extract");
    let events = parse_bytes("ged", &bytes).events;
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/northeast-syria-2026.toml");
    let sc: sallyport_core::Scenario = toml::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    (events, sc.sites.into_iter().filter(|s| s.kind.is_origin()).collect())
}

/// The backtest's default periods (all, tuning, held out) over the span of `events`.
pub fn default_periods(events: &[Event], cfg: &BacktestConfig) -> Vec<(String, NaiveDate, NaiveDate)> {
    let first = events.iter().map(|e| e.date_start).min().expect("events");
    let last = events.iter().map(|e| e.date_end).max().expect("events");
    sallyport_threat::backtest::default_periods(first, last, cfg).expect("periods")
}

/// One event near a site, as the exploration examples score it.
pub struct Ev {
    /// Distance from the site, km.
    pub dist: f64,
    /// Day number from which the event is known (its end date).
    pub known: i64,
    /// Day number of its start.
    pub start: i64,
    pub deaths: f64,
    /// Located to district level or better.
    pub precise: bool,
}

/// The locatable events within `radius_km` of `site`.
pub fn nearby(m: &ThreatModel, site: &Site, radius_km: f64) -> Vec<Ev> {
    m.within(site.position.lat(), site.position.lon(), radius_km)
        .into_iter()
        .map(|i| &m.events()[i as usize])
        .filter(|e| e.locatable())
        .map(|e| Ev {
            dist: sallyport_core::LatLon::new(e.lat, e.lon).map(|q| site.position.distance_km(&q)).unwrap(),
            known: e.known_day(),
            start: day_number(e.date_start),
            deaths: e.fatalities as f64,
            precise: e.precisely_located(),
        })
        .collect()
}

/// Per day from `lo` (n days), the sum of `f` over the events known that day.
pub fn daily(evs: &[Ev], lo: i64, n: usize, f: &dyn Fn(&Ev) -> f64) -> Vec<f64> {
    let mut v = vec![0.0; n];
    for e in evs {
        if e.known >= lo && e.known - lo < n as i64 {
            v[(e.known - lo) as usize] += f(e);
        }
    }
    v
}
