#![no_main]
//! Untrusted ANSI/NIST-ITL transactions: parsing, image and Type-9 minutiae
//! extraction never panic; errors point inside the input.
use libfuzzer_sys::fuzz_target;
use sallyport_biometrics_formats::ansi_nist::Transaction;

fuzz_target!(|data: &[u8]| {
    match Transaction::parse(data) {
        Ok(t) => {
            assert!(!t.records.is_empty());
            if let Err(e) = t.finger_images() {
                assert!(e.offset <= data.len(), "{e}");
            }
            if let Err(e) = t.minutiae() {
                assert!(e.offset <= data.len(), "{e}");
            }
        }
        Err(e) => assert!(e.offset <= data.len(), "{e}"),
    }
});
