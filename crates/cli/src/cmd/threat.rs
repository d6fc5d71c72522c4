//! `sallyport threat …`: ingest conflict events, assess sites, alerts, plot,
//! planner priority form, backtest. Thin: the work is in `sallyport-threat`.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use chrono::{DateTime, NaiveDate, Utc};
use sallyport_core::Site;
use sallyport_store::Store;
use sallyport_threat::{
    AlertRules, BacktestConfig, Change, IngestOptions, ModelParams, PriorityOptions, ThreatModel, backtest, db,
};

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, clap::Args)]
struct RulesArg {
    /// Alert rules as TOML (elevated, high, critical, hysteresis, min_days, rising_ratio).
    #[arg(long)]
    rules: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Ingest UCDP GED or ACLED CSV files (format detected from the header; all or nothing).
    Ingest {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Store the valid rows even if some rows are rejected (they are still reported).
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Assess every site (or one) as of a date: rate, level, trend, advance, top events.
    Assess {
        /// Day to assess (YYYY-MM-DD); default: the last day with a stored event.
        #[arg(long)]
        at: Option<NaiveDate>,
        #[arg(long)]
        site: Option<String>,
        /// Contributing events listed per site.
        #[arg(long, default_value_t = 5)]
        top: usize,
        #[command(flatten)]
        rules: RulesArg,
    },
    /// Alerts (level changes with hysteresis) over a period.
    Alerts {
        /// First day (default: 90 days before --to).
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Last day (default: the last day with a stored event).
        #[arg(long)]
        to: Option<NaiveDate>,
        #[arg(long)]
        site: Option<String>,
        #[arg(long, default_value_t = 5)]
        top: usize,
        #[command(flatten)]
        rules: RulesArg,
    },
    /// Plot a site's daily threat rate with its alerts (PNG; .svg also works).
    Plot {
        #[arg(long)]
        site: String,
        #[arg(long, value_name = "FILE")]
        png: PathBuf,
        /// First day (default: the first stored event's day).
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Last day (default: the last stored event's day).
        #[arg(long)]
        to: Option<NaiveDate>,
        #[command(flatten)]
        rules: RulesArg,
    },
    /// The planner's threat input: rates per site and day, suggested deadlines.
    Priority {
        /// Assess as of this day (YYYY-MM-DD; events known by then only).
        #[arg(long)]
        as_of: NaiveDate,
        /// Replay the recorded history from --as-of onto the operation's days
        /// instead of projecting forward (labelled as a replay).
        #[arg(long)]
        replay: bool,
        /// First operation day (UTC; default: the loaded operation's start).
        #[arg(long)]
        start: Option<DateTime<Utc>>,
        #[arg(long, default_value_t = 28)]
        days: u32,
        #[command(flatten)]
        rules: RulesArg,
    },
    /// Replay history day by day (no look-ahead) against serious violence in the next 30 days.
    Backtest {
        #[command(flatten)]
        rules: RulesArg,
    },
}

fn rules(arg: &RulesArg) -> anyhow::Result<AlertRules> {
    let Some(p) = &arg.rules else { return Ok(AlertRules::default()) };
    let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
    let r: AlertRules = toml::from_str(&text).with_context(|| format!("{}: not valid alert rules", p.display()))?;
    r.validate().map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    Ok(r)
}

async fn sites(store: &Store, only: Option<&str>) -> anyhow::Result<Vec<Site>> {
    let all = store.sites().await?;
    if all.is_empty() {
        bail!("no sites: load a scenario first (`sallyport scenario load scenarios/northeast-syria-2026.toml`)");
    }
    match only {
        None => Ok(all),
        Some(id) => {
            let known: Vec<String> = all.iter().map(|s| s.id.to_string()).collect();
            let s: Vec<Site> = all.into_iter().filter(|s| s.id.as_str() == id).collect();
            if s.is_empty() {
                bail!("unknown site {id:?}; known: {}", known.join(", "));
            }
            Ok(s)
        }
    }
}

async fn model(store: &Store) -> anyhow::Result<ThreatModel> {
    let events = db::load_events(store).await?;
    if events.is_empty() {
        bail!("no conflict events stored: `sallyport threat ingest FILE.csv` (UCDP GED or ACLED) first");
    }
    Ok(ThreatModel::new(events, ModelParams::default()))
}

fn last_day(m: &ThreatModel) -> NaiveDate {
    m.events().iter().map(|e| e.date_end).max().expect("non-empty")
}

fn first_day(m: &ThreatModel) -> NaiveDate {
    m.events().iter().map(|e| e.date_start).min().expect("non-empty")
}

fn json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    match args.cmd {
        Cmd::Ingest { files, skip_invalid } => {
            let r = sallyport_threat::ingest_files(&store, &files, IngestOptions { skip_invalid }).await?;
            if ctx.json {
                json(&r)?;
            } else {
                for f in &r.files {
                    println!(
                        "{}: {} ({} rows, {} accepted, {} new, {} already stored, {} rejected)",
                        f.file,
                        f.source.map_or("unrecognised", |s| s.as_str()),
                        f.rows,
                        f.accepted,
                        f.added,
                        f.already_present,
                        f.rejected.len()
                    );
                    for rej in f.rejected.iter().take(50) {
                        println!("  rejected {rej}");
                    }
                    if f.rejected.len() > 50 {
                        println!("  … and {} more (use --json for all)", f.rejected.len() - 50);
                    }
                }
                println!("{}", r.summary);
            }
            if !r.committed {
                bail!("{}", r.summary);
            }
        }
        Cmd::Assess { at, site, top, rules: ra } => {
            let rules = rules(&ra)?;
            let m = model(&store).await?;
            let at = at.unwrap_or_else(|| last_day(&m));
            let sites = sites(&store, site.as_deref()).await?;
            let out = m.assess_all(&sites, at, &rules, top);
            if ctx.json {
                json(&out)?;
            } else {
                println!("threat as of {at} (events known by that day; rate 1.0 = quiet)");
                for a in &out {
                    let adv = a.advance.map_or("-".to_string(), |v| {
                        format!(
                            "{:.0} km at {:.0}°, {:+.1} km/day{}",
                            v.distance_km,
                            v.bearing_deg,
                            v.approach_km_per_day,
                            v.eta_days.map_or(String::new(), |e| format!(", ETA {e:.0} d"))
                        )
                    });
                    println!(
                        "{:<10} {:<9} rate {:>7.2}  trend {:?} (x{:.2})  advance: {}",
                        a.site.as_str(),
                        a.level.as_str(),
                        a.rate,
                        a.trend.direction,
                        a.trend.ratio,
                        adv
                    );
                    for c in &a.contributors {
                        println!(
                            "    {:>4.0}%  {} {} {} {:?} {} deaths, {:.0} km (±{:.0}) {}",
                            c.share * 100.0,
                            c.source.as_str(),
                            c.event_id,
                            c.date_end,
                            c.kind,
                            c.fatalities,
                            c.distance_km,
                            c.uncertainty_km,
                            c.location
                        );
                    }
                }
            }
        }
        Cmd::Alerts { from, to, site, top, rules: ra } => {
            let rules = rules(&ra)?;
            let m = model(&store).await?;
            let to = to.unwrap_or_else(|| last_day(&m));
            let from = from.unwrap_or(to - chrono::Duration::days(90));
            if from > to {
                bail!("--from {from} is after --to {to}");
            }
            let sites = sites(&store, site.as_deref()).await?;
            let alerts = sallyport_threat::alerts::alerts(&m, &sites, from, to, &rules, top);
            if ctx.json {
                json(&alerts)?;
            } else {
                println!("{} alert(s) {from} ..= {to}", alerts.len());
                for a in &alerts {
                    let arrow = if a.change == Change::Raised { "▲" } else { "▼" };
                    println!(
                        "{} {arrow} {:<10} {} -> {}: {}",
                        a.day,
                        a.site.as_str(),
                        a.previous.as_str(),
                        a.level.as_str(),
                        a.cause
                    );
                    for c in &a.contributors {
                        println!(
                            "      {:>4.0}% {} {} {} deaths at {} ({:.0} km)",
                            c.share * 100.0,
                            c.event_id,
                            c.date_end,
                            c.fatalities,
                            c.location,
                            c.distance_km
                        );
                    }
                }
            }
        }
        Cmd::Plot { site, png, from, to, rules: ra } => {
            let rules = rules(&ra)?;
            let m = model(&store).await?;
            let s = sites(&store, Some(&site)).await?;
            let (from, to) = (from.unwrap_or_else(|| first_day(&m)), to.unwrap_or_else(|| last_day(&m)));
            if from > to {
                bail!("--from {from} is after --to {to}");
            }
            let warm = from - chrono::Duration::days(sallyport_threat::alerts::ALERT_WARMUP_DAYS);
            let series = m.series(&s[0], warm, to);
            let alerts = sallyport_threat::plot::plot(&png, &series, from, &rules, "")?;
            if ctx.json {
                json(&serde_json::json!({ "file": png, "site": site, "from": from, "to": to, "alerts": alerts.len() }))?;
            } else {
                let days = (to - from).num_days() + 1;
                println!("wrote {} ({days} days, {} alert changes)", png.display(), alerts.len());
            }
        }
        Cmd::Priority { as_of, replay, start, days, rules: ra } => {
            let rules = rules(&ra)?;
            let m = model(&store).await?;
            let sites = sites(&store, None).await?;
            let start = match start {
                Some(s) => s,
                None => {
                    store.scenario().await?.map(|s| s.operation.start).context("no operation loaded: pass --start")?
                }
            };
            let opts = PriorityOptions::default();
            let out = if replay {
                sallyport_threat::replay(&m, &sites, as_of, start, days, &rules, &opts)
            } else {
                sallyport_threat::forecast(&m, &sites, as_of, start, days, &rules, &opts)
            };
            if ctx.json {
                json(&out)?;
            } else {
                println!("{:?}", out.basis);
                println!("unit: {}", out.unit);
                for (id, s) in &out.sites {
                    let max = s.rates.iter().map(|r| r.1).fold(1.0, f64::max);
                    println!(
                        "{:<10} day-0 rate {:>7.2}  max {:>7.2}  deadline {}",
                        id.as_str(),
                        s.rates.first().map_or(1.0, |r| r.1),
                        max,
                        s.deadline.map_or("-".to_string(), |d| format!("{d} ({})", s.deadline_reason))
                    );
                }
            }
        }
        Cmd::Backtest { rules: ra } => {
            let rules = rules(&ra)?;
            let m = model(&store).await?;
            let sites: Vec<Site> = sites(&store, None).await?.into_iter().filter(|s| s.kind.is_origin()).collect();
            let cfg = BacktestConfig::default();
            let periods = sallyport_threat::backtest::default_periods(first_day(&m), last_day(&m), &cfg)
                .map_err(|e| anyhow::anyhow!(e))?;
            let r = backtest(&m, &sites, &periods, &cfg, &rules);
            if ctx.json {
                json(&r)?;
            } else {
                println!("{}", r.definition);
                println!("sites: {}", r.sites.join(", "));
                for p in &r.periods {
                    println!(
                        "{} ({} ..= {}): {} site-days, {} positive, {} onsets",
                        p.label, p.from, p.to, p.site_days, p.positives, p.episodes
                    );
                    for (name, x) in [("model", &p.model), ("baseline", &p.baseline)] {
                        println!(
                            "  {:<8} AUC {:.3}  alert days {:>5}  precision {:.2}  recall {:.2}  onsets alerted {:>3} (>= 7 d ahead {:>3})  median lead {}",
                            name,
                            x.auc,
                            x.alert_days,
                            x.precision_at_alert,
                            x.recall_at_alert,
                            x.episodes_alerted,
                            x.episodes_alerted_7d,
                            x.median_lead_days.map_or("-".into(), |d| format!("{d:.0} d"))
                        );
                    }
                }
            }
        }
    }
    Ok(())
}
