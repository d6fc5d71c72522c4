//! Issue 8 exploration: the online logistic regression of `online.rs`, but
//! learnt from *all of Syria* rather than from the seven sites alone. Every
//! point of a grid over the country (and every site) is a "site" whose
//! site-days are training rows: the same features, the same target (≥ 10
//! deaths in precisely located events within 50 km, starting in (t, t+30]),
//! the same honesty (weights used on day d fitted only on labels matured by d,
//! counted from events known by d, refitted every `EVERY` days). The idea: the
//! seven sites have a few dozen onsets; the country has thousands, so the
//! weights of the weaker features (fighting just outside, the long-run level,
//! recency) are estimated from far more of them. Scores are evaluated on the
//! seven sites only, against the backtest's baseline.
//!
//! `cargo run --release -p sallyport-threat --example pooled -- FEATURE…`
//! (features as in `online.rs`: plain names enter as ln(0.01 + x), `~NAME` raw;
//! available: model, baseline, deaths30, lsince5, ring30, region30, p50_t365).
//! Environment: `STEP` (grid spacing, degrees, default 0.3), `POOL=sites`
//! (train on the seven sites only, the `online.rs` setting), `THIN` (every
//! THIN-th day of the grid points enters training, default 3), `LAMBDA`,
//! `EVERY`, `NORM` as in `online.rs`.

mod common;
use common::{Ev, expo, fit, trailing};

use sallyport_threat::backtest::roc_auc;
use sallyport_threat::{ModelParams, ThreatModel};

/// The features and target of one location.
struct Point {
    feats: Vec<(&'static str, Vec<f64>)>,
    /// Target-like events: (start day, known day, deaths).
    target: Vec<(i64, i64, f64)>,
}

fn point(m: &ThreatModel, s: &sallyport_core::Site, lo: i64, n: usize) -> Point {
    let evs = common::nearby(m, s, 250.0);
    let daily = |f: &dyn Fn(&Ev) -> f64| common::daily(&evs, lo, n, f);
    let from = sallyport_threat::event::day_date(lo);
    let to = sallyport_threat::event::day_date(lo + n as i64 - 1);
    let model: Vec<f64> = m.series(s, from, to).days.iter().map(|x| x.intensity).collect();
    let cnt = daily(&|e| (e.dist <= 50.0) as u8 as f64);
    let kd = daily(&|e| if e.precise && e.dist <= 50.0 { e.deaths } else { 0.0 });
    let serious = daily(&|e| (e.precise && e.dist <= 50.0 && e.deaths >= 5.0) as u8 as f64);
    let mut last: Option<usize> = None;
    let lsince5: Vec<f64> = (0..n)
        .map(|i| {
            if serious[i] > 0.0 {
                last = Some(i);
            }
            -(1.0 + last.map_or(400.0, |l| (i - l) as f64)).ln()
        })
        .collect();
    let lethal = |lo_km: f64, hi_km: f64| {
        move |e: &Ev| if e.precise && e.dist > lo_km && e.dist <= hi_km { 1.0 + (1.0 + e.deaths).ln() } else { 0.0 }
    };
    let ring = daily(&lethal(50.0, 100.0));
    let region = daily(&|e| if e.dist <= 250.0 { 1.0 + (1.0 + e.deaths).ln() } else { 0.0 });
    let near = daily(&lethal(-1.0, 50.0));
    let target = evs.iter().filter(|e| e.precise && e.dist <= 50.0).map(|e| (e.start, e.known, e.deaths)).collect();
    Point {
        feats: vec![
            ("model", model),
            ("baseline", trailing(&cnt, 30)),
            ("deaths30", trailing(&kd, 30)),
            ("lsince5", lsince5),
            ("ring30", expo(&ring, 30.0)),
            ("region30", expo(&region, 30.0)),
            ("p50_t365", expo(&near, 365.0)),
        ],
        target,
    }
}

/// Per day t of lo..lo+n: the target at t (≥ 10 deaths starting in (t, t+30])
/// counted from the events known by `known_by`.
fn labels(target: &[(i64, i64, f64)], lo: i64, n: usize, known_by: i64) -> Vec<bool> {
    let mut sd = vec![0.0; n + 32];
    for &(st, kn, de) in target {
        if kn <= known_by && st >= lo && ((st - lo) as usize) < sd.len() {
            sd[(st - lo) as usize] += de;
        }
    }
    (0..n).map(|i| sd[i + 1..=i + 30].iter().sum::<f64>() >= 10.0).collect()
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn main() {
    let (events, sites) = common::ged_and_origins();
    let m = ThreatModel::new(events, ModelParams::default());
    let common::Span { lo, d0, d1, split } = common::span();
    let n = (d1 - lo + 1) as usize;
    let ns = sites.len();
    let step: f64 = env("STEP", 0.3);
    let sites_only = std::env::var("POOL").is_ok_and(|p| p == "sites");
    let thin: usize = env("THIN", 3);
    let lambda: f64 = env("LAMBDA", 1.0);
    let every: i64 = env("EVERY", 30);
    let norm = std::env::var("NORM").is_ok();
    let names: Vec<String> = std::env::args().skip(1).collect();
    const FEATURES: [&str; 7] = ["model", "baseline", "deaths30", "lsince5", "ring30", "region30", "p50_t365"];
    if names.is_empty() || names.iter().any(|n| !FEATURES.contains(&n.trim_start_matches('~'))) {
        eprintln!("usage: pooled FEATURE… (plain: ln(0.01 + x); ~FEATURE: raw), features: {}", FEATURES.join(" "));
        std::process::exit(2);
    }

    // Locations: the sites first, then the grid over Syria's bounding box.
    let mut locs = sites.clone();
    if !sites_only {
        let mut lat = 32.3;
        while lat <= 37.35 {
            let mut lon = 35.6;
            while lon <= 42.4 {
                let mut g = sites[0].clone();
                g.position = sallyport_core::LatLon::new(lat, lon).unwrap();
                locs.push(g);
                lon += step;
            }
            lat += step;
        }
    }
    let points: Vec<Point> = locs.iter().map(|s| point(&m, s, lo, n)).collect();
    let np = points.len();
    let x: Vec<Vec<f64>> = names
        .iter()
        .map(|name| {
            let (raw, key) = name.strip_prefix('~').map_or((false, name.as_str()), |k| (true, k));
            let mut col = Vec::with_capacity(np * n);
            for p in &points {
                let v = &p.feats.iter().find(|f| f.0 == key).expect("checked against FEATURES").1;
                col.extend(v.iter().map(|&x| if raw { x } else { (0.01 + x.max(0.0)).ln() }));
            }
            col
        })
        .collect();
    let k = x.len();
    let final_labels: Vec<bool> = points.iter().flat_map(|p| labels(&p.target, lo, n, i64::MAX)).collect();
    let site_pos: usize = (0..ns * n).filter(|&r| final_labels[r]).count();
    let grid_pos: usize = (ns * n..np * n).filter(|&r| final_labels[r]).count();
    println!("locations {np} (sites {ns}), rows {}, positives: sites {site_pos}, grid {grid_pos}", np * n);

    let mut v = vec![f64::NAN; ns * n];
    let mut w = vec![0.0; k + 1];
    let mut fitted = false;
    let mut next_fit = lo + 31;
    for day in lo..=d1 {
        if day >= next_fit {
            let mut train = Vec::new();
            for (pi, p) in points.iter().enumerate() {
                let lab = labels(&p.target, lo, n, day);
                let stride = if pi < ns { 1 } else { thin };
                for t in (0..=(day - 30 - lo) as usize).step_by(stride) {
                    train.push((pi * n + t, lab[t]));
                }
            }
            let npos = train.iter().filter(|x| x.1).count();
            if npos >= 10 && npos + 10 <= train.len() {
                w = fit(&x, &train, lambda);
                fitted = true;
                if std::env::var("TRACE").is_ok() {
                    let ws: Vec<f64> = w.iter().map(|x| (x * 100.0).round() / 100.0).collect();
                    println!("{} rows {} pos {npos} w {ws:?}", sallyport_threat::event::day_date(day), train.len());
                }
            }
            next_fit = day + every;
        }
        for si in 0..ns {
            let r = si * n + (day - lo) as usize;
            v[r] = common::online_score(fitted.then_some(&w[..]), &x, r, norm);
        }
    }
    let row_day = |r: usize| lo + (r % n) as i64;
    let eval = |score: &dyn Fn(usize) -> f64| {
        let auc = |sel: &dyn Fn(i64) -> bool| {
            let (s, l): (Vec<f64>, Vec<bool>) =
                (0..ns * n).filter(|&r| row_day(r) >= d0 && sel(row_day(r))).map(|r| (score(r), final_labels[r])).unzip();
            roc_auc(&s, &l)
        };
        (auc(&|t| t < split), auc(&|t| t >= split), auc(&|_| true))
    };
    let col = |key: &str| {
        let f: Vec<f64> = points[..ns].iter().flat_map(|p| p.feats.iter().find(|f| f.0 == key).unwrap().1.clone()).collect();
        f
    };
    let (base, model) = (col("baseline"), col("model"));
    let (bt, bh, ba) = eval(&|r| base[r]);
    let (mt, mh, ma) = eval(&|r| model[r]);
    let (a, b, c) = eval(&|r| v[r]);
    println!("baseline: tuning {bt:.4} held {bh:.4} all {ba:.4}");
    println!("model:    tuning {mt:.4} held {mh:.4} all {ma:.4}  Δ {:+.4} {:+.4} {:+.4}", mt - bt, mh - bh, ma - ba);
    let ws: Vec<f64> = w.iter().map(|x| (x * 100.0).round() / 100.0).collect();
    println!("final weights {ws:?}");
    println!(
        "pooled ({}, λ {lambda}, every {every} d{}): tuning {a:.4} held {b:.4} all {c:.4}  Δ {:+.4} {:+.4} {:+.4}",
        if sites_only { "sites only".to_string() } else { format!("grid {step}°, thin {thin}") },
        if norm { ", norm" } else { "" },
        a - bt,
        b - bh,
        c - ba
    );
}
