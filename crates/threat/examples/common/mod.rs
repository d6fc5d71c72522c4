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

/// The exploration examples' days, as day numbers: feature rows from `lo`
/// (2016-01-01), scored days `d0 ..= d1` (2016-03-01 ..= 2019-11-01, the
/// backtest's), the tuning period before `split` (the backtest's split day).
pub struct Span {
    pub lo: i64,
    pub d0: i64,
    pub d1: i64,
    pub split: i64,
}

pub fn span() -> Span {
    let d = |y, mo, da| day_number(NaiveDate::from_ymd_opt(y, mo, da).expect("a real date"));
    Span { lo: d(2016, 1, 1), d0: d(2016, 3, 1), d1: d(2019, 11, 1), split: day_number(sallyport_threat::backtest::split_day()) }
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


/// The exponentially decayed mean of `v` (time constant `tau` days), causal.
pub fn expo(v: &[f64], tau: f64) -> Vec<f64> {
    let g = (-1.0 / tau).exp();
    let mut acc = 0.0;
    v.iter()
        .map(|x| {
            acc = acc * g + x;
            acc / tau
        })
        .collect()
}

/// The trailing sum of `v` over the last `w` entries (this one included).
pub fn trailing(v: &[f64], w: usize) -> Vec<f64> {
    let mut out = vec![0.0; v.len()];
    let mut acc = 0.0;
    for i in 0..v.len() {
        acc += v[i];
        if i >= w {
            acc -= v[i - w];
        }
        out[i] = acc;
    }
    out
}

/// `w · x[..][r]` plus the intercept `w[k]` (the layout [`fit`] returns).
pub fn dot(w: &[f64], x: &[Vec<f64>], r: usize) -> f64 {
    let k = x.len();
    w[k] + (0..k).map(|j| w[j] * x[j][r]).sum::<f64>()
}

/// An online regression's score of row `r`: before any fit (`w` is `None`) the
/// first feature alone (the prior); with `norm`, relative weights only (the
/// first feature's coefficient is 1 and the intercept is dropped, so refits do
/// not shift the scale); else the fitted linear score.
pub fn online_score(w: Option<&[f64]>, x: &[Vec<f64>], r: usize, norm: bool) -> f64 {
    match w {
        None => x[0][r],
        Some(w) if norm => x[0][r] + (1..x.len()).map(|j| w[j] / w[0].max(1e-6) * x[j][r]).sum::<f64>(),
        Some(w) => dot(w, x, r),
    }
}

/// L2-penalised logistic regression (penalty λ·|w|² on the slopes, mean loss),
/// features standardised on the training rows, by Newton's method.
pub fn fit(x: &[Vec<f64>], train: &[(usize, bool)], lambda: f64) -> Vec<f64> {
    let k = x.len();
    let nt = train.len() as f64;
    let mean: Vec<f64> = (0..k)
        .map(|j| train.iter().map(|&(r, _)| x[j][r]).sum::<f64>() / nt)
        .collect();
    let sd: Vec<f64> = (0..k)
        .map(|j| {
            (train
                .iter()
                .map(|&(r, _)| (x[j][r] - mean[j]).powi(2))
                .sum::<f64>()
                / nt)
                .sqrt()
                .max(1e-6)
        })
        .collect();
    let z = |j: usize, r: usize| (x[j][r] - mean[j]) / sd[j];
    let mut w = vec![0.0; k + 1];
    let lam = lambda / nt.max(1.0) * 100.0;
    for _ in 0..30 {
        let mut g = vec![0.0; k + 1];
        let mut h = vec![vec![0.0; k + 1]; k + 1];
        for &(r, y) in train {
            let mut f: Vec<f64> = (0..k).map(|j| z(j, r)).collect();
            f.push(1.0);
            let s: f64 = (0..=k).map(|j| w[j] * f[j]).sum();
            let p = 1.0 / (1.0 + (-s).exp());
            let e = p - y as u8 as f64;
            let q = (p * (1.0 - p)).max(1e-9);
            for a in 0..=k {
                g[a] += e * f[a] / nt;
                for b in 0..=k {
                    h[a][b] += q * f[a] * f[b] / nt;
                }
            }
        }
        for a in 0..k {
            g[a] += lam * w[a];
            h[a][a] += lam;
        }
        let step = solve(h, g);
        let mut mx: f64 = 0.0;
        for a in 0..=k {
            w[a] -= step[a];
            mx = mx.max(step[a].abs());
        }
        if mx < 1e-8 {
            break;
        }
    }
    // Back to the unstandardised features.
    let mut out = vec![0.0; k + 1];
    out[k] = w[k];
    for j in 0..k {
        out[j] = w[j] / sd[j];
        out[k] -= w[j] * mean[j] / sd[j];
    }
    out
}

fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap();
        a.swap(c, p);
        b.swap(c, p);
        let d = if a[c][c].abs() < 1e-12 {
            1e-12
        } else {
            a[c][c]
        };
        let pivot = a[c].clone();
        for r in 0..n {
            if r != c {
                let f = a[r][c] / d;
                for (x, y) in a[r][c..].iter_mut().zip(&pivot[c..]) {
                    *x -= f * y;
                }
                b[r] -= f * b[c];
            }
        }
    }
    (0..n)
        .map(|i| {
            b[i] / if a[i][i].abs() < 1e-12 {
                1e-12
            } else {
                a[i][i]
            }
        })
        .collect()
}
