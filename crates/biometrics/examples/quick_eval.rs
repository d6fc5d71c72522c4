//! Quick accuracy loop for iterating on the engine: our extractor + matcher only (no
//! peers), FVC2002 and FVC2004 DB1_B, FVC and all-pairs protocols. Each image set is
//! extracted once into native templates (in the temp folder), then scored.
//!
//! Options: `BIO_ISO=1` also scores the published ISO templates (matcher only);
//! `BIO_TIME=1` single-thread extraction (with a hash of the templates, to check that a
//! speed change keeps the output) and 1:1 timing first (`BIO_TIME=only`: nothing else;
//! `BIO_TIME=extract`: extraction only, `BIO_REPEAT` times over the first `BIO_IMAGES`
//! images of each set, for profiling); `BIO_REUSE=1` rescores the last extracted templates
//! (matcher-only changes; minutiae only, so without the orientation score);
//! `BIO_WORST=N` lists the N (default 20) lowest genuine and highest impostor scores of
//! both protocols as `evaluate` computes them, with how many of the other kind sit
//! beyond each;
//! `BIO_DEBUG=101_1` (or `FVC2004/DB1_B:101_1`) writes that image's stage PNGs.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-bio cargo run --release -p sallyport-biometrics --example quick_eval
//! ```

use sallyport_biometrics::eval::{evaluate, scan, Protocol};
use sallyport_biometrics::extract::extract;
use sallyport_biometrics::image::load;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let shared = std::env::var_os("SALLYPORT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let fp = shared.join("data/fingerprints");
    let mut dirs: Vec<(String, PathBuf)> = ["FVC2002/DB1_B", "FVC2004/DB1_B"]
        .iter()
        .map(|s| (s.to_string(), fp.join(s)))
        .collect();
    if std::env::var_os("BIO_ISO").is_some() {
        for s in ["FVC2002/DB1_B", "FVC2004/DB1_B"] {
            dirs.push((format!("ISO {s}"), fp.join("templates-iso19794-2").join(s)));
        }
    }
    if let Some(stem) = std::env::var_os("BIO_DEBUG") {
        let stem = stem.to_string_lossy().to_string();
        let (set, file) = stem.split_once(':').unwrap_or(("FVC2002/DB1_B", &stem));
        let img = load(&fp.join(set).join(format!("{file}.tif")), 500).unwrap();
        let s = sallyport_biometrics::extract::extract_stages(&img).unwrap();
        let out = std::env::temp_dir().join(format!("bio-debug-{}", file));
        s.write_debug(&out).unwrap();
        println!(
            "{} raw, {} kept -> {}",
            s.raw_minutiae.len(),
            s.template.minutiae.len(),
            out.display()
        );
        return;
    }
    if std::env::var_os("BIO_WORST").is_some() {
        use rayon::prelude::*;
        use sallyport_biometrics::eval::{pairs, prepare_one};
        use sallyport_biometrics::mcc::{compare, Prepared};
        let n: usize = std::env::var("BIO_WORST")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20);
        for (name, dir) in &dirs {
            let samples = scan(dir).unwrap();
            // prepared as `evaluate` does: images with their ridge fields and candidate
            // minutiae, template files as they are
            let p: Vec<Option<Prepared>> = samples
                .par_iter()
                .map(|s| prepare_one(&s.path).ok().filter(|p| p.x.len() >= 3))
                .collect();
            let label = |i: usize| {
                let stem = samples[i].path.file_stem().unwrap().to_string_lossy().to_string();
                format!("{stem}({})", p[i].as_ref().map_or(0, |p| p.x.len()))
            };
            let sc = |&(i, j): &(usize, usize)| match (&p[i], &p[j]) {
                (Some(a), Some(b)) => compare(a, b),
                _ => 0.0,
            };
            for protocol in [Protocol::Fvc, Protocol::AllPairs] {
                let (g, im) = pairs(&samples, protocol);
                let gs: Vec<f32> = g.par_iter().map(sc).collect();
                let is: Vec<f32> = im.par_iter().map(sc).collect();
                let mut go: Vec<usize> = (0..g.len()).collect();
                go.sort_by(|&x, &y| gs[x].total_cmp(&gs[y]));
                let mut io: Vec<usize> = (0..im.len()).collect();
                io.sort_by(|&x, &y| is[y].total_cmp(&is[x]));
                println!("{name} {protocol:?}: lowest genuine (kept minutiae) [impostors at or above]");
                for &k in go.iter().take(n) {
                    let (i, j) = g[k];
                    let above = is.iter().filter(|&&v| v >= gs[k]).count();
                    println!("  {}-{} {:.4} [{above}]", label(i), label(j), gs[k]);
                }
                println!("{name} {protocol:?}: highest impostors [genuine at or below]");
                for &k in io.iter().take(n) {
                    let (i, j) = im[k];
                    let below = gs.iter().filter(|&&v| v <= is[k]).count();
                    println!("  {}-{} {:.4} [{below}]", label(i), label(j), is[k]);
                }
            }
        }
        return;
    }
    if std::env::var_os("BIO_TIME").is_some() {
        for (name, dir) in &dirs[..2] {
            let imgs: Vec<_> = scan(dir)
                .unwrap()
                .iter()
                .take(
                    std::env::var("BIO_IMAGES")
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(usize::MAX),
                )
                .map(|s| load(&s.path, 500).unwrap())
                .collect();
            let repeat: usize = std::env::var("BIO_REPEAT")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            let (t0, c0) = (Instant::now(), cpu_ns());
            let mut n = 0;
            // FNV-1a over every template's native bytes: identical output gives the same hash
            let mut hash = 0xcbf2_9ce4_8422_2325u64;
            for _ in 0..repeat {
                for img in &imgs {
                    let t = extract(img);
                    n += t.as_ref().map(|t| t.minutiae.len()).unwrap_or(0);
                    for b in t.map(|t| t.to_bytes()).unwrap_or_default() {
                        hash = (hash ^ b as u64).wrapping_mul(0x100_0000_01b3);
                    }
                }
            }
            let runs = (imgs.len() * repeat) as f64;
            let cpu = cpu_ns().zip(c0).map_or("-".into(), |(c1, c0)| {
                format!("{:.1}", (c1 - c0) as f64 / 1e6 / runs)
            });
            println!(
                "extract {name}: {:.1} ms/image 1 thread ({cpu} ms on the CPU), mean {:.1} minutiae, templates hash {hash:016x}",
                t0.elapsed().as_secs_f64() * 1000.0 / runs,
                n as f64 / runs
            );
            if std::env::var("BIO_TIME").as_deref() == Ok("extract") {
                continue;
            }
            use sallyport_biometrics::extract::{extract_stages, RidgeField};
            use sallyport_biometrics::mcc::{compare, Prepared};
            let stages: Vec<_> = imgs.iter().filter_map(|i| extract_stages(i).ok()).collect();
            let plain: Vec<_> = stages.iter().map(|s| Prepared::new(&s.template)).collect();
            let fields: Vec<_> = stages
                .iter()
                .map(|s| Prepared::with_field(&s.template, Some(RidgeField::from_stages(s))))
                .collect();
            let support: Vec<_> = stages
                .iter()
                .zip(&fields)
                .map(|(s, p)| p.clone().with_support(&s.raw_minutiae))
                .collect();
            for (what, p) in [
                ("minutiae only", &plain),
                ("with ridge fields", &fields),
                ("with fields and raw support", &support),
            ] {
                let t0 = Instant::now();
                let mut sink = 0.0;
                for a in p {
                    for b in p {
                        sink += compare(a, b);
                    }
                }
                println!(
                    "compare {name}, {what}: {:.0} /s 1 thread (checksum {sink:.2})",
                    (p.len() * p.len()) as f64 / t0.elapsed().as_secs_f64()
                );
            }
        }
        if matches!(std::env::var("BIO_TIME").as_deref(), Ok("only" | "extract")) {
            return;
        }
    }
    // extract each image set once into native templates (BIO_REUSE=1: reuse the last ones,
    // for matcher-only changes), then score both protocols on those
    let cache = std::env::temp_dir().join("bio-quick-eval");
    for (name, dir) in dirs.iter_mut() {
        if name.starts_with("ISO") {
            continue;
        }
        let out = cache.join(name.replace('/', "-"));
        if std::env::var_os("BIO_REUSE").is_none() {
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir_all(&out).unwrap();
            let samples = scan(dir).unwrap();
            let t = sallyport_biometrics::eval::enrol_all(&samples);
            for (s, t) in samples.iter().zip(t) {
                if let Some(t) = t {
                    std::fs::write(
                        out.join(format!("{}_{}.spft", s.finger, s.impression)),
                        t.to_bytes(),
                    )
                    .unwrap();
                }
            }
        }
        // images are scored from the folder itself (their templates keep the ridge field of
        // the orientation score); BIO_REUSE scores the cached minutiae-only templates
        if std::env::var_os("BIO_REUSE").is_some() {
            *dir = out;
        }
    }
    for (name, dir) in &dirs {
        for protocol in [Protocol::Fvc, Protocol::AllPairs] {
            let r = evaluate(dir, protocol).expect("evaluation");
            println!(
                "{name:<20} {:<9} EER {:6.2}%  FMR100 {:6.2}%  FMR1000 {:6.2}%  ZeroFMR {:6.2}%  FTE {}",
                format!("{protocol:?}"),
                r.eer,
                r.fmr100,
                r.fmr1000,
                r.zero_fmr,
                r.failures_to_enrol
            );
        }
    }
}

/// Nanoseconds this thread has run on a CPU (Linux `schedstat`), so that a timing on a
/// shared machine can be told apart from the time spent waiting for a core.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
