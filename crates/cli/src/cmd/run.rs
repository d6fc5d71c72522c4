//! `sallyport run`: execute the operation stored in the database (scenario
//! and people loaded with `sallyport scenario load` / `import`), applying the
//! disruptions recorded with `sallyport disrupt` (plus, with
//! `--auto-disruptions`, the seeded ones). Writes sitreps, bundles and the
//! report under `<data-dir>/run/`.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use sallyport_execution::{DemoOptions, RunConfig, prepare_and_run, write_outputs};

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Also apply the seeded disruption schedule.
    #[arg(long)]
    pub auto_disruptions: bool,
    /// Simulated days per second for the printout (0 = as fast as possible).
    #[arg(long, default_value_t = 0.0)]
    pub speed: f64,
    /// Planner improvement rounds per solve/re-plan.
    #[arg(long, default_value_t = 2)]
    pub rounds: u64,
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let started = Instant::now();
    let store = ctx.store().await?;
    let scenario = store.scenario().await?.context("no operation stored: run `sallyport scenario load FILE` first")?;
    let people = store.people().await?;
    anyhow::ensure!(!people.is_empty(), "no people stored: load a scenario or import people first");
    let recorded = sallyport_execution::persist::disruptions(&store).await?;
    let manual: Vec<_> = recorded.iter().map(|(_, d, _)| d.clone()).collect();
    println!("running {} with {} people; {} hand-injected disruption(s)", scenario.operation.name, people.len(), manual.len());
    let opts = DemoOptions {
        config: RunConfig { seed: args.seed, auto_disruptions: args.auto_disruptions, manual, solver_rounds: args.rounds, ..Default::default() },
        search_bases: super::demo::search_bases(),
        threat_days: 90,
    };
    let pace = if args.speed > 0.0 { Some(Duration::from_secs_f64(1.0 / args.speed)) } else { None };
    let outcome = tokio::task::block_in_place(|| {
        prepare_and_run(&scenario, &people, &opts, &mut |n| println!("{n}"), &mut |d| {
            super::demo::print_day(d);
            if let Some(p) = pace {
                std::thread::sleep(p);
            }
        })
    })?;
    let dir = ctx.data_dir.join("run");
    let summary = write_outputs(&outcome, &dir)?;
    sallyport_execution::persist::save_plans(&store, &outcome).await?;
    sallyport_execution::persist::save_custody(&store, &outcome).await?;
    let ids: Vec<i64> = recorded.iter().map(|(id, _, _)| *id).collect();
    sallyport_execution::persist::mark_applied(&store, &ids).await?;
    super::demo::print_summary(&outcome, &summary, &dir, started);
    Ok(())
}
