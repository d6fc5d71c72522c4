#![no_main]
//! Untrusted ISO/IEC 19794-2 (and ANSI 378-2004) minutiae records: parse and
//! parse_padded never panic; errors point inside the input.
use libfuzzer_sys::fuzz_target;
use sallyport_biometrics_formats::iso19794_2::Record;

fuzz_target!(|data: &[u8]| {
    match Record::parse(data) {
        Ok(r) => assert!(r.views.len() <= 255),
        Err(e) => assert!(e.offset() <= data.len(), "{e}"),
    }
    match Record::parse_padded(data) {
        Ok((_, padding)) => assert!(data[data.len() - padding..].iter().all(|&b| b == 0)),
        Err(e) => assert!(e.offset() <= data.len(), "{e}"),
    }
});
