#![no_main]
//! Untrusted WSQ bytes: decoding gives an image of exactly width × height pixels or a
//! located error; never a panic, an allocation above the pixel limit or a hang
//! (libFuzzer's -timeout and -rss_limit_mb enforce the last two).
use libfuzzer_sys::fuzz_target;
use sallyport_biometrics_formats::wsq;

fuzz_target!(|data: &[u8]| {
    if let Ok(img) = wsq::decode(data) {
        assert!(img.width > 0 && img.height > 0);
        assert!(img.pixels.len() <= wsq::MAX_PIXELS);
        assert_eq!(img.pixels.len(), img.width as usize * img.height as usize);
    }
});
