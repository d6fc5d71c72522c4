//! `sallyport bio compare / enroll / identify` end to end, on real FVC2002 DB1_B prints from
//! `../shared/data/fingerprints/` (never copied into the repo) and a store holding the
//! flagship scenario's SYNTHETIC people.

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
