//! `sallyport plan …`: solve, show, gantt, manifests, validate, replan.
//!
//! Plans are stored in the `plans` table (migration 4001) with the problem
//! they were made for, so re-planning events accumulate.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use sallyport_planner::{Event, Plan, Problem, SolverOptions, ThreatRates, replan, solve, validate};
use sallyport_store::Store;
use sallyport_store::sqlx::{self, Row};

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
    /// Improvement time limit, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub time_limit: f64,
    /// Search seed (same seed and rounds, same plan).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Threat rates per site: JSON object {"site-id": [rate day 0, day 1, …]}.
    #[arg(long)]
    pub threat: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Show the latest stored plan (KPIs, per-site emptying, intake per day).
    Show {
        /// Plan id (default: latest).
        #[arg(long)]
        id: Option<i64>,
    },
    /// Draw the schedule: a row per aircraft, a bar per sortie coloured by origin.
    Gantt {
        #[arg(long)]
        svg: PathBuf,
        #[arg(long)]
        id: Option<i64>,
    },
    /// Write one CSV per origin site plus all.csv: sortie, aircraft, times, person.
    Manifests {
        #[arg(long)]
        csv: PathBuf,
        #[arg(long)]
        id: Option<i64>,
    },
    /// Check a plan file (JSON) against the stored operation.
    Validate { file: PathBuf },
    /// Repair the latest plan after an event.
    Replan {
        /// The event as JSON, or @FILE, e.g.
        /// {"kind":"aircraft_unserviceable","tail":"CH47-01","from":"2026-01-25T08:00:00Z","days":2}
        #[arg(long)]
        event: String,
        /// Current time (RFC 3339); sorties departed before it are fixed. Default: the event's time, else now.
        #[arg(long)]
        now: Option<DateTime<Utc>>,
        /// Time limit, seconds.
        #[arg(long, default_value_t = 0.8)]
        time_limit: f64,
    },
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    match args.cmd {
        None => {
            let threat = match &args.threat {
                None => ThreatRates::new(),
                Some(f) => {
                    let t = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
                    serde_json::from_str(&t).with_context(|| format!("{}: expected {{\"site-id\": [rates per day]}}", f.display()))?
                }
            };
            let problem = build_problem(&store, &threat).await?;
            if !(args.time_limit.is_finite() && args.time_limit >= 0.0) {
                bail!("--time-limit must be a number of seconds >= 0");
            }
            let opts = SolverOptions { time_limit: Duration::from_secs_f64(args.time_limit), seed: args.seed, ..Default::default() };
            let plan = solve(&problem, &opts)?;
            let violations = validate(&problem, &plan);
            let id = save(&store, &problem, &plan, args.seed, "solve", "").await?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({"id": id, "plan": plan, "violations": violations}))?);
            } else {
                print_summary(id, &problem, &plan);
                println!("validator: {} violation(s)", violations.len());
                for v in violations.iter().take(20) {
                    println!("  {v}");
                }
            }
        }
        Some(Cmd::Show { id }) => {
            let (id, problem, plan) = load(&store, id).await?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                print_summary(id, &problem, &plan);
                println!("\n{:>5}  {:<9} {:<10} {:<12} {:>16} {:>16} {:>6} {:>6}", "id", "aircraft", "origin", "category", "depart", "arrive", "people", "guards");
                for s in &plan.sorties {
                    println!(
                        "{:>5}  {:<9} {:<10} {:<12} {:>16} {:>16} {:>6} {:>6}",
                        s.id,
                        s.aircraft.as_str(),
                        s.origin.as_str(),
                        s.category.as_str(),
                        s.legs.first().map(|l| l.depart.format("%m-%d %H:%M").to_string()).unwrap_or_default(),
                        s.legs.last().map(|l| l.arrive.format("%m-%d %H:%M").to_string()).unwrap_or_default(),
                        s.manifest.len(),
                        s.guard_seats
                    );
                }
            }
        }
        Some(Cmd::Gantt { svg, id }) => {
            let (_, problem, plan) = load(&store, id).await?;
            std::fs::write(&svg, gantt(&problem, &plan)).with_context(|| format!("cannot write {}", svg.display()))?;
            println!("wrote {}", svg.display());
        }
        Some(Cmd::Manifests { csv, id }) => {
            let (_, _, plan) = load(&store, id).await?;
            std::fs::create_dir_all(&csv).with_context(|| format!("cannot create {}", csv.display()))?;
            let mut files: BTreeMap<String, String> = BTreeMap::new();
            let header = "sortie,aircraft,origin,category,depart_utc,arrive_utc,person,guard_seats,escort_seats\n";
            for s in &plan.sorties {
                for p in &s.manifest {
                    let line = format!(
                        "{},{},{},{},{},{},{},{},{}\n",
                        s.id,
                        s.aircraft,
                        s.origin,
                        s.category.as_str(),
                        s.legs.iter().find(|l| l.loaded).map(|l| l.depart.to_rfc3339()).unwrap_or_default(),
                        s.legs.last().map(|l| l.arrive.to_rfc3339()).unwrap_or_default(),
                        p,
                        s.guard_seats,
                        s.escort_seats
                    );
                    for key in [s.origin.to_string(), "all".to_string()] {
                        files.entry(key).or_insert_with(|| header.to_string()).push_str(&line);
                    }
                }
            }
            for (k, text) in &files {
                let f = csv.join(format!("{k}.csv"));
                std::fs::write(&f, text).with_context(|| format!("cannot write {}", f.display()))?;
            }
            println!("wrote {} files to {}", files.len(), csv.display());
        }
        Some(Cmd::Validate { file }) => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let plan: Plan = serde_json::from_str(&text).with_context(|| format!("{}: not a plan (JSON)", file.display()))?;
            let problem = match latest_problem(&store).await? {
                Some(p) => p,
                None => build_problem(&store, &ThreatRates::new()).await?,
            };
            let v = validate(&problem, &plan);
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({"valid": v.is_empty(), "violations": v}))?);
            } else if v.is_empty() {
                println!("{}: valid ({} sorties, {} people moved)", file.display(), plan.sorties.len(), plan.kpis.people_moved);
            } else {
                println!("{}: {} violation(s)", file.display(), v.len());
                for x in &v {
                    println!("  {x}");
                }
            }
            if !v.is_empty() {
                bail!("plan is not valid");
            }
        }
        Some(Cmd::Replan { event, now, time_limit }) => {
            let text = match event.strip_prefix('@') {
                Some(f) => std::fs::read_to_string(f).with_context(|| format!("cannot read {f}"))?,
                None => event,
            };
            let ev: Event = serde_json::from_str(&text).context("--event: not an event (see `plan replan --help`)")?;
            let (id, problem, plan) = load(&store, None).await?;
            let now = now.or(match &ev {
                Event::AircraftUnserviceable { from, .. } | Event::ThreatChange { from, .. } | Event::IntakeFactor { from, .. } => Some(*from),
                _ => None,
            });
            let now = now.unwrap_or_else(Utc::now);
            let opts = SolverOptions { time_limit: Duration::from_secs_f64(time_limit.max(0.0)), seed: plan.stats.seed, ..Default::default() };
            let r = replan(&problem, &plan, now, &ev, &opts)?;
            let violations = validate(&r.problem, &r.plan);
            let note = format!("from plan {id}: {}", serde_json::to_string(&ev)?);
            let new_id = save(&store, &r.problem, &r.plan, plan.stats.seed, "replan", &note).await?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({
                    "id": new_id, "manifests_changed": r.manifests_changed, "sorties_fixed": r.sorties_fixed,
                    "sorties_kept": r.sorties_kept, "strategy": r.strategy, "solve_ms": r.solve_ms,
                    "kpis": r.plan.kpis, "violations": violations,
                }))?);
            } else {
                print_summary(new_id, &r.problem, &r.plan);
                println!(
                    "re-planned ({}) in {} ms: {} sorties fixed, {} kept, {} manifests changed, {} people on another sortie; validator: {} violation(s)",
                    r.strategy, r.solve_ms, r.sorties_fixed, r.sorties_kept, r.manifests_changed, r.people_moved_to_other_sortie, violations.len()
                );
            }
        }
    }
    Ok(())
}

async fn build_problem(store: &Store, threat: &ThreatRates) -> anyhow::Result<Problem> {
    let scenario = store.scenario().await?.context("no operation stored: run `sallyport scenario load FILE` first")?;
    let people = store.people().await?;
    Ok(Problem::from_scenario(&scenario, &people, threat)?)
}

async fn save(store: &Store, problem: &Problem, plan: &Plan, seed: u64, kind: &str, note: &str) -> anyhow::Result<i64> {
    let mut tx = store.begin_write().await?;
    let row = sqlx::query("INSERT INTO plans (created_ms, seed, kind, note, json, problem_json) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(Utc::now().timestamp_millis())
        .bind(seed as i64)
        .bind(kind)
        .bind(note)
        .bind(serde_json::to_string(plan)?)
        .bind(serde_json::to_string(problem)?)
        .fetch_one(&mut *tx)
        .await?;
    let id: i64 = row.try_get(0)?;
    tx.commit().await?;
    Ok(id)
}

async fn load(store: &Store, id: Option<i64>) -> anyhow::Result<(i64, Problem, Plan)> {
    let row = match id {
        Some(id) => sqlx::query("SELECT id, json, problem_json FROM plans WHERE id = $1").bind(id).fetch_optional(store.pool()).await?,
        None => sqlx::query("SELECT id, json, problem_json FROM plans ORDER BY id DESC LIMIT 1").fetch_optional(store.pool()).await?,
    };
    let row = row.with_context(|| match id {
        Some(id) => format!("no plan with id {id}"),
        None => "no plan stored yet: run `sallyport plan` first".into(),
    })?;
    let id: i64 = row.try_get(0)?;
    let plan: Plan = serde_json::from_str(&row.try_get::<String, _>(1)?).with_context(|| format!("stored plan {id} is corrupt"))?;
    let problem: Problem = serde_json::from_str(&row.try_get::<String, _>(2)?).with_context(|| format!("stored problem of plan {id} is corrupt"))?;
    Ok((id, problem, plan))
}

async fn latest_problem(store: &Store) -> anyhow::Result<Option<Problem>> {
    let row = sqlx::query("SELECT problem_json FROM plans ORDER BY id DESC LIMIT 1").fetch_optional(store.pool()).await?;
    match row {
        None => Ok(None),
        Some(r) => Ok(Some(serde_json::from_str(&r.try_get::<String, _>(0)?).context("stored problem is corrupt")?)),
    }
}

fn print_summary(id: i64, p: &Problem, plan: &Plan) {
    let k = &plan.kpis;
    println!("plan {id}: {} sorties, {} people moved, {} unserved (unfit to fly)", k.sorties, k.people_moved, k.people_unserved);
    println!(
        "  makespan {:.2} days (bound {:.2}, gap {:.1}%, binding: {})",
        k.makespan_days,
        plan.bounds.makespan_h / 24.0,
        plan.gap.makespan * 100.0,
        plan.bounds.makespan_binding
    );
    println!(
        "  risk exposure {:.0} (bound {:.0}, gap {:.1}%), deadline misses {}, flight hours {:.0}, solved in {} ms",
        k.risk_exposure,
        plan.bounds.risk_exposure,
        plan.gap.risk_exposure * 100.0,
        k.deadline_misses,
        k.flight_hours,
        plan.stats.solve_ms
    );
    println!("\n  {:<12} {:>6} {:>17} {:>17} {:>8} {:>5} {:>5}", "site", "people", "emptied", "deadline", "slack", "late", "left");
    for s in &plan.sites {
        println!(
            "  {:<12} {:>6} {:>17} {:>17} {:>8} {:>5} {:>5}",
            s.site.as_str(),
            s.people,
            s.emptied.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "-".into()),
            s.deadline.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "-".into()),
            s.slack_h.map(|h| format!("{h:.1} h")).unwrap_or_else(|| "-".into()),
            s.late,
            s.left_behind
        );
    }
    println!("\n  intake per day at {}:", p.sites[p.destination].id);
    for d in &plan.intake {
        println!("  {} {:>5} / {}", d.date, d.people, d.capacity);
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// SVG schedule: one row per aircraft, one bar per sortie coloured by origin.
fn gantt(p: &Problem, plan: &Plan) -> String {
    const PALETTE: [&str; 12] =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"];
    let tails: Vec<String> = p.aircraft.iter().map(|a| a.tail.to_string()).collect();
    let origins: Vec<String> = plan.sites.iter().map(|s| s.site.to_string()).collect();
    let colour = |o: &str| origins.iter().position(|x| x == o).map_or("#999999", |i| PALETTE[i % PALETTE.len()]);
    let t0 = p.start_h;
    let t1 = plan.sorties.iter().map(|s| s.arrive_h()).fold(t0 + 24.0, f64::max);
    let (left, top, row, width) = (90.0, 40.0, 16.0, 1400.0);
    let x = |h: f64| left + (h - t0) / (t1 - t0) * width;
    let height = top + row * tails.len() as f64 + 40.0 + 18.0 * origins.len().div_ceil(4) as f64;
    let mut s = String::new();
    let _ = writeln!(s, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="sans-serif" font-size="11">"#, left + width + 20.0);
    let _ = writeln!(s, r#"<text x="{left}" y="16" font-size="14">Transfer plan: {} sorties, makespan {:.1} days (rows: aircraft; bars: sorties, colour = origin)</text>"#, plan.kpis.sorties, plan.kpis.makespan_days);
    let mut d = (t0 / 24.0).ceil() * 24.0;
    while d <= t1 {
        let day = sallyport_planner::problem::day_of(d);
        let _ = writeln!(s, r##"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{1}" stroke="#ddd"/><text x="{0:.1}" y="{2}" fill="#555">{3}</text>"##, x(d), top + row * tails.len() as f64, top - 4.0, p.date_of_day(day).format("%d %b"));
        d += 24.0;
    }
    for (i, t) in tails.iter().enumerate() {
        let _ = writeln!(s, r#"<text x="4" y="{:.1}">{}</text>"#, top + row * i as f64 + 12.0, esc(t));
    }
    for so in &plan.sorties {
        let Some(i) = tails.iter().position(|t| t == so.aircraft.as_str()) else { continue };
        let y = top + row * i as f64 + 2.0;
        let (a, b) = (x(so.depart_h()), x(so.arrive_h()));
        let _ = writeln!(
            s,
            r#"<rect x="{a:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>sortie {} {} from {}: {} people, {} → {}</title></rect>"#,
            (b - a).max(1.0),
            row - 4.0,
            colour(so.origin.as_str()),
            so.id,
            esc(so.aircraft.as_str()),
            esc(so.origin.as_str()),
            so.manifest.len(),
            so.legs.first().map(|l| l.depart.format("%d %b %H:%M").to_string()).unwrap_or_default(),
            so.legs.last().map(|l| l.arrive.format("%d %b %H:%M").to_string()).unwrap_or_default()
        );
    }
    let ly = top + row * tails.len() as f64 + 20.0;
    for (k, o) in origins.iter().enumerate() {
        let (lx, lyy) = (left + (k % 4) as f64 * 200.0, ly + (k / 4) as f64 * 18.0);
        let _ = writeln!(s, r#"<rect x="{lx}" y="{lyy}" width="12" height="12" fill="{}"/><text x="{}" y="{}">{}</text>"#, colour(o), lx + 16.0, lyy + 10.0, esc(o));
    }
    s.push_str("</svg>\n");
    s
}
