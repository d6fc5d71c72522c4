//! Minutiae and the compact native template format.
//!
//! Native format, version 1 (all integers little-endian):
//! `"SPFT"` magic, version `u8` = 1, width `u16`, height `u16`, ppi `u16`, image quality `u8`,
//! count `u16`, then per minutia: x `u16`, y `u16`, direction `u8` (units of 2π/256),
//! kind `u8` (0 ending, 1 bifurcation), quality `u8`. 16 bytes of header + 7 per minutia.

use crate::Error;
use std::f32::consts::PI;

const MAGIC: &[u8; 4] = b"SPFT";
const VERSION: u8 = 1;
const HEADER: usize = 14;
const PER_MINUTIA: usize = 7;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum MinutiaKind {
    Ending,
    Bifurcation,
}

/// One minutia: position in pixels at 500 ppi (x right, y down), direction in units of
/// 2π/256 (0 = +x, growing towards +y), quality 0–100.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Minutia {
    pub x: u16,
    pub y: u16,
    pub direction: u8,
    pub kind: MinutiaKind,
    pub quality: u8,
}

impl Minutia {
    /// Builds a minutia from a direction in radians (any value; wrapped to [0, 2π)).
    pub fn new(x: u16, y: u16, radians: f32, kind: MinutiaKind, quality: u8) -> Self {
        let d = (radians.rem_euclid(2.0 * PI) / (2.0 * PI) * 256.0).round() as u32 % 256;
        Self { x, y, direction: d as u8, kind, quality: quality.min(100) }
    }
    /// Direction in radians, [0, 2π).
    pub fn angle(&self) -> f32 {
        self.direction as f32 * (2.0 * PI / 256.0)
    }
}

/// A finger's minutiae template.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Template {
    pub width: u16,
    pub height: u16,
    pub ppi: u16,
    /// Image quality 0–100.
    pub quality: u8,
    pub minutiae: Vec<Minutia>,
}

impl Template {
    /// Serialises to the native format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.minutiae.len().min(u16::MAX as usize);
        let mut b = Vec::with_capacity(HEADER + PER_MINUTIA * n);
        b.extend_from_slice(MAGIC);
        b.push(VERSION);
        b.extend_from_slice(&self.width.to_le_bytes());
        b.extend_from_slice(&self.height.to_le_bytes());
        b.extend_from_slice(&self.ppi.to_le_bytes());
        b.push(self.quality);
        b.extend_from_slice(&(n as u16).to_le_bytes());
        for m in &self.minutiae[..n] {
            write_minutia(&mut b, m);
        }
        b
    }

    /// Parses the native format; every defect is a located [`Error::Template`].
    pub fn from_bytes(b: &[u8]) -> Result<Self, Error> {
        let err = |at: usize, what: String| Error::Template { offset: at, what };
        if b.len() < HEADER {
            return Err(err(b.len(), format!("truncated header: {} of {HEADER} bytes", b.len())));
        }
        if &b[..4] != MAGIC {
            return Err(err(0, format!("wrong magic {:02x?}, expected \"SPFT\"", &b[..4])));
        }
        if b[4] != VERSION {
            return Err(err(4, format!("unsupported version {}, expected {VERSION}", b[4])));
        }
        let u16at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let (width, height, ppi, quality, n) = (u16at(5), u16at(7), u16at(9), b[11], u16at(12) as usize);
        if quality > 100 {
            return Err(err(11, format!("image quality {quality} above 100")));
        }
        if ppi == 0 {
            return Err(err(9, "resolution of 0 ppi".into()));
        }
        let want = HEADER + PER_MINUTIA * n;
        if b.len() != want {
            return Err(err(b.len().min(want), format!("{n} minutiae need {want} bytes, file has {}", b.len())));
        }
        let mut minutiae = Vec::with_capacity(n);
        for k in 0..n {
            let o = HEADER + PER_MINUTIA * k;
            let (x, y) = (u16at(o), u16at(o + 2));
            if x >= width || y >= height {
                return Err(err(o, format!("minutia {k} at ({x},{y}) outside the {width}x{height} image")));
            }
            minutiae.push(read_minutia(b, o, "minutia", k)?);
        }
        Ok(Self { width, height, ppi, quality, minutiae })
    }
}

/// Appends one minutia in the native 7-byte form (x, y little-endian; direction;
/// kind 0 ending / 1 bifurcation; quality), shared by templates and candidate lists.
pub(crate) fn write_minutia(b: &mut Vec<u8>, m: &Minutia) {
    b.extend_from_slice(&m.x.to_le_bytes());
    b.extend_from_slice(&m.y.to_le_bytes());
    b.push(m.direction);
    b.push(match m.kind {
        MinutiaKind::Ending => 0,
        MinutiaKind::Bifurcation => 1,
    });
    b.push(m.quality);
}

/// Reads the `k`-th minutia (`what`, for errors) at byte `o` of `b`, which holds at
/// least 7 bytes there; an unknown kind or a quality over 100 is a located error.
pub(crate) fn read_minutia(b: &[u8], o: usize, what: &str, k: usize) -> Result<Minutia, Error> {
    let err = |at: usize, msg: String| Error::Template { offset: at, what: msg };
    let kind = match b[o + 5] {
        0 => MinutiaKind::Ending,
        1 => MinutiaKind::Bifurcation,
        t => return Err(err(o + 5, format!("{what} {k} has unknown kind {t}"))),
    };
    let quality = b[o + 6];
    if quality > 100 {
        return Err(err(o + 6, format!("{what} {k} quality {quality} above 100")));
    }
    Ok(Minutia { x: u16::from_le_bytes([b[o], b[o + 1]]), y: u16::from_le_bytes([b[o + 2], b[o + 3]]), direction: b[o + 4], kind, quality })
}
