//! Test helper for the durability test: appends batches of synthetic custody
//! events to the central log as fast as it can, printing `ack FIRST COUNT`
//! after each batch has committed. The test SIGKILLs it at random moments.
//!
//! usage: ledger-append-child DB_URL DEVICE_ID BATCH

use sallyport_ledger::event::{CustodyEvent, EventKind, commitment};
use sallyport_ledger::store::{AppendLeaf, CentralLog};
use sallyport_ledger::{DeviceId, DeviceKey, Leaf, NamedKey};
use std::io::Write;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 4 {
        eprintln!("usage: ledger-append-child DB_URL DEVICE_ID BATCH");
        std::process::exit(2);
    }
    let store = sallyport_store::Store::open(&a[1])
        .await
        .expect("open store");
    let log = CentralLog::new(store, NamedKey::from_seed("durability.test/log", b"seed"));
    let dev = DeviceId::new(a[2].clone()).expect("device id");
    let key = DeviceKey::from_seed(dev.clone(), b"durability");
    let batch: usize = a[3].parse().expect("batch");
    let mut seq = 0u64;
    let mut prev = [0u8; 32];
    let out = std::io::stdout();
    loop {
        let mut rows = Vec::with_capacity(batch);
        for _ in 0..batch {
            seq += 1;
            let ev = CustodyEvent {
                person: sallyport_core::PersonId::new(format!("P-{:06}", seq % 6000)).expect("id"),
                claimed_time_ms: 1_767_225_600_000 + seq as i64,
                kind: EventKind::Medical {
                    note: format!("check {seq}"),
                },
            };
            let bytes = ev.encode();
            let salt = key.salt(seq);
            let leaf = Leaf::sign(&key.key, dev.clone(), seq, prev, commitment(&salt, &bytes));
            prev = leaf.hash();
            rows.push(AppendLeaf {
                device: dev.clone(),
                seq,
                leaf_hash: leaf.hash(),
                leaf: leaf.encode(),
                person: ev.person.to_string(),
                salt,
                event: bytes,
            });
        }
        let first = log.append(&rows, None).await.expect("append");
        let mut o = out.lock();
        let _ = writeln!(
            o,
            "ack {first} {} {} {}",
            rows.len(),
            rows[0].seq,
            hex_of(&rows[rows.len() - 1].leaf_hash)
        );
        let _ = o.flush();
    }
}

fn hex_of(h: &[u8; 32]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}
