//! `sallyport import` and `sallyport export`.

use std::path::PathBuf;

use anyhow::Context as _;
use sallyport_store::import::{Format, Kind};

use crate::Ctx;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KindArg {
    Sites,
    People,
    Fleet,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    Csv,
    Json,
}

impl From<KindArg> for Kind {
    fn from(k: KindArg) -> Kind {
        match k {
            KindArg::Sites => Kind::Sites,
            KindArg::People => Kind::People,
            KindArg::Fleet => Kind::Fleet,
        }
    }
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    kind: KindArg,
    file: PathBuf,
    /// File format (default: from the extension).
    #[arg(long)]
    format: Option<FormatArg>,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    kind: KindArg,
    /// Output file (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// File format (default: from the output's extension, else CSV).
    #[arg(long)]
    format: Option<FormatArg>,
}

fn format_for(explicit: Option<FormatArg>, path: Option<&std::path::Path>) -> Option<Format> {
    explicit.map(Format::from).or_else(|| path.and_then(Format::from_path))
}

pub async fn import(args: ImportArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let format = format_for(args.format, Some(&args.file))
        .with_context(|| format!("{}: cannot tell the format from the name; pass --format csv|json", args.file.display()))?;
    let store = ctx.store().await?;
    let bar = crate::progress::counter("importing");
    let report = store.import_file(args.kind.into(), format, &args.file, &mut |n| bar.set_position(n)).await;
    bar.finish_and_clear();
    let report = report.context("import refused; nothing was changed")?;
    if ctx.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("imported {} records from {}", report.records, args.file.display());
    }
    Ok(())
}

pub async fn export(args: ExportArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let format = format_for(args.format, args.output.as_deref()).unwrap_or(Format::Csv);
    let store = ctx.store().await?;
    match &args.output {
        Some(path) => {
            let mut file = std::io::BufWriter::new(
                std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
            );
            let n = store.export(args.kind.into(), format, &mut file).await?;
            std::io::Write::flush(&mut file)?;
            eprintln!("exported {n} records to {}", path.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            store.export(args.kind.into(), format, &mut out).await?;
        }
    }
    Ok(())
}
