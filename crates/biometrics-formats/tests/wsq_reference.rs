//! Every WSQ file in the shared fixtures decodes to its reference image.
mod common;
use sallyport_biometrics_formats::wsq;
use std::path::{Path, PathBuf};

struct Cmp {
    max_diff: u8,
    exact: usize,
    total: usize,
}

/// Decodes `wsq_path` and compares it with `reference`; `None` when the file
/// uses even-length (asymmetric) filters, which the decoder refuses with a
/// named error instead of decoding them wrongly.
fn compare(wsq_path: &Path, reference: &Path) -> Option<Cmp> {
    let data = std::fs::read(wsq_path).unwrap();
    let img = match wsq::decode(&data) {
        Ok(img) => img,
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains("DTT filter lengths") && msg.contains("odd-length"),
                "{}: unexpected error {msg}",
                wsq_path.display()
            );
            return None;
        }
    };
    let r = image::open(reference).unwrap_or_else(|e| panic!("{}: {e}", reference.display())).to_luma8();
    assert_eq!((img.width, img.height), r.dimensions(), "{}", wsq_path.display());
    let mut max_diff = 0u8;
    let mut exact = 0usize;
    for (a, b) in img.pixels.iter().zip(r.as_raw().iter()) {
        let d = a.abs_diff(*b);
        max_diff = max_diff.max(d);
        if d == 0 {
            exact += 1;
        }
    }
    Some(Cmp { max_diff, exact, total: img.pixels.len() })
}

fn pairs() -> Vec<(PathBuf, PathBuf)> {
    let f = common::formats();
    let mut v = Vec::new();
    let conf = f.join("wsq-conformance-nist/library/src/androidTest/assets/nist");
    for sub in ["75", "not_7_9"] {
        for w in common::files_with(&conf.join("wsq").join(sub), &[".wsq"]) {
            let stem = w.file_stem().unwrap().to_str().unwrap().to_string();
            let r = conf.join("wsq_decoded").join(sub).join(format!("{stem}.webp"));
            if r.exists() {
                v.push((w, r));
            }
        }
    }
    v.push((
        f.join("wsq-jnbis-sample/src/test/resources/samples/wsq/sample.wsq"),
        f.join("wsq-jnbis-sample/src/test/resources/samples/wsq/sample.png"),
    ));
    let sa = f.join("sourceafis-test-images/src/test/resources/com/machinezoo/sourceafis");
    v.push((sa.join("wsq-original.wsq"), sa.join("wsq-converted.png")));
    v
}

#[test]
fn every_wsq_matches_its_reference_decode() {
    let pairs = pairs();
    assert!(pairs.len() >= 30, "expected the WSQ fixture set, found {} pairs", pairs.len());
    let mut exact = 0usize;
    let mut total = 0usize;
    let mut worst = 0u8;
    let mut refused = Vec::new();
    for (w, r) in &pairs {
        let Some(c) = compare(w, r) else {
            refused.push(w.clone());
            continue;
        };
        eprintln!("{}: max diff {}, exact {:.5}", w.display(), c.max_diff, c.exact as f64 / c.total as f64);
        worst = worst.max(c.max_diff);
        exact += c.exact;
        total += c.total;
        assert!(c.max_diff <= 1, "{}: max abs diff {} > 1", w.display(), c.max_diff);
    }
    // Only the conformance set's deliberately non-7/9 files may be refused
    // (even-length filters are not supported yet); every 7/9 file decodes.
    for w in &refused {
        assert!(w.components().any(|c| c.as_os_str() == "not_7_9"), "{} refused", w.display());
    }
    assert!(refused.len() * 2 < pairs.len(), "{} of {} files refused", refused.len(), pairs.len());
    let frac = exact as f64 / total as f64;
    eprintln!(
        "WSQ: {} files, {} decoded, {} refused (even-length filters), worst max diff {worst}, exact fraction {frac:.6}",
        pairs.len(),
        pairs.len() - refused.len(),
        refused.len()
    );
    assert!(frac > 0.999, "exact-pixel fraction {frac}");
}

#[test]
fn wsq_files_without_reference_decode() {
    let f = common::formats();
    let p = f.join("nist-libbiomeval/src/test/test_data/img.wsq");
    let img = wsq::decode(&std::fs::read(p).unwrap()).unwrap();
    assert!(img.width > 0 && img.height > 0);
    assert_eq!(img.pixels.len(), (img.width * img.height) as usize);
}
