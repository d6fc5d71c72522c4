//! The persistent central log and device journal, on SQLite and PostgreSQL.

mod common;

use common::*;
use sallyport_ledger::bundle::Bundle;
use sallyport_ledger::event::EventKind;
use sallyport_ledger::note::{Witness, log_vkey};
use sallyport_ledger::reconcile::DiscrepancyKind;
use sallyport_ledger::store::{CentralLog, Journal};
use sallyport_ledger::sync::MemLedger;
use sallyport_ledger::tree::{verify_consistency, verify_inclusion};
use sallyport_ledger::{DeviceId, DeviceKey, LedgerError, NamedKey, WitnessPolicy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn central_log_on_both_backends() {
    for db in sallyport_store::testing::backends().await {
        let name = db.name;
        let key = NamedKey::from_seed("sallyport.test/log", b"seed");
        let log = CentralLog::new(db.store.clone(), key.clone());
        let mut mem = MemLedger::new(key.clone());
        let mut o = device("lz-origin");
        let mut d = device("lz-dest");
        for x in [&o, &d] {
            log.register_device(&x.key.id, &x.key.public())
                .await
                .unwrap();
            mem.register_device(x.key.id.clone(), x.key.public());
        }
        for i in 0..8 {
            full_history(&p(&format!("P-{i:03}")), &mut o, &mut d, "S-1", i * 3);
        }
        let mut sizes = vec![];
        for x in [&mut o, &mut d] {
            loop {
                let b = x.export_batch(9);
                if b.entries.is_empty() {
                    break;
                }
                let r = log.ingest(&b).await.unwrap();
                assert_eq!(
                    mem.ingest(&b).unwrap().checkpoint,
                    r.checkpoint,
                    "[{name}] same checkpoint as the in-memory reference"
                );
                let again = log.ingest(&b).await.unwrap();
                assert_eq!(again.newly_logged, 0, "[{name}] idempotent re-send");
                x.apply_receipt(&r, &log.log_vkey()).unwrap();
                sizes.push(log.size().await.unwrap());
            }
        }
        let size = log.size().await.unwrap();
        assert_eq!(size, o.seq() + d.seq());
        assert_eq!(log.root(size).await.unwrap(), mem.tree().root());
        for i in (0..size).step_by(7) {
            let pr = log.inclusion(i, size).await.unwrap();
            assert_eq!(
                pr,
                mem.tree().inclusion(i, size).unwrap(),
                "[{name}] inclusion {i}"
            );
            verify_inclusion(
                &sallyport_ledger::leaf_hash(mem.leaf(i).unwrap()),
                i,
                size,
                &pr,
                &mem.tree().root(),
            )
            .unwrap();
        }
        for &old in &sizes {
            let pr = log.consistency(old, size).await.unwrap();
            verify_consistency(
                old,
                &mem.tree().root_at(old).unwrap(),
                size,
                &mem.tree().root(),
                &pr,
            )
            .unwrap();
        }
        // Replayed old head → rollback incident, visible in reconciliation.
        let mut stale = d.clone();
        stale.truncate(3);
        stale.synced_through = 0;
        let e = log.ingest(&stale.export_batch(100)).await.unwrap_err();
        assert!(matches!(e, LedgerError::Rollback { .. }), "[{name}] {e}");
        let rec = log.reconcile(&[]).await.unwrap();
        rec.check_invariant().unwrap();
        let open: Vec<_> = rec.open().map(|d| d.kind).collect();
        assert_eq!(open, vec![DiscrepancyKind::DeviceRollback], "[{name}]");
        assert_eq!(rec.headcounts.per_site.get("BIAP"), Some(&8));

        // Witnesses, export, offline verification, size goal.
        let mut ws = vec![
            Witness::new(NamedKey::from_seed("w1.example", b"s")),
            Witness::new(NamedKey::from_seed("w2.example", b"s")),
        ];
        log.checkpoint().await.unwrap();
        log.witness(&mut ws, 1_767_300_000).await.unwrap();
        let policy = WitnessPolicy {
            log: log_vkey(&key),
            witnesses: ws.iter().map(|w| w.vkey()).collect(),
            threshold: 2,
        };
        let b = log
            .export_bundle(&[p("P-003")], policy.clone())
            .await
            .unwrap();
        let bytes = b.encode();
        let v = Bundle::decode(&bytes)
            .unwrap()
            .verify(Some(&policy))
            .unwrap();
        assert_eq!(v.timeline.len(), 10, "[{name}]");
        assert!(v.timeline.iter().all(|t| t.event.person == p("P-003")));
        assert!(
            bytes.len() < 10 * 1024,
            "[{name}] bundle is {} bytes",
            bytes.len()
        );
        assert_eq!(log.verify_tree().await.unwrap(), size);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_survives_reopen_and_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("device.db").display());
    let key = DeviceKey::from_seed(DeviceId::new("lz-field-1").unwrap(), b"seed");
    let mut j = Journal::open_or_create(&url, Some(key.clone()))
        .await
        .unwrap();
    for i in 0..5 {
        j.record(&ev(
            &p("P-001"),
            i,
            EventKind::Medical {
                note: format!("check {i}"),
            },
        ))
        .await
        .unwrap();
    }
    let head = j.log.head();
    drop(j);
    let mut j = Journal::open_or_create(&url, None).await.unwrap();
    assert_eq!(j.log.head(), head, "same head after reopening");
    let other = DeviceKey::from_seed(DeviceId::new("lz-field-2").unwrap(), b"seed");
    assert!(
        Journal::open_or_create(&url, Some(other)).await.is_err(),
        "a journal belongs to one device"
    );

    let server_db = sallyport_store::testing::sqlite().await;
    let log = CentralLog::new(
        server_db.store.clone(),
        NamedKey::from_seed("sallyport.test/log", b"seed"),
    );
    log.register_device(&key.id, &key.public()).await.unwrap();
    let batch = j.log.export_batch(3);
    let r = log.ingest(&batch).await.unwrap();
    j.apply_receipt(&r, &log.log_vkey()).await.unwrap();
    drop(j);
    let j = Journal::open_or_create(&url, None).await.unwrap();
    assert_eq!(j.log.synced_through, 3, "sync position persisted");
    assert_eq!(
        j.log.export_batch(100).entries.len(),
        2,
        "resumes after the acknowledged entries"
    );
}
