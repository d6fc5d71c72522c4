//! `sallyport`: the command line over every Sallyport capability.
//!
//! This crate is thin on purpose: it parses arguments, opens the store, calls
//! the capability crates and prints. Libraries never print; this crate does.

/// The server and the access filters allocate many small values per request
/// (a redacted person is dozens of strings); with glibc's allocator, malloc and
/// free were ~45 % of filtering 6,000 people (perf, 2026-12-01).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cmd;
mod progress;
mod ctx;

use clap::{Parser, Subcommand};

pub use ctx::Ctx;

#[derive(Debug, Parser)]
#[command(name = "sallyport", version, about = "Plan, execute and prove mass transfers of people in custody")]
struct Cli {
    #[command(flatten)]
    global: ctx::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create (or upgrade) the database in the data directory.
    Init,
    /// Load a scenario file (sites, fleet, agencies, synthetic population).
    Scenario(cmd::scenario::Args),
    /// Import sites, people or fleet from CSV or JSON (all or nothing).
    Import(cmd::io::ImportArgs),
    /// Export sites, people or fleet to CSV or JSON.
    Export(cmd::io::ExportArgs),
    /// Counts per site, category and custodian.
    Status,
    /// List people in custody.
    People(cmd::status::PeopleArgs),
    /// Run the flagship operation end to end on a fresh embedded database.
    Demo(cmd::demo::Args),
    /// Execute the stored operation (with recorded disruptions) and write sitreps, bundles, report.
    Run(cmd::run::Args),
    /// Record a disruption (aircraft down, weather, threat jump, unfit, died, device faults).
    Disrupt(cmd::disrupt::Args),
    /// Fingerprint engine: extract, compare, enroll, identify, dedup, eval, convert.
    Bio(cmd::bio::Args),
    /// Threat watch: ingest conflict events, assess sites, alerts, backtest.
    Threat(cmd::threat::Args),
    /// Transfer planner: plan, show, gantt, manifests, validate, replan.
    Plan(cmd::plan::Args),
    /// Custody ledger: events, checkpoints, field devices, reconciliation, evidence.
    #[command(name = "ledger")]
    Ledger(cmd::ledger::Args),
    /// Field device at a landing zone: record custody offline, exchange heads, sync.
    Field(cmd::ledger::FieldArgs),
    /// Evidence bundles for courts: export (verify with `sallyport-verify`).
    Evidence(cmd::ledger::EvidenceArgs),
    /// Multi-agency access: users, tokens, policies, releases.
    Access(cmd::access::Args),
    /// Who read or wrote a person's data, when, under which policy decision.
    Audit(cmd::access::AuditArgs),
    /// Serve the HTTP API and the dashboard.
    Serve(cmd::serve::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let ctx = Ctx::new(cli.global);
    let result = runtime.block_on(run(cli.command, &ctx));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, ctx: &Ctx) -> anyhow::Result<()> {
    match command {
        Command::Init => cmd::scenario::init(ctx).await,
        Command::Scenario(a) => cmd::scenario::run(a, ctx).await,
        Command::Import(a) => cmd::io::import(a, ctx).await,
        Command::Export(a) => cmd::io::export(a, ctx).await,
        Command::Status => cmd::status::status(ctx).await,
        Command::People(a) => cmd::status::people(a, ctx).await,
        Command::Demo(a) => cmd::demo::run(a, ctx).await,
        Command::Run(a) => cmd::run::run(a, ctx).await,
        Command::Disrupt(a) => cmd::disrupt::run(a, ctx).await,
        Command::Bio(a) => cmd::bio::run(a, ctx).await,
        Command::Threat(a) => cmd::threat::run(a, ctx).await,
        Command::Plan(a) => cmd::plan::run(a, ctx).await,
        Command::Ledger(a) => cmd::ledger::run(a, ctx).await,
        Command::Field(a) => cmd::ledger::run_field(a, ctx).await,
        Command::Evidence(a) => cmd::ledger::run_evidence(a, ctx).await,
        Command::Access(a) => cmd::access::run(a, ctx).await,
        Command::Audit(a) => cmd::access::run_audit(a, ctx).await,
        Command::Serve(a) => cmd::serve::run(a, ctx).await,
    }
}
