//! The model variants recorded in docs/architecture/threat.md, each backtested
//! on the tuning period and, separately, on the held-out period:
//! `cargo run --release -p sallyport-threat --example variants`.
//! (Choices were made on the tuning column only; see `examples/tune.rs`.)

mod common;


use sallyport_threat::model::KindWeights;
use sallyport_threat::{
    backtest, AlertRules, BacktestConfig, ModelParams, SpaceKernel, ThreatModel,
};

fn main() {
    let (events, sites) = common::ged_and_origins();
    let cfg = BacktestConfig::default();
    let periods = common::default_periods(&events, &cfg);
    let d = ModelParams::default();
    let old = ModelParams {
        kernel: SpaceKernel::Gaussian,
        length_km: 30.0,
        tau_days: 21.0,
        ..d.clone()
    };
    let variants: Vec<(&str, ModelParams)> = vec![
        ("previous: Gaussian λ 30 km, τ 21 d", old.clone()),
        (
            "disk R 50 km, σ = uncertainty radius, τ 21",
            ModelParams {
                tau_days: 21.0,
                disk_sigma_ratio: 1.0,
                ..d.clone()
            },
        ),
        (
            "disk R 50 km, σ = radius/2, τ 21",
            ModelParams {
                tau_days: 21.0,
                ..d.clone()
            },
        ),
        ("disk R 50, σ = radius/2, τ 30 (kept)", d.clone()),
        (
            "  … R 40 km",
            ModelParams {
                radius_km: 40.0,
                ..d.clone()
            },
        ),
        (
            "  … R 60 km",
            ModelParams {
                radius_km: 60.0,
                ..d.clone()
            },
        ),
        (
            "  … σ = radius/4",
            ModelParams {
                disk_sigma_ratio: 0.25,
                ..d.clone()
            },
        ),
        (
            "  … τ 45 d",
            ModelParams {
                tau_days: 45.0,
                ..d.clone()
            },
        ),
        (
            "  … fatality weight 0",
            ModelParams {
                fatality_weight: 0.0,
                ..d.clone()
            },
        ),
        (
            "  … fatality weight 3",
            ModelParams {
                fatality_weight: 3.0,
                ..d.clone()
            },
        ),
        (
            "  … + long memory (w 0.5, τ_long 180 d)",
            ModelParams {
                long_weight: 0.5,
                ..d.clone()
            },
        ),
        (
            "  … + long memory (w 2, τ_long 365 d)",
            ModelParams {
                long_weight: 2.0,
                long_tau_days: 365.0,
                ..d.clone()
            },
        ),
        (
            "  … non-state weight 0.5, one-sided 2",
            ModelParams {
                kinds: KindWeights {
                    non_state: 0.5,
                    one_sided: 2.0,
                    ..KindWeights::default()
                },
                ..d.clone()
            },
        ),
    ];
    println!("variant | AUC all / tuning / held-out (baseline) | median lead all / held-out | alert days tuning");
    for (name, params) in variants {
        let m = ThreatModel::new(events.clone(), params);
        let r = backtest(&m, &sites, &periods, &cfg, &AlertRules::default());
        let (a, t, h) = (&r.periods[0], &r.periods[1], &r.periods[2]);
        println!(
            "{name} | {:.3} / {:.3} / {:.3} ({:.3} / {:.3} / {:.3}) | {:?} / {:?} | {}",
            a.model.auc,
            t.model.auc,
            h.model.auc,
            a.baseline.auc,
            t.baseline.auc,
            h.baseline.auc,
            a.model.median_lead_days,
            h.model.median_lead_days,
            t.model.alert_days
        );
    }
}
