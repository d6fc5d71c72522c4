//! Backtest: replay history day by day (no look-ahead) and measure how well
//! the score foretold serious violence near each site.
//!
//! **Serious violence near a site** in the 30 days after day `d`: at least
//! `min_deaths` (default 10) deaths (GED `best` / ACLED `fatalities`) in events
//! located to district level or better (GED `where_prec` ≤ 3, ACLED
//! `geo_precision` ≤ 2) whose reported point is within `radius_km` (default
//! 50 km) of the site and whose start date is in `(d, d + 30]`.
//!
//! Scores on day `d` use only events whose end date is ≤ `d`.
//!
//! Baseline: the count of events (any precision) within 50 km whose end date
//! is in `(d − 30, d]`.

use chrono::NaiveDate;
use sallyport_core::Site;
use serde::{Deserialize, Serialize};

use crate::alerts::{AlertRules, Level, levels};
use crate::event::{day_number, Event};
use crate::model::ThreatModel;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestConfig {
    pub horizon_days: u32,
    pub radius_km: f64,
    pub min_deaths: u32,
    pub baseline_radius_km: f64,
    pub baseline_window_days: u32,
    /// An alert is "on" at this level or above.
    pub alert_level: Level,
    /// Days of history before each period's first scored day (recursions warm up).
    pub warmup_days: u32,
}

impl Default for BacktestConfig {
    fn default() -> Self {
        BacktestConfig {
            horizon_days: 30,
            radius_km: 50.0,
            min_deaths: 10,
            baseline_radius_km: 50.0,
            baseline_window_days: 30,
            alert_level: Level::High,
            warmup_days: 60,
        }
    }
}

/// Scores of one method over one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// ROC AUC of the daily score against the 30-day outcome (ties count half).
    pub auc: f64,
    /// Site-days with an alert on.
    pub alert_days: u64,
    /// Share of alerted site-days followed by serious violence.
    pub precision_at_alert: f64,
    /// Share of positive site-days that had an alert on.
    pub recall_at_alert: f64,
    /// Onsets of serious violence (see [`PeriodResult::episodes`]) preceded by an alert.
    pub episodes_alerted: u64,
    /// Median days between the alert being raised and the onset, over alerted onsets.
    pub median_lead_days: Option<f64>,
    /// Onsets with the alert on for at least the 7 days before (a week's warning).
    pub episodes_alerted_7d: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodResult {
    pub label: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub site_days: u64,
    /// Site-days followed by serious violence.
    pub positives: u64,
    /// Onsets: a day with qualifying deaths that starts a 30-day span with at
    /// least `min_deaths`, with no onset at that site in the 30 days before.
    pub episodes: u64,
    pub model: Metrics,
    pub baseline: Metrics,
    /// Baseline alert threshold (events in 30 days), set so that the baseline
    /// alerts on as many site-days as the model (a like-for-like precision).
    pub baseline_threshold: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestReport {
    pub definition: String,
    pub sites: Vec<String>,
    pub config: BacktestConfig,
    pub params: crate::ModelParams,
    pub rules: AlertRules,
    pub periods: Vec<PeriodResult>,
}

struct SiteDays {
    score: Vec<f64>,
    alert: Vec<bool>,
    base: Vec<f64>,
    label: Vec<bool>,
    onset: Vec<bool>,
}

fn site_days(
    model: &ThreatModel,
    site: &Site,
    from: NaiveDate,
    to: NaiveDate,
    cfg: &BacktestConfig,
    rules: &AlertRules,
) -> SiteDays {
    let warm = from - chrono::Duration::days(cfg.warmup_days as i64);
    let series = model.series(site, warm, to);
    let (lv, _) = levels(&series, rules);
    let skip = cfg.warmup_days as usize;
    let score: Vec<f64> = series.days[skip..].iter().map(|d| d.rate).collect();
    let alert: Vec<bool> = lv[skip..].iter().map(|l| *l >= cfg.alert_level).collect();
    let (d0, d1) = (day_number(from), day_number(to));
    let n = (d1 - d0 + 1) as usize;
    let h = cfg.horizon_days as i64;
    let events = model.events();
    let dist = |e: &Event| {
        sallyport_core::LatLon::new(e.lat, e.lon).map_or(f64::INFINITY, |p| site.position.distance_km(&p))
    };
    // Daily deaths near the site by start day, over [d0 - 30, d1 + h].
    let lo = d0 - 30;
    let mut deaths = vec![0u64; (d1 + h - lo + 1) as usize];
    for i in model.within(site.position.lat(), site.position.lon(), cfg.radius_km) {
        let e = &events[i as usize];
        let t = day_number(e.date_start);
        if e.precisely_located() && t >= lo && t <= d1 + h && dist(e) <= cfg.radius_km {
            deaths[(t - lo) as usize] += e.fatalities as u64;
        }
    }
    // Baseline: events by end day within the baseline radius.
    let wb = cfg.baseline_window_days as i64;
    let blo = d0 - wb;
    let mut counts = vec![0u64; (d1 - blo + 1) as usize];
    for i in model.within(site.position.lat(), site.position.lon(), cfg.baseline_radius_km) {
        let t = events[i as usize].known_day();
        if t >= blo && t <= d1 {
            counts[(t - blo) as usize] += 1;
        }
    }
    let mut base = Vec::with_capacity(n);
    let mut label = Vec::with_capacity(n);
    let mut onset = Vec::with_capacity(n);
    let mut last_onset: Option<i64> = None;
    // Onsets before d0 matter for the "none in the 30 days before" rule.
    for t in lo..=d1 {
        let i = (t - lo) as usize;
        let ahead: u64 = deaths[i..(i + h as usize).min(deaths.len())].iter().sum();
        let is_onset = deaths[i] > 0 && ahead >= cfg.min_deaths as u64 && last_onset.is_none_or(|l| t - l > 30);
        if is_onset {
            last_onset = Some(t);
        }
        if t >= d0 {
            // Label: deaths with start in (t, t + h].
            let next: u64 = deaths[i + 1..=(i + h as usize).min(deaths.len() - 1)].iter().sum();
            label.push(next >= cfg.min_deaths as u64);
            onset.push(is_onset);
            let j = (t - blo) as usize;
            base.push(counts[j + 1 - wb as usize..=j].iter().sum::<u64>() as f64);
        }
    }
    SiteDays { score, alert, base, label, onset }
}

/// ROC AUC by ranks (Mann–Whitney), ties counted half. NaN if one class is empty.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut npos) = (0.0, 0u64);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if labels[k] {
                rank_sum += avg;
                npos += 1;
            }
        }
        i = j + 1;
    }
    let nneg = scores.len() as u64 - npos;
    if npos == 0 || nneg == 0 {
        return f64::NAN;
    }
    (rank_sum - (npos * (npos + 1)) as f64 / 2.0) / (npos as f64 * nneg as f64)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 })
}

fn metrics(per_site: &[(Vec<f64>, Vec<bool>)], sd: &[SiteDays]) -> Metrics {
    let scores: Vec<f64> = per_site.iter().flat_map(|s| s.0.iter().copied()).collect();
    let labels: Vec<bool> = sd.iter().flat_map(|s| s.label.iter().copied()).collect();
    let auc = roc_auc(&scores, &labels);
    let (mut alert_days, mut tp, mut pos) = (0u64, 0u64, 0u64);
    let mut leads = Vec::new();
    let (mut alerted, mut alerted_7d) = (0, 0);
    for ((_, alert), s) in per_site.iter().zip(sd) {
        let mut run_start: Option<usize> = None;
        for t in 0..alert.len() {
            if alert[t] {
                alert_days += 1;
                tp += s.label[t] as u64;
            }
            pos += s.label[t] as u64;
            // The alert in force on the day before the onset (no look-ahead).
            if s.onset[t]
                && t > 0
                && alert[t - 1]
                && let Some(r) = run_start
            {
                alerted += 1;
                alerted_7d += (t - r >= 7) as u64;
                leads.push((t - r) as f64);
            }
            run_start = if alert[t] { run_start.or(Some(t)) } else { None };
        }
    }
    let tp_alert: u64 = tp;
    Metrics {
        auc,
        alert_days,
        precision_at_alert: if alert_days > 0 { tp_alert as f64 / alert_days as f64 } else { f64::NAN },
        recall_at_alert: if pos > 0 { tp_alert as f64 / pos as f64 } else { f64::NAN },
        episodes_alerted: alerted,
        median_lead_days: median(leads),
        episodes_alerted_7d: alerted_7d,
    }
}

/// First day of the held-out period. Parameters and alert rules were chosen
/// on days before it only (see `examples/tune.rs`); the days from it on are
/// the honest test.
pub fn split_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2018, 1, 1).expect("valid date")
}

/// The standard periods for event data spanning `first ..= last`: "all"
/// (after `warmup_days` of history, up to `horizon_days` before the end so
/// every label is complete), and, when the data straddles [`split_day`],
/// "tuning" (before it) and "held-out" (from it on).
pub fn default_periods(
    first: NaiveDate,
    last: NaiveDate,
    cfg: &BacktestConfig,
) -> Result<Vec<(String, NaiveDate, NaiveDate)>, String> {
    let start = first + chrono::Duration::days(cfg.warmup_days as i64);
    let end = last - chrono::Duration::days(cfg.horizon_days as i64);
    if start >= end {
        return Err(format!(
            "not enough history for a backtest: events span {first} ..= {last}, but {} days of warm-up and {} days \
             of horizon are needed",
            cfg.warmup_days, cfg.horizon_days
        ));
    }
    let split = split_day();
    let mut periods = vec![("all".to_string(), start, end)];
    if start < split && split < end {
        periods.push((format!("tuning (before {split})"), start, split - chrono::Duration::days(1)));
        periods.push((format!("held-out (from {split})"), split, end));
    }
    Ok(periods)
}

/// Run the backtest over the given sites and periods (label, first day, last day).
pub fn backtest(
    model: &ThreatModel,
    sites: &[Site],
    periods: &[(String, NaiveDate, NaiveDate)],
    cfg: &BacktestConfig,
    rules: &AlertRules,
) -> BacktestReport {
    let mut out = Vec::new();
    for (label, from, to) in periods {
        let sd: Vec<SiteDays> = sites.iter().map(|s| site_days(model, s, *from, *to, cfg, rules)).collect();
        let ours: Vec<(Vec<f64>, Vec<bool>)> = sd.iter().map(|s| (s.score.clone(), s.alert.clone())).collect();
        let m = metrics(&ours, &sd);
        // Baseline threshold matching the model's number of alert days.
        let mut all_base: Vec<f64> = sd.iter().flat_map(|s| s.base.iter().copied()).collect();
        all_base.sort_by(|a, b| b.total_cmp(a));
        let k = (m.alert_days as usize).min(all_base.len());
        let thr = if k == 0 { f64::INFINITY } else { all_base[k - 1].max(1.0) };
        let base: Vec<(Vec<f64>, Vec<bool>)> =
            sd.iter().map(|s| (s.base.clone(), s.base.iter().map(|b| *b >= thr).collect())).collect();
        let b = metrics(&base, &sd);
        out.push(PeriodResult {
            label: label.clone(),
            from: *from,
            to: *to,
            site_days: sd.iter().map(|s| s.label.len() as u64).sum(),
            positives: sd.iter().map(|s| s.label.iter().filter(|x| **x).count() as u64).sum(),
            episodes: sd.iter().map(|s| s.onset.iter().filter(|x| **x).count() as u64).sum(),
            model: m,
            baseline: b,
            baseline_threshold: thr,
        });
    }
    BacktestReport {
        definition: format!(
            "serious violence near a site after day d: >= {} deaths (GED best / ACLED fatalities) in events located to \
             district level or better (GED where_prec <= 3, ACLED geo_precision <= 2) within {} km of the site, with \
             start date in (d, d+{}]; scores on day d use only events with end date <= d; baseline = events within {} km \
             in the last {} days; alert = level >= {}",
            cfg.min_deaths,
            cfg.radius_km,
            cfg.horizon_days,
            cfg.baseline_radius_km,
            cfg.baseline_window_days,
            cfg.alert_level.as_str()
        ),
        sites: sites.iter().map(|s| s.id.to_string()).collect(),
        config: cfg.clone(),
        params: model.params().clone(),
        rules: rules.clone(),
        periods: out,
    }
}
