//! The verifier binary on a real bundle: verifies, prints the timeline, and
//! fails (exit 1, naming the failure) on a tampered copy.

use std::process::Command;

use sallyport_core::{AgencyId, PersonId, SiteId};
use sallyport_ledger::bundle::{Bundle, ExportItem};
use sallyport_ledger::device::FieldLog;
use sallyport_ledger::event::{CustodyEvent, EventKind};
use sallyport_ledger::note::{Witness, log_vkey};
use sallyport_ledger::sync::MemLedger;
use sallyport_ledger::{DeviceId, DeviceKey, NamedKey, WitnessPolicy};

fn bundle() -> (Vec<u8>, WitnessPolicy) {
    let key = NamedKey::from_seed("verify.test/log", b"s");
    let mut server = MemLedger::new(key.clone());
    let mut d = FieldLog::new(DeviceKey::from_seed(DeviceId::new("lz-1").unwrap(), b"s"));
    server.register_device(d.key.id.clone(), d.key.public());
    let person = PersonId::new("P-000042").unwrap();
    for (i, kind) in [
        EventKind::TakenIntoCustody {
            custodian: AgencyId::new("SDF").unwrap(),
            site: SiteId::new("HASAKAH").unwrap(),
        },
        EventKind::Boarded {
            sortie: "S-9".into(),
            site: SiteId::new("HASAKAH").unwrap(),
        },
        EventKind::Arrived {
            sortie: "S-9".into(),
            site: SiteId::new("BIAP").unwrap(),
        },
    ]
    .into_iter()
    .enumerate()
    {
        d.record(&CustodyEvent {
            person: person.clone(),
            claimed_time_ms: 1_767_225_600_000 + i as i64 * 3_600_000,
            kind,
        })
        .unwrap();
    }
    server.ingest(&d.export_batch(10)).unwrap();
    let mut w = Witness::new(NamedKey::from_seed("w.example", b"s"));
    let cp = w
        .cosign(&log_vkey(&key), &server.checkpoint().unwrap(), &[], 1)
        .unwrap();
    let policy = WitnessPolicy {
        log: log_vkey(&key),
        witnesses: vec![w.vkey()],
        threshold: 1,
    };
    let items = (0..3)
        .map(|i| {
            let (salt, ev) = server.opening(i).unwrap();
            ExportItem {
                index: i,
                leaf: server.leaf(i).unwrap().to_vec(),
                salt: *salt,
                event: ev.to_vec(),
                proof: server.tree().inclusion(i, 3).unwrap(),
            }
        })
        .collect();
    (
        Bundle::build(&key, policy.clone(), cp, items, &server.device_keys())
            .unwrap()
            .encode(),
        policy,
    )
}

#[test]
fn verifies_and_rejects_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, policy) = bundle();
    let good = dir.path().join("good.spb");
    std::fs::write(&good, &bytes).unwrap();
    let pol = dir.path().join("policy.json");
    std::fs::write(&pol, serde_json::to_string(&policy).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sallyport-verify"))
        .arg(&good)
        .arg("--policy")
        .arg(&pol)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("VERIFIED: 3 event(s)"), "{stdout}");
    assert!(stdout.contains("Custody timeline of P-000042"));
    assert!(stdout.contains("arrived on sortie S-9 at BIAP"));

    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 100] ^= 0x04;
    let badp = dir.path().join("bad.spb");
    std::fs::write(&badp, &bad).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sallyport-verify"))
        .arg(&badp)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("VERIFICATION FAILED: "));
}
