//! Bench binary: loading the flagship scenario, and bulk CSV import of people,
//! into SQLite and PostgreSQL.
//!
//! `cargo bench -p sallyport-store --bench load [-- PEOPLE]` (default 1,000,000).
//! Prints a Markdown table. PostgreSQL is skipped (loudly) if unreachable.

use std::time::Instant;

use sallyport_core::{synth, Scenario};
use sallyport_store::import::{write_people, Format, Kind};
use sallyport_store::testing;

fn flagship() -> Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/northeast-syria-2026.toml");
    toml::from_str(&std::fs::read_to_string(path).expect("scenario file")).expect("scenario")
}

#[tokio::main]
async fn main() {
    let n: u32 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let scenario = flagship();
    let people = synth::generate(&scenario).expect("population");

    // A large population: the flagship's origins scaled up, ids still unique.
    let mut big = scenario.clone();
    let scale = n as f64 / scenario.total_population() as f64;
    for s in big.sites.iter_mut().filter(|s| s.kind.is_origin()) {
        s.population = (s.population as f64 * scale).round() as u32;
        s.holding_capacity = s.holding_capacity.max(s.population);
    }
    let t = Instant::now();
    let big_people = synth::generate(&big).expect("big population");
    let gen_s = t.elapsed().as_secs_f64();
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("people.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&csv).expect("csv"));
    write_people(Format::Csv, &big_people, &mut f).expect("write csv");
    drop(f);
    let rows = big_people.len();
    let mb = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    eprintln!("generated {rows} people in {gen_s:.1} s; CSV {mb:.0} MB");
    drop(big_people);

    println!("| backend | load flagship (6,000 people) | import {rows} people from CSV | rows/s | bench-process CPU during import |");
    println!("|---|---|---|---|---|");
    let mut dbs = vec![testing::sqlite().await];
    dbs.extend(testing::postgres().await);
    for db in dbs {
        let t = Instant::now();
        db.store.load_scenario(&scenario, &people, false).await.expect("load");
        let load_s = t.elapsed().as_secs_f64();
        // Import into a store holding the scenario but not its people.
        let fresh = if db.name == "sqlite" { testing::sqlite().await } else { testing::postgres().await.expect("pg") };
        fresh.store.load_scenario(&big, &[], false).await.expect("scenario");
        let t = Instant::now();
        let cpu0 = process_cpu_s();
        let report = fresh.store.import_file(Kind::People, Format::Csv, &csv, &mut |_| {}).await.expect("import");
        let import_s = t.elapsed().as_secs_f64();
        let cpu_s = process_cpu_s() - cpu0;
        assert_eq!(report.records as usize, rows);
        println!("| {} | {load_s:.2} s | {import_s:.2} s | {:.0} | {cpu_s:.2} s |", db.name, rows as f64 / import_s);
    }
}

/// User + system CPU seconds of this process, all threads (from /proc; 0 elsewhere).
/// On a shared machine wall time includes waiting for a core; this does not.
/// (PostgreSQL's own server processes are not included.)
fn process_cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
