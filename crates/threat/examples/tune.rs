//! Parameter search on the TUNING period only (2016-03-01 ..= 2017-12-31):
//! `cargo run --release -p sallyport-threat --example tune`. The held-out
//! period (from `backtest::split_day()`, 2018-01-01) is not looked at here.
//! Prints every setting's tuning AUC (model and baseline), best last.

mod common;


use chrono::NaiveDate;
use sallyport_threat::{backtest, AlertRules, ModelParams, ThreatModel};

fn main() {
    let (events, sites) = common::ged_and_origins();
    let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let split = sallyport_threat::backtest::split_day();
    let periods = [(
        "tuning".to_string(),
        d(2016, 3, 1),
        split - chrono::Duration::days(1),
    )];
    let rules = AlertRules::default();
    let mut rows = Vec::new();
    use sallyport_threat::SpaceKernel;
    let kernels = [
        (SpaceKernel::Gaussian, 20.0, 1.0),
        (SpaceKernel::Gaussian, 30.0, 1.0),
        (SpaceKernel::Disk, 30.0, 0.5),
        (SpaceKernel::Disk, 35.0, 0.5),
        (SpaceKernel::Disk, 40.0, 0.5),
        (SpaceKernel::Disk, 40.0, 0.35),
        (SpaceKernel::Disk, 40.0, 1.0),
        (SpaceKernel::Disk, 45.0, 0.5),
        (SpaceKernel::Disk, 50.0, 1.0),
        (SpaceKernel::Disk, 50.0, 0.5),
        (SpaceKernel::Disk, 50.0, 0.25),
        (SpaceKernel::Disk, 60.0, 0.5),
    ];
    for (kernel, scale, disk_sigma_ratio) in kernels {
        for tau_days in [14.0, 21.0, 30.0, 45.0, 60.0, 90.0] {
            for fatality_weight in [0.0, 1.0, 3.0] {
                for long_weight in [0.0, 0.5] {
                    let params = ModelParams {
                        kernel,
                        radius_km: scale,
                        length_km: scale,
                        disk_sigma_ratio,
                        tau_days,
                        fatality_weight,
                        long_weight,
                        ..ModelParams::default()
                    };
                    let m = ThreatModel::new(events.clone(), params);
                    let r = backtest(&m, &sites, &periods, &Default::default(), &rules);
                    let p = &r.periods[0];
                    rows.push((
                        p.model.auc,
                        p.baseline.auc,
                        format!("{kernel:?} σ/r {disk_sigma_ratio}"),
                        scale,
                        tau_days,
                        fatality_weight,
                        long_weight,
                    ));
                }
            }
        }
    }
    // Event-type weights (GED types; ACLED types are not in this extract).
    println!("tuning AUC | state_based non_state one_sided (disk kernel defaults otherwise)");
    for non_state in [0.5, 1.0, 1.5] {
        for one_sided in [0.5, 1.2, 2.0] {
            let kinds = sallyport_threat::model::KindWeights {
                non_state,
                one_sided,
                ..Default::default()
            };
            let m = ThreatModel::new(
                events.clone(),
                ModelParams {
                    kinds,
                    ..ModelParams::default()
                },
            );
            let r = backtest(&m, &sites, &periods, &Default::default(), &rules);
            println!(
                "{:.4} | 1.0 {non_state} {one_sided}",
                r.periods[0].model.auc
            );
        }
    }
    // The reference intensity only scales the rate: it sets where the alert
    // thresholds fall, not the AUC. Its alert statistics on the tuning period:
    println!("reference_intensity | alert days precision recall onsets alerted/all median lead (defaults otherwise)");
    for reference_intensity in [0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5] {
        let m = ThreatModel::new(
            events.clone(),
            ModelParams {
                reference_intensity,
                ..ModelParams::default()
            },
        );
        let r = backtest(&m, &sites, &periods, &Default::default(), &rules);
        let p = &r.periods[0];
        let f1 = 2.0 * p.model.precision_at_alert * p.model.recall_at_alert
            / (p.model.precision_at_alert + p.model.recall_at_alert);
        println!(
            "{reference_intensity:>5} | {} {:.3} {:.3} F1 {f1:.3} {}/{} {:?}",
            p.model.alert_days,
            p.model.precision_at_alert,
            p.model.recall_at_alert,
            p.model.episodes_alerted,
            p.episodes,
            p.model.median_lead_days
        );
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!("tuning AUC  baseline | kernel scale_km tau_days fatality_weight long_weight");
    for (a, b, k, l, t, f, w) in rows {
        println!("{a:.4} {b:.4} | {k} {l:>4} {t:>5} {f:>3} {w:>3}");
    }
}
