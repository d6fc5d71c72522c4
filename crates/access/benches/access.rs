//! Access benchmarks (criterion): Cedar decisions per second, and the cost of
//! filtering and redacting the flagship scenario's 6,000 people for one reader.
//!
//! Run: `cargo bench -p sallyport-access --bench access`
//! Goals (issue 5): ≤ 10 µs per decision; filtering 6,000 records ≤ 20 ms.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sallyport_access::people::{default_markings, marked_people, synthetic_notes};
use sallyport_access::redact::Filter;
use sallyport_access::{Access, Authorizer, Level, MarkedRecord, NewUser, Role};
use sallyport_core::{synth, Scenario};

/// The same allocator as the `sallyport` binary, so figures match the product.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cases;
use cases::{decision_cases, labels, readers};

fn flagship() -> Scenario {
    toml::from_str(include_str!("../../../scenarios/northeast-syria-2026.toml")).expect("flagship scenario")
}

fn decisions(c: &mut Criterion) {
    let authz = Authorizer::builtin().unwrap();
    let readers = readers();
    let labels = labels();
    let cases = decision_cases();
    let mut g = c.benchmark_group("decision");
    g.throughput(Throughput::Elements(1));
    // Not memoised: Cedar evaluates every policy of the action's slice as
    // specialised to the principal; the principal's entities and slices and the
    // record class's context are the ones built on first use (the 72 cases have
    // 3 principals and 24 classes).
    let mut i = 0usize;
    g.bench_function("cedar_uncached", |b| {
        b.iter(|| {
            let (p, a, r) = &cases[i % cases.len()];
            i += 1;
            black_box(authz.decide(p, a, r).allowed)
        })
    });
    // Cold inputs: a record class never seen before on every call (its
    // request context is built), then a new principal as well (its entities
    // too; its slices are those of its profile — same agency, roles,
    // clearance, compartments and scopes — built by the first of them).
    let mut n = 0usize;
    g.bench_function("cedar_new_class", |b| {
        b.iter(|| {
            let (p, a, r) = &cases[n % cases.len()];
            let mut r = r.clone();
            r.label.originator = format!("AG-{n}");
            n += 1;
            black_box(authz.decide(p, a, &r).allowed)
        })
    });
    let mut m = 0usize;
    g.bench_function("cedar_new_class_and_principal", |b| {
        b.iter(|| {
            let (p, a, r) = &cases[m % cases.len()];
            let (mut p, mut r) = (p.clone(), r.clone());
            r.label.originator = format!("AG-{m}");
            p.user = format!("user-{m}");
            m += 1;
            black_box(authz.decide(&p, a, &r).allowed)
        })
    });
    // The authorizer's memo (what the server asks per route and record class).
    let mut k = 0usize;
    g.bench_function("memoised_class", |b| {
        b.iter(|| {
            let (p, a, r) = &cases[k % cases.len()];
            k += 1;
            black_box(authz.decide_class(p, None, a, &r.kind, &r.field, &r.label, r.legal_hold).allowed)
        })
    });
    // What a list pays per part after the first of its marking class.
    let p = &readers[0].1;
    let mut f = Filter::new(&authz, p);
    let mut j = 0usize;
    g.bench_function("filter_cached", |b| {
        b.iter(|| {
            let l = &labels[j % labels.len()];
            j += 1;
            black_box(f.decide("person", "risk", l, false).allowed)
        })
    });
    g.finish();
}

fn population() -> (Vec<MarkedRecord>, usize) {
    let s = flagship();
    let people = synth::generate(&s).unwrap();
    let notes = synthetic_notes(&people, &s.agencies);
    let recs = marked_people(&people, &notes, &default_markings(&s.agencies), &s.agencies);
    (recs, notes.len())
}

fn filtering(c: &mut Criterion) {
    let authz = Authorizer::builtin().unwrap();
    let (records, notes) = population();
    assert_eq!(records.len(), 6000);
    eprintln!("6,000 people, {notes} synthetic intelligence notes");
    let mut g = c.benchmark_group("filter_6000");
    g.throughput(Throughput::Elements(records.len() as u64));
    g.sample_size(30);
    for (name, p) in readers() {
        let shown = Filter::new(&authz, &p).redact_all(&records).len();
        eprintln!("{name}: {shown} of 6,000 visible");
        g.bench_function(name, |b| b.iter(|| black_box(Filter::new(&authz, &p).redact_all(&records).len())));
        // Visibility alone (which records a list may show; what the server's
        // people page asks of every record before it redacts one page).
        g.bench_function(format!("{name}_visible"), |b| {
            b.iter(|| {
                let mut f = Filter::new(&authz, &p);
                black_box(records.iter().filter(|r| f.decide(&r.kind, "*", &r.label, r.legal_hold).allowed).count())
            })
        });
        // What a list request pays: it builds its records and hands them over
        // (no copy of each value); building them is measured below.
        g.bench_function(format!("{name}_owned"), |b| {
            b.iter_batched(
                || records.clone(),
                |owned| black_box(Filter::new(&authz, &p).redact_all_owned(owned).len()),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    // Preparing the marked records (JSON view + labels) is separate from filtering.
    let s = flagship();
    let people = synth::generate(&s).unwrap();
    let notes = synthetic_notes(&people, &s.agencies);
    let m = default_markings(&s.agencies);
    g.bench_function("build_marked_records", |b| b.iter(|| black_box(marked_people(&people, &notes, &m, &s.agencies).len())));
    g.finish();
}

fn store_paths(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let s = flagship();
    let people = synth::generate(&s).unwrap();
    let (access, caller, admin) = rt.block_on(async {
        let store = sallyport_store::Store::open(&url).await.unwrap();
        store.load_scenario(&s, &people, false).await.unwrap();
        let access = Access::new(store, Arc::new(Authorizer::builtin().unwrap()));
        let pw = "benchmark-password-0001";
        let admin = NewUser {
            username: "odni.admin".into(),
            display_name: String::new(),
            agency: "US-ODNI".into(),
            roles: BTreeSet::from([Role::Administrator]),
            clearance: Level::TopSecret,
            compartments: BTreeSet::from(["HVD".to_string()]),
            password: Some(pw.into()),
        };
        access.add_user(None, &admin).await.unwrap();
        let admin = access.check_password("odni.admin", pw).await.unwrap();
        let analyst = NewUser { username: "odni.analyst".into(), roles: BTreeSet::from([Role::Coordinator]), ..admin_user(pw) };
        access.add_user(Some(&admin), &analyst).await.unwrap();
        let caller = access.check_password("odni.analyst", pw).await.unwrap();
        access.synthesise_notes(&caller).await.unwrap();
        (access, caller, admin)
    });
    let mut g = c.benchmark_group("store_sqlite");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("list_people_6000_audited", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    black_box(access.list_people(&caller, None).await.unwrap().len());
                }
                t.elapsed()
            })
        })
    });
    g.bench_function("view_person_audited", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for k in 0..iters {
                    let id = format!("P-{:06}", k % 6000 + 1);
                    black_box(access.view_person(&caller, &id).await.unwrap().is_some());
                }
                t.elapsed()
            })
        })
    });
    g.bench_function("password_check_argon2id", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    black_box(access.check_password("odni.analyst", "benchmark-password-0001").await.unwrap());
                }
                t.elapsed()
            })
        })
    });
    let _ = admin;
    g.finish();
    rt.block_on(async {
        let v = access.audit_log().verify().await.unwrap();
        eprintln!("audit log after the store benchmarks: {} entries, chain verified", v.entries);
    });
}

fn admin_user(pw: &str) -> NewUser {
    NewUser {
        username: String::new(),
        display_name: String::new(),
        agency: "US-ODNI".into(),
        roles: BTreeSet::new(),
        clearance: Level::TopSecret,
        compartments: BTreeSet::from(["HVD".to_string()]),
        password: Some(pw.into()),
    }
}

criterion_group!(benches, decisions, filtering, store_paths);
criterion_main!(benches);
