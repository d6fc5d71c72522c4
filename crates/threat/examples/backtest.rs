//! The backtest of `sallyport threat backtest`, straight from the shared GED
//! file (no database): `cargo run --release -p sallyport-threat --example backtest [-- --json]`.
//! Same sites (the flagship's origins), periods, parameters and rules as the CLI.

mod common;


use sallyport_threat::{AlertRules, BacktestConfig, ModelParams, ThreatModel, backtest};

fn main() {
    let (events, sites) = common::ged_and_origins();
    let cfg = BacktestConfig::default();
    let periods = common::default_periods(&events, &cfg);
    let m = ThreatModel::new(events, ModelParams::default());
    let r = backtest(&m, &sites, &periods, &cfg, &AlertRules::default());
    if std::env::args().any(|a| a == "--json") {
        println!("{}", serde_json::to_string_pretty(&r).unwrap());
        return;
    }
    println!("{}", r.definition);
    for p in &r.periods {
        println!("{} ({} ..= {}): {} site-days, {} positive, {} onsets", p.label, p.from, p.to, p.site_days, p.positives, p.episodes);
        for (name, x) in [("model", &p.model), ("baseline", &p.baseline)] {
            println!(
                "  {name:<8} AUC {:.3}  alert days {:>5}  precision {:.2}  recall {:.2}  onsets alerted {:>3} (>= 7 d ahead {:>3})  median lead {:?}",
                x.auc, x.alert_days, x.precision_at_alert, x.recall_at_alert, x.episodes_alerted, x.episodes_alerted_7d,
                x.median_lead_days
            );
        }
    }
}
