//! Biometric interchange formats: WSQ, ISO/IEC 19794-2, ANSI/NIST-ITL 1-2011.
//!
//! Pure library: every entry point takes a byte slice and returns a typed
//! result; nothing here touches files, the network or stdout.
//!
//! # Codemap
//! - [`wsq`]: FBI WSQ (IAFIS-IC-0110 v3) decoder: marker parsing
//!   (SOI/SOF/SOB/DTT/DQT/DHT/COM/EOI), Huffman decoding of the quantised
//!   coefficients, dequantisation of the 64-subband tree and odd-length
//!   symmetric wavelet synthesis. `wsq::decode(&[u8]) -> GrayImage`.
//! - [`iso19794_2`]: ISO/IEC 19794-2:2005 finger minutiae record (and the
//!   ANSI INCITS 378-2004 header variant): parse and byte-exact re-serialise,
//!   extended data blocks kept verbatim.
//! - [`ansi_nist`]: ANSI/NIST-ITL 1-2011 traditional encoding: Type-1/2
//!   tagged records, binary Type-3..8, tagged Type-9/10/13..17/99; fingerprint
//!   impressions (Type-4, Type-14) and Type-9 minutiae extraction.
//! - `bytes` (private): bounds-checked big-endian cursor that reports offsets.
//!
//! # Invariants
//! - Untrusted input never panics and never loops without consuming input;
//!   every failure is a typed error naming the field and byte offset.
//! - No allocation is sized by a declared length without first bounding it by
//!   the bytes actually present (or, for WSQ pixels, by [`wsq::MAX_PIXELS`]);
//!   WSQ decoding work (pixels × filter taps) is bounded by the input length
//!   ([`wsq::MAX_PIXELS_PER_BYTE`], [`wsq::MAX_FILTER_TAPS`]).

mod bytes;
pub mod ansi_nist;
pub mod iso19794_2;
pub mod wsq;
