//! `sallyport ledger …`, `sallyport field …`, `sallyport evidence …`: the custody ledger.
//!
//! The central log lives in the store; its keys in `DATA/ledger/keys.json`
//! (created by `ledger init`, private). A field device keeps its own SQLite
//! journal (`field init --journal PATH`). Sync travels as files:
//! `field export` → `ledger ingest` → `field receipt`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use sallyport_core::PersonId;
use sallyport_ledger::event::{CustodyEvent, EventKind};
use sallyport_ledger::ids::{parse_public_hex, public_hex};
use sallyport_ledger::reconcile::Manifest;
use sallyport_ledger::store::{CentralLog, Journal};
use sallyport_ledger::sync::{DeviceBatch, IngestReceipt};
use sallyport_ledger::{DeviceId, DeviceKey, HeadExchange, KeyFile, SignedHead, Witness};

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: LedgerCmd,
}

#[derive(Debug, clap::Subcommand)]
enum LedgerCmd {
    /// Create the log and witness keys (DATA/ledger/keys.json).
    Init {
        /// Log origin (checkpoint first line), e.g. ledger.sallyport.example/op-1.
        #[arg(long, default_value = "ledger.sallyport.example/custody")]
        origin: String,
        /// Witness names (each cosigns checkpoints).
        #[arg(long = "witness", default_values_t = ["witness.irq.example".to_string(), "witness.icrc.example".to_string()])]
        witnesses: Vec<String>,
        #[arg(long, default_value_t = 2)]
        threshold: usize,
        /// Derive keys from this seed (demos only); otherwise random from the OS.
        #[arg(long)]
        seed: Option<String>,
        #[arg(long)]
        force: bool,
    },
    /// Register a field device's public key.
    RegisterDevice {
        #[arg(long)]
        device: String,
        #[arg(long)]
        pubkey: String,
    },
    /// Ingest a device batch file; write the receipt.
    Ingest {
        batch: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Sign a checkpoint and have the configured witnesses cosign it.
    Checkpoint {
        /// Witness time, unix seconds (defaults to now).
        #[arg(long)]
        time: Option<u64>,
    },
    /// Print the witness policy (give it to verifiers: `sallyport-verify --policy`).
    Policy,
    /// Custody state, headcounts and discrepancies.
    Reconcile {
        /// Manifests JSON: [{"sortie": "...", "people": ["P-…", …]}].
        #[arg(long)]
        manifests: Option<PathBuf>,
    },
    /// Recompute the whole tree from the leaves and check every checkpoint.
    Verify,
}

fn keys_path(ctx: &Ctx) -> PathBuf {
    ctx.data_dir.join("ledger").join("keys.json")
}

fn load_keys(ctx: &Ctx) -> anyhow::Result<KeyFile> {
    let p = keys_path(ctx);
    let s = std::fs::read_to_string(&p).with_context(|| format!("cannot read {} (run `sallyport ledger init`)", p.display()))?;
    serde_json::from_str(&s).with_context(|| format!("{} is not a ledger key file", p.display()))
}

async fn central(ctx: &Ctx) -> anyhow::Result<(CentralLog, KeyFile)> {
    let keys = load_keys(ctx)?;
    let store = ctx.store().await?;
    Ok((CentralLog::new(store, keys.log_key()?), keys))
}

fn write(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, data).with_context(|| format!("cannot write {}", path.display()))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    match args.cmd {
        LedgerCmd::Init { origin, witnesses, threshold, seed, force } => {
            let p = keys_path(ctx);
            if p.exists() && !force {
                bail!("{} exists; use --force to replace the log keys", p.display());
            }
            let names: Vec<&str> = witnesses.iter().map(String::as_str).collect();
            if threshold > names.len() {
                bail!("threshold {threshold} exceeds the {} witnesses", names.len());
            }
            let kf = KeyFile::create(&origin, &names, threshold, seed.as_deref().map(str::as_bytes));
            std::fs::create_dir_all(p.parent().unwrap_or(Path::new(".")))?;
            write(&p, serde_json::to_string_pretty(&kf)?.as_bytes())?;
            ctx.store().await?;
            let policy = kf.policy()?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&policy)?);
            } else {
                println!("Ledger keys written to {} (keep private).", p.display());
                println!("Log key:  {}", policy.log);
                for w in &policy.witnesses {
                    println!("Witness:  {w}");
                }
                println!("Policy:   {} of {} witnesses", policy.threshold, policy.witnesses.len());
            }
        }
        LedgerCmd::RegisterDevice { device, pubkey } => {
            let (log, _) = central(ctx).await?;
            let id = DeviceId::new(device)?;
            log.register_device(&id, &parse_public_hex(&pubkey)?).await?;
            println!("registered device {id}");
        }
        LedgerCmd::Ingest { batch, output } => {
            let (log, _) = central(ctx).await?;
            let text = std::fs::read_to_string(&batch).with_context(|| format!("cannot read {}", batch.display()))?;
            let b = DeviceBatch::from_json(&text)?;
            let r = log.ingest(&b).await.with_context(|| format!("batch {} rejected", batch.display()))?;
            write(&output, r.to_json().as_bytes())?;
            println!("device {}: {} new event(s), acknowledged through seq {}; receipt {}", r.device, r.newly_logged, r.accepted_through, output.display());
        }
        LedgerCmd::Checkpoint { time } => {
            let (log, keys) = central(ctx).await?;
            let mut ws: Vec<Witness> = keys.witness_keys()?.into_iter().map(Witness::new).collect();
            // Witnesses here are stateless per run: they check consistency from the previous stored checkpoint.
            let prev = log.latest_checkpoint().await?;
            log.checkpoint().await?;
            if let Some((_, prev)) = prev {
                let cp = sallyport_ledger::note::verify_log_signature(&log.log_vkey(), &prev)?;
                for w in &mut ws {
                    w.seen.insert(cp.origin.clone(), (cp.size, cp.root));
                }
            }
            let note = log.witness(&mut ws, time.unwrap_or_else(now_secs)).await?;
            print!("{note}");
        }
        LedgerCmd::Policy => {
            println!("{}", serde_json::to_string_pretty(&load_keys(ctx)?.policy()?)?);
        }
        LedgerCmd::Reconcile { manifests } => {
            let (log, _) = central(ctx).await?;
            let m: Vec<Manifest> = match manifests {
                Some(p) => serde_json::from_str(&std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?)
                    .with_context(|| format!("{} is not a manifest list", p.display()))?,
                None => vec![],
            };
            let rec = log.reconcile(&m).await?;
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&rec)?);
                return Ok(());
            }
            println!("{} people; released {}, dead {}", rec.people.len(), rec.headcounts.released, rec.headcounts.dead);
            for (s, n) in &rec.headcounts.per_site {
                println!("  at {s:<20} {n}");
            }
            for (s, n) in &rec.headcounts.in_transit {
                println!("  in transit {s:<12} {n}");
            }
            for (s, c) in &rec.headcounts.per_sortie {
                println!("  sortie {s:<16} manifested {:>4} boarded {:>4} arrived {:>4}", c.manifested, c.boarded, c.arrived);
            }
            let open: Vec<_> = rec.open().collect();
            println!("{} open discrepancy(ies):", open.len());
            for d in open {
                println!("  {} {:<24} {}", d.id, d.kind.as_str(), d.detail);
            }
        }
        LedgerCmd::Verify => {
            let (log, _) = central(ctx).await?;
            let n = log.verify_tree().await?;
            println!("tree of {n} leaves verified: stored hashes and every checkpoint match the leaves");
        }
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct FieldArgs {
    /// The device's journal (SQLite file).
    #[arg(long, global = true, default_value = "field-journal.db")]
    journal: PathBuf,
    #[command(subcommand)]
    cmd: FieldCmd,
}

#[derive(Debug, clap::Subcommand)]
enum FieldCmd {
    /// Create the journal and device key; prints the public key to register.
    Init {
        #[arg(long)]
        device: String,
        /// Derive the key from this seed (demos only).
        #[arg(long)]
        seed: Option<String>,
    },
    /// Record one event offline. KIND is JSON, e.g. '{"type":"boarded","sortie":"S-1","site":"LZ-A"}'.
    Record {
        #[arg(long)]
        person: String,
        /// Claimed time, unix milliseconds UTC.
        #[arg(long)]
        time: i64,
        kind: String,
    },
    /// Write this device's signed head (for a hand-over exchange).
    Head {
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Countersign the other device's head at a hand-over.
    Countersign {
        /// The other device's head file.
        head: PathBuf,
        /// The other device's public key (hex).
        #[arg(long)]
        pubkey: String,
        #[arg(long)]
        time: i64,
        #[arg(short, long)]
        output: PathBuf,
        /// Write the QR text form instead of JSON.
        #[arg(long)]
        qr: bool,
    },
    /// Keep a countersigned head exchange received from the other side.
    Keep { exchange: PathBuf },
    /// Export everything not yet acknowledged as a sync batch file.
    Export {
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        max: usize,
    },
    /// Check and apply the server's receipt.
    Receipt {
        receipt: PathBuf,
        /// The log's verifier key (from `sallyport ledger policy`).
        #[arg(long)]
        log_key: String,
    },
    /// Show the device's state.
    Status,
}

fn journal_url(p: &Path) -> String {
    format!("sqlite://{}", p.display())
}

pub async fn run_field(args: FieldArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let url = journal_url(&args.journal);
    match args.cmd {
        FieldCmd::Init { device, seed } => {
            let id = DeviceId::new(device)?;
            let key = match seed {
                Some(s) => DeviceKey::from_seed(id, s.as_bytes()),
                None => DeviceKey::random(id),
            };
            let j = Journal::open_or_create(&url, Some(key)).await?;
            println!("device {} journal {}; public key (register with `sallyport ledger register-device`):", j.log.key.id, args.journal.display());
            println!("{}", public_hex(&j.log.key.public()));
        }
        FieldCmd::Record { person, time, kind } => {
            let mut j = Journal::open_or_create(&url, None).await?;
            let kind: EventKind = serde_json::from_str(&kind).context("KIND is not a custody event kind")?;
            let ev = CustodyEvent { person: PersonId::new(person)?, claimed_time_ms: time, kind };
            let r = j.record(&ev).await?;
            println!("recorded {}#{}: {}", r.leaf.device, r.leaf.seq, ev.kind.describe());
        }
        FieldCmd::Head { output } => {
            let j = Journal::open_or_create(&url, None).await?;
            write(&output, serde_json::to_string_pretty(&j.log.head())?.as_bytes())?;
            println!("head of {} at seq {} written to {}", j.log.key.id, j.log.seq(), output.display());
        }
        FieldCmd::Countersign { head, pubkey, time, output, qr } => {
            let j = Journal::open_or_create(&url, None).await?;
            let h: SignedHead = serde_json::from_str(&std::fs::read_to_string(&head)?).context("not a signed head")?;
            let x = j.log.countersign_head(h, &parse_public_hex(&pubkey)?, time)?;
            let payload = if qr { x.to_text() } else { serde_json::to_string_pretty(&x)? };
            j.keep_exchange(&x.to_text()).await?;
            write(&output, payload.as_bytes())?;
            println!("countersigned head of {} at seq {}", x.head.device, x.head.seq);
        }
        FieldCmd::Keep { exchange } => {
            let j = Journal::open_or_create(&url, None).await?;
            let s = std::fs::read_to_string(&exchange)?;
            let x = HeadExchange::from_text(&s).or_else(|_| serde_json::from_str::<HeadExchange>(&s).map_err(anyhow::Error::from))?;
            j.keep_exchange(&x.to_text()).await?;
            println!("kept exchange: {} countersigned our head at seq {}", x.countersigner, x.head.seq);
        }
        FieldCmd::Export { output, max } => {
            let j = Journal::open_or_create(&url, None).await?;
            let b = j.log.export_batch(max);
            write(&output, b.to_json().as_bytes())?;
            println!("{} event(s) from seq {} to {} written to {}", b.entries.len(), j.log.synced_through + 1, b.head.seq, output.display());
        }
        FieldCmd::Receipt { receipt, log_key } => {
            let mut j = Journal::open_or_create(&url, None).await?;
            let r = IngestReceipt::from_json(&std::fs::read_to_string(&receipt)?)?;
            j.apply_receipt(&r, &log_key).await?;
            println!("receipt verified: synced through seq {}; server checkpoint consistent", j.log.synced_through);
        }
        FieldCmd::Status => {
            let j = Journal::open_or_create(&url, None).await?;
            let st = serde_json::json!({
                "device": j.log.key.id, "public_key": public_hex(&j.log.key.public()),
                "seq": j.log.seq(), "synced_through": j.log.synced_through,
                "server_size": j.log.checkpoint.as_ref().map(|c| c.size), "exchanges": j.exchanges().await?.len(),
            });
            println!("{}", serde_json::to_string_pretty(&st)?);
        }
    }
    let _ = ctx;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct EvidenceArgs {
    #[command(subcommand)]
    cmd: EvidenceCmd,
}

#[derive(Debug, clap::Subcommand)]
enum EvidenceCmd {
    /// Write one evidence bundle for one or more people (verify with `sallyport-verify`).
    Export {
        #[arg(long = "person", required = true)]
        people: Vec<String>,
        #[arg(short, long)]
        output: PathBuf,
    },
}

pub async fn run_evidence(args: EvidenceArgs, ctx: &Ctx) -> anyhow::Result<()> {
    match args.cmd {
        EvidenceCmd::Export { people, output } => {
            let (log, keys) = central(ctx).await?;
            let people: Vec<PersonId> = people.into_iter().map(PersonId::new).collect::<Result<_, _>>()?;
            let b = log.export_bundle(&people, keys.policy()?).await?;
            let bytes = b.encode();
            write(&output, &bytes)?;
            println!("{} event(s) for {} person(s), {} bytes, written to {}", b.events.len(), people.len(), bytes.len(), output.display());
        }
    }
    Ok(())
}
