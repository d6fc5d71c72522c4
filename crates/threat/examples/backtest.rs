//! The backtest of `sallyport threat backtest`, straight from the shared GED
//! file (no database): `cargo run --release -p sallyport-threat --example backtest [-- --json]`.
//! Same sites (the flagship's origins), periods, parameters and rules as the CLI.

use std::path::PathBuf;

use sallyport_threat::{AlertRules, BacktestConfig, ModelParams, ThreatModel, backtest, parse_bytes};

fn main() {
    let shared = std::env::var_os("SALLYPORT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let bytes = std::fs::read(shared.join("data/conflict/ucdp-ged-syria-v19.1-2016-2019.csv")).expect("GED extract");
    let events = parse_bytes("ged", &bytes).events;
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/northeast-syria-2026.toml");
    let sc: sallyport_core::Scenario = toml::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let sites: Vec<_> = sc.sites.into_iter().filter(|s| s.kind.is_origin()).collect();
    let first = events.iter().map(|e| e.date_start).min().unwrap();
    let last = events.iter().map(|e| e.date_end).max().unwrap();
    let cfg = BacktestConfig::default();
    let periods = sallyport_threat::backtest::default_periods(first, last, &cfg).unwrap();
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
