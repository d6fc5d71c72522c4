//! FBI Wavelet Scalar Quantization (WSQ) grey-scale fingerprint decoder,
//! written from the WSQ specification (IAFIS-IC-0110 v3).
//!
//! Pipeline: markers → tables (DTT filters, DQT quantiser bins, DHT Huffman
//! tables) → entropy-coded blocks (Huffman symbols: zero runs and
//! coefficients) → dequantisation into the 64-subband layout → 20-node
//! two-dimensional wavelet synthesis → shift/scale and round to 8 bits.
//!
//! Arithmetic is single precision in the same order as the reference decoder,
//! so output matches reference decodes to within one grey level (see tests).

use crate::bytes::{Cursor, Eof};

/// Largest image (in pixels) the decoder will allocate for: 16 Mi pixels,
/// e.g. 4096×4096, well above a 1000 ppi ten-print slap.
pub const MAX_PIXELS: usize = 1 << 24;

/// Longest wavelet filter accepted (taps). Decoding costs pixels × taps, so an
/// unbounded length (the DTT field allows 255) lets a few hundred bytes hold the
/// decoder for minutes. Certified encoders use 9/7; the longest filter in NIST's
/// conformance set has 11 taps.
pub const MAX_FILTER_TAPS: usize = 31;

/// Most pixels a stream may declare per byte of input (0.03 bits per pixel). Real
/// WSQ fingerprints stay well under 64 (the most compressed NIST conformance file,
/// 1600×1500 in 58 KB, has 41); without a floor on the bit rate a stream of a few
/// hundred bytes can declare [`MAX_PIXELS`] of flat image and cost seconds to decode.
pub const MAX_PIXELS_PER_BYTE: usize = 256;

const SOI: u16 = 0xFFA0;
const EOI: u16 = 0xFFA1;
const SOF: u16 = 0xFFA2;
const SOB: u16 = 0xFFA3;
const DTT: u16 = 0xFFA4;
const DQT: u16 = 0xFFA5;
const DHT: u16 = 0xFFA6;
const DRT: u16 = 0xFFA7;
const COM: u16 = 0xFFA8;

/// Number of coded subbands (60–63 are never transmitted).
const NUM_SUBBANDS: usize = 60;
const MAX_SUBBANDS: usize = 64;
const MAX_HUFF_TABLES: usize = 8;

/// A decoded 8-bit grey-scale image, rows top to bottom, `width * height` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Resolution in pixels per inch, from the NISTCOM `PPI` entry when present.
    pub ppi: Option<u16>,
    /// Row-major pixel values, `width * height` long.
    pub pixels: Vec<u8>,
}

/// Everything that can be wrong with a WSQ stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsqError {
    /// The input ends before a field is complete.
    #[error("WSQ truncated: {what} at byte offset {offset} needs {needed} bytes, {available} left")]
    Truncated { what: &'static str, offset: usize, needed: usize, available: usize },
    /// The stream does not start with the SOI marker.
    #[error("not a WSQ stream: expected SOI marker 0xFFA0 at offset 0, found {found:#06x}")]
    NotWsq { found: u16 },
    /// A marker that is not allowed at this point.
    #[error("unexpected marker {marker:#06x} at byte offset {offset} ({context})")]
    UnexpectedMarker { marker: u16, offset: usize, context: &'static str },
    /// A field holds an impossible value.
    #[error("invalid WSQ {field} at byte offset {offset}: {reason}")]
    Invalid { field: &'static str, offset: usize, reason: String },
    /// A table or header needed by a block was never defined.
    #[error("WSQ block at byte offset {offset} uses undefined {what}")]
    Missing { what: &'static str, offset: usize },
    /// The entropy-coded data is corrupt.
    #[error("WSQ Huffman data corrupt at byte offset {offset}: {reason}")]
    Huffman { offset: usize, reason: String },
}

fn eof(what: &'static str) -> impl Fn(Eof) -> WsqError {
    move |e| WsqError::Truncated { what, offset: e.offset, needed: e.needed, available: e.available }
}

/// Frame header (SOF).
#[derive(Debug, Clone, Copy)]
struct Frame {
    width: usize,
    height: usize,
    m_shift: f32,
    r_scale: f32,
}

#[derive(Debug, Clone)]
struct Filters {
    lo: Vec<f32>,
    hi: Vec<f32>,
}

#[derive(Debug, Clone)]
struct Quant {
    bin_center: f32,
    q: [f32; MAX_SUBBANDS],
    z: [f32; MAX_SUBBANDS],
}

/// Canonical Huffman decoding table (JPEG-style code construction).
#[derive(Debug, Clone)]
struct Huffman {
    /// For code length l (1..=16): smallest code, largest code (or -1), first value index.
    mincode: [i32; 17],
    maxcode: [i32; 17],
    valptr: [usize; 17],
    values: Vec<u8>,
}

impl Huffman {
    fn new(counts: &[u8; 16], values: Vec<u8>, offset: usize) -> Result<Self, WsqError> {
        let mut mincode = [0i32; 17];
        let mut maxcode = [-1i32; 17];
        let mut valptr = [0usize; 17];
        let mut code: i32 = 0;
        let mut k = 0usize;
        for l in 1..=16 {
            let n = counts[l - 1] as usize;
            if n > 0 {
                valptr[l] = k;
                mincode[l] = code;
                code += n as i32;
                k += n;
                maxcode[l] = code - 1;
                if code > (1 << l) {
                    return Err(WsqError::Invalid {
                        field: "Huffman table",
                        offset,
                        reason: format!("too many codes of length {l}"),
                    });
                }
            }
            code <<= 1;
        }
        Ok(Huffman { mincode, maxcode, valptr, values })
    }
}

/// Result of pulling bits: either data or the start of a marker.
enum Bits {
    Val(u32),
    Marker,
}

/// MSB-first bit reader over entropy-coded data with 0xFF00 byte stuffing;
/// stops (without consuming) at any other 0xFFxx marker.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    cur: u8,
    left: u8,
}

impl<'a> BitReader<'a> {
    fn bit(&mut self) -> Result<Option<u32>, WsqError> {
        if self.left == 0 {
            let Some(&b) = self.data.get(self.pos) else {
                return Err(WsqError::Truncated {
                    what: "entropy-coded block (no EOI)",
                    offset: self.pos,
                    needed: 1,
                    available: 0,
                });
            };
            if b == 0xFF {
                match self.data.get(self.pos + 1) {
                    None => {
                        return Err(WsqError::Truncated {
                            what: "entropy-coded block",
                            offset: self.pos + 1,
                            needed: 1,
                            available: 0,
                        });
                    }
                    Some(0) => self.pos += 2,
                    Some(_) => return Ok(None),
                }
            } else {
                self.pos += 1;
            }
            self.cur = b;
            self.left = 8;
        }
        self.left -= 1;
        Ok(Some(u32::from((self.cur >> self.left) & 1)))
    }

    fn bits(&mut self, n: u32) -> Result<Bits, WsqError> {
        let mut v = 0u32;
        for _ in 0..n {
            match self.bit()? {
                Some(b) => v = (v << 1) | b,
                None => return Ok(Bits::Marker),
            }
        }
        Ok(Bits::Val(v))
    }

    fn symbol(&mut self, t: &Huffman) -> Result<Option<u8>, WsqError> {
        let mut code: i32 = 0;
        for l in 1..=16 {
            match self.bit()? {
                Some(b) => code = (code << 1) | b as i32,
                None => return Ok(None),
            }
            if t.maxcode[l] >= 0 && code <= t.maxcode[l] && code >= t.mincode[l] {
                let idx = t.valptr[l] + (code - t.mincode[l]) as usize;
                return t.values.get(idx).copied().map(Some).ok_or_else(|| WsqError::Huffman {
                    offset: self.pos,
                    reason: "code points past the table's value list".into(),
                });
            }
        }
        Err(WsqError::Huffman { offset: self.pos, reason: "no Huffman code matches 16 bits".into() })
    }
}

/// Rectangle of a subband or decomposition node inside the coefficient plane.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Rect {
    x: usize,
    y: usize,
    w: usize,
    h: usize,
}

/// Split a length in two halves; for odd lengths the longer half comes
/// first unless `short_first`.
fn halves(len: usize, short_first: bool) -> (usize, usize) {
    if len.is_multiple_of(2) {
        (len / 2, len / 2)
    } else if short_first {
        (len / 2, len / 2 + 1)
    } else {
        (len / 2 + 1, len / 2)
    }
}

/// Number of nodes of the two-dimensional decomposition tree.
const W_NODES: usize = 20;
const INV_ROWS: [usize; 8] = [2, 4, 7, 9, 11, 13, 16, 18];
const INV_COLS: [usize; 8] = [3, 5, 8, 9, 12, 13, 17, 18];

/// One level of 2-D split of node `parent` into children `first..first+4`
/// (the fourth child only when `all_four`).
fn split_node(t: &mut [Rect; W_NODES], parent: usize, first: usize, r: Rect, all_four: bool) {
    t[parent] = r;
    let (ax, bx) = halves(r.w, parent == 4);
    let (ay, by) = halves(r.h, parent == 5);
    t[first] = Rect { x: r.x, y: r.y, w: ax, h: ay };
    t[first + 1] = Rect { x: r.x + ax, y: r.y, w: bx, h: ay };
    t[first + 2] = Rect { x: r.x, y: r.y + ay, w: ax, h: by };
    if all_four {
        t[first + 3] = Rect { x: r.x + ax, y: r.y + ay, w: bx, h: by };
    }
}

fn build_w_tree(width: usize, height: usize) -> [Rect; W_NODES] {
    let mut t = [Rect::default(); W_NODES];
    split_node(&mut t, 0, 1, Rect { x: 0, y: 0, w: width, h: height }, false);
    let (lx, lx2) = halves(t[1].w, false);
    let (ly, ly2) = halves(t[1].h, false);
    split_node(&mut t, 4, 6, Rect { x: lx, y: 0, w: lx2, h: ly }, true);
    split_node(&mut t, 5, 10, Rect { x: 0, y: ly, w: lx, h: ly2 }, true);
    split_node(&mut t, 14, 15, Rect { x: 0, y: 0, w: lx, h: ly }, true);
    t[19] = Rect { x: 0, y: 0, w: t[15].w.div_ceil(2), h: t[15].h.div_ceil(2) };
    t
}

/// 2×2 subbands of `r` at `q[p..p+4]`.
fn quad4(q: &mut [Rect; MAX_SUBBANDS], p: usize, r: Rect) {
    let (ax, bx) = halves(r.w, false);
    let (ay, by) = halves(r.h, false);
    q[p] = Rect { x: r.x, y: r.y, w: ax, h: ay };
    q[p + 1] = Rect { x: r.x + ax, y: r.y, w: bx, h: ay };
    q[p + 2] = Rect { x: r.x, y: r.y + ay, w: ax, h: by };
    q[p + 3] = Rect { x: r.x + ax, y: r.y + ay, w: bx, h: by };
}

/// 4×4 subbands of `r` at `q[p..p+16]`; `short_x`/`short_y` put the shorter
/// half first in the outer split (spectrally inverted parents).
fn quad16(q: &mut [Rect; MAX_SUBBANDS], p: usize, r: Rect, short_y: bool, short_x: bool) {
    let (tx, tx2) = halves(r.w, short_x);
    let (ty, ty2) = halves(r.h, short_y);
    // Inner column splits: left half long-first, right half short-first.
    let (lx_a, lx_b) = halves(tx, false);
    let (rx_a, rx_b) = halves(tx2, true);
    // Inner row splits: top half long-first, bottom half short-first.
    let (ty_a, ty_b) = halves(ty, false);
    let (by_a, by_b) = halves(ty2, true);
    let cols = [(r.x, lx_a), (r.x + lx_a, lx_b), (r.x + tx, rx_a), (r.x + tx + rx_a, rx_b)];
    let rows = [(r.y, ty_a), (r.y + ty_a, ty_b), (r.y + ty, by_a), (r.y + ty + by_a, by_b)];
    // Order: the four quadrants (TL, TR, BL, BR), each in raster order.
    let mut i = p;
    for (qr, qc) in [(0, 0), (0, 2), (2, 0), (2, 2)] {
        for (dr, dc) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            let (y, h) = rows[qr + dr];
            let (x, w) = cols[qc + dc];
            q[i] = Rect { x, y, w, h };
            i += 1;
        }
    }
}

fn build_q_tree(w: &[Rect; W_NODES]) -> [Rect; MAX_SUBBANDS] {
    let mut q = [Rect::default(); MAX_SUBBANDS];
    // Later groups deliberately overwrite overlapping entries of earlier ones.
    quad16(&mut q, 3, w[14], false, false);
    quad16(&mut q, 19, w[4], false, true);
    quad16(&mut q, 48, w[0], false, false);
    quad16(&mut q, 35, w[5], true, false);
    quad4(&mut q, 0, w[19]);
    q
}

/// Decimal-scaled value as the reference decoder computes it: `raw / 10^scale`
/// in single precision, dividing step by step.
fn scaled(raw: u32, scale: u8) -> f32 {
    let mut v = raw as f32;
    for _ in 0..scale {
        v = (f64::from(v) / 10.0) as f32;
    }
    v
}

/// Header data gathered while walking the markers.
#[derive(Default)]
struct State {
    frame: Option<Frame>,
    filters: Option<Filters>,
    quant: Option<Quant>,
    huff: [Option<Huffman>; MAX_HUFF_TABLES],
    ppi: Option<u16>,
}

fn segment<'a>(c: &mut Cursor<'a>, what: &'static str) -> Result<(usize, Cursor<'a>), WsqError> {
    let start = c.offset();
    let len = c.u16().map_err(eof(what))? as usize;
    if len < 2 {
        return Err(WsqError::Invalid {
            field: what,
            offset: start,
            reason: format!("segment length {len} is smaller than its own 2-byte length field"),
        });
    }
    let body = c.take(len - 2).map_err(eof(what))?;
    Ok((start, Cursor::with_base(body, start + 2)))
}

fn read_sof(c: &mut Cursor) -> Result<Frame, WsqError> {
    let (start, mut s) = segment(c, "SOF segment")?;
    let e = eof("SOF segment");
    let _black = s.u8().map_err(&e)?;
    let _white = s.u8().map_err(&e)?;
    let height = s.u16().map_err(&e)? as usize;
    let width = s.u16().map_err(&e)? as usize;
    let m_scale = s.u8().map_err(&e)?;
    let m_raw = s.u16().map_err(&e)?;
    let r_scale = s.u8().map_err(&e)?;
    let r_raw = s.u16().map_err(&e)?;
    if width == 0 || height == 0 {
        return Err(WsqError::Invalid {
            field: "SOF image size",
            offset: start,
            reason: format!("{width}x{height} image has no pixels"),
        });
    }
    if width * height > MAX_PIXELS {
        return Err(WsqError::Invalid {
            field: "SOF image size",
            offset: start,
            reason: format!("{width}x{height} exceeds the {MAX_PIXELS}-pixel limit"),
        });
    }
    let r = scaled(u32::from(r_raw), r_scale);
    if !(r.is_finite() && r != 0.0) {
        return Err(WsqError::Invalid { field: "SOF R scale", offset: start, reason: "zero".into() });
    }
    Ok(Frame { width, height, m_shift: scaled(u32::from(m_raw), m_scale), r_scale: r })
}

fn read_dtt(c: &mut Cursor) -> Result<Filters, WsqError> {
    let (start, mut s) = segment(c, "DTT segment")?;
    let e = eof("DTT segment");
    let hisz = s.u8().map_err(&e)? as usize;
    let losz = s.u8().map_err(&e)? as usize;
    if hisz > MAX_FILTER_TAPS || losz > MAX_FILTER_TAPS {
        return Err(WsqError::Invalid {
            field: "DTT filter lengths",
            offset: start + 2,
            reason: format!("high/low filter lengths {hisz}/{losz}: more than {MAX_FILTER_TAPS} taps"),
        });
    }
    if hisz == 0 || losz == 0 || hisz.is_multiple_of(2) || losz.is_multiple_of(2) {
        return Err(WsqError::Invalid {
            field: "DTT filter lengths",
            offset: start + 2,
            reason: format!(
                "high/low filter lengths {hisz}/{losz}: only non-empty odd-length (symmetric) filters are supported"
            ),
        });
    }
    // The first half-filter is the analysis low-pass; modulated it gives the
    // synthesis high-pass, and vice versa.
    let mut read_half = |n: usize| -> Result<Vec<f32>, WsqError> {
        let half = n / 2;
        let mut out = vec![0f32; n];
        for k in 0..=half {
            let sign = s.u8().map_err(&e)?;
            let scale = s.u8().map_err(&e)?;
            let raw = s.u32().map_err(&e)?;
            let mut v = scaled(raw, scale);
            if sign != 0 {
                v = -v;
            }
            if k % 2 == 1 {
                v = -v;
            }
            out[half + k] = v;
            out[half - k] = v;
        }
        Ok(out)
    };
    let hi = read_half(hisz)?;
    let lo = read_half(losz)?;
    Ok(Filters { lo, hi })
}

fn read_dqt(c: &mut Cursor) -> Result<Quant, WsqError> {
    let (_, mut s) = segment(c, "DQT segment")?;
    let e = eof("DQT segment");
    let scale = s.u8().map_err(&e)?;
    let raw = s.u16().map_err(&e)?;
    let bin_center = scaled(u32::from(raw), scale);
    let mut q = [0f32; MAX_SUBBANDS];
    let mut z = [0f32; MAX_SUBBANDS];
    for i in 0..MAX_SUBBANDS {
        let qs = s.u8().map_err(&e)?;
        let qr = s.u16().map_err(&e)?;
        let zs = s.u8().map_err(&e)?;
        let zr = s.u16().map_err(&e)?;
        q[i] = scaled(u32::from(qr), qs);
        z[i] = scaled(u32::from(zr), zs);
    }
    Ok(Quant { bin_center, q, z })
}

fn read_dht(c: &mut Cursor, st: &mut State) -> Result<(), WsqError> {
    let (_, mut s) = segment(c, "DHT segment")?;
    let e = eof("DHT segment");
    while s.remaining() > 0 {
        let at = s.offset();
        let id = s.u8().map_err(&e)? as usize;
        if id >= MAX_HUFF_TABLES {
            return Err(WsqError::Invalid {
                field: "DHT table id",
                offset: at,
                reason: format!("{id} is not below {MAX_HUFF_TABLES}"),
            });
        }
        let counts: [u8; 16] = s.take(16).map_err(&e)?.try_into().expect("16 bytes");
        let total: usize = counts.iter().map(|&n| n as usize).sum();
        if total > 256 {
            return Err(WsqError::Invalid {
                field: "DHT code counts",
                offset: at + 1,
                reason: format!("{total} codes exceed 256"),
            });
        }
        let values = s.take(total).map_err(&e)?.to_vec();
        st.huff[id] = Some(Huffman::new(&counts, values, at)?);
    }
    Ok(())
}

fn read_com(c: &mut Cursor, st: &mut State) -> Result<(), WsqError> {
    let (_, s) = segment(c, "COM segment")?;
    let text = s.rest();
    if let Some(body) = text.strip_prefix(b"NIST_COM") {
        for line in body.split(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(line);
            let mut parts = line.split_whitespace();
            if parts.next() == Some("PPI")
                && let Some(v) = parts.next().and_then(|v| v.parse::<i64>().ok())
                && (1..=u16::MAX as i64).contains(&v) {
                st.ppi = Some(v as u16);
            }
        }
    }
    Ok(())
}

/// Decode the entropy-coded data of one block, appending coefficients to `out`.
/// Returns the offset where the block ended (the next marker).
fn decode_block(
    data: &[u8],
    start: usize,
    table: &Huffman,
    out: &mut Vec<i32>,
    cap: usize,
) -> Result<usize, WsqError> {
    let mut br = BitReader { data, pos: start, cur: 0, left: 0 };
    let overflow = |pos| WsqError::Huffman {
        offset: pos,
        reason: format!("more coefficients than the {cap} the subbands hold"),
    };
    loop {
        let Some(sym) = br.symbol(table)? else { return Ok(br.pos) };
        let extra = |br: &mut BitReader, n| -> Result<u32, WsqError> {
            match br.bits(n)? {
                Bits::Val(v) => Ok(v),
                Bits::Marker => Err(WsqError::Huffman {
                    offset: br.pos,
                    reason: "marker inside an escaped value".into(),
                }),
            }
        };
        match sym {
            1..=100 | 105 | 106 => {
                let run = match sym {
                    105 => extra(&mut br, 8)? as usize,
                    106 => extra(&mut br, 16)? as usize,
                    n => n as usize,
                };
                if out.len() + run > cap {
                    return Err(overflow(br.pos));
                }
                out.resize(out.len() + run, 0);
            }
            101..=104 => {
                let v = if sym <= 102 { extra(&mut br, 8)? } else { extra(&mut br, 16)? } as i32;
                let v = if sym % 2 == 0 { -v } else { v };
                if out.len() >= cap {
                    return Err(overflow(br.pos));
                }
                out.push(v);
            }
            107..=254 => {
                if out.len() >= cap {
                    return Err(overflow(br.pos));
                }
                out.push(i32::from(sym) - 180);
            }
            _ => {
                return Err(WsqError::Huffman {
                    offset: br.pos,
                    reason: format!("invalid symbol {sym}"),
                });
            }
        }
    }
}

/// Decode a WSQ byte stream into an 8-bit grey image.
///
/// ```no_run
/// let bytes = std::fs::read("print.wsq").unwrap();
/// let img = sallyport_biometrics_formats::wsq::decode(&bytes).unwrap();
/// assert_eq!(img.pixels.len(), (img.width * img.height) as usize);
/// ```
pub fn decode(data: &[u8]) -> Result<GrayImage, WsqError> {
    let mut c = Cursor::new(data);
    let first = c.u16().map_err(eof("SOI marker"))?;
    if first != SOI {
        return Err(WsqError::NotWsq { found: first });
    }
    let mut st = State::default();
    let mut coeffs: Vec<i32> = Vec::new();
    let mut cap = 0usize;
    let mut q_tree = [Rect::default(); MAX_SUBBANDS];
    let mut w_tree = [Rect::default(); W_NODES];
    let mut blocks = 0usize;
    loop {
        let at = c.offset();
        let marker = c.u16().map_err(eof("marker"))?;
        match marker {
            SOF => {
                if st.frame.is_some() {
                    return Err(WsqError::UnexpectedMarker { marker, offset: at, context: "second SOF" });
                }
                let f = read_sof(&mut c)?;
                if f.width * f.height > data.len().saturating_mul(MAX_PIXELS_PER_BYTE) {
                    return Err(WsqError::Invalid {
                        field: "SOF image size",
                        offset: at + 2,
                        reason: format!(
                            "{}x{} pixels from a {}-byte stream: more than {MAX_PIXELS_PER_BYTE} pixels per byte",
                            f.width,
                            f.height,
                            data.len()
                        ),
                    });
                }
                w_tree = build_w_tree(f.width, f.height);
                q_tree = build_q_tree(&w_tree);
                st.frame = Some(f);
            }
            DTT => st.filters = Some(read_dtt(&mut c)?),
            DQT => {
                let qt = read_dqt(&mut c)?;
                st.quant = Some(qt);
            }
            DHT => read_dht(&mut c, &mut st)?,
            COM => read_com(&mut c, &mut st)?,
            DRT => {
                segment(&mut c, "DRT segment")?;
            }
            SOB => {
                let (start, mut s) = segment(&mut c, "SOB segment")?;
                let id = s.u8().map_err(eof("SOB segment"))? as usize;
                if st.frame.is_none() {
                    return Err(WsqError::Missing { what: "frame header (SOF)", offset: start });
                }
                let Some(quant) = st.quant.as_ref() else {
                    return Err(WsqError::Missing { what: "quantisation table (DQT)", offset: start });
                };
                if st.filters.is_none() {
                    return Err(WsqError::Missing { what: "transform table (DTT)", offset: start });
                }
                let Some(table) = st.huff.get(id).and_then(|t| t.as_ref()) else {
                    return Err(WsqError::Missing { what: "Huffman table", offset: start });
                };
                if blocks == 0 {
                    cap = (0..NUM_SUBBANDS)
                        .filter(|&i| quant.q[i] != 0.0)
                        .map(|i| q_tree[i].w * q_tree[i].h)
                        .sum();
                    coeffs.reserve(cap.min(data.len().saturating_mul(8)));
                }
                blocks += 1;
                let end = decode_block(data, c.offset(), table, &mut coeffs, cap)?;
                c = Cursor::new(data);
                c.seek(end);
            }
            EOI => break,
            _ => {
                return Err(WsqError::UnexpectedMarker {
                    marker,
                    offset: at,
                    context: "not a WSQ marker",
                });
            }
        }
    }
    let (Some(frame), Some(filters), Some(quant)) = (st.frame, st.filters.as_ref(), st.quant.as_ref())
    else {
        return Err(WsqError::Missing { what: "SOF/DTT/DQT and image data", offset: c.offset() });
    };
    if blocks == 0 {
        return Err(WsqError::Missing { what: "image data (no SOB block)", offset: c.offset() });
    }
    if coeffs.len() != cap {
        return Err(WsqError::Huffman {
            offset: c.offset(),
            reason: format!("decoded {} coefficients, the subbands need {cap}", coeffs.len()),
        });
    }
    let mut plane = dequantise(&frame, quant, &q_tree, &coeffs);
    reconstruct(&mut plane, &frame, &w_tree, filters);
    let pixels = plane
        .iter()
        .map(|&v| {
            let p = v * frame.r_scale + frame.m_shift;
            let p = (f64::from(p) + 0.5) as f32;
            if p < 0.0 {
                0
            } else if p > 255.0 {
                255
            } else {
                p as u8
            }
        })
        .collect();
    Ok(GrayImage { width: frame.width as u32, height: frame.height as u32, ppi: st.ppi, pixels })
}

fn dequantise(frame: &Frame, quant: &Quant, q_tree: &[Rect; MAX_SUBBANDS], coeffs: &[i32]) -> Vec<f32> {
    let w = frame.width;
    let mut plane = vec![0f32; w * frame.height];
    let c = quant.bin_center;
    let mut it = coeffs.iter();
    for (band, r) in q_tree.iter().enumerate().take(NUM_SUBBANDS) {
        let q = quant.q[band];
        if q == 0.0 {
            continue;
        }
        let half_z = f64::from(quant.z[band]) / 2.0;
        for y in r.y..r.y + r.h {
            for x in r.x..r.x + r.w {
                let s = *it.next().unwrap_or(&0);
                plane[y * w + x] = match s.signum() {
                    0 => 0.0,
                    1 => (f64::from(q * (s as f32 - c)) + half_z) as f32,
                    _ => (f64::from(q * (s as f32 + c)) - half_z) as f32,
                };
            }
        }
    }
    plane
}

/// Map an out-of-range index of a symmetrically extended band back inside.
/// `left_whole`: mirror about index 0 (else about -1/2);
/// `right_whole`: mirror about the last index (else about last + 1/2).
fn reflect(mut k: isize, len: usize, left_whole: bool, right_whole: bool) -> usize {
    let n = len as isize;
    if n == 1 {
        return 0;
    }
    for _ in 0..64 {
        if k < 0 {
            k = if left_whole { -k } else { -1 - k };
        } else if k >= n {
            k = if right_whole { 2 * (n - 1) - k } else { 2 * n - 1 - k };
        } else {
            return k as usize;
        }
    }
    k.clamp(0, n - 1) as usize
}

/// One-dimensional synthesis of `input` (low band then high band, or the
/// reverse when `inverted`) into `out`, both `n` long.
fn synth1d(input: &[f32], out: &mut [f32], f: &Filters, inverted: bool) {
    let n = input.len();
    let llen = n.div_ceil(2);
    let hlen = n / 2;
    let (low, high) = if inverted {
        (&input[hlen..], &input[..hlen])
    } else {
        (&input[..llen], &input[llen..])
    };
    let odd = n % 2 == 1;
    let cl = (f.lo.len() / 2) as isize;
    let ch = (f.hi.len() / 2) as isize;
    // Only the taps that land on a band sample (even m) contribute: start at the first
    // such tap and step by two, in the same order (and so with the same rounding) as
    // visiting every tap and skipping the odd ones.
    for (i, o) in out.iter_mut().enumerate() {
        let i = i as isize;
        let mut acc: Option<f32> = None;
        for t in ((cl - i).rem_euclid(2) as usize..f.lo.len()).step_by(2) {
            let m = i + t as isize - cl;
            let k = reflect(m / 2, llen, true, odd);
            let term = low[k] * f.lo[t];
            acc = Some(match acc {
                None => term,
                Some(a) => a + term,
            });
        }
        let mut acc = acc.unwrap_or(0.0);
        if hlen > 0 {
            for t in ((ch + 1 - i).rem_euclid(2) as usize..f.hi.len()).step_by(2) {
                let m = i + t as isize - ch - 1;
                let k = reflect(m.div_euclid(2), hlen, false, !odd);
                acc += high[k] * f.hi[t];
            }
        }
        *o = acc;
    }
}

fn reconstruct(plane: &mut [f32], frame: &Frame, w_tree: &[Rect; W_NODES], f: &Filters) {
    let width = frame.width;
    let mut col_in = Vec::new();
    let mut col_out = Vec::new();
    let mut row_out = Vec::new();
    let mut tmp = Vec::new();
    for node in (0..W_NODES).rev() {
        let r = w_tree[node];
        if r.w == 0 || r.h == 0 {
            continue;
        }
        tmp.clear();
        tmp.resize(r.w * r.h, 0f32);
        // Columns first.
        col_in.resize(r.h, 0f32);
        col_out.resize(r.h, 0f32);
        let inv_c = INV_COLS.contains(&node);
        for x in 0..r.w {
            for y in 0..r.h {
                col_in[y] = plane[(r.y + y) * width + r.x + x];
            }
            synth1d(&col_in, &mut col_out, f, inv_c);
            for y in 0..r.h {
                tmp[y * r.w + x] = col_out[y];
            }
        }
        // Then rows, back into the plane.
        row_out.resize(r.w, 0f32);
        let inv_r = INV_ROWS.contains(&node);
        for y in 0..r.h {
            synth1d(&tmp[y * r.w..(y + 1) * r.w], &mut row_out, f, inv_r);
            let dst = (r.y + y) * width + r.x;
            plane[dst..dst + r.w].copy_from_slice(&row_out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_tree_tiles_the_coded_region_without_overlap() {
        for (w, h) in [(545usize, 622usize), (500, 500), (37, 41), (800, 750)] {
            let wt = build_w_tree(w, h);
            let q = build_q_tree(&wt);
            let mut cover = vec![0u8; w * h];
            for r in q.iter() {
                for y in r.y..r.y + r.h {
                    for x in r.x..r.x + r.w {
                        cover[y * w + x] += 1;
                    }
                }
            }
            assert!(cover.iter().all(|&c| c == 1), "{w}x{h}: every coefficient in exactly one subband");
        }
    }

    #[test]
    fn reflect_stays_in_range() {
        for len in 1..6 {
            for k in -20..20 {
                for (a, b) in [(true, true), (true, false), (false, true), (false, false)] {
                    assert!(reflect(k, len, a, b) < len);
                }
            }
        }
    }
}
