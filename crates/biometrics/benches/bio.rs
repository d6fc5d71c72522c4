//! Speed bench binary: `cargo bench -p sallyport-biometrics --bench bio`.
//!
//! Prints extraction ms/image and 1:1 comparisons/s (single thread, real FVC images),
//! 1:N search of a SYNTHETIC gallery (default 100,000 fingers, `BIO_GALLERY`), and
//! deduplication of a SYNTHETIC population (default 6,000 people × 10 fingers with 60
//! planted duplicates, `BIO_PEOPLE`). Synthetic templates are derived from the real ones
//! (see `sallyport_biometrics::synth`).
//!
//! Peers: with `BIO_PEERS_DIR` set (written by `bench/bio/peers.sh run DIR`), NBIS's and
//! OpenAFIS's scores are evaluated with the same code and pairs, and ratios printed.
//! `BIO_SKIP_SCALE=1` skips the synthetic 1:N and deduplication parts (quick iteration).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use sallyport_biometrics::eval::{
    det_svg, enrol_one, evaluate, evaluate_scores, read_scores, scan, Protocol,
};
use sallyport_biometrics::extract::extract;
use sallyport_biometrics::gallery::{Finger, Gallery};
use sallyport_biometrics::image::load;
use sallyport_biometrics::mcc::{compare, Prepared};
use sallyport_biometrics::synth::{finger, perturb, population, Perturbation, Population};
use sallyport_biometrics::template::Template;
use std::path::PathBuf;
use std::time::Instant;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let shared = std::env::var_os("SALLYPORT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let fp = shared.join("data/fingerprints");
    println!("threads: {}", rayon::current_num_threads());

    // extraction, single thread
    let mut real: Vec<Template> = Vec::new();
    let peers = std::env::var_os("BIO_PEERS_DIR").map(PathBuf::from);
    let timing = |file: &str, key: &str| -> Option<f64> {
        let t = std::fs::read_to_string(peers.as_ref()?.join(file)).ok()?;
        t.lines()
            .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
    };
    let mut our_extract_ms = std::collections::HashMap::new();
    for set in ["FVC2002/DB1_B", "FVC2004/DB1_B"] {
        let samples = scan(&fp.join(set)).expect("data set");
        let imgs: Vec<_> = samples
            .iter()
            .map(|s| load(&s.path, 500).expect("image"))
            .collect();
        let t0 = Instant::now();
        for img in &imgs {
            if let Ok(t) = extract(img) {
                real.push(t);
            }
        }
        let ms = t0.elapsed().as_secs_f64() * 1000.0 / imgs.len() as f64;
        println!(
            "extract {set}: {ms:.1} ms/image ({}x{}), 1 thread",
            imgs[0].width, imgs[0].height
        );
        our_extract_ms.insert(set, ms);
        if let Some(nb) = timing(
            &format!("nbis-{}.tsv.timing", set.replace('/', "-")),
            "extract_ms_per_image",
        ) {
            println!(
                "  peer NBIS mindtct {set}: {nb:.1} ms/image, 1 thread; ours/NBIS time ratio {:.2}",
                ms / nb
            );
        }
    }
    // accuracy on every set, both protocols; DET curves into BIO_DET_DIR (default /tmp)
    let det_dir = std::env::var_os("BIO_DET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&det_dir).expect("create BIO_DET_DIR");
    for set in ["FVC2002/DB1_B", "FVC2004/DB1_B"] {
        let mut curves = Vec::new();
        for protocol in [Protocol::Fvc, Protocol::AllPairs] {
            let r = evaluate(&fp.join(set), protocol).expect("evaluation");
            println!(
                "eval {set} {protocol:?}: EER {:.2}% FMR100 {:.2}% FMR1000 {:.2}% ZeroFMR {:.2}% genuine {} impostor {} FTE {}",
                r.eer, r.fmr100, r.fmr1000, r.zero_fmr, r.genuine_pairs, r.impostor_pairs, r.failures_to_enrol
            );
            curves.push((format!("{set} {protocol:?}"), r.genuine, r.impostor));
            if let Some(dir) = &peers {
                let f = dir.join(format!("nbis-{}.tsv", set.replace('/', "-")));
                match read_scores(&f).and_then(|sc| evaluate_scores(&fp.join(set), protocol, &sc)) {
                    Ok(p) => {
                        println!(
                            "  peer NBIS mindtct+bozorth3 {set} {protocol:?}: EER {:.2}% FMR100 {:.2}% FMR1000 {:.2}% ZeroFMR {:.2}%; ours/NBIS EER ratio {:.2}",
                            p.eer, p.fmr100, p.fmr1000, p.zero_fmr, r.eer / p.eer.max(1e-9)
                        );
                        curves.push((format!("NBIS {set} {protocol:?}"), p.genuine, p.impostor));
                    }
                    Err(e) => println!("  peer NBIS {set}: not evaluated ({e})"),
                }
            }
        }
        let c: Vec<(&str, &[f32], &[f32])> = curves
            .iter()
            .map(|(n, g, i)| (n.as_str(), &g[..], &i[..]))
            .collect();
        let path = det_dir.join(format!("det-{}.svg", set.replace('/', "-")));
        std::fs::write(&path, det_svg(&c)).expect("write DET");
        println!("DET curve: {}", path.display());
    }
    // matcher only: the published ISO templates (one extractor, not ours) scored by our MCC
    // and, with the peers, by OpenAFIS
    for set in ["FVC2002/DB1_B", "FVC2004/DB1_B"] {
        let dir = fp.join("templates-iso19794-2").join(set);
        for protocol in [Protocol::Fvc, Protocol::AllPairs] {
            let r = evaluate(&dir, protocol).expect("evaluation of ISO templates");
            print!(
                "matcher-only (published ISO templates) {set} {protocol:?}: ours EER {:.2}% FMR100 {:.2}% FMR1000 {:.2}% ZeroFMR {:.2}% FTE {}",
                r.eer, r.fmr100, r.fmr1000, r.zero_fmr, r.failures_to_enrol
            );
            if let Some(dir_p) = &peers {
                let f = dir_p.join(format!("openafis-{}.tsv", set.replace('/', "-")));
                match read_scores(&f).and_then(|sc| evaluate_scores(&dir, protocol, &sc)) {
                    Ok(p) => print!("; OpenAFIS EER {:.2}% FMR100 {:.2}% FMR1000 {:.2}% ZeroFMR {:.2}%; ours/OpenAFIS EER ratio {:.2}", p.eer, p.fmr100, p.fmr1000, p.zero_fmr, r.eer / p.eer.max(1e-9)),
                    Err(e) => print!("; OpenAFIS not evaluated ({e})"),
                }
            }
            println!();
        }
    }
    let mean_m = real.iter().map(|t| t.minutiae.len()).sum::<usize>() as f64 / real.len() as f64;
    println!("real templates: {} (mean {mean_m:.1} minutiae)", real.len());

    // 1:1, single thread
    let t0 = Instant::now();
    let prepared: Vec<Prepared> = real.iter().map(Prepared::new).collect();
    println!(
        "prepare (cylinders): {:.3} ms/template, 1 thread",
        t0.elapsed().as_secs_f64() * 1000.0 / real.len() as f64
    );
    let t0 = Instant::now();
    let mut n = 0usize;
    let mut sink = 0.0f32;
    for a in &prepared[..80] {
        for b in &prepared[..80] {
            sink += compare(a, b);
            n += 1;
        }
    }
    let per_s = n as f64 / t0.elapsed().as_secs_f64();
    println!("compare 1:1: {per_s:.0} comparisons/s on 1 core ({n} pairs, checksum {sink:.1})");
    if let Some(nb) = timing("nbis-FVC2002-DB1_B.tsv.timing", "compare_per_s") {
        println!("  peer NBIS bozorth3 (through its Python binding): {nb:.0} comparisons/s on 1 core; ours/NBIS speed ratio {:.2}", per_s / nb);
    }

    // 1:N on the published ISO templates, the gallery OpenAFIS searches: the 160 templates
    // loaded BIO_OPENAFIS_LOAD_FACTOR times (default 625 = 100,000 fingers)
    if let Some(dir) = &peers {
        let lf = env("BIO_OPENAFIS_LOAD_FACTOR", 625);
        let iso_root = fp.join("templates-iso19794-2");
        let mut iso: Vec<(String, Prepared)> = Vec::new();
        for set in ["FVC2002/DB1_B", "FVC2004/DB1_B"] {
            for s in scan(&iso_root.join(set)).expect("ISO templates") {
                let t = enrol_one(&s.path).expect("ISO template");
                iso.push((
                    format!(
                        "{set}/{}",
                        s.path
                            .file_stem()
                            .and_then(|x| x.to_str())
                            .unwrap_or_default()
                    ),
                    Prepared::new(&t),
                ));
            }
        }
        let probe_name = "FVC2002/DB1_B/101_2";
        let probe = iso
            .iter()
            .find(|(n, _)| n == probe_name)
            .map(|(_, p)| p.clone())
            .expect("probe");
        let fingers: Vec<Finger> = (0..lf)
            .flat_map(|_| {
                iso.iter().enumerate().map(|(i, (_, p))| Finger {
                    person: i as u32,
                    position: 0,
                    prepared: p.clone(),
                })
            })
            .collect();
        let n = fingers.len();
        let g = Gallery::from_prepared(fingers);
        let passes = 3;
        let t0 = Instant::now();
        let mut top = Vec::new();
        for _ in 0..passes {
            top = g.identify(&probe, None, 100, 1);
        }
        let ms = t0.elapsed().as_secs_f64() * 1000.0 / passes as f64;
        let ours = n as f64 / (ms / 1000.0);
        let hit = top
            .first()
            .map(|c| iso[c.person as usize].0.clone())
            .unwrap_or_default();
        let oa = std::fs::read_to_string(dir.join("openafis-one-many.txt"))
            .ok()
            .map(|t| {
                let v: Vec<f64> = t
                    .lines()
                    .filter_map(|l| {
                        l.split('(')
                            .nth(1)?
                            .strip_suffix(" fp/s)")?
                            .trim()
                            .parse()
                            .ok()
                    })
                    .collect();
                v.iter().sum::<f64>() / v.len().max(1) as f64
            });
        print!("1:N on the published ISO templates x{lf} ({n} fingers, 2 threads): ours indexed (shortlist 100) {ms:.1} ms/probe = {ours:.0} fingers/s, top hit {hit}");
        match oa {
            Some(oa) if oa > 0.0 => println!("; OpenAFIS exhaustive {oa:.0} fingers/s (mean of its 3 passes); ours/OpenAFIS speed ratio {:.2}", ours / oa),
            _ => println!("; OpenAFIS not measured"),
        }
    }
    if std::env::var_os("BIO_SKIP_SCALE").is_some() {
        println!("BIO_SKIP_SCALE set: synthetic 1:N and deduplication skipped");
        return;
    }

    // 1:N on a synthetic gallery
    let size = env("BIO_GALLERY", 100_000);
    let t0 = Instant::now();
    let fingers: Vec<Finger> = (0..size)
        .into_par_iter()
        .map(|i| {
            let mut r = ChaCha8Rng::seed_from_u64(i as u64);
            let (a, b) = (r.gen_range(0..real.len()), r.gen_range(0..real.len()));
            Finger {
                person: i as u32,
                position: 0,
                prepared: Prepared::new(&finger(&real[a], &real[b], &mut r)),
            }
        })
        .collect();
    println!(
        "SYNTHETIC gallery: {size} fingers built in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    // mated probes: a new impression of gallery fingers (templates rebuilt from the seed)
    let probes: Vec<(u32, Prepared)> = (0..100u64)
        .map(|k| {
            let i = (k * 997) % size as u64;
            let mut r = ChaCha8Rng::seed_from_u64(i);
            let (a, b) = (r.gen_range(0..real.len()), r.gen_range(0..real.len()));
            let g = finger(&real[a], &real[b], &mut r);
            let mut r2 = ChaCha8Rng::seed_from_u64(1_000_000 + k);
            (
                i as u32,
                Prepared::new(&perturb(&g, Perturbation::IMPRESSION, &mut r2)),
            )
        })
        .collect();
    let t0 = Instant::now();
    let gallery = Gallery::from_prepared(fingers);
    println!("index built in {:.1} s", t0.elapsed().as_secs_f64());
    for shortlist in [100usize, 400] {
        let t0 = Instant::now();
        let hits = probes
            .iter()
            .filter(|(mate, p)| {
                gallery
                    .identify(p, None, shortlist, 1)
                    .first()
                    .is_some_and(|c| c.person == *mate)
            })
            .count();
        let ms = t0.elapsed().as_secs_f64() * 1000.0 / probes.len() as f64;
        println!(
            "1:N indexed (shortlist {shortlist}): {ms:.1} ms/probe, {:.0} gallery fingers searched/s, rank-1 {hits}/{} mated SYNTHETIC probes",
            size as f64 / (ms / 1000.0),
            probes.len()
        );
    }
    let t0 = Instant::now();
    let few = 3;
    let hits = probes[..few]
        .iter()
        .filter(|(mate, p)| {
            gallery
                .identify_exhaustive(p, None, 1)
                .first()
                .is_some_and(|c| c.person == *mate)
        })
        .count();
    let s = t0.elapsed().as_secs_f64() / few as f64;
    println!(
        "1:N exhaustive: {:.0} ms/probe, {:.0} comparisons/s, rank-1 {hits}/{few}",
        s * 1000.0,
        size as f64 / s
    );
    drop(gallery);

    // dedup of a synthetic population
    let people = env("BIO_PEOPLE", 6000);
    let dups = 60usize;
    let t0 = Instant::now();
    let Population { entries, planted } = population(&real, people, dups);
    let g = Gallery::new(entries);
    let built = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    // pre-filter: fingers 1 and 2 of every person vote in the pair index, summed per
    // person; the 3 best other people of each are compared on all ten fingers (the mate's
    // pre-filter rank was 1 for all 60 at 6,000 people, `examples/dedup_eval.rs`)
    let found = g.dedup(&[1, 2], 3, 0.0);
    let secs = t0.elapsed().as_secs_f64();
    let is_planted = |a: u32, b: u32| planted.contains(&(a, b));
    let got = found.iter().filter(|f| is_planted(f.0, f.1)).count();
    let min_planted = found
        .iter()
        .filter(|f| is_planted(f.0, f.1))
        .map(|f| f.2)
        .fold(f32::MAX, f32::min);
    let max_other = found
        .iter()
        .filter(|f| !is_planted(f.0, f.1))
        .map(|f| f.2)
        .fold(0.0, f32::max);
    println!(
        "dedup SYNTHETIC {} people x 10 fingers (+{dups} planted duplicates): {secs:.1} s (population built in {built:.1} s); planted found {got}/{dups}; lowest planted fused score {min_planted:.4}, highest other {max_other:.4}",
        people + dups
    );
}
