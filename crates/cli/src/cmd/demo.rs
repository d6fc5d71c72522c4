//! `sallyport demo`: the flagship operation end to end on a fresh embedded
//! database — plan, execute with seeded disruptions and re-plans, field-device
//! ledger, reconciliation, sitreps, evidence bundles and the final report.
//!
//! Needs `sallyport-execution` in the CLI's dependencies
//! (`sallyport-execution = { path = "../execution" }`).
//!
//! `--serve [--listen ADDR]`: the dashboard serves the demo's database while
//! the run goes on — see [`Live`]. Everything the live view adds goes to
//! stderr; stdout (the day lines and the summary) is the same as without it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sallyport_execution::{DemoOptions, RunConfig, prepare_and_run, scale_scenario, write_outputs};
use sallyport_store::sqlx;

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seed for every random choice of the run (same seed, same plans, ledger and report).
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Scale the flagship down to about this many people (default: the full ~6,000).
    #[arg(long)]
    pub people: Option<u32>,
    /// Pace the printout: simulated days per second (0 = as fast as possible).
    #[arg(long, default_value_t = 0.0)]
    pub speed: f64,
    /// No seeded disruptions (hand-injected ones still apply in `sallyport run`).
    #[arg(long)]
    pub no_disruptions: bool,
    /// Planner improvement rounds per solve/re-plan (deterministic).
    #[arg(long, default_value_t = 2)]
    pub rounds: u64,
    /// Serve the dashboard over the demo's database while it runs (live updates as days
    /// end), and keep serving after the run until Ctrl-C.
    #[arg(long)]
    pub serve: bool,
    /// Where the dashboard listens with --serve.
    #[arg(long, default_value = "127.0.0.1:8080", requires = "serve")]
    pub listen: std::net::SocketAddr,
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let started = Instant::now();
    if !(args.speed.is_finite() && args.speed >= 0.0) {
        anyhow::bail!("--speed must be a number >= 0");
    }
    let dir = ctx.data_dir.join("demo");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let url = format!("sqlite://{}", dir.join("sallyport.db").display());
    let store = sallyport_store::Store::open(&url).await?;
    let mut scenario = super::scenario::parse(super::scenario::FLAGSHIP, "flagship scenario")?;
    if let Some(n) = args.people {
        anyhow::ensure!((10..=100_000).contains(&n), "--people must be within 10..=100000");
        scenario = scale_scenario(&scenario, n);
        scenario.validate()?;
    }
    let n = super::scenario::load(&store, &scenario, false).await?;
    let people = store.people().await?;
    println!("Sallyport demo: {}", scenario.operation.name);
    println!("loaded {n} SYNTHETIC people at {} origin sites; seed {}", scenario.origins.len(), args.seed);
    let opts = DemoOptions {
        config: RunConfig { seed: args.seed, auto_disruptions: !args.no_disruptions, solver_rounds: args.rounds, ..Default::default() },
        search_bases: search_bases(),
        threat_days: 90,
    };
    let pace = if args.speed > 0.0 { Some(Duration::from_secs_f64(1.0 / args.speed)) } else { None };
    let mut live = if args.serve { Some(Live::start(&store, &scenario, &people, &opts, args.listen).await?) } else { None };
    let days = live.as_ref().and_then(|l| l.days.clone());
    let outcome = tokio::task::block_in_place(|| {
        prepare_and_run(&scenario, &people, &opts, &mut |note| println!("{note}"), &mut |d| {
            print_day(d);
            if let Some(tx) = &days {
                let _ = tx.send(d.clone());
            }
            if let Some(p) = pace {
                std::thread::sleep(p);
            }
        })
    });
    drop(days);
    let outcome = match (outcome, &mut live) {
        (Ok(o), _) => o,
        (Err(e), Some(l)) => {
            l.failed().await;
            return Err(e);
        }
        (Err(e), None) => return Err(e),
    };
    let summary = write_outputs(&outcome, &dir)?;
    if let Some(l) = &live {
        l.replace_provisional_plan(&outcome).await?;
    }
    sallyport_execution::persist::save_plans(&store, &outcome).await?;
    sallyport_execution::persist::save_custody(&store, &outcome).await?;
    if let Some(l) = &mut live {
        l.completed().await?;
    }
    print_summary(&outcome, &summary, &dir, started);
    if let Some(l) = live {
        l.serve_until_stopped().await?;
    }
    Ok(())
}

/// The live dashboard of a demo run. Before the run: the GED conflict events
/// (when found) are stored for threat watch, which the server replays from
/// the same historical day as the run; the initial plan is solved with the
/// run's own inputs and stored, provisionally, so the Gantt chart is there from
/// the start (the run's plans replace it when it ends); the run is marked
/// running. During the run every day's report is stored and published as it
/// ends (`sallyport_server::operation`), and the day's sorties of the stored
/// plan are flown on the map.
pub struct Live {
    store: sallyport_store::Store,
    bus: sallyport_server::LiveBus,
    provisional: Option<(i64, sallyport_planner::Plan)>,
    /// Day reports to the recorder; dropped when the run ends.
    days: Option<tokio::sync::mpsc::UnboundedSender<sallyport_execution::DayReport>>,
    recorder: Option<tokio::task::JoinHandle<()>>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    url: String,
}

impl Live {
    async fn start(
        store: &sallyport_store::Store,
        scenario: &sallyport_core::Scenario,
        people: &[sallyport_core::Person],
        opts: &DemoOptions,
        listen: std::net::SocketAddr,
    ) -> anyhow::Result<Live> {
        use sallyport_server::operation::{self, OperationDay};
        let bases: Vec<&std::path::Path> = opts.search_bases.iter().map(|p| p.as_path()).collect();
        // Threat watch over the recorded conflict events the run replays.
        let ged = sallyport_execution::threat::find_ged(&bases);
        let mut replay_from = None;
        if let Some(g) = &ged {
            let r = sallyport_threat::ingest_files(store, &[g], sallyport_threat::IngestOptions { skip_invalid: true }).await?;
            let (y, m, d) = sallyport_execution::threat::REPLAY_START;
            replay_from = chrono::NaiveDate::from_ymd_opt(y, m, d);
            eprintln!("live: stored {} conflict events from {} for threat watch (replayed from {y}-{m:02}-{d:02})", r.added, g.display());
        }
        // The initial plan, as the run will solve it (same threat, seed and rounds).
        let threat = match &ged {
            Some(g) => sallyport_execution::threat::replay(scenario, g, opts.threat_days)
                .unwrap_or_else(|_| sallyport_execution::threat::flat(scenario, opts.threat_days, "replay failed")),
            None => sallyport_execution::threat::flat(scenario, opts.threat_days, "conflict data not found"),
        };
        let problem = sallyport_planner::Problem::from_scenario(scenario, people, &threat.rates)?;
        let solver = sallyport_planner::SolverOptions {
            time_limit: Duration::from_secs(3600),
            seed: opts.config.seed,
            max_rounds: Some(opts.config.solver_rounds),
            batch: opts.config.solver_batch.max(1),
        };
        let plan = tokio::task::block_in_place(|| sallyport_planner::solve(&problem, &solver))?;
        let row = sqlx::query("INSERT INTO plans (created_ms, seed, kind, note, json, problem_json) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(problem.epoch.timestamp_millis())
            .bind(opts.config.seed as i64)
            .bind("solve")
            .bind("execution run: initial (stored at the start for the live dashboard)")
            .bind(serde_json::to_string(&plan)?)
            .bind(serde_json::to_string(&problem)?)
            .fetch_one(store.pool())
            .await?;
        let id: i64 = sqlx::Row::try_get(&row, 0)?;
        operation::begin(store, &format!("demo, seed {}", opts.config.seed)).await?;

        let mut auth = sallyport_server::Auth::builtin()?;
        super::serve::generated_login(&store.agencies().await?, &mut auth)?;
        let bus = sallyport_server::bus();
        let config = sallyport_server::Config { listen, threat_replay_from: replay_from, ..Default::default() };
        let server = sallyport_server::Server::bind(store.clone(), config, auth, bus.clone()).await?;
        let url = format!("http://{}/", server.local_addr());
        eprintln!("live: the dashboard of this run is at {url}");
        let server = tokio::spawn(server.run(sallyport_server::shutdown_signal()));

        // Days: stored and published in order, as the run reports them.
        let (days, mut rx) = tokio::sync::mpsc::unbounded_channel::<sallyport_execution::DayReport>();
        let (store2, bus2) = (store.clone(), bus.clone());
        let plan2 = std::sync::Arc::new(plan.clone());
        let recorder = tokio::spawn(async move {
            while let Some(d) = rx.recv().await {
                let day = OperationDay {
                    day: d.day,
                    date: d.date,
                    end: problem.to_utc((d.day + 1) as f64 * 24.0),
                    sorties_flown: d.sorties_flown,
                    moved: d.moved,
                    planned_moved: d.planned_moved,
                    arrived_total: d.arrived_total,
                    with_receiving_government: d.with_receiving_government,
                    queue_at_destination: d.queue_at_destination,
                    held_back_today: d.held_back_today,
                    per_site: d.per_site.clone(),
                    threat: d.threat.clone(),
                    disruptions: d.disruptions.clone(),
                    delays: d.delays.clone(),
                    replans_today: d.replans_today,
                    replans_total: d.replans_total,
                    open_discrepancies: d.open_discrepancies,
                };
                if let Err(e) = operation::record_day(&store2, &bus2, &day).await {
                    eprintln!("live: day {} not recorded: {e}", d.day);
                }
                tokio::spawn(fly_day(bus2.clone(), plan2.clone(), d.day, d.replans_total > 0));
            }
        });
        Ok(Live { store: store.clone(), bus, provisional: Some((id, plan)), days: Some(days), recorder: Some(recorder), server, url })
    }

    /// The run's own plans replace the one stored at the start.
    async fn replace_provisional_plan(&self, o: &sallyport_execution::Outcome) -> anyhow::Result<()> {
        if let Some((id, plan)) = &self.provisional {
            if let Some((_, _, first)) = o.plans.first() {
                let (mut a, mut b) = (plan.clone(), first.clone());
                a.stats.solve_ms = 0;
                b.stats.solve_ms = 0;
                if a != b {
                    eprintln!("live: note: the plan stored at the start differs from the run's initial plan; the run's plans replace it");
                }
            }
            sqlx::query("DELETE FROM plans WHERE id = $1").bind(*id).execute(self.store.pool()).await?;
        }
        Ok(())
    }

    /// Wait until every reported day is stored.
    async fn drain(&mut self) {
        self.days = None;
        if let Some(r) = self.recorder.take() {
            let _ = r.await;
        }
    }

    async fn completed(&mut self) -> anyhow::Result<()> {
        self.drain().await;
        sallyport_server::operation::finish(&self.store, &self.bus, true).await?;
        Ok(())
    }

    async fn failed(&mut self) {
        self.drain().await;
        let _ = sallyport_server::operation::finish(&self.store, &self.bus, false).await;
    }

    /// Keep the dashboard up after the run until Ctrl-C or SIGTERM.
    async fn serve_until_stopped(self) -> anyhow::Result<()> {
        eprintln!("live: the run is over; the dashboard stays at {} until Ctrl-C", self.url);
        self.server.await??;
        Ok(())
    }
}

/// Fly the stored plan's sorties of `day` across the map (about two seconds).
async fn fly_day(bus: sallyport_server::LiveBus, plan: std::sync::Arc<sallyport_planner::Plan>, day: u32, replanned: bool) {
    let (from, to) = (day as f64 * 24.0, (day + 1) as f64 * 24.0);
    let sorties: Vec<_> = plan
        .sorties
        .iter()
        .filter(|s| !s.manifest.is_empty() && s.depart_h() >= from && s.depart_h() < to)
        .collect();
    if sorties.is_empty() {
        return;
    }
    let suffix = if replanned { " (initial plan)" } else { "" };
    for step in 0..=10u32 {
        for s in &sorties {
            let Some(last) = s.legs.last() else { continue };
            let _ = bus.send(sallyport_server::LiveEvent::SortieProgress {
                sortie: format!("{}{suffix}", sallyport_server::plans::sortie_name(s.id)),
                aircraft: s.aircraft.to_string(),
                from: s.origin.to_string(),
                to: last.to.to_string(),
                people: s.manifest.len() as u32,
                progress: step as f64 / 10.0,
                status: if step == 10 { "landed" } else { "airborne" }.into(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Where `../shared/data` may be found: the current directory and the repo.
pub fn search_bases() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(c) = std::env::current_dir() {
        v.push(c);
    }
    v.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."));
    v
}

pub fn print_day(d: &sallyport_execution::DayReport) {
    let mut line = format!(
        "day {:>2} {}  sorties {:>3}  moved {:>4}  at destination {:>5}  with receiving govt {:>5}  open discrepancies {:>3}  replans {:>2}",
        d.day, d.date, d.sorties_flown, d.moved, d.arrived_total, d.with_receiving_government, d.open_discrepancies, d.replans_total
    );
    if !d.disruptions.is_empty() {
        line.push_str(&format!("  | {}", d.disruptions.join("; ")));
    }
    println!("{line}");
}

pub fn print_summary(o: &sallyport_execution::Outcome, s: &sallyport_execution::DemoSummary, dir: &std::path::Path, started: Instant) {
    println!();
    println!("delivered to the receiving government at the destination: {}", o.delivered);
    for (k, v) in &o.documented {
        println!("  {k}: {v}");
    }
    if o.unaccounted > 0 {
        println!("  UNACCOUNTED: {}", o.unaccounted);
    }
    println!("open discrepancies left unexplained: {}", o.unexplained_discrepancies.len());
    println!("custody chains broken: {}", o.broken_chains.len());
    println!("ledger: {} leaves, checkpoint root {} (2 witnesses)", o.log_size, o.checkpoint_root);
    println!("sitreps: {} in {}", o.days.len(), dir.join("sitreps").display());
    println!("wall time: {:.1} s", started.elapsed().as_secs_f64());
    println!("re-plans: {}", s.replans);
    println!("evidence bundles verified: {}/{} (in {}; check one with sallyport-verify FILE --policy {})", s.bundles_verified, s.bundles, dir.join("bundles").display(), dir.join("policy.json").display());
    println!("report: {}", s.report.display());
    println!("accounted for: {}/{}", s.accounted, s.population);
}
