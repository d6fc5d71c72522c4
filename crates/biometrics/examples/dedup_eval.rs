//! Deduplication loop: builds the bench's SYNTHETIC population (`synth::population`, the
//! same seeds as `benches/bio.rs`) from our templates of FVC2002 + FVC2004 DB1_B, runs
//! `Gallery::dedup` as the bench does, and reports the planted duplicates found and missed,
//! the time, and the score margin. For each missed pair it prints where the mate stood in
//! the index shortlist of each query finger (from both sides).
//!
//! Options: `BIO_PEOPLE` (default 1000), `BIO_SHORTLIST` (default 10, as the bench),
//! `BIO_QUERY` (query positions, default `1,2`, as the bench); `BIO_FINGER_RANKS=1`
//! first reports, per planted pair, the per-finger index shortlist that would hold the mate.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-bio BIO_PEOPLE=1000 cargo run --release -p sallyport-biometrics --example dedup_eval
//! ```

use rayon::prelude::*;
use sallyport_biometrics::eval::scan;
use sallyport_biometrics::extract::extract;
use sallyport_biometrics::gallery::Gallery;
use sallyport_biometrics::image::load;
use sallyport_biometrics::mcc::Prepared;
use sallyport_biometrics::synth::{population, Population};
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
    let t0 = Instant::now();
    let mut real = Vec::new();
    for set in ["FVC2002/DB1_B", "FVC2004/DB1_B"] {
        let samples = scan(&fp.join(set)).expect("data set");
        let t: Vec<_> = samples
            .par_iter()
            .filter_map(|s| extract(&load(&s.path, 500).expect("image")).ok())
            .collect();
        real.extend(t);
    }
    println!(
        "real templates: {} in {:.1} s",
        real.len(),
        t0.elapsed().as_secs_f64()
    );
    let people = env("BIO_PEOPLE", 1000);
    let shortlist = env("BIO_SHORTLIST", 10);
    let query: Vec<u8> = std::env::var("BIO_QUERY")
        .unwrap_or_else(|_| "1,2".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let t0 = Instant::now();
    let Population { entries, planted } = population(&real, people, 60);
    let g = Gallery::new(entries);
    println!(
        "SYNTHETIC population: {} people + 60 planted, built in {:.1} s",
        people,
        t0.elapsed().as_secs_f64()
    );
    if std::env::var_os("BIO_FINGER_RANKS").is_some() {
        // the per-finger index shortlist (what the earlier dedup used): for each planted
        // pair, the smallest shortlist (self included) at which a query finger of the
        // lower id holds the mate
        let t0 = Instant::now();
        let finger_of = |p: u32, pos: u8| {
            g.fingers
                .iter()
                .find(|f| f.person == p && f.position == pos)
                .map(|f| &f.prepared)
        };
        let mut need: Vec<usize> = Vec::new();
        for &(a, b) in &planted {
            let k = (1..=20).find(|&k| {
                query.iter().any(|&pos| {
                    finger_of(a, pos).is_some_and(|p| {
                        g.identify(p, Some(pos), k, k).iter().any(|c| c.person == b)
                    })
                })
            });
            need.push(k.unwrap_or(usize::MAX));
        }
        need.sort_unstable();
        println!("per-finger shortlist needed from the lower id (sorted, MAX = over 20): {need:?} ({:.1} s)", t0.elapsed().as_secs_f64());
    }
    {
        // the person-level pre-filter: rank of the mate (from the better of the two sides)
        let t0 = Instant::now();
        let lists = g.dedup_shortlists(&query, 20);
        let secs = t0.elapsed().as_secs_f64();
        let list = |p: u32| {
            lists
                .iter()
                .find(|l| l.0 == p)
                .map(|l| &l.1[..])
                .unwrap_or(&[])
        };
        let pos = |p: u32, q: u32| list(p).iter().position(|c| c.0 == q);
        let mut ranks: Vec<usize> = planted
            .iter()
            .map(|&(a, b)| {
                pos(a, b)
                    .into_iter()
                    .chain(pos(b, a))
                    .min()
                    .map_or(usize::MAX, |r| r + 1)
            })
            .collect();
        ranks.sort_unstable();
        let lower: Vec<usize> = planted
            .iter()
            .map(|&(a, b)| pos(a, b).map_or(usize::MAX, |r| r + 1))
            .collect();
        let margin: Vec<String> = planted
            .iter()
            .take(5)
            .map(|&(a, b)| {
                let l = list(a);
                format!(
                    "{:.3}/{:.3}",
                    l.iter().find(|c| c.0 == b).map_or(0.0, |c| c.1),
                    l.iter().find(|c| c.0 != b).map_or(0.0, |c| c.1)
                )
            })
            .collect();
        println!(
            "pre-filter (query {query:?}): {secs:.1} s; planted mate's rank, better side (sorted): {ranks:?}; worst rank from the lower id alone: {}; mate/best other index score, first 5: {margin:?}",
            lower.iter().max().map_or("-".into(), |r| if *r == usize::MAX { "over 20".into() } else { r.to_string() })
        );
    }
    let t0 = Instant::now();
    let found = g.dedup(&query, shortlist, 0.0);
    let secs = t0.elapsed().as_secs_f64();
    let hit = |a: u32, b: u32| {
        found
            .iter()
            .find(|f| (f.0, f.1) == (a.min(b), a.max(b)))
            .map(|f| f.2)
    };
    let got: Vec<f32> = planted.iter().filter_map(|&(a, b)| hit(a, b)).collect();
    let max_other = found
        .iter()
        .filter(|f| !planted.contains(&(f.0, f.1)))
        .map(|f| f.2)
        .fold(0.0, f32::max);
    let min_planted = got.iter().copied().fold(f32::MAX, f32::min);
    println!(
        "dedup query {query:?} shortlist {shortlist}: {secs:.1} s, {} pairs scored above 0, planted found {}/{}; lowest planted {min_planted:.4}, highest other {max_other:.4}",
        found.len(),
        got.len(),
        planted.len()
    );
    // where a missed mate stood in each query finger's shortlist
    let finger_of = |p: u32, pos: u8| {
        g.fingers
            .iter()
            .find(|f| f.person == p && f.position == pos)
            .map(|f| &f.prepared)
    };
    for &(a, b) in &planted {
        if hit(a, b).is_some() {
            continue;
        }
        let mut line = format!("missed {a}-{b}:");
        for (from, to) in [(a, b), (b, a)] {
            for &pos in &query {
                let Some(p): Option<&Prepared> = finger_of(from, pos) else {
                    continue;
                };
                let rank = |k: usize| {
                    g.identify(p, Some(pos), k, k)
                        .iter()
                        .position(|c| c.person == to)
                        .map_or("-".to_string(), |r| r.to_string())
                };
                line += &format!(
                    " {from}->{to} pos {pos} in shortlist {}, in 200: {};",
                    rank(shortlist),
                    rank(200)
                );
            }
        }
        println!("{line}");
    }
}
