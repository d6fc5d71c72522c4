//! `sallyport bio compare / enroll / identify` end to end, on real FVC2002 DB1_B prints from
//! `../shared/data/fingerprints/` (never copied into the repo) and a store holding the
//! flagship scenario's SYNTHETIC people.

use sallyport_biometrics::eval::prepare_one;
use sallyport_biometrics::mcc::compare;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn print(name: &str) -> PathBuf {
    repo().join("../shared/data/fingerprints/FVC2002/DB1_B").join(name)
}

/// Runs `sallyport --json --data-dir DATA ARGS…` and parses its output, failing the test
/// on a non-zero exit.
fn run(data: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_sallyport"))
        .arg("--json")
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("SALLYPORT_DATABASE_URL")
        .output()
        .expect("run sallyport");
    assert!(out.status.success(), "sallyport {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("sallyport {args:?}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn compare_uses_ridge_fields_and_ranks_a_mate_above_a_stranger() {
    let data = tempfile::tempdir().unwrap();
    let (a1, a2, b1) = (print("101_1.tif"), print("101_2.tif"), print("102_1.tif"));
    let mate = run(data.path(), &["bio", "compare", path(&a1), path(&a2)]);
    let stranger = run(data.path(), &["bio", "compare", path(&a1), path(&b1)]);
    assert_eq!(mate["ridge_fields"], true, "two images are compared with their ridge fields: {mate}");
    assert_eq!(mate["raw_support"], true, "two images are compared with their candidate minutiae: {mate}");
    let (m, s) = (mate["score"].as_f64().unwrap(), stranger["score"].as_f64().unwrap());
    assert!(m > s, "mate {m} must outscore stranger {s}");
}

#[test]
fn prints_enrolled_in_the_store_identify_their_owner_from_a_second_impression() {
    let data = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/northeast-syria-2026.toml");
    run(data.path(), &["scenario", "load", path(&scenario)]);
    for f in 1..=5 {
        let person = format!("P-{f:06}");
        let image = print(&format!("10{f}_1.tif"));
        run(data.path(), &["bio", "enroll", &person, path(&image), "--position", "1"]);
    }
    let enrolled = run(data.path(), &["bio", "enrolled"]);
    assert_eq!(enrolled.as_array().map(Vec::len), Some(5), "{enrolled}");
    for f in 1..=5 {
        let probe = print(&format!("10{f}_4.tif"));
        let ranked = run(data.path(), &["bio", "identify", path(&probe), "--top", "3"]);
        let ranked = ranked.as_array().expect("a ranked list");
        assert_eq!(ranked[0]["person"], format!("P-{f:06}"), "10{f}_4 must find its owner first: {ranked:?}");
        assert!(ranked[0]["score"].as_f64() > ranked[1]["score"].as_f64(), "{ranked:?}");
    }
}

/// `bio compare` of two images scores exactly as `bio eval` prepares them (template, ridge
/// field and raw support), for a mate and a stranger.
#[test]
fn compare_scores_images_as_eval_does() {
    let data = tempfile::tempdir().unwrap();
    for (a, b) in [("103_2.tif", "103_5.tif"), ("104_1.tif", "108_3.tif")] {
        let (a, b) = (print(a), print(b));
        let got = run(data.path(), &["bio", "compare", path(&a), path(&b)]);
        let want = compare(&prepare_one(&a).unwrap(), &prepare_one(&b).unwrap());
        assert_eq!(got["score"].as_f64().map(|s| s as f32), Some(want), "{} vs {}: {got}", a.display(), b.display());
    }
}

/// A print enrolled from an image and searched from the store scores exactly as the two
/// images do under `bio eval`'s preparation: the store keeps template, ridge field and
/// candidate minutiae.
#[test]
fn identify_from_the_store_scores_as_the_images() {
    let data = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/northeast-syria-2026.toml");
    run(data.path(), &["scenario", "load", path(&scenario)]);
    let enrolled = ["105_1.tif", "106_2.tif", "107_1.tif"];
    for (i, f) in enrolled.iter().enumerate() {
        run(data.path(), &["bio", "enroll", &format!("P-{:06}", i + 1), path(&print(f)), "--position", "1"]);
    }
    let probe = print("106_5.tif");
    let ranked = run(data.path(), &["bio", "identify", path(&probe), "--top", "3"]);
    let p = prepare_one(&probe).unwrap();
    for c in ranked.as_array().expect("a ranked list") {
        let i: usize = c["person"].as_str().unwrap()[2..].parse().unwrap();
        let want = compare(&p, &prepare_one(&print(enrolled[i - 1])).unwrap());
        assert_eq!(c["score"].as_f64().map(|s| s as f32), Some(want), "{c}");
    }
    assert_eq!(ranked[0]["person"], "P-000002", "{ranked}");
}
