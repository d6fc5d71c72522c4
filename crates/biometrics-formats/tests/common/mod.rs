#![allow(dead_code)]
use std::path::{Path, PathBuf};

/// Shared data folder: `$SALLYPORT_SHARED` or `<manifest>/../../../shared`.
pub fn shared() -> PathBuf {
    match std::env::var_os("SALLYPORT_SHARED") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
}

pub fn formats() -> PathBuf {
    shared().join("data/formats")
}

/// All files under `dir` (recursively) whose name ends with one of `exts`, sorted.
pub fn files_with(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Some(name) = p.file_name().and_then(|n| n.to_str())
                && exts.iter().any(|x| name.ends_with(x))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
