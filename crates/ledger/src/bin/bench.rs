//! Ledger benchmark: durable batched appends/s, ingest/s, proof times, bundle size.
//!
//! usage: ledger-bench DB_URL [EVENTS=200000] [BATCH=5000]
//! (run with a release build; see docs/benchmarks/ledger.md)

use std::time::Instant;

use sallyport_core::{AgencyId, PersonId, SiteId};
use sallyport_ledger::device::FieldLog;
use sallyport_ledger::event::{CustodyEvent, EventKind, HandoverStatement, commitment};
use sallyport_ledger::note::{Witness, log_vkey};
use sallyport_ledger::store::{AppendLeaf, CentralLog};
use sallyport_ledger::{DeviceId, DeviceKey, Leaf, NamedKey, WitnessPolicy, bundle::Bundle, tree};

fn pid(i: u64) -> PersonId {
    PersonId::new(format!("P-{i:06}")).expect("person id")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    let url = a
        .get(1)
        .cloned()
        .unwrap_or_else(|| "sqlite:///tmp/ledger-bench.db".into());
    let events: u64 = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let batch: usize = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(5_000);
    let store = sallyport_store::Store::open(&url)
        .await
        .expect("open store");
    let backend = format!("{:?}", store.backend());
    let log_key = NamedKey::from_seed("bench.sallyport/log", b"bench");
    let log = CentralLog::new(store, log_key.clone());
    let start_size = log.size().await.expect("size");

    // 1. Pre-sign the leaves (device-side work, not part of the append figure).
    let dev = DeviceId::new(format!("bench-{}", start_size)).expect("device");
    let key = DeviceKey::from_seed(dev.clone(), b"bench");
    let t = Instant::now();
    let mut rows = Vec::with_capacity(events as usize);
    let mut prev = [0u8; 32];
    for seq in 1..=events {
        let ev = CustodyEvent {
            person: pid(seq % 6000),
            claimed_time_ms: 1_767_225_600_000 + seq as i64 * 1000,
            kind: EventKind::PlacedInHolding {
                site: SiteId::new("BIAP-FAC").expect("site"),
                area: format!("H{}", seq % 40),
            },
        };
        let bytes = ev.encode();
        let salt = key.salt(seq);
        let leaf = Leaf::sign(&key.key, dev.clone(), seq, prev, commitment(&salt, &bytes));
        prev = leaf.hash();
        rows.push(AppendLeaf {
            device: dev.clone(),
            seq,
            leaf_hash: prev,
            leaf: leaf.encode(),
            person: ev.person.to_string(),
            salt,
            event: bytes,
        });
    }
    let sign_s = t.elapsed().as_secs_f64();
    println!("backend={backend} events={events} batch={batch} start_size={start_size}");
    println!(
        "device-side record+sign: {:.0} events/s",
        events as f64 / sign_s
    );

    // 2. Durable batched appends.
    let t = Instant::now();
    for chunk in rows.chunks(batch) {
        log.append(chunk, None).await.expect("append");
    }
    let app_s = t.elapsed().as_secs_f64();
    println!(
        "durable batched appends: {:.0} events/s ({events} events in {app_s:.2} s, one transaction per {batch})",
        events as f64 / app_s
    );
    let size = log.size().await.expect("size");

    // 3. Proofs from the database and in-memory verification.
    let root = log.root(size).await.expect("root");
    let n = 500u64;
    let idx: Vec<u64> = (0..n).map(|i| (i * 7_919_777) % size).collect();
    let t = Instant::now();
    let mut proofs = Vec::new();
    for &i in &idx {
        proofs.push(log.inclusion(i, size).await.expect("proof"));
    }
    let gen_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let leaves: Vec<[u8; 32]> = {
        let mut v = Vec::new();
        for &i in &idx {
            let l: Vec<u8> = sallyport_store::sqlx::query_scalar(
                "SELECT leaf FROM ledger_leaves WHERE idx = $1",
            )
            .bind(i as i64)
            .fetch_one(log.store().pool())
            .await
            .expect("leaf");
            v.push(sallyport_ledger::leaf_hash(&l));
        }
        v
    };
    let reps = 20;
    let t = Instant::now();
    for _ in 0..reps {
        for ((i, p), lh) in idx.iter().zip(&proofs).zip(&leaves) {
            tree::verify_inclusion(lh, *i, size, p, &root).expect("verify");
        }
    }
    let ver_us = t.elapsed().as_secs_f64() * 1e6 / (n * reps) as f64;
    let t = Instant::now();
    let mut cons = Vec::new();
    for k in 1..=100u64 {
        let old = size * k / 101;
        cons.push((old, log.consistency(old, size).await.expect("consistency")));
    }
    let cgen_us = t.elapsed().as_secs_f64() * 1e6 / 100.0;
    let mut old_roots = Vec::new();
    for (old, _) in &cons {
        old_roots.push(log.root(*old).await.expect("root"));
    }
    let t = Instant::now();
    for _ in 0..reps {
        for ((old, p), r) in cons.iter().zip(&old_roots) {
            tree::verify_consistency(*old, r, size, &root, p).expect("verify consistency");
        }
    }
    let cver_us = t.elapsed().as_secs_f64() * 1e6 / (100 * reps) as f64;
    println!(
        "tree size {size}: inclusion proof from DB {gen_us:.0} µs, verify {ver_us:.1} µs; consistency proof from DB {cgen_us:.0} µs, verify {cver_us:.1} µs"
    );

    // 4. Ingest path (signature + opening checks + append + receipts), 10 devices × batches.
    let mut devices: Vec<FieldLog> = (0..10)
        .map(|i| {
            FieldLog::new(DeviceKey::from_seed(
                DeviceId::new(format!("ingest-{size}-{i}")).expect("dev"),
                b"bench",
            ))
        })
        .collect();
    for d in &devices {
        log.register_device(&d.key.id, &d.key.public())
            .await
            .expect("register");
    }
    let per = (events / 10).min(20_000);
    for (k, d) in devices.iter_mut().enumerate() {
        for s in 0..per {
            d.record(&CustodyEvent {
                person: pid((k as u64 * per + s) % 6000),
                claimed_time_ms: 1_767_225_600_000 + s as i64,
                kind: EventKind::Medical {
                    note: "routine check".into(),
                },
            })
            .expect("record");
        }
    }
    let t = Instant::now();
    let mut total = 0u64;
    for d in devices.iter_mut() {
        loop {
            let b = d.export_batch(batch);
            if b.entries.is_empty() {
                break;
            }
            let r = log.ingest(&b).await.expect("ingest");
            total += r.newly_logged;
            d.apply_receipt(&r, &log.log_vkey()).expect("receipt");
        }
    }
    let ing_s = t.elapsed().as_secs_f64();
    println!(
        "sync ingest incl. signature checks, receipts and device-side receipt checks: {:.0} events/s ({total} events)",
        total as f64 / ing_s
    );

    // 5. Bundle for one person's full history in this large log.
    let origin = DeviceKey::from_seed(
        DeviceId::new(format!("lz-origin-{size}")).expect("d"),
        b"bench",
    );
    let dest = DeviceKey::from_seed(
        DeviceId::new(format!("lz-dest-{size}")).expect("d"),
        b"bench",
    );
    let mut o = FieldLog::new(origin.clone());
    let mut de = FieldLog::new(dest.clone());
    for k in [&origin, &dest] {
        log.register_device(&k.id, &k.public())
            .await
            .expect("register");
    }
    let p = PersonId::new("P-BENCH-1").expect("p");
    let site = |s: &str| SiteId::new(s).expect("site");
    let ag = |s: &str| AgencyId::new(s).expect("agency");
    let t0 = 1_767_225_600_000i64;
    let ev = |t: i64, kind: EventKind| CustodyEvent {
        person: p.clone(),
        claimed_time_ms: t0 + t,
        kind,
    };
    o.record(&ev(
        0,
        EventKind::TakenIntoCustody {
            custodian: ag("SDF"),
            site: site("HASAKAH"),
        },
    ))
    .expect("r");
    o.record(&ev(
        60_000,
        EventKind::Enrolled {
            biometric_sha256: "ab".repeat(32),
        },
    ))
    .expect("r");
    o.record(&ev(
        120_000,
        EventKind::IdentityVerified {
            score_milli: 912,
            threshold_milli: 700,
        },
    ))
    .expect("r");
    let st = HandoverStatement {
        handover_id: "HO-1".into(),
        person: p.clone(),
        from: ag("SDF"),
        to: ag("CJTF"),
        site: site("HASAKAH"),
        claimed_time_ms: t0 + 180_000,
    };
    let sig = de.countersign_handover(&st);
    o.record(&ev(
        180_000,
        EventKind::HandedOver {
            handover_id: "HO-1".into(),
            from: ag("SDF"),
            to: ag("CJTF"),
            site: site("HASAKAH"),
            receiver_device: dest.id.clone(),
            receiver_sig: sig,
        },
    ))
    .expect("r");
    o.record(&ev(
        240_000,
        EventKind::Boarded {
            sortie: "S-001".into(),
            site: site("HASAKAH"),
        },
    ))
    .expect("r");
    o.record(&ev(
        300_000,
        EventKind::Departed {
            sortie: "S-001".into(),
            site: site("HASAKAH"),
        },
    ))
    .expect("r");
    de.record(&ev(
        4_000_000,
        EventKind::Arrived {
            sortie: "S-001".into(),
            site: site("BIAP"),
        },
    ))
    .expect("r");
    de.record(&ev(
        4_100_000,
        EventKind::IdentityVerified {
            score_milli: 877,
            threshold_milli: 700,
        },
    ))
    .expect("r");
    let st2 = HandoverStatement {
        handover_id: "HO-2".into(),
        person: p.clone(),
        from: ag("CJTF"),
        to: ag("IRQ-MOJ"),
        site: site("BIAP"),
        claimed_time_ms: t0 + 4_200_000,
    };
    let sig2 = o.countersign_handover(&st2);
    de.record(&ev(
        4_200_000,
        EventKind::HandedOver {
            handover_id: "HO-2".into(),
            from: ag("CJTF"),
            to: ag("IRQ-MOJ"),
            site: site("BIAP"),
            receiver_device: origin.id.clone(),
            receiver_sig: sig2,
        },
    ))
    .expect("r");
    de.record(&ev(
        4_300_000,
        EventKind::PlacedInHolding {
            site: site("BIAP"),
            area: "B-7".into(),
        },
    ))
    .expect("r");
    for d in [&mut o, &mut de] {
        let r = log.ingest(&d.export_batch(1000)).await.expect("ingest");
        d.apply_receipt(&r, &log.log_vkey()).expect("receipt");
    }
    let mut ws = vec![
        Witness::new(NamedKey::from_seed("witness.iq", b"bench")),
        Witness::new(NamedKey::from_seed("witness.un", b"bench")),
    ];
    log.checkpoint().await.expect("cp");
    log.witness(&mut ws, 1_767_300_000).await.expect("witness");
    let policy = WitnessPolicy {
        log: log_vkey(&log_key),
        witnesses: ws.iter().map(|w| w.vkey()).collect(),
        threshold: 2,
    };
    let t = Instant::now();
    let b = log
        .export_bundle(std::slice::from_ref(&p), policy)
        .await
        .expect("export");
    let exp_ms = t.elapsed().as_secs_f64() * 1e3;
    let bytes = b.encode();
    let t = Instant::now();
    let v = Bundle::decode(&bytes)
        .and_then(|b| b.verify(None))
        .expect("verify");
    let ver_ms = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "bundle for one person ({} events, tree size {}): {} bytes; export {exp_ms:.1} ms, decode+verify {ver_ms:.1} ms",
        v.timeline.len(),
        v.checkpoint.size,
        bytes.len()
    );
}
