//! Benchmarks on the real UCDP GED Syria extract (read from shared/, never copied):
//! - `ingest/sqlite`, `ingest/postgres`: parse + validate + store the whole file
//!   into a fresh SQLite database / PostgreSQL schema (skipped when no server);
//! - `parse`: parse + validate only;
//! - `assess/10y`: every flagship site, every day of 2010-01-01 ..= 2019-12-31;
//! - `backtest`: the full backtest of the origin sites.

use std::path::PathBuf;

use chrono::NaiveDate;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use sallyport_threat::{AlertRules, IngestOptions, ModelParams, ThreatModel, ingest_parsed, parse_bytes};

fn shared() -> PathBuf {
    std::env::var_os("SALLYPORT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

fn sites() -> Vec<sallyport_core::Site> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/northeast-syria-2026.toml");
    let s: sallyport_core::Scenario = toml::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    s.sites
}

fn benches(c: &mut Criterion) {
    let bytes = std::fs::read(shared().join("data/conflict/ucdp-ged-syria-v19.1-2016-2019.csv")).expect("GED extract");
    let n = parse_bytes("ged", &bytes).events.len() as u64;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    let mut g = c.benchmark_group("ingest");
    g.sample_size(10).throughput(Throughput::Elements(n));
    g.bench_function("parse", |b| b.iter(|| parse_bytes("ged", &bytes)));
    g.bench_function("sqlite", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("b.db").display());
                let store = rt.block_on(sallyport_store::Store::open(&url)).unwrap();
                (dir, store)
            },
            |(dir, store)| {
                rt.block_on(async {
                    let p = parse_bytes("ged", &bytes);
                    let r = ingest_parsed(&store, vec![p], IngestOptions::default()).await.unwrap();
                    assert_eq!(r.added, n);
                    store.close().await;
                });
                drop(dir);
            },
            BatchSize::PerIteration,
        )
    });
    // PostgreSQL (local server, `SALLYPORT_TEST_PG` or the test default): a fresh
    // migrated schema per iteration, made outside the timed part.
    if rt.block_on(sallyport_store::testing::postgres()).is_some() {
        g.bench_function("postgres", |b| {
            b.iter_batched(
                || rt.block_on(sallyport_store::testing::postgres()).expect("PostgreSQL reachable"),
                |db| {
                    rt.block_on(async {
                        let p = parse_bytes("ged", &bytes);
                        let r = ingest_parsed(&db.store, vec![p], IngestOptions::default()).await.unwrap();
                        assert_eq!(r.added, n);
                        db.store.close().await;
                    });
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();

    let model = ThreatModel::new(parse_bytes("ged", &bytes).events, ModelParams::default());
    let sites = sites();
    let (from, to) = (NaiveDate::from_ymd_opt(2010, 1, 1).unwrap(), NaiveDate::from_ymd_opt(2019, 12, 31).unwrap());
    let mut g = c.benchmark_group("assess");
    g.sample_size(10).throughput(Throughput::Elements(sites.len() as u64 * ((to - from).num_days() as u64 + 1)));
    g.bench_function("all_sites_10y", |b| b.iter(|| model.series_all(&sites, from, to)));
    g.bench_function("index_build", |b| {
        b.iter_batched(|| model.events().to_vec(), |ev| ThreatModel::new(ev, ModelParams::default()), BatchSize::LargeInput)
    });
    g.finish();

    let origins: Vec<_> = sites.iter().filter(|s| s.kind.is_origin()).cloned().collect();
    let periods = [("all".to_string(), NaiveDate::from_ymd_opt(2016, 3, 1).unwrap(), NaiveDate::from_ymd_opt(2019, 10, 31).unwrap())];
    let mut g = c.benchmark_group("backtest");
    g.sample_size(10);
    g.bench_function("origins_2016_2019", |b| {
        b.iter(|| sallyport_threat::backtest(&model, &origins, &periods, &Default::default(), &AlertRules::default()))
    });
    g.finish();
}

criterion_group!(threat, benches);
criterion_main!(threat);
