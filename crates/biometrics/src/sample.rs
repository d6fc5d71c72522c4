//! A print ready to compare: its minutiae template and, when it was extracted from an
//! image, the print's ridge field ([`RidgeField`], the matcher's orientation score) and
//! its candidate minutiae from before false-minutiae removal (the matcher's raw-support
//! factor, [`crate::mcc::Prepared::with_support`]). [`Sample::prepared`] builds exactly
//! what `bio eval` compares ([`crate::eval::prepare_one`]), so 1:1 and 1:N work on
//! samples (and on what the store keeps of them) scores as the evaluation measures.
//!
//! Candidate minutiae have their own compact byte format, `SPCM` v1: `"SPCM"`, version 1,
//! the count (`u16` little-endian), then per minutia x and y (`u16` LE), direction (units
//! of 2π/256), kind (0 ending, 1 bifurcation) and quality (0–100): 7 bytes each.

use crate::extract::{self, RidgeField};
use crate::image::GrayImage;
use crate::mcc::Prepared;
use crate::template::{read_minutia, write_minutia, Minutia, Template};
use crate::Error;

const MAGIC: &[u8; 4] = b"SPCM";
const VERSION: u8 = 1;
const HEADER: usize = 7;
const PER_MINUTIA: usize = 7;

/// A template with what the extraction knew of its print beyond the minutiae.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub template: Template,
    /// The print's ridge-orientation field (from an image), `None` for minutiae records.
    pub field: Option<RidgeField>,
    /// The print's candidate minutiae before false-minutiae removal (from an image),
    /// `None` for minutiae records.
    pub candidates: Option<Vec<Minutia>>,
}

impl Sample {
    /// A template alone (an ISO 19794-2 or SPFT record): no field, no candidates.
    pub fn from_template(template: Template) -> Self {
        Self { template, field: None, candidates: None }
    }

    /// Extracts an image: template, ridge field and candidate minutiae from one run of
    /// the pipeline ([`extract::extract_stages`]).
    pub fn extract(img: &GrayImage) -> Result<Self, Error> {
        let s = extract::extract_stages(img)?;
        let field = RidgeField::from_stages(&s);
        Ok(Self { field: Some(field), candidates: Some(s.raw_minutiae), template: s.template })
    }

    /// Prepared for matching with everything known: the field when present and, with
    /// it, the candidates' raw support (as [`crate::eval::prepare_one`]).
    pub fn prepared(&self) -> Prepared {
        let p = Prepared::with_field(&self.template, self.field.clone());
        match &self.candidates {
            Some(c) => p.with_support(c),
            None => p,
        }
    }
}

/// Serialises candidate minutiae to `SPCM` v1 bytes. At most 65,535 minutiae are kept
/// (the extractor yields a few hundred).
pub fn candidates_to_bytes(m: &[Minutia]) -> Vec<u8> {
    let n = m.len().min(u16::MAX as usize);
    let mut b = Vec::with_capacity(HEADER + PER_MINUTIA * n);
    b.extend_from_slice(MAGIC);
    b.push(VERSION);
    b.extend_from_slice(&(n as u16).to_le_bytes());
    for m in &m[..n] {
        write_minutia(&mut b, m);
    }
    b
}

/// Parses `SPCM` v1 bytes (untrusted): wrong magic or version, a length that does not
/// match the count, an unknown kind or a quality over 100 is an error at its byte offset.
pub fn candidates_from_bytes(b: &[u8]) -> Result<Vec<Minutia>, Error> {
    let err = |offset: usize, what: String| Error::Template { offset, what };
    if b.len() < HEADER || &b[..4] != MAGIC {
        return Err(err(0, "not SPCM candidate minutiae (magic or length)".into()));
    }
    if b[4] != VERSION {
        return Err(err(4, format!("SPCM version {} (only {VERSION} is known)", b[4])));
    }
    let n = u16::from_le_bytes([b[5], b[6]]) as usize;
    let want = HEADER + PER_MINUTIA * n;
    if b.len() != want {
        return Err(err(b.len().min(want), format!("{n} candidate minutiae need {want} bytes, found {}", b.len())));
    }
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        out.push(read_minutia(b, HEADER + PER_MINUTIA * k, "candidate minutia", k)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcc::compare;
    use crate::template::MinutiaKind;
    use std::path::Path;

    fn db() -> std::path::PathBuf {
        std::env::var_os("SALLYPORT_SHARED")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
            .join("data/fingerprints/FVC2002/DB1_B")
    }

    #[test]
    fn candidates_round_trip_and_bad_bytes_are_errors() {
        let m: Vec<Minutia> = (0..50u16)
            .map(|i| Minutia { x: i * 7, y: 400 - i * 3, direction: (i * 37) as u8, kind: if i % 3 == 0 { MinutiaKind::Bifurcation } else { MinutiaKind::Ending }, quality: (i * 2) as u8 })
            .collect();
        let b = candidates_to_bytes(&m);
        assert_eq!(b.len(), HEADER + PER_MINUTIA * 50);
        assert_eq!(candidates_from_bytes(&b).unwrap(), m);
        assert_eq!(candidates_from_bytes(&candidates_to_bytes(&[])).unwrap(), vec![]);
        let bad = |b: &[u8]| match candidates_from_bytes(b) {
            Err(Error::Template { offset, .. }) => offset,
            other => panic!("expected an error, got {other:?}"),
        };
        assert_eq!(bad(b"SPRF\x01\x00\x00"), 0);
        assert_eq!(bad(&b[..5]), 0);
        let mut v = b.clone();
        v[4] = 2;
        assert_eq!(bad(&v), 4);
        assert_eq!(bad(&b[..b.len() - 1]), b.len() - 1);
        let mut v = b.clone();
        v.push(0);
        assert_eq!(bad(&v), b.len());
        let mut v = b.clone();
        v[HEADER + 5] = 9;
        assert_eq!(bad(&v), HEADER + 5);
        let mut v = b.clone();
        v[HEADER + PER_MINUTIA + 6] = 101;
        assert_eq!(bad(&v), HEADER + PER_MINUTIA + 6);
    }

    /// A sample extracted from an image scores as `bio eval` does, and what the store
    /// keeps of it (template, field and candidates as bytes) scores the same again;
    /// without candidates the score differs (the gap this type closes).
    #[test]
    fn sample_scores_as_eval_prepares() {
        let (a, b) = (db().join("101_1.tif"), db().join("101_2.tif"));
        assert!(a.exists(), "FVC2002 DB1_B not found at {} (set SALLYPORT_SHARED)", db().display());
        let load = |p: &Path| Sample::extract(&crate::image::decode(&std::fs::read(p).unwrap(), crate::image::WORKING_PPI).unwrap()).unwrap();
        let (sa, sb) = (load(&a), load(&b));
        let want = compare(&crate::eval::prepare_one(&a).unwrap(), &crate::eval::prepare_one(&b).unwrap());
        assert_eq!(compare(&sa.prepared(), &sb.prepared()), want);
        let stored = |s: &Sample| Sample {
            template: Template::from_bytes(&s.template.to_bytes()).unwrap(),
            field: Some(RidgeField::from_bytes(&s.field.as_ref().unwrap().to_bytes()).unwrap()),
            candidates: Some(candidates_from_bytes(&candidates_to_bytes(s.candidates.as_ref().unwrap())).unwrap()),
        };
        assert_eq!(compare(&stored(&sa).prepared(), &stored(&sb).prepared()), want);
        let no_support = |s: &Sample| Sample { candidates: None, ..s.clone() };
        assert_ne!(compare(&no_support(&sa).prepared(), &no_support(&sb).prepared()), want, "the candidates change the score");
        // a gallery built from samples carries the support into 1:N, indexed or exhaustive
        let g = crate::gallery::Gallery::from_samples(vec![(7, 1, stored(&sb)), (8, 1, no_support(&sb))]);
        let score_of = |c: &[crate::gallery::Candidate], p: u32| c.iter().find(|c| c.person == p).map(|c| c.score);
        let without = compare(&sa.prepared(), &no_support(&sb).prepared());
        let ex = g.identify_exhaustive(&sa.prepared(), None, 2);
        assert_eq!((score_of(&ex, 7), score_of(&ex, 8)), (Some(want), Some(without)), "{ex:?}");
        let ix = g.identify(&sa.prepared(), Some(1), 2, 2);
        assert_eq!((score_of(&ix, 7), score_of(&ix, 8)), (Some(want), Some(without)), "{ix:?}");
    }
}
