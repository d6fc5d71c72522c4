//! `sallyport init` and `sallyport scenario load FILE`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sallyport_core::{synth, Scenario};
use sallyport_store::Store;

use crate::Ctx;

/// The flagship scenario, built into the binary so `demo` runs anywhere.
pub const FLAGSHIP: &str = include_str!("../../../../scenarios/northeast-syria-2026.toml");

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Load a scenario TOML file and generate its synthetic population.
    Load {
        file: PathBuf,
        /// Replace an operation already in the database.
        #[arg(long)]
        replace: bool,
    },
    /// Check a scenario file without loading it.
    Check { file: PathBuf },
}

pub async fn init(ctx: &Ctx) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let status = store.status().await?;
    println!("database ready: {}", crate::ctx::redact(&ctx.database_url()));
    match status.operation {
        Some(op) => println!("operation: {op} ({} people in custody)", status.total),
        None => println!("no operation loaded yet: `sallyport scenario load scenarios/northeast-syria-2026.toml`"),
    }
    Ok(())
}

/// Parse and validate a scenario document; `name` is used in messages.
pub fn parse(text: &str, name: &str) -> anyhow::Result<Scenario> {
    let scenario: Scenario = toml::from_str(text).with_context(|| format!("{name}: not a valid scenario"))?;
    scenario.validate().with_context(|| format!("{name}: invalid scenario"))?;
    Ok(scenario)
}

pub fn read(path: &Path) -> anyhow::Result<Scenario> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// Generate the population and load everything in one transaction.
pub async fn load(store: &Store, scenario: &Scenario, replace: bool) -> anyhow::Result<usize> {
    let people = synth::generate(scenario).context("cannot generate the synthetic population")?;
    store.load_scenario(scenario, &people, replace).await?;
    Ok(people.len())
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    match args.cmd {
        Cmd::Check { file } => {
            let s = read(&file)?;
            println!("{}: valid ({} sites, {} aircraft, {} people)", file.display(), s.sites.len(), s.aircraft()?.len(), s.total_population());
        }
        Cmd::Load { file, replace } => {
            let scenario = read(&file)?;
            let store = ctx.store().await?;
            let n = load(&store, &scenario, replace).await?;
            if ctx.json {
                println!("{}", serde_json::json!({ "operation": scenario.operation.name, "people": n }));
            } else {
                println!("loaded {}: {} sites, {} aircraft, {n} synthetic people", scenario.operation.name, scenario.sites.len(), scenario.aircraft()?.len());
            }
        }
    }
    Ok(())
}
