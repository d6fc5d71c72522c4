//! ANSI/NIST-ITL 1-2011 traditional (binary/ASCII) encoding.
//!
//! A transaction is a Type-1 record followed by the records its field 1.003 (CNT) lists.
//! Tagged records (Types 1, 2, 9, 10, 13–17, 99, …) are `T.NNN:value` fields separated by
//! GS (0x1D) and ended by FS (0x1C); subfields are separated by RS (0x1E) and information
//! items by US (0x1F); field `T.001` gives the record's length in bytes and field `T.999`
//! holds binary data running to the end of the record. Binary records (Types 3–8) have a
//! fixed header starting with a 4-byte length. [`Transaction::parse`] keeps every field
//! and tag verbatim so that [`Transaction::to_bytes`] reproduces valid input byte for byte.
//!
//! Fingerprint images come out of Type-4 and Type-14 records ([`Transaction::finger_images`]),
//! minutiae out of Type-9 ([`Transaction::minutiae`]: the NIST standard fields 9.010–9.012
//! and the Extended Feature Set field 9.331).

use crate::bytes::Cursor;

pub const FS: u8 = 0x1C;
pub const GS: u8 = 0x1D;
pub const RS: u8 = 0x1E;
pub const US: u8 = 0x1F;

/// Largest number of records accepted in one transaction (guards the CNT field).
pub const MAX_RECORDS: usize = 10_000;

/// What went wrong, with the byte offset and (where known) the record and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ANSI/NIST-ITL: at byte {offset}{}: {what}", context.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
pub struct Error {
    pub offset: usize,
    /// e.g. "record 3 (Type-4)", "field 14.011".
    pub context: Option<String>,
    pub what: String,
}

fn err(offset: usize, context: impl Into<Option<String>>, what: impl Into<String>) -> Error {
    Error { offset, context: context.into(), what: what.into() }
}

/// One tagged field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The tag text as written (`"1.001"`, `"1.01"`, `"14.999"`), kept for round trips.
    pub tag: String,
    pub record_type: u32,
    pub number: u32,
    pub value: Vec<u8>,
    /// Byte offset of the tag in the input (0 for fields built in memory).
    pub offset: usize,
}

impl Field {
    pub fn new(record_type: u32, number: u32, value: impl Into<Vec<u8>>) -> Self {
        Field { tag: format!("{record_type}.{number:03}"), record_type, number, value: value.into(), offset: 0 }
    }
    /// The value as text (lossy for binary fields).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.value).into_owned()
    }
    /// Subfields, each split into information items.
    pub fn items(&self) -> Vec<Vec<String>> {
        self.value.split(|&b| b == RS).map(|s| s.split(|&b| b == US).map(|i| String::from_utf8_lossy(i).into_owned()).collect()).collect()
    }
}

/// The contents of one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Tagged(Vec<Field>),
    /// Types 3–8: the fixed header after the 4-byte length, then the data.
    Binary { header: Vec<u8>, data: Vec<u8> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub record_type: u32,
    /// Byte offset of the record in the input.
    pub offset: usize,
    pub body: Body,
}

impl Record {
    pub fn field(&self, number: u32) -> Option<&Field> {
        match &self.body {
            Body::Tagged(f) => f.iter().find(|f| f.number == number),
            Body::Binary { .. } => None,
        }
    }
    /// Information designation character (IDC): field T.002, or the byte after the length
    /// of a binary record.
    pub fn idc(&self) -> Option<u32> {
        match &self.body {
            Body::Tagged(_) => self.field(2).and_then(|f| f.text().trim().parse().ok()),
            Body::Binary { header, .. } => header.first().map(|&b| b as u32),
        }
    }
}

/// A whole transaction (file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    pub records: Vec<Record>,
}

/// Length of the fixed header of each binary record type, after the 4-byte length.
fn binary_header_len(t: u32) -> Option<usize> {
    match t {
        3..=6 => Some(14), // IDC, IMP, FGP[6], ISR, HLL, VLL, GCA (18 bytes with LEN)
        7 => Some(1),      // IDC, then user-defined data
        8 => Some(8),      // IDC, SIG, SRT, ISR, HLL, VLL (12 bytes with LEN)
        _ => None,
    }
}

fn parse_tagged(data: &[u8], start: usize, expect_type: u32, ctx: &str) -> Result<(Record, usize), Error> {
    // The first field is T.001:LEN, which we must read before knowing the record's extent.
    let head_end = data[start..].iter().take(32).position(|&b| b == GS || b == FS).map(|p| start + p).ok_or_else(|| {
        err(start, ctx.to_string(), "no field separator within the first 32 bytes: not a tagged record")
    })?;
    let head = &data[start..head_end];
    let colon = head.iter().position(|&b| b == b':').ok_or_else(|| err(start, ctx.to_string(), "first field has no ':' after its tag"))?;
    let (ty, num) = parse_tag(&head[..colon]).ok_or_else(|| {
        err(start, ctx.to_string(), format!("first tag {:?} is not T.NNN", String::from_utf8_lossy(&head[..colon])))
    })?;
    if num != 1 {
        return Err(err(start, ctx.to_string(), format!("first field is {ty}.{num:03}, expected the record length {ty}.001")));
    }
    if ty != expect_type {
        return Err(err(start, ctx.to_string(), format!("record is Type-{ty}, the file content list (1.003) says Type-{expect_type}")));
    }
    let len_txt = std::str::from_utf8(&head[colon + 1..]).ok().map(str::trim).unwrap_or("");
    let len: usize = len_txt
        .parse()
        .map_err(|_| err(start + colon + 1, format!("{ctx}, field {ty}.001"), format!("record length {len_txt:?} is not a number")))?;
    if len < head.len() + 1 {
        return Err(err(start + colon + 1, format!("{ctx}, field {ty}.001"), format!("record length {len} is shorter than its own length field")));
    }
    if start + len > data.len() {
        return Err(err(
            start + colon + 1,
            format!("{ctx}, field {ty}.001"),
            format!("record length {len} runs past the end of the file ({} bytes left)", data.len() - start),
        ));
    }
    let end = start + len;
    if data[end - 1] != FS {
        return Err(err(end - 1, ctx.to_string(), format!("record of length {len} does not end with the FS separator (0x1C)")));
    }
    let body = &data[start..end - 1];
    let mut fields = Vec::new();
    let mut pos = 0usize;
    while pos < body.len() {
        let at = start + pos;
        let rest = &body[pos..];
        let colon = rest.iter().take(16).position(|&b| b == b':').ok_or_else(|| err(at, ctx.to_string(), "field without a 'T.NNN:' tag"))?;
        let tag = &rest[..colon];
        let (fty, fnum) = parse_tag(tag).ok_or_else(|| err(at, ctx.to_string(), format!("bad tag {:?}", String::from_utf8_lossy(tag))))?;
        if fty != ty {
            return Err(err(at, ctx.to_string(), format!("field {fty}.{fnum:03} inside a Type-{ty} record")));
        }
        if fnum == 1 && !fields.is_empty() {
            return Err(err(at, ctx.to_string(), format!("second length field {fty}.001")));
        }
        let vstart = pos + colon + 1;
        // T.999 is binary and runs to the end of the record
        let vend = if fnum == 999 { body.len() } else { body[vstart..].iter().position(|&b| b == GS).map_or(body.len(), |p| vstart + p) };
        // FS ends a record: one inside a text field means the record's length and its
        // separators disagree (the value would not survive a round trip).
        if let Some(p) = body[vstart..vend].iter().position(|&b| b == FS).filter(|_| fnum != 999) {
            return Err(err(
                start + vstart + p,
                format!("{ctx}, field {fty}.{fnum:03}"),
                format!("FS separator (0x1C) inside the field, before the record's declared end at byte {end}"),
            ));
        }
        fields.push(Field {
            tag: String::from_utf8_lossy(tag).into_owned(),
            record_type: fty,
            number: fnum,
            value: body[vstart..vend].to_vec(),
            offset: at,
        });
        pos = vend + 1; // skip GS (or step past the end)
        if pos == body.len() && vend < body.len() {
            return Err(err(start + vend, ctx.to_string(), "empty field: GS separator right before the record's FS"));
        }
    }
    Ok((Record { record_type: ty, offset: start, body: Body::Tagged(fields) }, end))
}

fn parse_tag(t: &[u8]) -> Option<(u32, u32)> {
    let s = std::str::from_utf8(t).ok()?;
    let (a, b) = s.split_once('.')?;
    if a.is_empty() || b.is_empty() || a.len() > 3 || b.len() > 3 || !a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((a.parse().ok()?, b.parse().ok()?))
}

impl Transaction {
    /// Parses a traditional-encoding transaction. Every defect is an [`Error`] with the byte
    /// offset, the record and the field.
    pub fn parse(data: &[u8]) -> Result<Self, Error> {
        if data.is_empty() {
            return Err(err(0, None, "empty file"));
        }
        if !data.starts_with(b"1.") {
            return Err(err(0, None, format!("starts with {:02x?}, expected a Type-1 record (\"1.001:\")", &data[..data.len().min(4)])));
        }
        let (t1, mut pos) = parse_tagged(data, 0, 1, "record 1 (Type-1)")?;
        let cnt = t1.field(3).ok_or_else(|| err(0, "record 1 (Type-1)".to_string(), "no field 1.003 (file content)"))?.clone();
        let cnt_ctx = || format!("record 1 (Type-1), field {}", cnt.tag);
        let items = cnt.items();
        let declared: usize = items
            .first()
            .and_then(|f| f.get(1))
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| err(cnt.offset, cnt_ctx(), "first subfield must be 1<US>count"))?;
        if declared != items.len() - 1 {
            return Err(err(cnt.offset, cnt_ctx(), format!("says {declared} records follow but lists {}", items.len() - 1)));
        }
        if declared > MAX_RECORDS {
            return Err(err(cnt.offset, cnt_ctx(), format!("{declared} records is more than the {MAX_RECORDS} accepted")));
        }
        let mut records = vec![t1];
        for (k, it) in items.iter().enumerate().skip(1) {
            let ty: u32 = it
                .first()
                .and_then(|t| t.trim().parse().ok())
                .ok_or_else(|| err(cnt.offset, cnt_ctx(), format!("subfield {} has no record type", k + 1)))?;
            let ctx = format!("record {} (Type-{ty})", k + 1);
            if pos >= data.len() {
                return Err(err(pos, ctx, format!("file ends before record {} of {}", k, declared)));
            }
            if let Some(hlen) = binary_header_len(ty) {
                let mut c = Cursor::with_base(&data[pos..], pos);
                let len = c.u32().map_err(|e| err(e.offset, ctx.clone(), "truncated 4-byte record length"))? as usize;
                if len < 4 + hlen {
                    return Err(err(pos, ctx, format!("record length {len} is shorter than the {}-byte Type-{ty} header", 4 + hlen)));
                }
                if len > data.len() - pos {
                    return Err(err(pos, ctx, format!("record length {len} runs past the end of the file ({} bytes left)", data.len() - pos)));
                }
                let header = data[pos + 4..pos + 4 + hlen].to_vec();
                let body = data[pos + 4 + hlen..pos + len].to_vec();
                records.push(Record { record_type: ty, offset: pos, body: Body::Binary { header, data: body } });
                pos += len;
            } else {
                let (r, end) = parse_tagged(data, pos, ty, &ctx)?;
                records.push(r);
                pos = end;
            }
        }
        if pos != data.len() {
            return Err(err(pos, None, format!("{} bytes after the last record listed in 1.003", data.len() - pos)));
        }
        Ok(Transaction { records })
    }

    /// Serialises every record; lengths (T.001 and binary lengths) are recomputed, and a
    /// length field already right is written as it was.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for r in &self.records {
            match &r.body {
                Body::Binary { header, data } => {
                    out.extend_from_slice(&((4 + header.len() + data.len()) as u32).to_be_bytes());
                    out.extend_from_slice(header);
                    out.extend_from_slice(data);
                }
                Body::Tagged(fields) => {
                    let mut rest = Vec::new();
                    for f in fields.iter().filter(|f| f.number != 1) {
                        rest.push(GS);
                        rest.extend_from_slice(f.tag.as_bytes());
                        rest.push(b':');
                        rest.extend_from_slice(&f.value);
                    }
                    rest.push(FS);
                    let len_field = fields.iter().find(|f| f.number == 1);
                    let tag = len_field.map(|f| f.tag.clone()).unwrap_or_else(|| format!("{}.001", r.record_type));
                    let fixed = tag.len() + 1 + rest.len();
                    let old = len_field.map(|f| f.text()).unwrap_or_default();
                    let len_txt = if old.trim().parse::<usize>().ok() == Some(fixed + old.len()) {
                        old
                    } else {
                        let mut digits = 1;
                        while (fixed + digits).to_string().len() != digits {
                            digits += 1;
                        }
                        (fixed + digits).to_string()
                    };
                    out.extend_from_slice(tag.as_bytes());
                    out.push(b':');
                    out.extend_from_slice(len_txt.as_bytes());
                    out.extend_from_slice(&rest);
                }
            }
        }
        out
    }

    /// Native scanning resolution from field 1.011 (pixels per mm), if given and non-zero.
    pub fn native_resolution_ppmm(&self) -> Option<f64> {
        self.records.first()?.field(11)?.text().trim().parse::<f64>().ok().filter(|v| *v > 0.0)
    }

    /// Fingerprint images of Type-4 and Type-14 records.
    pub fn finger_images(&self) -> Result<Vec<FingerImage>, Error> {
        let mut out = Vec::new();
        for (k, r) in self.records.iter().enumerate() {
            let ctx = format!("record {} (Type-{})", k + 1, r.record_type);
            match (&r.body, r.record_type) {
                (Body::Binary { header, data }, 4) => {
                    let h = header;
                    let isr = h[8];
                    let ppi = if isr == 0 { 500.0 } else { self.native_resolution_ppmm().map_or(500.0, |p| p * 25.4) };
                    let compression = match h[13] {
                        0 => Compression::None,
                        1 => Compression::Wsq,
                        2 => Compression::Jpeg,
                        other => Compression::Other(format!("GCA {other}")),
                    };
                    out.push(FingerImage {
                        record: k,
                        record_type: 4,
                        idc: h[0] as u32,
                        impression: h[1] as u32,
                        positions: h[2..8].iter().copied().filter(|&p| p != 255).collect(),
                        width: u16::from_be_bytes([h[9], h[10]]) as u32,
                        height: u16::from_be_bytes([h[11], h[12]]) as u32,
                        ppi: ppi.round() as u32,
                        bits_per_pixel: 8,
                        compression,
                        data: data.clone(),
                    });
                }
                (Body::Tagged(_), 14) => {
                    let num = |n: u32, what: &str| -> Result<u32, Error> {
                        let f = r.field(n).ok_or_else(|| err(r.offset, ctx.clone(), format!("missing field 14.{n:03} ({what})")))?;
                        let t = f.text();
                        t.trim().parse().map_err(|_| err(f.offset, format!("{ctx}, field {}", f.tag), format!("{what} {t:?} is not a number")))
                    };
                    let (w, h) = (num(6, "horizontal line length")?, num(7, "vertical line length")?);
                    let slc = num(8, "scale units")?;
                    let hps = num(9, "horizontal pixel scale")?;
                    let ppi = match slc {
                        1 => hps as f64,
                        2 => hps as f64 * 2.54,
                        _ => 500.0,
                    };
                    let cga = r.field(11).map(|f| f.text().trim().to_ascii_uppercase()).unwrap_or_else(|| "NONE".into());
                    let compression = match cga.as_str() {
                        "NONE" => Compression::None,
                        "WSQ20" | "WSQ" => Compression::Wsq,
                        "JPEGB" | "JPEGL" => Compression::Jpeg,
                        "PNG" => Compression::Png,
                        other => Compression::Other(other.to_string()),
                    };
                    let bpx = r.field(12).and_then(|f| f.text().trim().parse().ok()).unwrap_or(8);
                    let positions = r.field(13).map(|f| f.items().iter().filter_map(|s| s.first()?.trim().parse().ok()).collect()).unwrap_or_default();
                    let data = r.field(999).ok_or_else(|| err(r.offset, ctx.clone(), "missing field 14.999 (image data)"))?.value.clone();
                    out.push(FingerImage {
                        record: k,
                        record_type: 14,
                        idc: r.idc().unwrap_or(0),
                        impression: r.field(3).and_then(|f| f.text().trim().parse().ok()).unwrap_or(0),
                        positions,
                        width: w,
                        height: h,
                        ppi: ppi.round() as u32,
                        bits_per_pixel: bpx,
                        compression,
                        data,
                    });
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// Minutiae of every Type-9 record that has NIST standard minutiae (9.012) or EFS
    /// minutiae (9.331).
    pub fn minutiae(&self) -> Result<Vec<Type9Minutiae>, Error> {
        let mut out = Vec::new();
        for (k, r) in self.records.iter().enumerate() {
            if r.record_type != 9 {
                continue;
            }
            let ctx = |f: &Field| format!("record {} (Type-9), field {}", k + 1, f.tag);
            let position = r.field(6).and_then(|f| f.items().first()?.first()?.trim().parse().ok()).unwrap_or(0);
            let mut set = Type9Minutiae { record: k, idc: r.idc().unwrap_or(0), position, origin: Origin::BottomLeft, minutiae: Vec::new() };
            if let Some(f) = r.field(12) {
                for (i, sub) in f.items().iter().enumerate().filter(|_| !f.value.is_empty()) {
                    let bad = |what: String| err(f.offset, ctx(f), format!("minutia {}: {what}", i + 1));
                    let xyt = sub.get(1).ok_or_else(|| bad("no XXXXYYYYTTT item".into()))?;
                    // 11 digits XXXXYYYYTTT (fingers) or 13 digits XXXXXYYYYYTTT (palms)
                    let d = match xyt.len() {
                        11 => 4,
                        13 => 5,
                        _ => usize::MAX,
                    };
                    if d == usize::MAX || !xyt.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(bad(format!("position {xyt:?} is not XXXXYYYYTTT or XXXXXYYYYYTTT digits")));
                    }
                    let (x, y, t) = (xyt[0..d].parse().unwrap_or(0), xyt[d..2 * d].parse().unwrap_or(0), xyt[2 * d..].parse::<u16>().unwrap_or(0));
                    if t >= 360 {
                        return Err(bad(format!("direction {t} is not below 360 degrees")));
                    }
                    let quality = sub.get(2).and_then(|q| q.trim().parse().ok()).unwrap_or(0);
                    let kind = match sub.get(3).map(|s| s.trim()) {
                        Some("A") => Type9Kind::Ending,
                        Some("B") => Type9Kind::Bifurcation,
                        Some("C") => Type9Kind::Compound,
                        _ => Type9Kind::Other,
                    };
                    set.minutiae.push(Type9Minutia { x, y, theta: t, quality, kind });
                }
            } else if let Some(f) = r.field(331) {
                set.origin = Origin::TopLeft;
                for (i, sub) in f.items().iter().enumerate().filter(|_| !f.value.is_empty()) {
                    let bad = |what: String| err(f.offset, ctx(f), format!("minutia {}: {what}", i + 1));
                    let n = |j: usize, what: &str| -> Result<u32, Error> {
                        sub.get(j).and_then(|v| v.trim().parse().ok()).ok_or_else(|| bad(format!("{what} missing or not a number")))
                    };
                    let (x, y, t) = (n(0, "x")?, n(1, "y")?, n(2, "theta")?);
                    // 360 occurs in real EFS data (NIST's own test files) and means 0
                    if t > 360 {
                        return Err(bad(format!("direction {t} is above 360 degrees")));
                    }
                    let t = t % 360;
                    let kind = match sub.get(3).map(|s| s.trim()) {
                        Some("E") => Type9Kind::Ending,
                        Some("B") => Type9Kind::Bifurcation,
                        _ => Type9Kind::Other,
                    };
                    set.minutiae.push(Type9Minutia { x, y, theta: t as u16, quality: 0, kind });
                }
            } else {
                continue;
            }
            out.push(set);
        }
        Ok(out)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Wsq,
    Jpeg,
    Png,
    Other(String),
}

/// A fingerprint image taken out of a Type-4 or Type-14 record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FingerImage {
    /// Index of the record in the transaction.
    pub record: usize,
    pub record_type: u32,
    pub idc: u32,
    pub impression: u32,
    /// Finger position codes (1–10 single fingers, 13–15 slaps, 0 unknown).
    pub positions: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub ppi: u32,
    pub bits_per_pixel: u32,
    pub compression: Compression,
    pub data: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type9Kind {
    Ending,
    Bifurcation,
    Compound,
    Other,
}

/// Coordinate origin of a Type-9 minutiae set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// NIST standard fields (9.012): y grows upwards from the bottom of the image.
    BottomLeft,
    /// EFS (9.331): y grows downwards from the top.
    TopLeft,
}

/// A minutia in Type-9 units: x, y in 0.01 mm, direction in degrees counter-clockwise
/// from the x axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Type9Minutia {
    pub x: u32,
    pub y: u32,
    pub theta: u16,
    pub quality: u32,
    pub kind: Type9Kind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Type9Minutiae {
    pub record: usize,
    pub idc: u32,
    pub position: u8,
    pub origin: Origin,
    pub minutiae: Vec<Type9Minutia>,
}

/// Builds a transaction holding a Type-1 and one Type-9 record per minutiae set (NIST
/// standard fields 9.001–9.012, coordinates in 0.01 mm from the bottom-left corner).
/// `date` is `YYYYMMDD`.
pub fn type9_transaction(sets: &[Type9Minutiae], date: &str) -> Transaction {
    let sep = |v: Vec<Vec<String>>| -> Vec<u8> {
        let mut out = Vec::new();
        for (i, sub) in v.iter().enumerate() {
            if i > 0 {
                out.push(RS);
            }
            for (j, it) in sub.iter().enumerate() {
                if j > 0 {
                    out.push(US);
                }
                out.extend_from_slice(it.as_bytes());
            }
        }
        out
    };
    let mut cnt = vec![vec!["1".to_string(), sets.len().to_string()]];
    for (k, _) in sets.iter().enumerate() {
        cnt.push(vec!["9".into(), format!("{:02}", k + 1)]);
    }
    let t1 = Record {
        record_type: 1,
        offset: 0,
        body: Body::Tagged(vec![
            Field::new(1, 1, "0"),
            Field::new(1, 2, "0500"),
            Field::new(1, 3, sep(cnt)),
            Field::new(1, 4, "MINU"),
            Field::new(1, 5, date),
            Field::new(1, 7, "SALLYPORT"),
            Field::new(1, 8, "SALLYPORT"),
            Field::new(1, 9, "SALLYPORT-CONVERT"),
            Field::new(1, 11, "19.69"),
            Field::new(1, 12, "19.69"),
        ]),
    };
    let mut records = vec![t1];
    for (k, s) in sets.iter().enumerate() {
        let mrc: Vec<Vec<String>> = s
            .minutiae
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let kind = match m.kind {
                    Type9Kind::Ending => "A",
                    Type9Kind::Bifurcation => "B",
                    Type9Kind::Compound => "C",
                    Type9Kind::Other => "D",
                };
                vec![format!("{:03}", i + 1), format!("{:04}{:04}{:03}", m.x.min(9999), m.y.min(9999), m.theta % 360), m.quality.to_string(), kind.into()]
            })
            .collect();
        records.push(Record {
            record_type: 9,
            offset: 0,
            body: Body::Tagged(vec![
                Field::new(9, 1, "0"),
                Field::new(9, 2, format!("{:02}", k + 1)),
                Field::new(9, 3, "0"),
                Field::new(9, 4, "S"),
                Field::new(9, 5, sep(vec![vec!["SALLYPORT".into(), "U".into()]])),
                Field::new(9, 6, format!("{:02}", s.position)),
                Field::new(9, 7, sep(vec![vec!["T".into(), "UN".into()]])),
                Field::new(9, 10, s.minutiae.len().to_string()),
                Field::new(9, 11, "0"),
                Field::new(9, 12, sep(mrc)),
            ]),
        });
    }
    Transaction { records }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Transaction {
        let set = Type9Minutiae {
            record: 1,
            idc: 1,
            position: 2,
            origin: Origin::BottomLeft,
            minutiae: vec![
                Type9Minutia { x: 1320, y: 715, theta: 248, quality: 0, kind: Type9Kind::Ending },
                Type9Minutia { x: 228, y: 918, theta: 78, quality: 40, kind: Type9Kind::Bifurcation },
            ],
        };
        type9_transaction(&[set], "20261125")
    }

    #[test]
    fn built_transaction_parses_back() {
        let t = sample();
        let b = t.to_bytes();
        let p = Transaction::parse(&b).unwrap();
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.to_bytes(), b);
        let m = p.minutiae().unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].minutiae, t.minutiae().unwrap()[0].minutiae);
        assert_eq!(m[0].minutiae[0], Type9Minutia { x: 1320, y: 715, theta: 248, quality: 0, kind: Type9Kind::Ending });
        // record lengths are right
        let len1: usize = p.records[0].field(1).unwrap().text().parse().unwrap();
        assert_eq!(p.records[1].offset, len1);
    }

    #[test]
    fn lying_lengths_are_located() {
        let b = sample().to_bytes();
        let t1_len: usize = Transaction::parse(&b).unwrap().records[0].field(1).unwrap().text().parse().unwrap();
        // Type-9 length one too long → runs past the end
        let mut lie = b.clone();
        let s = String::from_utf8_lossy(&lie[t1_len..t1_len + 12]).to_string();
        let n: usize = s[6..s.find('\u{1d}').unwrap()].parse().unwrap();
        let new = (n + 1).to_string();
        assert_eq!(new.len(), n.to_string().len());
        lie[t1_len + 6..t1_len + 6 + new.len()].copy_from_slice(new.as_bytes());
        let e = Transaction::parse(&lie).unwrap_err();
        assert_eq!(e.offset, t1_len + 6, "{e}");
        assert!(e.to_string().contains("Type-9"), "{e}");
        // truncated
        let e = Transaction::parse(&b[..b.len() - 1]).unwrap_err();
        assert!(e.to_string().contains("past the end"), "{e}");
        // wrong magic
        assert_eq!(Transaction::parse(b"FMR\0 20\0").unwrap_err().offset, 0);
    }
}
