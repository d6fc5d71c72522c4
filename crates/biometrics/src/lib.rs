//! Sallyport's fingerprint engine: minutiae extraction, matching, 1:N identification and
//! evaluation. No dependency on the rest of Sallyport.
//!
//! Codemap:
//! - [`image`]: decode PNG/BMP/TIFF/WSQ to an 8-bit grey [`image::GrayImage`], rescale to 500 ppi.
//! - [`extract`]: one function per stage (normalise, segment, orientation, frequency,
//!   Gabor enhancement, binarise, thin, detect, filter, quality) → [`template::Template`],
//!   and the print's coarse ridge-orientation field ([`extract::RidgeField`]).
//! - [`template`]: [`template::Minutia`] and the versioned native template format (`SPFT` v1).
//! - [`interop`]: native templates ⇄ ISO/IEC 19794-2:2005 records and ANSI/NIST-ITL Type-9.
//! - [`mcc`]: 1:1 Minutia Cylinder-Code matcher (consistent-group consolidation, alignment),
//!   scaled by the ridge-orientation agreement when both sides carry a field and by the raw
//!   support when both also carry their candidate minutiae; score in [0, 1].
//! - [`sample`]: [`sample::Sample`], a template with its print's ridge field and candidate
//!   minutiae (both from one extraction of an image), prepared exactly as [`eval`] prepares
//!   a print; the candidates' compact byte format (`SPCM` v1).
//! - [`gallery`]: 1:N search (pair-index shortlist + MCC rerank), fusion, deduplication;
//!   fingers built from samples carry field and raw support into every comparison.
//! - [`synth`]: SYNTHETIC fingers and impressions derived from real templates, for benches.
//! - [`eval`]: FVC-protocol and all-pairs evaluation, EER/FMR100/FMR1000/ZeroFMR, DET SVG.
//!
//! Invariants: every public entry point taking external bytes returns [`Error`] rather
//! than panicking; templates hold coordinates at 500 ppi; the library never prints.

// Index loops over parallel arrays (per aircraft, per cell, per word) read
// more plainly than zipped iterators here.
#![allow(clippy::needless_range_loop)]

pub mod eval;
pub mod extract;
pub mod gallery;
pub mod image;
pub mod interop;
pub mod mcc;
pub mod sample;
pub mod synth;
pub mod template;

/// Everything that can go wrong on external input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("image: {0}")]
    Image(String),
    #[error("image size {width}x{height} outside the accepted 64..=4000 pixels per side")]
    BadSize { width: u32, height: u32 },
    #[error("no fingerprint: {0}")]
    NoFingerprint(String),
    #[error("template at byte {offset}: {what}")]
    Template { offset: usize, what: String },
    #[error("data set: {0}")]
    Dataset(String),
}
