//! `sallyport disrupt …`: record a disruption in the `execution_disruptions`
//! table; the next `sallyport run` applies it on its day and re-plans.

use sallyport_execution::Disruption;

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// An aircraft is unserviceable from DAY for DAYS days.
    Aircraft { #[arg(long)] day: u32, #[arg(long)] tail: String, #[arg(long, default_value_t = 2.0)] days: f64 },
    /// Weather closes the whole of DAY.
    Weather { #[arg(long)] day: u32 },
    /// A site's threat jumps to RATE and it must be empty within HOURS.
    Threat { #[arg(long)] day: u32, #[arg(long)] site: String, #[arg(long)] rate: f64, #[arg(long, default_value_t = 48.0)] hours: f64 },
    /// A detainee is unfit to fly.
    Unfit { #[arg(long)] day: u32, #[arg(long)] person: String },
    /// A detainee died in custody.
    Died { #[arg(long)] day: u32, #[arg(long)] person: String },
    /// A field device loses its unsynced data after syncing half.
    DataLoss { #[arg(long)] day: u32, #[arg(long)] device: String },
    /// A stale copy of a field device replays an old head.
    Replay { #[arg(long)] day: u32, #[arg(long)] device: String },
    /// One or more disruptions as JSON (or @FILE), e.g. {"kind":"weather_closure","day":3}.
    Json { json: String },
    /// List recorded disruptions.
    List,
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let list = match args.cmd {
        Cmd::List => {
            for (id, d, applied) in sallyport_execution::persist::disruptions(&store).await? {
                println!("{id:>4}  day {:>3}  {:<24} {}{}", d.day(), d.kind(), d.describe(), if applied { "  (applied)" } else { "" });
            }
            return Ok(());
        }
        Cmd::Aircraft { day, tail, days } => vec![Disruption::AircraftUnserviceable { day, tail, days }],
        Cmd::Weather { day } => vec![Disruption::WeatherClosure { day }],
        Cmd::Threat { day, site, rate, hours } => vec![Disruption::ThreatJump { day, site, rate, deadline_hours: hours }],
        Cmd::Unfit { day, person } => vec![Disruption::PersonUnfit { day, person }],
        Cmd::Died { day, person } => vec![Disruption::PersonDied { day, person }],
        Cmd::DataLoss { day, device } => vec![Disruption::DeviceDataLoss { day, device }],
        Cmd::Replay { day, device } => vec![Disruption::DeviceReplay { day, device }],
        Cmd::Json { json } => {
            let text = match json.strip_prefix('@') {
                Some(f) => std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("cannot read {f}: {e}"))?,
                None => json,
            };
            Disruption::parse_list(&text).map_err(|e| anyhow::anyhow!(e))?
        }
    };
    for d in list {
        d.check().map_err(|e| anyhow::anyhow!(e))?;
        let id = sallyport_execution::persist::add_disruption(&store, &d).await?;
        println!("recorded disruption {id}: day {}: {}", d.day(), d.describe());
    }
    Ok(())
}
