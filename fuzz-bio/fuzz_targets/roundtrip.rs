#![no_main]
//! Round trips through the writers: whatever ISO 19794-2 or ANSI/NIST-ITL input parses
//! is written back byte for byte and parses to the same value; Type-9 minutiae taken
//! from a parsed transaction, written with `type9_transaction` and parsed again, are the
//! same minutiae (for the sets the writer can represent: NIST standard fields, 4-digit
//! coordinates).
use libfuzzer_sys::fuzz_target;
use sallyport_biometrics_formats::{ansi_nist, iso19794_2};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = iso19794_2::Record::parse(data) {
        let b = r.to_bytes();
        assert_eq!(b, data, "ISO record re-serialised differently");
        assert_eq!(iso19794_2::Record::parse(&b).as_ref(), Ok(&r));
    }
    if let Ok(t) = ansi_nist::Transaction::parse(data) {
        let b = t.to_bytes();
        assert_eq!(b, data, "ANSI/NIST transaction re-serialised differently");
        assert_eq!(ansi_nist::Transaction::parse(&b).as_ref(), Ok(&t));
        if let Ok(sets) = t.minutiae() {
            let sets: Vec<ansi_nist::Type9Minutiae> = sets
                .into_iter()
                .filter(|s| s.origin == ansi_nist::Origin::BottomLeft && s.minutiae.iter().all(|m| m.x <= 9999 && m.y <= 9999))
                .enumerate()
                // the writer numbers records 1.. and uses the record number as IDC
                .map(|(k, s)| ansi_nist::Type9Minutiae { record: k + 1, idc: k as u32 + 1, ..s })
                .collect();
            let w = ansi_nist::type9_transaction(&sets, "20261201").to_bytes();
            let back = ansi_nist::Transaction::parse(&w).expect("the Type-9 writer's output parses");
            assert_eq!(back.to_bytes(), w);
            assert_eq!(back.minutiae().expect("written minutiae read back"), sets);
        }
    }
});
