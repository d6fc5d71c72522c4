//! ISO/IEC 19794-2:2005 finger minutiae record, and the ANSI INCITS 378-2004 variant of the
//! same record (which differs only in its header).
//!
//! Layout (all integers big-endian):
//! - header, ISO: `"FMR\0"`, `" 20\0"`, record length `u32`, capture equipment `u16`,
//!   width, height, x/y resolution (pixels per cm) `u16` each, number of views `u8`,
//!   reserved `u8` (24 bytes);
//! - header, ANSI 378-2004: `"FMR\0"`, `" 20\0"`, record length `u16` (or `0u16` then `u32`),
//!   CBEFF product id `u32`, capture equipment `u16`, then as ISO from the width on;
//! - per finger view: position `u8`, view number (high 4 bits) and impression type (low 4
//!   bits) `u8`, finger quality `u8`, number of minutiae `u8`, then 6 bytes per minutia
//!   (type in the top 2 bits and x in 14 bits; 2 reserved bits and y in 14 bits; angle in
//!   units of 360°/256, counter-clockwise from the x axis; quality), then the extended data
//!   block length `u16` and that many bytes, kept verbatim.
//!
//! [`Record::parse`] accepts exactly one record filling the input; [`Record::to_bytes`]
//! reproduces a parsed record byte for byte.

use crate::bytes::{Cursor, Eof};

/// What went wrong, and at which byte offset of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("ISO 19794-2: truncated at byte {offset}: {what} needs {needed} bytes, {available} left")]
    Truncated { offset: usize, what: &'static str, needed: usize, available: usize },
    #[error("ISO 19794-2: at byte {offset}: {what}")]
    Invalid { offset: usize, what: String },
}

impl Error {
    /// Byte offset of the defect.
    pub fn offset(&self) -> usize {
        match self {
            Error::Truncated { offset, .. } | Error::Invalid { offset, .. } => *offset,
        }
    }
}

fn eof(what: &'static str) -> impl Fn(Eof) -> Error {
    move |e| Error::Truncated { offset: e.offset, what, needed: e.needed, available: e.available }
}

/// Which header the record has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// ISO/IEC 19794-2:2005: 4-byte record length.
    Iso2005,
    /// ANSI INCITS 378-2004 with the 2-byte record length.
    Ansi2004Short,
    /// ANSI INCITS 378-2004 with the 6-byte (0, then `u32`) record length.
    Ansi2004Long,
}

/// Minutia type as coded in the top two bits of its x field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MinutiaType {
    Other = 0,
    Ending = 1,
    Bifurcation = 2,
    /// The value 3, reserved by the standard; kept so the record round-trips.
    Reserved = 3,
}

/// One minutia: pixel coordinates (origin top left, y down), angle in units of 360°/256
/// counter-clockwise from the x axis, quality 0–100 (0 = not reported).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Minutia {
    pub kind: MinutiaType,
    pub x: u16,
    pub y: u16,
    /// The two bits above y (reserved, normally 0).
    pub y_reserved: u8,
    pub angle: u8,
    pub quality: u8,
}

/// One finger view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FingerView {
    /// Finger position code (0 unknown, 1–10 right thumb … left little, 11–15 plain/slaps).
    pub position: u8,
    pub view_number: u8,
    pub impression_type: u8,
    pub quality: u8,
    pub minutiae: Vec<Minutia>,
    /// Extended data (ridge counts, core/delta, vendor data), verbatim.
    pub extended: Vec<u8>,
}

/// A finger minutiae record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub variant: Variant,
    /// CBEFF product identifier (ANSI variant only; 0 for ISO).
    pub product_id: u32,
    /// Capture equipment certification (4 bits) and device type (12 bits).
    pub capture_equipment: u16,
    pub width: u16,
    pub height: u16,
    /// Resolution in pixels per centimetre (197 ≈ 500 ppi).
    pub x_resolution: u16,
    pub y_resolution: u16,
    pub reserved: u8,
    pub views: Vec<FingerView>,
}

const MAGIC: &[u8; 4] = b"FMR\0";
const VERSION: &[u8; 4] = b" 20\0";

impl Record {
    /// Parses one record; the header variant is told apart by where the record length that
    /// equals the input size sits. Every defect is an [`Error`] naming the byte offset.
    pub fn parse(data: &[u8]) -> Result<Self, Error> {
        Self::parse_inner(data, false).map(|(r, _)| r)
    }

    /// As [`Record::parse`], but also accepts a record followed by zero bytes (files cut
    /// from fixed-size buffers); returns the record and the number of padding bytes.
    pub fn parse_padded(data: &[u8]) -> Result<(Self, usize), Error> {
        Self::parse_inner(data, true)
    }

    fn parse_inner(data: &[u8], padded: bool) -> Result<(Self, usize), Error> {
        let mut c = Cursor::new(data);
        let magic = c.take(4).map_err(eof("format identifier"))?;
        if magic != MAGIC {
            return Err(Error::Invalid { offset: 0, what: format!("format identifier {magic:02x?}, expected \"FMR\\0\"") });
        }
        let version = c.take(4).map_err(eof("version"))?;
        if version != VERSION {
            return Err(Error::Invalid {
                offset: 4,
                what: format!("version {:?}, only \" 20\" (ISO 19794-2:2005 / ANSI 378-2004) is supported", String::from_utf8_lossy(version)),
            });
        }
        let mut n = data.len();
        if padded && n >= 12 {
            let said = u32::from_be_bytes([data[8], data[9], data[10], data[11]]) as usize;
            if said >= 24 && said < n && data[said..].iter().all(|&b| b == 0) {
                n = said;
            }
        }
        let padding = data.len() - n;
        let data = &data[..n];
        let mut c = Cursor::new(data);
        c.take(8).map_err(eof("header"))?;
        let u32_at_8 = c.clone().u32().ok();
        let u16_at_8 = c.clone().u16().ok();
        let long_at_10 = {
            let mut d = c.clone();
            d.u16().ok().and_then(|z| if z == 0 { d.u32().ok() } else { None })
        };
        let variant = if u32_at_8 == Some(n as u32) {
            Variant::Iso2005
        } else if u16_at_8 == Some(n as u16) && n <= u16::MAX as usize && u16_at_8 != Some(0) {
            Variant::Ansi2004Short
        } else if long_at_10 == Some(n as u32) {
            Variant::Ansi2004Long
        } else {
            let said = u32_at_8.map(|v| v.to_string()).unwrap_or_else(|| "nothing".into());
            return Err(Error::Invalid {
                offset: 8,
                what: format!("record length field says {said} (as ISO u32) but the input has {n} bytes"),
            });
        };
        match variant {
            Variant::Iso2005 => {
                c.u32().map_err(eof("record length"))?;
            }
            Variant::Ansi2004Short => {
                c.u16().map_err(eof("record length"))?;
            }
            Variant::Ansi2004Long => {
                c.take(6).map_err(eof("record length"))?;
            }
        }
        let product_id = if variant == Variant::Iso2005 { 0 } else { c.u32().map_err(eof("CBEFF product id"))? };
        let capture_equipment = c.u16().map_err(eof("capture equipment"))?;
        let width = c.u16().map_err(eof("image width"))?;
        let height = c.u16().map_err(eof("image height"))?;
        let xr_at = c.offset();
        let x_resolution = c.u16().map_err(eof("x resolution"))?;
        let y_resolution = c.u16().map_err(eof("y resolution"))?;
        if x_resolution == 0 || y_resolution == 0 {
            return Err(Error::Invalid { offset: xr_at, what: "resolution of 0 pixels per cm".into() });
        }
        let nviews = c.u8().map_err(eof("number of finger views"))?;
        let reserved = c.u8().map_err(eof("reserved byte"))?;
        let mut views = Vec::with_capacity(nviews as usize);
        for v in 0..nviews {
            let at = c.offset();
            let position = c.u8().map_err(eof("finger position"))?;
            if position > 15 {
                return Err(Error::Invalid { offset: at, what: format!("view {v}: finger position {position} above 15") });
            }
            let vi = c.u8().map_err(eof("view number / impression type"))?;
            let q_at = c.offset();
            let quality = c.u8().map_err(eof("finger quality"))?;
            if quality > 100 {
                return Err(Error::Invalid { offset: q_at, what: format!("view {v}: finger quality {quality} above 100") });
            }
            let count = c.u8().map_err(eof("number of minutiae"))? as usize;
            if count * 6 > c.remaining() {
                return Err(Error::Truncated { offset: c.offset(), what: "minutiae", needed: count * 6, available: c.remaining() });
            }
            let mut minutiae = Vec::with_capacity(count);
            for k in 0..count {
                let at = c.offset();
                let tx = c.u16().map_err(eof("minutia x"))?;
                let ry = c.u16().map_err(eof("minutia y"))?;
                let angle = c.u8().map_err(eof("minutia angle"))?;
                let quality = c.u8().map_err(eof("minutia quality"))?;
                let kind = match tx >> 14 {
                    0 => MinutiaType::Other,
                    1 => MinutiaType::Ending,
                    2 => MinutiaType::Bifurcation,
                    _ => MinutiaType::Reserved,
                };
                let (x, y) = (tx & 0x3fff, ry & 0x3fff);
                if quality > 100 {
                    return Err(Error::Invalid { offset: at + 5, what: format!("view {v} minutia {k}: quality {quality} above 100") });
                }
                minutiae.push(Minutia { kind, x, y, y_reserved: (ry >> 14) as u8, angle, quality });
            }
            let ext_len = c.u16().map_err(eof("extended data length"))? as usize;
            let extended = c.take(ext_len).map_err(eof("extended data"))?.to_vec();
            views.push(FingerView { position, view_number: vi >> 4, impression_type: vi & 0x0f, quality, minutiae, extended });
        }
        if c.remaining() != 0 {
            return Err(Error::Invalid {
                offset: c.offset(),
                what: format!("{} bytes after the last of {nviews} finger views (record length says {n})", c.remaining()),
            });
        }
        Ok((Record { variant, product_id, capture_equipment, width, height, x_resolution, y_resolution, reserved, views }, padding))
    }

    /// Serialises the record (the record length is computed).
    pub fn to_bytes(&self) -> Vec<u8> {
        let body_len: usize = self.views.iter().map(|v| 4 + 6 * v.minutiae.len().min(255) + 2 + v.extended.len().min(u16::MAX as usize)).sum();
        let header = match self.variant {
            Variant::Iso2005 => 24,
            Variant::Ansi2004Short => 26,
            Variant::Ansi2004Long => 30,
        };
        let total = header + body_len;
        let mut b = Vec::with_capacity(total);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(VERSION);
        match self.variant {
            Variant::Iso2005 => b.extend_from_slice(&(total as u32).to_be_bytes()),
            Variant::Ansi2004Short => b.extend_from_slice(&(total as u16).to_be_bytes()),
            Variant::Ansi2004Long => {
                b.extend_from_slice(&[0, 0]);
                b.extend_from_slice(&(total as u32).to_be_bytes());
            }
        }
        if self.variant != Variant::Iso2005 {
            b.extend_from_slice(&self.product_id.to_be_bytes());
        }
        for v in [self.capture_equipment, self.width, self.height, self.x_resolution, self.y_resolution] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.push(self.views.len().min(255) as u8);
        b.push(self.reserved);
        for v in self.views.iter().take(255) {
            b.push(v.position);
            b.push((v.view_number << 4) | (v.impression_type & 0x0f));
            b.push(v.quality);
            b.push(v.minutiae.len().min(255) as u8);
            for m in v.minutiae.iter().take(255) {
                b.extend_from_slice(&(((m.kind as u16) << 14) | (m.x & 0x3fff)).to_be_bytes());
                b.extend_from_slice(&((((m.y_reserved & 3) as u16) << 14) | (m.y & 0x3fff)).to_be_bytes());
                b.push(m.angle);
                b.push(m.quality);
            }
            let ext = &v.extended[..v.extended.len().min(u16::MAX as usize)];
            b.extend_from_slice(&(ext.len() as u16).to_be_bytes());
            b.extend_from_slice(ext);
        }
        b
    }

    /// Resolution in pixels per inch (x), rounded.
    pub fn ppi(&self) -> u16 {
        (self.x_resolution as f64 * 2.54).round() as u16
    }
}

/// Pixels per centimetre for a resolution in pixels per inch (500 → 197).
pub fn ppcm(ppi: u16) -> u16 {
    (ppi as f64 / 2.54).round() as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            variant: Variant::Iso2005,
            product_id: 0,
            capture_equipment: 0,
            width: 388,
            height: 374,
            x_resolution: 197,
            y_resolution: 197,
            reserved: 0,
            views: vec![FingerView {
                position: 2,
                view_number: 0,
                impression_type: 0,
                quality: 60,
                minutiae: vec![
                    Minutia { kind: MinutiaType::Ending, x: 100, y: 200, y_reserved: 0, angle: 64, quality: 80 },
                    Minutia { kind: MinutiaType::Bifurcation, x: 16383, y: 0, y_reserved: 0, angle: 255, quality: 0 },
                ],
                extended: vec![],
            }],
        }
    }

    #[test]
    fn writes_then_reads_the_same_record() {
        let r = sample();
        let b = r.to_bytes();
        assert_eq!(b.len(), 24 + 4 + 12 + 2);
        assert_eq!(&b[8..12], &(b.len() as u32).to_be_bytes());
        assert_eq!(Record::parse(&b).unwrap(), r);
        let mut a = r.clone();
        a.variant = Variant::Ansi2004Short;
        a.product_id = 0x0042_0011;
        assert_eq!(Record::parse(&a.to_bytes()).unwrap(), a);
    }

    #[test]
    fn lying_length_and_truncation_are_located() {
        let b = sample().to_bytes();
        let mut lie = b.clone();
        lie[11] += 1;
        let e = Record::parse(&lie).unwrap_err();
        assert_eq!(e.offset(), 8, "{e}");
        let e = Record::parse(&b[..b.len() - 3]).unwrap_err();
        assert_eq!(e.offset(), 8, "{e}");
        let mut magic = b.clone();
        magic[0] = b'X';
        assert_eq!(Record::parse(&magic).unwrap_err().offset(), 0);
        // a minutiae count that runs past the end
        let mut count = b.clone();
        count[27] = 9;
        let e = Record::parse(&count).unwrap_err();
        assert!(matches!(e, Error::Truncated { offset: 28, .. }), "{e}");
    }
}
