//! `sallyport bio …`: fingerprint extraction, comparison, identification, deduplication and
//! evaluation (engine: `sallyport-biometrics`).

mod db;

use crate::Ctx;
use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use sallyport_biometrics::{
    eval::{self, Protocol},
    extract, gallery,
    image::{self as bioimage},
    interop,
    mcc::compare,
    sample::Sample,
    template::Template,
};
use sallyport_biometrics_formats::{ansi_nist, iso19794_2, wsq};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Extract minutiae from an image (PNG, BMP, TIFF) into a native template.
    Extract {
        image: PathBuf,
        /// Write the template (SPFT v1) here.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Write one PNG per pipeline stage into this folder.
        #[arg(long)]
        debug: Option<PathBuf>,
        /// Resolution of the image when it is not 500 ppi.
        #[arg(long, default_value_t = 500)]
        ppi: u16,
    },
    /// Compare two fingerprints (images or .spft templates): similarity score in [0, 1].
    Compare { a: PathBuf, b: PathBuf },
    /// Search a probe against a gallery folder (`<person>_<n>.<ext>`), or against every
    /// template enrolled in the store when no `--gallery` is given; ranked candidates.
    Identify {
        probe: PathBuf,
        #[arg(long)]
        gallery: Option<PathBuf>,
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
    /// Find people enrolled twice in a folder (`<person>_<finger position>.<ext>`).
    Dedup {
        dir: PathBuf,
        /// Fused score from which two people are reported as one.
        #[arg(long, default_value_t = 0.35)]
        threshold: f32,
        /// Candidate people per person taken from the index pre-filter and compared in full
        /// (10 found all 60 planted duplicates among 6,000 synthetic people; see BENCHMARKS.md).
        #[arg(long, default_value_t = 10)]
        shortlist: usize,
    },
    /// Enrol a person's fingers into the store: images (PNG, BMP, TIFF, WSQ), ISO 19794-2
    /// records or native templates. The finger position comes from `--position` (one per
    /// file, in order) or from a file name ending in `_<1-10>`. All or nothing.
    Enroll {
        /// Person id as stored (`sallyport people` lists them).
        person: String,
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Finger positions (1-10, 0 unknown), one per file, comma-separated.
        #[arg(long, value_delimiter = ',')]
        position: Vec<u8>,
        /// Overwrite fingers already enrolled.
        #[arg(long)]
        replace: bool,
        /// Resolution of the images when it is not 500 ppi (WSQ's own PPI wins).
        #[arg(long, default_value_t = 500)]
        ppi: u16,
    },
    /// List enrolled templates (all people, or one).
    Enrolled { person: Option<String> },
    /// Convert between formats: ISO 19794-2 (.iso/.fmr) ⇄ ANSI/NIST-ITL Type-9 (.an2/.eft),
    /// WSQ or ANSI/NIST finger images → PNG, images → ISO/Type-9/native (by extraction).
    /// The output format is taken from OUTPUT's extension or `--to`.
    Convert {
        input: PathBuf,
        output: PathBuf,
        /// iso, type9, png or spft (default: from OUTPUT's extension).
        #[arg(long)]
        to: Option<String>,
        /// Finger position written into ISO / Type-9 output (default 0, unknown).
        #[arg(long, default_value_t = 0)]
        position: u8,
        /// Image size in pixels at 500 ppi, needed to turn Type-9 coordinates (origin bottom
        /// left) into ISO when the transaction holds no image of the finger.
        #[arg(long)]
        width: Option<u16>,
        #[arg(long)]
        height: Option<u16>,
    },
    /// Evaluate on an FVC-style folder: EER, FMR100, FMR1000, ZeroFMR and a DET curve.
    Eval {
        dir: PathBuf,
        /// fvc (FVC protocol), all-pairs, or both.
        #[arg(long, default_value = "both")]
        protocol: String,
        /// Where to write the DET curve (SVG); default `<data-dir>/bio/det-<set>.svg`.
        #[arg(long)]
        det: Option<PathBuf>,
    },
}

/// Loads an image and extracts it (template, ridge field and candidate minutiae, so that
/// comparisons score as `bio eval` does), or reads a native template (`SPFT` magic) or an
/// ISO 19794-2 record (`FMR` magic, first finger view; neither carries a field or
/// candidates). Errors
/// name the file (and the byte offset, for records).
fn load_sample(path: &Path, ppi: u16) -> Result<Sample> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    sample_from_bytes(path, &bytes, ppi)
}

fn sample_from_bytes(path: &Path, bytes: &[u8], ppi: u16) -> Result<Sample> {
    let at = |e: &dyn std::fmt::Display| anyhow!("{}: {e}", path.display());
    if bytes.starts_with(b"SPFT") {
        return Ok(Sample::from_template(Template::from_bytes(bytes).map_err(|e| at(&e))?));
    }
    if bytes.starts_with(b"FMR\0") {
        let r = iso19794_2::Record::parse(bytes).map_err(|e| at(&e))?;
        return Ok(Sample::from_template(interop::template_from_iso(&r, 0).map_err(|e| at(&e))?));
    }
    let img = bioimage::decode(bytes, ppi).map_err(|e| at(&e))?;
    Sample::extract(&img).map_err(|e| at(&e))
}

/// Output formats of `bio convert`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Iso,
    Type9,
    Png,
    Spft,
}

fn target_of(output: &Path, to: Option<&str>) -> Result<Target> {
    let name = match to {
        Some(t) => t.to_ascii_lowercase(),
        None => output.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase(),
    };
    Ok(match name.as_str() {
        "iso" | "fmr" | "iso2005" => Target::Iso,
        "type9" | "an2" | "an2k" | "eft" | "nist" => Target::Type9,
        "png" => Target::Png,
        "spft" => Target::Spft,
        other => bail!("unknown output format {other:?}: use --to iso, type9, png or spft (or an .iso/.an2/.png/.spft name)"),
    })
}

/// What `bio convert` read.
enum Input {
    Template(Template),
    Transaction(ansi_nist::Transaction),
    Image(bioimage::GrayImage),
}

fn read_input(path: &Path) -> Result<Input> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let at = |e: &dyn std::fmt::Display| anyhow!("{}: {e}", path.display());
    if bytes.starts_with(b"1.") {
        return Ok(Input::Transaction(ansi_nist::Transaction::parse(&bytes).map_err(|e| at(&e))?));
    }
    if bytes.starts_with(b"SPFT") || bytes.starts_with(b"FMR\0") {
        return Ok(Input::Template(sample_from_bytes(path, &bytes, 500)?.template));
    }
    if bytes.starts_with(&[0xFF, 0xA0]) {
        let w = wsq::decode(&bytes).map_err(|e| at(&e))?;
        return Ok(Input::Image(bioimage::GrayImage { width: w.width, height: w.height, ppi: w.ppi.unwrap_or(500), pixels: w.pixels }));
    }
    Ok(Input::Image(bioimage::decode(&bytes, 500).map_err(|e| at(&e))?))
}

fn write_png(img: &bioimage::GrayImage, out: &Path) -> Result<()> {
    let png = bioimage::encode_png(img)?;
    std::fs::write(out, png).with_context(|| format!("cannot write {}", out.display()))
}

/// `bio convert`: returns a one-line description of what was written.
fn convert(input: &Path, output: &Path, target: Target, position: u8, size: (Option<u16>, Option<u16>)) -> Result<String> {
    let date = chrono::Utc::now().format("%Y%m%d").to_string();
    let write = |bytes: &[u8]| std::fs::write(output, bytes).with_context(|| format!("cannot write {}", output.display()));
    let tx_template = |t: &ansi_nist::Transaction| -> Result<Template> {
        let sets = t.minutiae().map_err(|e| anyhow!("{}: {e}", input.display()))?;
        let set = sets.first().ok_or_else(|| anyhow!("{}: no Type-9 minutiae (9.012 or 9.331) in the transaction", input.display()))?;
        let image = t.finger_images().ok().and_then(|v| v.into_iter().find(|i| i.idc == set.idc));
        let (w, h) = match (size, image) {
            ((Some(w), Some(h)), _) => (w, h),
            (_, Some(i)) => ((i.width * 500 / i.ppi.max(1)) as u16, (i.height * 500 / i.ppi.max(1)) as u16),
            _ => bail!("{}: no finger image with IDC {} gives the image size; pass --width and --height (pixels at 500 ppi)", input.display(), set.idc),
        };
        interop::template_from_type9(set, w, h).map_err(|e| anyhow!("{}: {e}", input.display()))
    };
    match (read_input(input)?, target) {
        (Input::Transaction(t), Target::Png) => {
            let imgs = t.finger_images().map_err(|e| anyhow!("{}: {e}", input.display()))?;
            let first = imgs.first().ok_or_else(|| anyhow!("{}: no Type-4 or Type-14 finger image in the transaction", input.display()))?;
            let img = match &first.compression {
                ansi_nist::Compression::Wsq => {
                    let w = wsq::decode(&first.data).map_err(|e| anyhow!("{}: record {}: {e}", input.display(), first.record + 1))?;
                    bioimage::GrayImage { width: w.width, height: w.height, ppi: first.ppi as u16, pixels: w.pixels }
                }
                ansi_nist::Compression::None if first.bits_per_pixel == 8 && first.data.len() == (first.width * first.height) as usize => {
                    bioimage::GrayImage { width: first.width, height: first.height, ppi: first.ppi as u16, pixels: first.data.clone() }
                }
                other => bail!("{}: record {}: image compression {other:?} is not converted (WSQ and raw 8-bit are)", input.display(), first.record + 1),
            };
            write_png(&img, output)?;
            Ok(format!("{}x{} finger image of record {} ({} images in the file)", img.width, img.height, first.record + 1, imgs.len()))
        }
        (Input::Image(img), Target::Png) => {
            write_png(&img, output)?;
            Ok(format!("{}x{} image", img.width, img.height))
        }
        (Input::Transaction(t), target) => {
            let tpl = tx_template(&t)?;
            write_template(&tpl, target, position, &date, output, write)
        }
        (Input::Template(tpl), target) => write_template(&tpl, target, position, &date, output, write),
        (Input::Image(img), target) => {
            let tpl = extract::extract(&img).map_err(|e| anyhow!("{}: {e}", input.display()))?;
            write_template(&tpl, target, position, &date, output, write)
        }
    }
}

fn write_template(tpl: &Template, target: Target, position: u8, date: &str, output: &Path, write: impl Fn(&[u8]) -> Result<()>) -> Result<String> {
    match target {
        Target::Iso => write(&interop::iso_from_template(tpl, position).to_bytes())?,
        Target::Type9 => write(&ansi_nist::type9_transaction(&[interop::type9_from_template(tpl, position)], date).to_bytes())?,
        Target::Spft => write(&tpl.to_bytes())?,
        Target::Png => bail!("{}: a minutiae template has no image to write as PNG", output.display()),
    }
    Ok(format!("{} minutiae as {target:?}", tpl.minutiae.len()))
}

fn person_of(path: &Path) -> Option<(String, u8)> {
    let stem = path.file_stem()?.to_str()?;
    let (p, n) = stem.rsplit_once('_')?;
    Some((p.to_string(), n.parse().ok()?))
}

fn print(ctx: &Ctx, v: &serde_json::Value, human: impl FnOnce()) {
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    } else {
        human();
    }
}

fn folder_gallery(dir: &Path) -> Result<(gallery::Gallery, Vec<String>)> {
    let mut names: Vec<String> = Vec::new();
    let mut entries = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    for p in paths {
        let Some((name, n)) = person_of(&p) else { continue };
        let sample = match load_sample(&p, 500) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("skipping {}: {e:#}", p.display());
                continue;
            }
        };
        let id = match names.iter().position(|x| *x == name) {
            Some(i) => i,
            None => {
                names.push(name);
                names.len() - 1
            }
        };
        entries.push((id as u32, n.min(10), sample));
    }
    if entries.is_empty() {
        bail!("{}: no usable `<person>_<n>` images or templates", dir.display());
    }
    Ok((gallery::Gallery::from_samples(entries), names))
}

/// Gallery of every template enrolled in the store.
async fn store_gallery(ctx: &Ctx) -> Result<(gallery::Gallery, Vec<String>)> {
    let store = ctx.store().await?;
    let stored = db::templates(&store, None).await?;
    if stored.is_empty() {
        bail!("no fingers enrolled in the store: use `sallyport bio enroll` or pass --gallery DIR");
    }
    let mut names: Vec<String> = Vec::new();
    let mut entries = Vec::with_capacity(stored.len());
    for s in stored {
        if names.last() != Some(&s.person) {
            names.push(s.person.clone());
        }
        entries.push(((names.len() - 1) as u32, s.position, s.sample));
    }
    Ok((gallery::Gallery::from_samples(entries), names))
}

pub async fn run(args: Args, ctx: &Ctx) -> Result<()> {
    match args.cmd {
        Cmd::Extract { image, out, debug, ppi } => {
            let img = bioimage::load(&image, ppi)?;
            let stages = extract::extract_stages(&img)?;
            if let Some(dir) = &debug {
                let files = stages.write_debug(dir)?;
                if !ctx.json {
                    for f in files {
                        println!("wrote {}", f.display());
                    }
                }
            }
            let t = &stages.template;
            if let Some(o) = &out {
                std::fs::write(o, t.to_bytes()).with_context(|| format!("cannot write {}", o.display()))?;
            }
            print(ctx, &serde_json::to_value(t)?, || {
                println!("{}: {} minutiae, image quality {}", image.display(), t.minutiae.len(), t.quality);
            });
        }
        Cmd::Compare { a, b } => {
            let (sa, sb) = (load_sample(&a, 500)?, load_sample(&b, 500)?);
            let minutiae = [sa.template.minutiae.len(), sb.template.minutiae.len()];
            let ridge_fields = sa.field.is_some() && sb.field.is_some();
            let raw_support = ridge_fields && sa.candidates.is_some() && sb.candidates.is_some();
            let s = compare(&sa.prepared(), &sb.prepared());
            print(ctx, &serde_json::json!({"score": s, "minutiae": minutiae, "ridge_fields": ridge_fields, "raw_support": raw_support}), || println!("{s:.4}"));
        }
        Cmd::Identify { probe, gallery: dir, top } => {
            let p = load_sample(&probe, 500)?.prepared();
            let (g, names) = match &dir {
                Some(dir) => folder_gallery(dir)?,
                None => store_gallery(ctx).await?,
            };
            let c = g.identify_exhaustive(&p, None, top);
            let rows: Vec<serde_json::Value> = c.iter().map(|c| serde_json::json!({"person": names[c.person as usize], "score": c.score})).collect();
            print(ctx, &serde_json::Value::Array(rows), || {
                for (r, c) in c.iter().enumerate() {
                    println!("{:>3}  {:<20} {:.4}", r + 1, names[c.person as usize], c.score);
                }
            });
        }
        Cmd::Dedup { dir, threshold, shortlist } => {
            if shortlist == 0 {
                bail!("--shortlist must be at least 1");
            }
            let t0 = std::time::Instant::now();
            let (g, names) = folder_gallery(&dir)?;
            let found = g.dedup(&(1..=10).chain([0]).collect::<Vec<u8>>(), shortlist, threshold);
            let rows: Vec<serde_json::Value> = found
                .iter()
                .map(|(a, b, s)| serde_json::json!({"a": names[*a as usize], "b": names[*b as usize], "score": s}))
                .collect();
            print(ctx, &serde_json::json!({"duplicates": rows, "seconds": t0.elapsed().as_secs_f64()}), || {
                for (a, b, s) in &found {
                    println!("{} = {}  ({s:.4})", names[*a as usize], names[*b as usize]);
                }
                println!("{} duplicate pairs in {:.1} s", found.len(), t0.elapsed().as_secs_f64());
            });
        }
        Cmd::Enroll { person, files, position, replace, ppi } => {
            if !position.is_empty() && position.len() != files.len() {
                bail!("--position gives {} positions for {} files", position.len(), files.len());
            }
            let mut fingers = Vec::with_capacity(files.len());
            for (i, f) in files.iter().enumerate() {
                let pos = match position.get(i) {
                    Some(&p) => p,
                    None => person_of(f).map(|(_, n)| n).ok_or_else(|| anyhow!("{}: no finger position: name the file <anything>_<1-10>.<ext> or pass --position", f.display()))?,
                };
                if pos > 10 {
                    bail!("{}: finger position {pos} is not 0-10", f.display());
                }
                let sample = load_sample(f, ppi)?;
                if sample.template.minutiae.len() < 3 {
                    bail!("{}: only {} minutiae found, too few to enrol", f.display(), sample.template.minutiae.len());
                }
                fingers.push(db::Enrolment { position: pos, sample, source: f.display().to_string() });
            }
            let store = ctx.store().await?;
            db::enrol(&store, &person, &fingers, replace, chrono::Utc::now().timestamp_millis()).await?;
            let rows: Vec<serde_json::Value> =
                fingers.iter().map(|f| serde_json::json!({"position": f.position, "minutiae": f.sample.template.minutiae.len(), "quality": f.sample.template.quality, "source": f.source})).collect();
            print(ctx, &serde_json::json!({"person": person, "enrolled": rows}), || {
                for f in &fingers {
                    println!("{person} finger {:>2}: {:>3} minutiae, quality {:>3}  ({})", f.position, f.sample.template.minutiae.len(), f.sample.template.quality, f.source);
                }
                println!("enrolled {} fingers of {person}", fingers.len());
            });
        }
        Cmd::Enrolled { person } => {
            let store = ctx.store().await?;
            let t = db::templates(&store, person.as_deref()).await?;
            print(ctx, &serde_json::to_value(&t)?, || {
                for s in &t {
                    println!("{:<12} finger {:>2}: {:>3} minutiae, quality {:>3}  {}", s.person, s.position, s.minutiae, s.quality, s.source);
                }
                println!("{} templates", t.len());
            });
        }
        Cmd::Convert { input, output, to, position, width, height } => {
            let target = target_of(&output, to.as_deref())?;
            let what = convert(&input, &output, target, position, (width, height))?;
            print(ctx, &serde_json::json!({"input": input, "output": output, "wrote": what}), || println!("{}: {what}", output.display()));
        }
        Cmd::Eval { dir, protocol, det } => {
            let protocols = match protocol.as_str() {
                "fvc" => vec![Protocol::Fvc],
                "all-pairs" => vec![Protocol::AllPairs],
                "both" => vec![Protocol::Fvc, Protocol::AllPairs],
                other => bail!("unknown protocol {other:?}: use fvc, all-pairs or both"),
            };
            let mut reports = Vec::new();
            for p in protocols {
                reports.push(eval::evaluate(&dir, p)?);
            }
            let set = dir.iter().rev().take(2).collect::<Vec<_>>().into_iter().rev().map(|s| s.to_string_lossy()).collect::<Vec<_>>().join("-");
            let det = det.unwrap_or_else(|| ctx.data_dir.join("bio").join(format!("det-{set}.svg")));
            if let Some(parent) = det.parent() {
                std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
            }
            let labels: Vec<String> = reports.iter().map(|r| format!("{set} {:?}", r.protocol)).collect();
            let curves: Vec<(&str, &[f32], &[f32])> = reports.iter().zip(&labels).map(|(r, l)| (l.as_str(), &r.genuine[..], &r.impostor[..])).collect();
            std::fs::write(&det, eval::det_svg(&curves)).with_context(|| format!("cannot write {}", det.display()))?;
            print(ctx, &serde_json::json!({"reports": reports, "det": det}), || {
                for r in &reports {
                    println!(
                        "{} [{:?}] images {} fingers {} FTE {}  genuine {} impostor {}  EER {:.2}%  FMR100 {:.2}%  FMR1000 {:.2}%  ZeroFMR {:.2}%",
                        r.dataset, r.protocol, r.images, r.fingers, r.failures_to_enrol, r.genuine_pairs, r.impostor_pairs, r.eer, r.fmr100, r.fmr1000, r.zero_fmr
                    );
                }
                println!("DET curve: {}", det.display());
            });
        }
    }
    Ok(())
}
