#![allow(dead_code)]
use std::path::PathBuf;

use sallyport_core::{Scenario, Site};

pub fn shared() -> PathBuf {
    match std::env::var_os("SALLYPORT_SHARED") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
}

pub fn ged_path() -> PathBuf {
    shared().join("data/conflict/ucdp-ged-syria-v19.1-2016-2019.csv")
}

pub fn ged_bytes() -> Vec<u8> {
    let p = ged_path();
    std::fs::read(&p).unwrap_or_else(|e| panic!("real GED extract {} missing: {e}", p.display()))
}

/// Header line and the first `n` data records of the real file, each as one
/// CSV record (fields with embedded newlines stay quoted).
pub fn ged_head(n: usize) -> (String, Vec<String>) {
    let bytes = ged_bytes();
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[..]);
    let mut out = Vec::new();
    for rec in r.byte_records().take(n + 1) {
        let rec = rec.unwrap();
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_byte_record(&rec).unwrap();
        let s = String::from_utf8(w.into_inner().unwrap()).unwrap();
        out.push(s.strip_suffix('\n').unwrap().to_string());
    }
    let header = out.remove(0);
    (header, out)
}

/// A CSV file from a header and records.
pub fn csv_file(header: &str, rows: &[String]) -> Vec<u8> {
    let mut s = String::from(header);
    s.push('\n');
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s.into_bytes()
}

pub fn scenario() -> Scenario {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/northeast-syria-2026.toml");
    let s: Scenario = toml::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    s.validate().unwrap();
    s
}

pub fn sites() -> Vec<Site> {
    scenario().sites
}

pub fn origins() -> Vec<Site> {
    scenario()
        .sites
        .into_iter()
        .filter(|s| s.kind.is_origin())
        .collect()
}

pub fn site(id: &str) -> Site {
    sites().into_iter().find(|s| s.id.as_str() == id).unwrap()
}

/// Replace field `col` (by header name) of a CSV line with `value` (no quoted commas before it assumed
/// false: uses the csv crate to split and rejoin).
pub fn set_field(header: &str, line: &str, col: &str, value: &str) -> String {
    let h: Vec<&str> = header.split(',').collect();
    let i = h.iter().position(|c| *c == col).unwrap();
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line.as_bytes());
    let rec = r.records().next().unwrap().unwrap();
    let mut fields: Vec<String> = rec.iter().map(str::to_string).collect();
    fields[i] = value.to_string();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&fields).unwrap();
    String::from_utf8(w.into_inner().unwrap())
        .unwrap()
        .trim_end()
        .to_string()
}
