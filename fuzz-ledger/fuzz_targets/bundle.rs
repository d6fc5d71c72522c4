#![no_main]
//! Untrusted bundle bytes: parsing and verification must never panic, and
//! random input must never verify. The stable-toolchain equivalent runs in CI
//! as the proptests in crates/ledger/tests/flow.rs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = sallyport_ledger::bundle::Bundle::decode(data) {
        let _ = b.verify(None);
        let _ = sallyport_ledger::bundle::Bundle::decode(&b.encode());
    }
    let _ = sallyport_ledger::sync::DeviceBatch::from_json(&String::from_utf8_lossy(data));
    let _ = sallyport_ledger::CustodyEvent::decode(data);
    let _ = sallyport_ledger::Leaf::decode(data);
});
