//! Biometrics for the run: SYNTHETIC enrolment templates derived from real
//! ISO/IEC 19794-2 minutiae records (FVC2002/2004 DB1_B, read-only fixtures),
//! and 1:1 verification of a fresh synthetic impression against enrolment.
//!
//! No images are processed: a person's synthetic finger is the recombination
//! of two real templates (`sallyport_biometrics::synth::finger`), an
//! impression is a perturbation of it (`synth::perturb`), and matching is the
//! MCC 1:1 compare. Every template made here is labelled synthetic and
//! derived deterministically from the run seed and the person's index.

use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sallyport_biometrics::mcc::{Prepared, compare};
use sallyport_biometrics::synth::{Perturbation, finger, perturb};
use sallyport_biometrics::template::{Minutia, MinutiaKind, Template};
use sha2::{Digest, Sha256};

/// Decision threshold of the 1:1 compare (score in [0, 1]).
///
/// Chosen from the genuine/impostor score distributions of synthetic
/// impressions measured in `tests::threshold_separates_genuine_from_impostor`.
pub const THRESHOLD: f32 = 0.06;

/// Parse an ISO/IEC 19794-2:2005 finger minutiae record (first finger view).
/// Untrusted input: every length is checked; errors name what is wrong.
pub fn parse_iso19794_2(b: &[u8]) -> Result<Template, String> {
    if b.len() < 28 {
        return Err(format!("{} bytes is too short for an ISO 19794-2 record", b.len()));
    }
    if &b[0..4] != b"FMR\0" {
        return Err("not an ISO 19794-2 record (magic is not FMR\\0)".into());
    }
    let be16 = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let len = u32::from_be_bytes([b[8], b[9], b[10], b[11]]) as usize;
    if len > b.len() {
        return Err(format!("record length {len} exceeds the {} bytes given", b.len()));
    }
    let (width, height) = (be16(14), be16(16));
    let res = be16(18);
    if b[22] == 0 {
        return Err("record has no finger view".into());
    }
    let n = b[27] as usize;
    let start = 28;
    if start + 6 * n > len {
        return Err(format!("{n} minutiae do not fit in a {len}-byte record"));
    }
    // Resolution is pixels per cm; scale to 500 ppi (196.85 px/cm).
    let scale = if res == 0 { 1.0 } else { 196.85 / res as f32 };
    let mut minutiae = Vec::with_capacity(n);
    for k in 0..n {
        let o = start + 6 * k;
        let kind = match b[o] >> 6 {
            2 => MinutiaKind::Bifurcation,
            _ => MinutiaKind::Ending,
        };
        let x = ((be16(o) & 0x3fff) as f32 * scale) as u16;
        let y = ((be16(o + 2) & 0x3fff) as f32 * scale) as u16;
        let angle = b[o + 4] as f32 * (2.0 * std::f32::consts::PI / 256.0);
        let q = if b[o + 5] == 0 { 50 } else { b[o + 5].min(100) };
        minutiae.push(Minutia::new(x, y, angle, kind, q));
    }
    let w = ((width as f32) * scale) as u16;
    let h = ((height as f32) * scale) as u16;
    Ok(Template { width: w.max(1), height: h.max(1), ppi: 500, quality: 60, minutiae })
}

/// Real templates loaded from a folder of `.iso` records (sorted by name).
pub fn load_iso_dir(dir: &Path) -> Result<Vec<Template>, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "iso"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let b = std::fs::read(&f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        let t = parse_iso19794_2(&b).map_err(|e| format!("{}: {e}", f.display()))?;
        if t.minutiae.len() >= 12 {
            out.push(t);
        }
    }
    Ok(out)
}

/// Where the real fixtures are: `$SALLYPORT_SHARED/data/fingerprints/...` or
/// `<base>/../shared/data/...` for each base given.
pub fn find_templates(bases: &[&Path]) -> Option<std::path::PathBuf> {
    let mut cands = Vec::new();
    if let Ok(s) = std::env::var("SALLYPORT_SHARED") {
        cands.push(Path::new(&s).join("data/fingerprints/templates-iso19794-2/FVC2002/DB1_B"));
        cands.push(Path::new(&s).join("fingerprints/templates-iso19794-2/FVC2002/DB1_B"));
    }
    for b in bases {
        for up in ["../shared/data", "../../shared/data", "../../../shared/data"] {
            cands.push(b.join(up).join("fingerprints/templates-iso19794-2/FVC2002/DB1_B"));
        }
    }
    cands.into_iter().find(|p| p.is_dir())
}

/// The enrolment gallery of the run: one SYNTHETIC finger per person.
pub struct Enrolment {
    pub seed: u64,
    pub fingers: Vec<Template>,
    pub prepared: Vec<Prepared>,
    /// Provenance line for reports.
    pub source: String,
}

fn person_rng(seed: u64, person: usize, purpose: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ (person as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ purpose.rotate_left(48))
}

impl Enrolment {
    /// Enrol `n` people, each with a synthetic finger recombined from two
    /// distinct real templates. Deterministic in `seed`.
    pub fn new(real: &[Template], n: usize, seed: u64, source: String) -> Result<Enrolment, String> {
        if real.len() < 2 {
            return Err("need at least two real templates to derive synthetic fingers".into());
        }
        use rand::Rng;
        use rayon::prelude::*;
        let fingers: Vec<Template> = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut rng = person_rng(seed, i, 1);
                let a = rng.gen_range(0..real.len());
                let mut b = rng.gen_range(0..real.len() - 1);
                if b >= a {
                    b += 1;
                }
                finger(&real[a], &real[b], &mut rng)
            })
            .collect();
        let prepared = fingers.par_iter().map(Prepared::new).collect();
        Ok(Enrolment { seed, fingers, prepared, source })
    }

    /// SHA-256 (hex) of the enrolled template's native encoding.
    pub fn record_sha256(&self, i: usize) -> String {
        hex::encode(Sha256::digest(self.fingers[i].to_bytes()))
    }

    /// A fresh SYNTHETIC impression presented by person `presenter` at
    /// checkpoint `attempt`, compared 1:1 with the enrolment of `claimed`.
    /// Score in per-mille.
    pub fn verify(&self, claimed: usize, presenter: usize, attempt: u64) -> u32 {
        let mut rng = person_rng(self.seed, presenter, 100 + attempt);
        let probe = perturb(&self.fingers[presenter], Perturbation::IMPRESSION, &mut rng);
        let s = compare(&Prepared::new(&probe), &self.prepared[claimed]);
        (s.clamp(0.0, 1.0) * 1000.0).round() as u32
    }
}

/// The threshold in per-mille, as recorded in `IdentityVerified` events.
pub fn threshold_milli() -> u32 {
    (THRESHOLD * 1000.0).round() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real() -> Option<Vec<Template>> {
        let base = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = find_templates(&[base])?;
        load_iso_dir(&dir).ok()
    }

    #[test]
    fn iso_parser_rejects_garbage() {
        assert!(parse_iso19794_2(b"").is_err());
        assert!(parse_iso19794_2(&[0u8; 40]).is_err());
        let mut b = b"FMR\0 20\0".to_vec();
        b.extend_from_slice(&[0, 0, 0, 40]);
        b.extend_from_slice(&[0u8; 10]);
        b.push(1);
        b.extend_from_slice(&[0, 0, 0, 0, 200]);
        b.resize(40, 0);
        assert!(parse_iso19794_2(&b).unwrap_err().contains("minutiae"));
    }

    #[test]
    fn threshold_separates_genuine_from_impostor() {
        let Some(real) = real() else {
            eprintln!("fingerprint fixtures not found; skipping");
            return;
        };
        assert!(real.len() >= 40, "expected the FVC2002 DB1_B ISO templates, got {}", real.len());
        let e = Enrolment::new(&real, 60, 7, "test".into()).unwrap();
        let mut gen_fail = 0;
        let mut imp_pass = 0;
        for i in 0..60 {
            if e.verify(i, i, 1) < threshold_milli() {
                gen_fail += 1;
            }
            if e.verify(i, (i + 1) % 60, 1) >= threshold_milli() {
                imp_pass += 1;
            }
        }
        // A second attempt catches most genuine misses in the engine; here one attempt.
        assert!(gen_fail <= 6, "{gen_fail}/60 genuine below threshold");
        assert!(imp_pass <= 1, "{imp_pass}/60 impostors above threshold");
    }
}
