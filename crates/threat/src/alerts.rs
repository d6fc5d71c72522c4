//! Alerts: levels from the rate, escalation on a rising trend, and hysteresis
//! so that a rate hovering at a threshold does not flap.

use chrono::NaiveDate;
use sallyport_core::{Site, SiteId};
use serde::{Deserialize, Serialize};

use crate::model::{Contribution, Direction, SiteSeries, ThreatModel};

/// Threat level, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Low,
    Elevated,
    High,
    Critical,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Low, Level::Elevated, Level::High, Level::Critical];
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Elevated => "elevated",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
    pub fn parse(s: &str) -> Option<Level> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
    fn up(self) -> Level {
        match self {
            Level::Low => Level::Elevated,
            Level::Elevated => Level::High,
            _ => Level::Critical,
        }
    }
}

/// Configurable alert rules (serde: load from TOML/JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertRules {
    /// Rate at or above which a site is `elevated`, `high`, `critical`.
    pub elevated: f64,
    pub high: f64,
    pub critical: f64,
    /// A level is left only when the rate falls below `hysteresis × its threshold` …
    pub hysteresis: f64,
    /// … and after at least this many days at that level.
    pub min_days: u32,
    /// A rising trend (fast/slow ratio ≥ this) raises an `elevated`-or-above level by one.
    pub rising_ratio: f64,
}

impl Default for AlertRules {
    fn default() -> Self {
        AlertRules { elevated: 2.0, high: 4.0, critical: 10.0, hysteresis: 0.7, min_days: 5, rising_ratio: 1.8 }
    }
}

impl AlertRules {
    pub fn threshold(&self, l: Level) -> f64 {
        match l {
            Level::Low => 0.0,
            Level::Elevated => self.elevated,
            Level::High => self.high,
            Level::Critical => self.critical,
        }
    }

    /// Level of a rate alone.
    pub fn level_of(&self, rate: f64) -> Level {
        Level::ALL.into_iter().rev().find(|l| rate >= self.threshold(*l)).unwrap_or(Level::Low)
    }

    pub fn validate(&self) -> Result<(), String> {
        let ok = self.elevated.is_finite()
            && 1.0 <= self.elevated
            && self.elevated < self.high
            && self.high < self.critical
            && self.critical.is_finite();
        if !ok {
            return Err("thresholds must satisfy 1 <= elevated < high < critical".into());
        }
        if !(self.hysteresis > 0.0 && self.hysteresis <= 1.0) {
            return Err("hysteresis must be within (0, 1]".into());
        }
        if !(self.rising_ratio.is_finite() && self.rising_ratio > 1.0) {
            return Err("rising_ratio must be > 1".into());
        }
        Ok(())
    }
}

/// Whether an alert raises or lowers the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Raised,
    Lowered,
}

/// A change of a site's level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub site: SiteId,
    pub site_name: String,
    pub day: NaiveDate,
    pub change: Change,
    pub level: Level,
    pub previous: Level,
    pub rate: f64,
    /// Human-readable cause: threshold crossed, trend, advance.
    pub cause: String,
    /// The events that contributed most on that day.
    pub contributors: Vec<Contribution>,
}

/// The level in force on each day of a series (with hysteresis), and the changes.
/// Contributors are left empty; [`alerts`] fills them in.
pub fn levels(series: &SiteSeries, rules: &AlertRules) -> (Vec<Level>, Vec<Alert>) {
    let mut cur = Level::Low;
    let mut since = 0usize;
    let mut out = Vec::with_capacity(series.days.len());
    let mut changes = Vec::new();
    for (i, d) in series.days.iter().enumerate() {
        let raw = rules.level_of(d.rate);
        let rising = d.trend.direction == Direction::Rising && d.trend.ratio >= rules.rising_ratio;
        let target = if rising && raw >= Level::Elevated { raw.up() } else { raw };
        let next = if target > cur {
            target
        } else if target < cur && i - since >= rules.min_days as usize {
            // Leave the current level only once the rate is clearly below it.
            let mut l = cur;
            while l > Level::Low && d.rate < rules.threshold(l) * rules.hysteresis && l > target {
                l = match l {
                    Level::Critical => Level::High,
                    Level::High => Level::Elevated,
                    _ => Level::Low,
                };
            }
            l
        } else {
            cur
        };
        if next != cur {
            let change = if next > cur { Change::Raised } else { Change::Lowered };
            let mut cause = match change {
                Change::Raised if rising && raw < next => format!(
                    "rate {:.2} ({} threshold {:.1}) with a rising trend (7-day vs 30-day intensity ×{:.1})",
                    d.rate,
                    raw.as_str(),
                    rules.threshold(raw),
                    d.trend.ratio
                ),
                Change::Raised => {
                    format!("rate {:.2} reached the {} threshold {:.1}", d.rate, next.as_str(), rules.threshold(next))
                }
                Change::Lowered => format!(
                    "rate {:.2} stayed below {:.0}% of the {} threshold {:.1} (after {} days at that level)",
                    d.rate,
                    rules.hysteresis * 100.0,
                    cur.as_str(),
                    rules.threshold(cur),
                    i - since
                ),
            };
            if let Some(a) = d.advance.filter(|a| a.eta_days.is_some()) {
                cause.push_str(&format!(
                    "; fighting {:.0} km away at bearing {:.0}°, approaching {:.1} km/day (ETA {:.0} days)",
                    a.distance_km,
                    a.bearing_deg,
                    a.approach_km_per_day,
                    a.eta_days.unwrap_or(f64::NAN)
                ));
            }
            changes.push(Alert {
                site: series.site.clone(),
                site_name: series.site_name.clone(),
                day: d.day,
                change,
                level: next,
                previous: cur,
                rate: d.rate,
                cause,
                contributors: Vec::new(),
            });
            cur = next;
            since = i;
        }
        out.push(cur);
    }
    (out, changes)
}

/// Days of history replayed before `from` so that the level in force on
/// `from` is known (hysteresis has memory): without it, a window starting in
/// the middle of a battle would report a spurious "low → critical" on its first day.
pub const ALERT_WARMUP_DAYS: i64 = 180;

/// Every level change of every site over `from..=to`, with the top `n` contributing events.
/// The levels are replayed from [`ALERT_WARMUP_DAYS`] before `from`; only changes on or
/// after `from` are returned.
pub fn alerts(
    model: &ThreatModel,
    sites: &[Site],
    from: NaiveDate,
    to: NaiveDate,
    rules: &AlertRules,
    n: usize,
) -> Vec<Alert> {
    let mut all = Vec::new();
    for s in sites {
        let series = model.series(s, from - chrono::Duration::days(ALERT_WARMUP_DAYS), to);
        let (_, changes) = levels(&series, rules);
        let mut changes: Vec<Alert> = changes.into_iter().filter(|a| a.day >= from).collect();
        for a in &mut changes {
            a.contributors = model.contributors(s, a.day, n);
        }
        all.extend(changes);
    }
    all.sort_by(|a, b| (a.day, &a.site).cmp(&(b.day, &b.site)));
    all
}
