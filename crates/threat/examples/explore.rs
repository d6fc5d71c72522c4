//! Feature exploration for the threat model: candidate scores computed
//! straight from the events (end date <= d only, the backtest's target
//! recomputed here), their AUC on the tuning period and, reported
//! separately, on the held-out period. Choices are made on the tuning column.
//! `cargo run --release -p sallyport-threat --example explore -- MODE …`:
//! - `single`: every feature alone (tuning, held-out, all), best last;
//! - `persite`, `pairs NAME…`: AUC within each site, and over within-site vs
//!   between-site pairs;
//! - `diag NAME [held]`: which site-months lose the most AUC;
//! - `logit NAME…`: a logistic regression fitted on the tuning period (an
//!   upper bound on what the features give, not a model);
//! - `combo A B F S`: ln A + b ln B + c ln(F/S) and ln(A + c B) over a grid.

mod common;
use common::Ev;

use std::collections::BTreeMap;

use sallyport_threat::backtest::roc_auc;
use sallyport_threat::{ModelParams, ThreatModel};

fn main() {
    let (events, sites) = common::ged_and_origins();
    let m = ThreatModel::new(events, ModelParams::default());
    let d = |y, mo, da| chrono::NaiveDate::from_ymd_opt(y, mo, da).unwrap();
    let common::Span { lo, d0, d1, split } = common::span();
    let mut labels = Vec::new();
    let mut tuning = Vec::new();
    let mut site_of = Vec::new();
    let mut feats: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (si, s) in sites.iter().enumerate() {
        let evs = common::nearby(&m, s, 200.0);
        let n = (d1 + 31 - lo + 1) as usize;
        let mut tdeaths = vec![0.0; n];
        for e in &evs {
            if e.precise && e.dist <= 50.0 && e.start >= lo && e.start - lo < n as i64 {
                tdeaths[(e.start - lo) as usize] += e.deaths;
            }
        }
        for t in d0..=d1 {
            let i = (t - lo) as usize;
            let next: f64 = tdeaths[i + 1..=i + 30].iter().sum();
            labels.push(next >= 10.0);
            tuning.push(t < split);
            site_of.push(si);
        }
        let daily = |f: &dyn Fn(&Ev) -> f64| common::daily(&evs, lo, n, f);
        let expo = |v: &[f64], tau: f64| -> Vec<f64> {
            let g = (-1.0 / tau).exp();
            let mut acc = 0.0;
            let mut out = Vec::new();
            for (k, x) in v.iter().enumerate() {
                acc = acc * g + x;
                let t = lo + k as i64;
                if t >= d0 && t <= d1 {
                    out.push(acc / tau);
                }
            }
            out
        };
        let mut put = |name: String, v: Vec<f64>| feats.entry(name).or_default().extend(v);
        let cnt50 = daily(&|e| (e.dist <= 50.0) as u8 as f64);
        let base: Vec<f64> = (d0..=d1)
            .map(|t| {
                let i = (t - lo) as usize;
                cnt50[i - 29..=i].iter().sum()
            })
            .collect();
        put("baseline".into(), base);
        let ser = m.series(s, d(2016, 3, 1), d(2019, 11, 1));
        put("model".into(), ser.days.iter().map(|x| x.rate).collect());
        put(
            "adv_dist".into(),
            ser.days
                .iter()
                .map(|x| x.advance.map_or(300.0, |a| a.distance_km))
                .collect(),
        );
        put(
            "adv_appr".into(),
            ser.days
                .iter()
                .map(|x| x.advance.map_or(0.0, |a| a.approach_km_per_day))
                .collect(),
        );
        for f in [0.0, 0.5, 1.0, 2.0, 4.0] {
            for r in [40.0, 50.0, 60.0] {
                let w = daily(&|e| {
                    if e.dist <= r && e.precise {
                        1.0 + f * (1.0 + e.deaths).ln()
                    } else {
                        0.0
                    }
                });
                let wa = daily(&|e| {
                    if e.dist <= r {
                        1.0 + f * (1.0 + e.deaths).ln()
                    } else {
                        0.0
                    }
                });
                for tau in [7.0, 14.0, 21.0, 30.0, 45.0, 60.0, 90.0, 180.0, 365.0] {
                    put(format!("P r{r} f{f} t{tau}"), expo(&w, tau));
                    put(format!("A r{r} f{f} t{tau}"), expo(&wa, tau));
                }
            }
        }
        for (lo_r, hi_r) in [
            (50.0, 75.0),
            (50.0, 100.0),
            (50.0, 150.0),
            (0.0, 100.0),
            (0.0, 150.0),
            (0.0, 250.0),
        ] {
            let w = daily(&|e| {
                if e.dist > lo_r && e.dist <= hi_r && e.precise {
                    1.0 + (1.0 + e.deaths).ln()
                } else {
                    0.0
                }
            });
            for tau in [14.0, 30.0, 45.0, 90.0] {
                put(format!("band {lo_r}-{hi_r} t{tau}"), expo(&w, tau));
            }
        }
        for cap in [3.0, 10.0, 30.0] {
            let w = daily(&|e| {
                if e.dist <= 50.0 && e.precise {
                    e.deaths.min(cap)
                } else {
                    0.0
                }
            });
            for tau in [14.0, 30.0, 45.0, 60.0] {
                put(format!("cap{cap} t{tau}"), expo(&w, tau));
            }
        }
        for k in [1.0, 3.0, 10.0] {
            let w = daily(&|e| {
                if e.dist <= 50.0 && e.precise && e.deaths >= k {
                    1.0
                } else {
                    0.0
                }
            });
            for tau in [14.0, 30.0, 45.0, 60.0, 90.0] {
                put(format!("lethal{k} t{tau}"), expo(&w, tau));
            }
        }
        // Soft edge: 1 within 50 km, exp(-(d-50)/L) beyond.
        for l in [5.0, 10.0, 20.0, 40.0] {
            let w = daily(&|e| {
                if e.precise {
                    (1.0 + (1.0 + e.deaths).ln()) * (-(e.dist - 50.0).max(0.0) / l).exp()
                } else {
                    0.0
                }
            });
            for tau in [30.0, 45.0] {
                put(format!("edge{l} t{tau}"), expo(&w, tau));
            }
        }
        let ring = daily(&|e| {
            if e.dist > 50.0 && e.dist <= 100.0 && e.precise {
                1.0 + (1.0 + e.deaths).ln()
            } else {
                0.0
            }
        });
        for tau in [7.0, 14.0, 30.0] {
            put(format!("ring t{tau}"), expo(&ring, tau));
        }
        // Persistence: share of the last 90 days on which trailing-30-day known deaths (precise, 50 km) reached 10.
        let kd = daily(&|e| {
            if e.dist <= 50.0 && e.precise {
                e.deaths
            } else {
                0.0
            }
        });
        let mut trail = vec![0.0; n];
        for i in 0..n {
            trail[i] = kd[i.saturating_sub(29)..=i].iter().sum::<f64>();
        }
        let hot: Vec<f64> = trail.iter().map(|x| (*x >= 10.0) as u8 as f64).collect();
        for tau in [14.0, 30.0, 90.0] {
            put(format!("hot t{tau}"), expo(&hot, tau));
        }
    }
    let auc = |v: &[f64], sel: &dyn Fn(usize) -> bool| {
        let (s, l): (Vec<f64>, Vec<bool>) = (0..v.len())
            .filter(|&i| sel(i))
            .map(|i| (v[i], labels[i]))
            .unzip();
        roc_auc(&s, &l)
    };
    let tun = |v: &[f64]| auc(v, &|i| tuning[i]);
    let hel = |v: &[f64]| auc(v, &|i| !tuning[i]);
    let all = |v: &[f64]| auc(v, &|_| true);
    let mode = std::env::args().nth(1).unwrap_or_default();
    let operands = std::env::args().count().saturating_sub(2);
    let usable = match mode.as_str() {
        "single" | "persite" => true,
        "pairs" | "logit" => operands >= 1,
        "diag" => (1..=2).contains(&operands),
        "combo" => operands == 4,
        _ => false,
    };
    if !usable {
        eprintln!("usage: explore single | persite | pairs NAME… | diag NAME [held] | logit NAME… | combo A B F S");
        std::process::exit(2);
    }
    let named: Vec<String> = std::env::args().skip(2).filter(|a| !(mode == "diag" && a == "held")).collect();
    if let Some(unknown) = named.iter().find(|n| !feats.contains_key(n.as_str())) {
        eprintln!("no feature {unknown:?}; `explore single` lists them");
        std::process::exit(2);
    }
    if mode == "single" {
        let mut rows: Vec<_> = feats
            .iter()
            .map(|(k, v)| (tun(v), hel(v), all(v), k.clone()))
            .collect();
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (a, b, c, k) in rows {
            println!("{a:.4} {b:.4} {c:.4} | {k}");
        }
        return;
    }
    if mode == "diag" {
        let name = std::env::args().nth(2).unwrap();
        let v = &feats[&name];
        let sel: Vec<usize> = (0..v.len())
            .filter(|&i| tuning[i] == (std::env::args().nth(3).as_deref() != Some("held")))
            .collect();
        let mut negs: Vec<f64> = sel.iter().filter(|&&i| !labels[i]).map(|&i| v[i]).collect();
        let mut poss: Vec<f64> = sel.iter().filter(|&&i| labels[i]).map(|&i| v[i]).collect();
        negs.sort_by(f64::total_cmp);
        poss.sort_by(f64::total_cmp);
        let (np, nn) = (poss.len() as f64, negs.len() as f64);
        // Loss per site-month: for positives, negatives above; for negatives, positives below.
        let mut loss: BTreeMap<(usize, i64), (f64, f64, u32, u32)> = BTreeMap::new();
        let per_site = (d1 - d0 + 1) as usize;
        for &i in &sel {
            let t = d0 + (i % per_site) as i64;
            let month = sallyport_threat::event::day_date(t)
                .format("%Y%m")
                .to_string()
                .parse::<i64>()
                .unwrap();
            let e = loss.entry((site_of[i], month)).or_default();
            if labels[i] {
                let above = negs.len() - negs.partition_point(|x| *x < v[i]);
                e.0 += above as f64 / (np * nn);
                e.2 += 1;
            } else {
                let below = poss.partition_point(|x| *x < v[i]);
                e.1 += below as f64 / (np * nn);
                e.3 += 1;
            }
        }
        let mut rows: Vec<_> = loss.into_iter().collect();
        rows.sort_by(|a, b| (b.1 .0 + b.1 .1).total_cmp(&(a.1 .0 + a.1 .1)));
        for ((s, mo), (lp, ln, p, n)) in rows.iter().take(30) {
            println!(
                "{} {mo}: pos {p} neg {n} loss from pos {lp:.4} from neg {ln:.4}",
                sites[*s].id
            );
        }
        return;
    }
    if mode == "pairs" {
        for name in std::env::args().skip(2) {
            let v = &feats[&name];
            for per in [true, false] {
                let (mut w, mut wn, mut b, mut bn) = (0.0, 0.0, 0.0, 0.0);
                let idx: Vec<usize> = (0..v.len()).filter(|&i| tuning[i] == per).collect();
                let pos: Vec<usize> = idx.iter().copied().filter(|&i| labels[i]).collect();
                let neg: Vec<usize> = idx.iter().copied().filter(|&i| !labels[i]).collect();
                for &p in &pos {
                    for &q in &neg {
                        let s = if v[p] > v[q] {
                            1.0
                        } else if v[p] == v[q] {
                            0.5
                        } else {
                            0.0
                        };
                        if site_of[p] == site_of[q] {
                            w += s;
                            wn += 1.0
                        } else {
                            b += s;
                            bn += 1.0
                        }
                    }
                }
                println!("{name} tuning={per}: within-site pairs {wn} AUC {:.4}; between-site pairs {bn} AUC {:.4}", w / wn, b / bn);
            }
        }
        return;
    }
    if mode == "logit" {
        let names: Vec<String> = std::env::args().skip(2).collect();
        let cols: Vec<Vec<f64>> = names
            .iter()
            .map(|n| {
                let v: Vec<f64> = feats[n].iter().map(|x| (0.01 + x.max(0.0)).ln()).collect();
                let idx: Vec<usize> = (0..v.len()).filter(|&i| tuning[i]).collect();
                let mean = idx.iter().map(|&i| v[i]).sum::<f64>() / idx.len() as f64;
                let sd = (idx.iter().map(|&i| (v[i] - mean).powi(2)).sum::<f64>()
                    / idx.len() as f64)
                    .sqrt()
                    .max(1e-9);
                v.iter().map(|x| (x - mean) / sd).collect()
            })
            .collect();
        let k = cols.len();
        let mut w = vec![0.0; k + 1];
        let idx: Vec<usize> = (0..labels.len()).filter(|&i| tuning[i]).collect();
        for _ in 0..3000 {
            let mut g = vec![0.0; k + 1];
            for &i in &idx {
                let z = w[k] + (0..k).map(|j| w[j] * cols[j][i]).sum::<f64>();
                let p = 1.0 / (1.0 + (-z).exp());
                let e = p - labels[i] as u8 as f64;
                for j in 0..k {
                    g[j] += e * cols[j][i];
                }
                g[k] += e;
            }
            for j in 0..=k {
                w[j] -= 0.5 * g[j] / idx.len() as f64;
            }
        }
        let v: Vec<f64> = (0..labels.len())
            .map(|i| w[k] + (0..k).map(|j| w[j] * cols[j][i]).sum::<f64>())
            .collect();
        println!(
            "weights {:?}",
            w.iter()
                .map(|x| (x * 100.0).round() / 100.0)
                .collect::<Vec<_>>()
        );
        println!(
            "logit: tuning {:.4} held {:.4} all {:.4}",
            tun(&v),
            hel(&v),
            all(&v)
        );
        return;
    }
    if mode == "persite" {
        for name in ["baseline", "model", "P r50 f1 t30"] {
            let v = &feats[name];
            for (si, s) in sites.iter().enumerate() {
                let a = auc(v, &|i| site_of[i] == si && tuning[i]);
                let b = auc(v, &|i| site_of[i] == si && !tuning[i]);
                println!("{name} {}: tuning {a:.3} held {b:.3}", s.id);
            }
        }
        return;
    }
    // Log-linear combinations: ln(e + A) + b ln(e + B) + c ln((e+F)/(e+S)).
    let ln = |v: &[f64], e: f64| v.iter().map(|x| (e + x).ln()).collect::<Vec<f64>>();
    let args: Vec<String> = std::env::args().skip(2).collect();
    // args: A B F S
    let (a, b) = (&feats[&args[0]], &feats[&args[1]]);
    let (fv, sv) = (&feats[&args[2]], &feats[&args[3]]);
    let mut rows = Vec::new();
    for e in [0.003, 0.01, 0.03, 0.1] {
        let (la, lb) = (ln(a, e), ln(b, e));
        let tr: Vec<f64> = ln(fv, e)
            .iter()
            .zip(ln(sv, e))
            .map(|(x, y)| x - y)
            .collect();
        for bw in [-0.5, -0.25, 0.0, 0.25, 0.5, 1.0] {
            for cw in [-0.5, -0.25, 0.0, 0.25, 0.5, 1.0] {
                let v: Vec<f64> = (0..la.len())
                    .map(|i| la[i] + bw * lb[i] + cw * tr[i])
                    .collect();
                rows.push((tun(&v), hel(&v), all(&v), e, bw, cw));
            }
        }
    }
    for e in [0.01, 0.1] {
        for cw in [0.03, 0.1, 0.3, 1.0, 3.0] {
            let v: Vec<f64> = (0..a.len()).map(|i| (e + a[i] + cw * b[i]).ln()).collect();
            rows.push((tun(&v), hel(&v), all(&v), e, -99.0, cw));
        }
    }
    rows.sort_by(|x, y| x.0.total_cmp(&y.0));
    for r in rows.iter().rev().take(12) {
        println!(
            "{:.4} {:.4} {:.4} | e {} b {} c {}",
            r.0, r.1, r.2, r.3, r.4, r.5
        );
    }
}
