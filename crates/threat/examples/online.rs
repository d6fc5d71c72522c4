//! Issue 8 exploration: hazard/recency, front and cross-sectional features,
//! and an *online* logistic regression that is honest by construction: the
//! weights used on day d were fitted only on labels that had matured by d
//! (target windows (t, t+30] with t + 30 ≤ d, deaths counted only from events
//! known by d), refitted every `EVERY` days. Rows are site-days from
//! 2016-01-01; scored days are the backtest's (2016-03-01 ..= 2019-11-01,
//! split at 2018-01-01); the labels are the backtest's target, recomputed here
//! (the `model` and `baseline` rows reproduce the backtest's AUCs).
//!
//! `cargo run --release -p sallyport-threat --example online -- MODE [FEATURE…]`:
//! - `single`: every feature alone (tuning, held-out, all), best on tuning last;
//! - `months`: per site and month, positive days and the mean model intensity;
//! - `groups NAME…`: AUC over the pairs (positive's period, negative's period);
//! - `grid A B [C]`: fixed weights ln A + a·B (+ b·C) over a grid, best on tuning first;
//! - `insample NAME…`: the regression fitted once on the tuning period (a bound);
//! - `online NAME…`: the online regression.
//!
//! Features named plainly enter as ln(0.01 + x); `~NAME` enters raw (signed
//! features: `~lsince5`, `~adv_eta`, site indicators `~site0`…). Environment:
//! `LAMBDA` (ridge, default 1), `EVERY` (refit interval, days, default 30),
//! `WINDOW` (training window, days; default all matured rows), `NORM` (score =
//! first feature + Σ (w_j / w_0)·x_j, i.e. no intercept or scale drift between
//! refits), `TRACE` (print each refit's weights), `EVAL_FROM` (first scored day).
//! Choices are made on the tuning column only; see docs/architecture/threat.md.

mod common;
use common::{Ev, dot, expo, fit, trailing};

use std::collections::BTreeMap;

use sallyport_threat::backtest::roc_auc;
use sallyport_threat::event::day_number;
use sallyport_threat::{ModelParams, ThreatModel};

fn main() {
    let (events, sites) = common::ged_and_origins();
    let m = ThreatModel::new(events, ModelParams::default());
    let d = |y, mo, da| chrono::NaiveDate::from_ymd_opt(y, mo, da).unwrap();
    let common::Span { lo, d0, d1, split } = common::span();
    // Rows: every site-day of lo..=d1 (training rows start at lo; scored rows at d0).
    let n = (d1 - lo + 1) as usize;
    let ns = sites.len();
    let mut feats: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    // Per site: start-day deaths of target events (precise, ≤ 50 km) with their known day.
    let mut target_events: Vec<Vec<(i64, i64, f64)>> = Vec::new();
    let mut labels = vec![false; ns * n];
    // Syria-wide fatality-weighted event intensity (τ 30), for the cross-sectional share.
    let mut syria = vec![0.0; n];
    {
        let g = (-1.0f64 / 30.0).exp();
        let mut daily = vec![0.0; n];
        for e in m.events() {
            let k = e.known_day();
            if e.locatable() && k >= lo && k - lo < n as i64 {
                daily[(k - lo) as usize] += 1.0 + (1.0 + e.fatalities as f64).ln();
            }
        }
        let mut acc = 0.0;
        for i in 0..n {
            acc = acc * g + daily[i];
            syria[i] = acc / 30.0;
        }
    }
    for (si, s) in sites.iter().enumerate() {
        let evs = common::nearby(&m, s, 300.0);
        let te: Vec<(i64, i64, f64)> = evs
            .iter()
            .filter(|e| e.precise && e.dist <= 50.0)
            .map(|e| (e.start, e.known, e.deaths))
            .collect();
        // Labels (complete knowledge): deaths with start in (t, t+30] ≥ 10.
        let mut sd = vec![0.0; n + 40];
        for &(st, _, de) in &te {
            if st >= lo && ((st - lo) as usize) < sd.len() {
                sd[(st - lo) as usize] += de;
            }
        }
        for i in 0..n {
            labels[si * n + i] = sd[i + 1..=i + 30].iter().sum::<f64>() >= 10.0;
        }
        target_events.push(te);
        let daily = |f: &dyn Fn(&Ev) -> f64| common::daily(&evs, lo, n, f);
        let mut put = |name: &str, v: Vec<f64>| {
            assert_eq!(v.len(), n);
            feats
                .entry(name.to_string())
                .or_insert_with(|| vec![0.0; ns * n])[si * n..(si + 1) * n]
                .copy_from_slice(&v)
        };
        let ser = m.series(s, d(2016, 1, 1), d(2019, 11, 1));
        let model: Vec<f64> = ser.days.iter().map(|x| x.intensity).collect();
        put("model", model.clone());
        // The model's own advance estimate: distance to the estimated front, approach speed, ETA to 50 km.
        put(
            "adv_near",
            ser.days
                .iter()
                .map(|x| -x.advance.map_or(300.0, |a| a.distance_km))
                .collect(),
        );
        put(
            "adv_appr",
            ser.days
                .iter()
                .map(|x| x.advance.map_or(0.0, |a| a.approach_km_per_day))
                .collect(),
        );
        put(
            "adv_eta",
            ser.days
                .iter()
                .map(|x| {
                    -x.advance.map_or(365.0, |a| {
                        if a.distance_km <= 50.0 {
                            0.0
                        } else if a.approach_km_per_day > 0.1 {
                            ((a.distance_km - 50.0) / a.approach_km_per_day).min(365.0)
                        } else {
                            365.0
                        }
                    })
                })
                .collect(),
        );
        let cnt = daily(&|e| (e.dist <= 50.0) as u8 as f64);
        put("baseline", trailing(&cnt, 30));
        // Known deaths of target-like events, trailing windows.
        let kd = daily(&|e| {
            if e.precise && e.dist <= 50.0 {
                e.deaths
            } else {
                0.0
            }
        });
        for w in [7, 30, 90] {
            put(&format!("deaths{w}"), trailing(&kd, w));
        }
        let kd30 = trailing(&kd, 30);
        // Recency: days since the last known serious event (precise, ≤ 50 km, ≥ k deaths).
        for k in [1.0, 5.0, 10.0] {
            let ser = daily(&|e| (e.precise && e.dist <= 50.0 && e.deaths >= k) as u8 as f64);
            let mut last: Option<usize> = None;
            let v: Vec<f64> = (0..n)
                .map(|i| {
                    if ser[i] > 0.0 {
                        last = Some(i);
                    }
                    last.map_or(400.0, |l| (i - l) as f64)
                })
                .collect();
            put(&format!("since{k}"), v.iter().map(|x| -x).collect());
            put(
                &format!("lsince{k}"),
                v.iter().map(|x| -(1.0 + x).ln()).collect(),
            );
        }
        // Days since the site was last "hot" (known 30-day deaths ≥ 10), and hot-day share.
        {
            let mut last: Option<usize> = None;
            let v: Vec<f64> = (0..n)
                .map(|i| {
                    if kd30[i] >= 10.0 {
                        last = Some(i);
                    }
                    -(1.0 + last.map_or(400.0, |l| (i - l) as f64)).ln()
                })
                .collect();
            put("lsince_hot", v);
            let hot: Vec<f64> = kd30.iter().map(|x| (*x >= 10.0) as u8 as f64).collect();
            for w in [90, 180] {
                put(&format!("hotshare{w}"), trailing(&hot, w));
            }
            // Episodes: starts of hot runs (after ≥ 30 cold days), counted over 90/180 days.
            let mut cold = 400usize;
            let starts: Vec<f64> = (0..n)
                .map(|i| {
                    let st = hot[i] > 0.0 && cold >= 30;
                    cold = if hot[i] > 0.0 { 0 } else { cold + 1 };
                    st as u8 as f64
                })
                .collect();
            for w in [90, 180, 365] {
                put(&format!("episodes{w}"), trailing(&starts, w));
            }
        }
        // Front: nearest recent lethal fighting (precise, ≥ 1 death) in the last w days.
        for w in [14i64, 30] {
            let mut v = vec![300.0; n];
            let mut prev = vec![300.0; n];
            for e in evs.iter().filter(|e| e.precise && e.deaths >= 1.0) {
                for t in e.known.max(lo)..(e.known + w).min(lo + n as i64) {
                    let i = (t - lo) as usize;
                    v[i] = f64::min(v[i], e.dist);
                }
                for t in (e.known + w).max(lo)..(e.known + 2 * w).min(lo + n as i64) {
                    let i = (t - lo) as usize;
                    prev[i] = f64::min(prev[i], e.dist);
                }
            }
            put(&format!("front{w}"), v.iter().map(|x| -x).collect());
            put(
                &format!("lfront{w}"),
                v.iter().map(|x| -(10.0 + x).ln()).collect(),
            );
            put(
                &format!("approach{w}"),
                v.iter().zip(&prev).map(|(a, b)| b - a).collect(),
            );
        }
        // Fighting just outside: precise lethal events 50–100 km, τ 30.
        let ring = daily(&|e| {
            if e.precise && e.dist > 50.0 && e.dist <= 100.0 {
                1.0 + (1.0 + e.deaths).ln()
            } else {
                0.0
            }
        });
        put("ring30", expo(&ring, 30.0));
        // Regional level within 250 km, and the site's share of it; Syria-wide share.
        let reg = daily(&|e| {
            if e.dist <= 250.0 {
                1.0 + (1.0 + e.deaths).ln()
            } else {
                0.0
            }
        });
        let reg30 = expo(&reg, 30.0);
        let reg90 = expo(&reg, 90.0);
        put("region30", reg30.clone());
        put("region90", reg90.clone());
        put(
            "share_region",
            model
                .iter()
                .zip(&reg30)
                .map(|(a, b)| a / (b + 0.1))
                .collect(),
        );
        put(
            "share_syria",
            model
                .iter()
                .zip(&syria)
                .map(|(a, b)| a / (b + 0.1))
                .collect(),
        );
        put("syria30", syria.clone());
        // Slow and fast kernels of the same events.
        let prec = daily(&|e| {
            if e.precise && e.dist <= 50.0 {
                1.0 + (1.0 + e.deaths).ln()
            } else {
                0.0
            }
        });
        put("p50_t7", expo(&prec, 7.0));
        put("p50_t90", expo(&prec, 90.0));
        put("p50_t365", expo(&prec, 365.0));
    }
    // Cross-sectional: the site's rank among the sites that day (share of the sites' total).
    {
        let mv = feats["model"].clone();
        let mut share = vec![0.0; ns * n];
        for i in 0..n {
            let tot: f64 = (0..ns).map(|s| mv[s * n + i]).sum();
            for s in 0..ns {
                share[s * n + i] = mv[s * n + i] / (tot + 0.01);
            }
        }
        feats.insert("share_sites".into(), share);
    }
    // Site indicators (an online site effect when given to the regression as `~siteK`).
    for si in 0..ns {
        let mut v = vec![0.0; ns * n];
        v[si * n..(si + 1) * n].iter_mut().for_each(|x| *x = 1.0);
        feats.insert(format!("site{si}"), v);
    }
    let row_day = |r: usize| lo + (r % n) as i64;
    let eval_from = std::env::var("EVAL_FROM")
        .ok()
        .map_or(d0, |s| day_number(s.parse().expect("EVAL_FROM YYYY-MM-DD")));
    let scored: Vec<usize> = (0..ns * n).filter(|&r| row_day(r) >= eval_from).collect();
    let eval = |v: &[f64]| {
        let auc = |sel: &dyn Fn(i64) -> bool| {
            let (s, l): (Vec<f64>, Vec<bool>) = scored
                .iter()
                .filter(|&&r| sel(row_day(r)))
                .map(|&r| (v[r], labels[r]))
                .unzip();
            roc_auc(&s, &l)
        };
        (auc(&|t| t < split), auc(&|t| t >= split), auc(&|_| true))
    };
    let mode = std::env::args().nth(1).unwrap_or_default();
    let names: Vec<String> = std::env::args().skip(2).collect();
    let usable = match mode.as_str() {
        "single" | "months" => true,
        "groups" | "insample" | "online" => !names.is_empty(),
        "grid" => (2..=3).contains(&names.len()),
        _ => false,
    };
    if !usable {
        eprintln!("usage: online single | months | groups NAME… | grid A B [C] | insample NAME… | online NAME…");
        std::process::exit(2);
    }
    if let Some(unknown) = names.iter().find(|n| !feats.contains_key(n.trim_start_matches('~'))) {
        eprintln!("no feature {unknown:?}; available: {}", feats.keys().cloned().collect::<Vec<_>>().join(" "));
        std::process::exit(2);
    }
    let (bt, bh, ba) = eval(&feats["baseline"]);
    println!("baseline: tuning {bt:.4} held {bh:.4} all {ba:.4}");
    if mode == "months" {
        // Per site and month: positive days, mean ln model, mean ln baseline.
        let mv = &feats["model"];
        for (si, st) in sites.iter().enumerate() {
            let mut line = format!("{:<10}", st.id.to_string());
            let mut t = d0;
            while t <= d1 {
                let mo = sallyport_threat::event::day_date(t)
                    .format("%m")
                    .to_string();
                let mut np = 0;
                let mut sm = 0.0;
                let mut c = 0;
                while t <= d1
                    && sallyport_threat::event::day_date(t)
                        .format("%m")
                        .to_string()
                        == mo
                {
                    let r = si * n + (t - lo) as usize;
                    np += labels[r] as u32;
                    sm += mv[r];
                    c += 1;
                    t += 1;
                }
                line += &format!(" {:>2}/{:<4.1}", np, (sm / c as f64) * 10.0);
            }
            println!("{line}");
        }
        return;
    }
    if mode == "groups" {
        // AUC over pair groups: (positive's period, negative's period).
        for name in &names {
            let v = &feats[name];
            let mut acc = [[(0.0f64, 0.0f64); 2]; 2];
            let pos: Vec<usize> = scored.iter().copied().filter(|&r| labels[r]).collect();
            let mut neg: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
            for &r in scored.iter().filter(|&&r| !labels[r]) {
                neg[(row_day(r) >= split) as usize].push(v[r]);
            }
            for nv in neg.iter_mut() {
                nv.sort_by(f64::total_cmp);
            }
            for &p in &pos {
                let a = (row_day(p) >= split) as usize;
                for b in 0..2 {
                    let below = neg[b].partition_point(|x| *x < v[p]);
                    let eq = neg[b].partition_point(|x| *x <= v[p]) - below;
                    acc[a][b].0 += below as f64 + 0.5 * eq as f64;
                    acc[a][b].1 += neg[b].len() as f64;
                }
            }
            let tot: f64 = acc.iter().flatten().map(|x| x.1).sum();
            for a in 0..2 {
                for b in 0..2 {
                    println!(
                        "{name}: pos {} neg {}: pairs share {:.3} AUC {:.4}",
                        ["T", "H"][a],
                        ["T", "H"][b],
                        acc[a][b].1 / tot,
                        acc[a][b].0 / acc[a][b].1
                    );
                }
            }
        }
        return;
    }
    if mode == "single" {
        let mut rows: Vec<_> = feats.iter().map(|(k, v)| (eval(v), k.clone())).collect();
        rows.sort_by(|a, b| a.0 .0.total_cmp(&b.0 .0));
        for ((a, b, c), k) in rows {
            println!("{a:.4} {b:.4} {c:.4} | {k}");
        }
        return;
    }
    // Design: ln(0.01 + x) of "level" features, raw of signed ones (names starting with ~).
    let col = |name: &str| -> Vec<f64> {
        if let Some(raw) = name.strip_prefix('~') {
            feats[raw].clone()
        } else {
            feats[name]
                .iter()
                .map(|x| (0.01 + x.max(0.0)).ln())
                .collect()
        }
    };
    let x: Vec<Vec<f64>> = names.iter().map(|nm| col(nm)).collect();
    let k = x.len();
    let lambda: f64 = std::env::var("LAMBDA")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let every: i64 = std::env::var("EVERY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    if mode == "grid" {
        // Fixed relative weights: x0 + a·x1 (+ b·x2), chosen on the tuning column.
        let grid: Vec<f64> = (0..=12).map(|i| i as f64 * 0.05).collect();
        let mut rows = Vec::new();
        for &a in &grid {
            for &b in if k > 2 { &grid[..] } else { &grid[..1] } {
                let v: Vec<f64> = (0..ns * n)
                    .map(|r| x[0][r] + a * x[1][r] + if k > 2 { b * x[2][r] } else { 0.0 })
                    .collect();
                rows.push((eval(&v), a, b));
            }
        }
        rows.sort_by(|p, q| p.0 .0.total_cmp(&q.0 .0));
        // `SHOW=a,b`: also print that grid point (e.g. the online regression's weights).
        if let Some((sa, sb)) = std::env::var("SHOW").ok().and_then(|s| {
            let (a, b) = s.split_once(',')?;
            Some((a.parse::<f64>().ok()?, b.parse::<f64>().ok()?))
        }) {
            for ((t, h, al), a, b) in &rows {
                if (a - sa).abs() < 1e-9 && (b - sb).abs() < 1e-9 {
                    println!("SHOW a {a:.2} b {b:.2}: tuning {t:.4} held {h:.4} all {al:.4}");
                }
            }
        }
        for ((t, h, al), a, b) in rows.iter().rev().take(15) {
            println!(
                "a {a:.2} b {b:.2}: tuning {t:.4} held {h:.4} all {al:.4}  Δ {:+.4} {:+.4} {:+.4}",
                t - bt,
                h - bh,
                al - ba
            );
        }
        return;
    }
    if mode == "insample" {
        let train: Vec<(usize, bool)> = scored
            .iter()
            .filter(|&&r| row_day(r) < split)
            .map(|&r| (r, labels[r]))
            .collect();
        let w = fit(&x, &train, lambda);
        let v: Vec<f64> = (0..ns * n).map(|r| dot(&w, &x, r)).collect();
        let (a, b, c) = eval(&v);
        println!(
            "weights {:?}",
            w.iter()
                .map(|x| (x * 100.0).round() / 100.0)
                .collect::<Vec<_>>()
        );
        println!("insample: tuning {a:.4} held {b:.4} all {c:.4}");
        return;
    }
    // Online: refit every `every` days on rows whose label had matured (t + 30 ≤ d), with
    // the label counted from events known by d.
    let norm = std::env::var("NORM").is_ok();
    // Training window: matured rows of the last `window` days (default: all).
    let window: i64 = std::env::var("WINDOW")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let mut v = vec![f64::NAN; ns * n];
    let mut w = vec![0.0; k + 1];
    let mut fitted_any = false;
    let mut next_fit = lo + 31;
    for day in lo..=d1 {
        if day >= next_fit {
            let mut train = Vec::new();
            for (si, te) in target_events.iter().enumerate() {
                for t in (day - window).max(lo)..=day - 30 {
                    let deaths: f64 = te
                        .iter()
                        .filter(|&&(st, kn, _)| st > t && st <= t + 30 && kn <= day)
                        .map(|e| e.2)
                        .sum();
                    train.push((si * n + (t - lo) as usize, deaths >= 10.0));
                }
            }
            let np = train.iter().filter(|x| x.1).count();
            if np >= 10 && np + 10 <= train.len() {
                w = fit(&x, &train, lambda);
                fitted_any = true;
                if std::env::var("TRACE").is_ok() {
                    println!(
                        "{} n {} pos {np} w {:?}",
                        sallyport_threat::event::day_date(day),
                        train.len(),
                        w.iter()
                            .map(|x| (x * 100.0).round() / 100.0)
                            .collect::<Vec<_>>()
                    );
                }
            }
            next_fit = day + every;
        }
        for si in 0..ns {
            let r = si * n + (day - lo) as usize;
            v[r] = common::online_score(fitted_any.then_some(&w[..]), &x, r, norm);
        }
    }
    println!(
        "final weights {:?}",
        w.iter()
            .map(|x| (x * 100.0).round() / 100.0)
            .collect::<Vec<_>>()
    );
    let (a, b, c) = eval(&v);
    let (mt, mh, ma) = eval(&feats["model"]);
    println!("model: tuning {mt:.4} held {mh:.4} all {ma:.4}");
    println!(
        "online (λ {lambda}, every {every} d): tuning {a:.4} held {b:.4} all {c:.4}  Δ vs baseline {:+.4} {:+.4} {:+.4}",
        a - bt,
        b - bh,
        c - ba
    );
}
