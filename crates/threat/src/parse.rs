//! CSV parsers for UCDP GED and ACLED, by their published column names.
//!
//! The format is detected from the header. Every row is validated on its own;
//! a bad row becomes a [`Rejected`] naming file, line and reason, never a panic.

use std::collections::HashMap;
use std::io::Read;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::event::{Event, EventKind, Source};

/// A row that was not accepted, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    pub file: String,
    /// 1-based line in the file where the row starts (0 when the file as a whole is bad).
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// What one file parsed into.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Parsed {
    pub file: String,
    pub source: Option<Source>,
    /// Data rows read (accepted + rejected).
    pub rows: u64,
    pub events: Vec<Event>,
    pub rejected: Vec<Rejected>,
    /// Line on which the last data row starts.
    #[serde(skip)]
    pub last_line: u64,
}

/// Earliest event date accepted (GED starts in 1989, ACLED in 1997).
pub fn min_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1989, 1, 1).expect("valid")
}

/// Latest event date accepted: a year after today (clock-skew slack), so a
/// date far in the future — a typo or a shifted column — is refused.
pub fn max_date() -> NaiveDate {
    chrono::Utc::now().date_naive() + chrono::Duration::days(366)
}

struct Cols {
    idx: HashMap<String, usize>,
    n: usize,
}

impl Cols {
    fn get(&self, name: &str) -> Option<usize> {
        self.idx.get(name).copied()
    }
}

/// Columns a GED file must have (any version).
pub const GED_REQUIRED: [&str; 9] =
    ["id", "type_of_violence", "where_prec", "latitude", "longitude", "date_prec", "date_start", "date_end", "best"];
/// Columns an ACLED export must have (older and newer exports alike).
pub const ACLED_REQUIRED: [&str; 8] =
    ["event_id_cnty", "event_date", "time_precision", "event_type", "latitude", "longitude", "geo_precision", "fatalities"];

/// Parse CSV from any reader (read whole; format detected from the header).
pub fn parse_reader<R: Read>(file: &str, mut reader: R) -> std::io::Result<Parsed> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes)?;
    Ok(parse_bytes(file, &bytes))
}

/// Parse a whole file's bytes (format detected from the header). `file` names it in the report.
///
/// A published export ends with a newline; a file that does not has been cut
/// short, so its last row is rejected even if it happens to parse.
pub fn parse_bytes(file: &str, bytes: &[u8]) -> Parsed {
    let mut out = parse_rows(file, bytes);
    let ends_ok = bytes.is_empty() || bytes.ends_with(b"\n") || bytes.ends_with(b"\r");
    if !ends_ok && out.source.is_some() && out.rows > 0 {
        let last_line = out.last_line;
        if out.events.len() as u64 + out.rejected.len() as u64 == out.rows
            && out.rejected.last().is_none_or(|r| r.line != last_line)
        {
            out.events.pop();
            out.rejected.push(Rejected {
                file: file.to_string(),
                line: last_line,
                reason: "the file does not end with a newline: its last row is truncated".into(),
            });
        }
    }
    out
}

fn parse_rows(file: &str, reader: &[u8]) -> Parsed {
    let mut out = Parsed { file: file.to_string(), ..Default::default() };
    let whole = |out: &mut Parsed, reason: String| out.rejected.push(Rejected { file: file.to_string(), line: 0, reason });
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(reader);
    let mut rec = csv::ByteRecord::new();
    let header = match rdr.read_byte_record(&mut rec) {
        Ok(true) => rec.clone(),
        Ok(false) => {
            whole(&mut out, "empty file: no header row".into());
            return out;
        }
        Err(e) => {
            whole(&mut out, format!("cannot read the header row: {e}"));
            return out;
        }
    };
    let mut idx = HashMap::new();
    for (i, h) in header.iter().enumerate() {
        let Ok(h) = std::str::from_utf8(h) else {
            whole(&mut out, format!("header column {} is not UTF-8", i + 1));
            return out;
        };
        let h = h.trim_start_matches('\u{feff}').trim().to_ascii_lowercase();
        idx.entry(h).or_insert(i);
    }
    let cols = Cols { idx, n: header.len() };
    let missing = |req: &[&'static str]| req.iter().filter(|c| cols.get(c).is_none()).copied().collect::<Vec<_>>();
    let source = if cols.get("event_id_cnty").is_some() {
        Source::Acled
    } else if cols.get("type_of_violence").is_some() || cols.get("where_prec").is_some() {
        Source::UcdpGed
    } else {
        whole(
            &mut out,
            "unrecognised header: neither a UCDP GED CSV (id, type_of_violence, where_prec, …) \
             nor an ACLED export (event_id_cnty, event_date, event_type, …)"
                .into(),
        );
        return out;
    };
    let req: &[&str] = match source {
        Source::UcdpGed => &GED_REQUIRED,
        Source::Acled => &ACLED_REQUIRED,
    };
    let m = missing(req);
    if !m.is_empty() {
        whole(&mut out, format!("{} header lacks required column(s): {}", source.as_str(), m.join(", ")));
        return out;
    }
    out.source = Some(source);
    let mut seen: HashMap<String, u64> = HashMap::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                out.rows += 1;
                let line = rec.position().map(|p| p.line()).unwrap_or(line);
                out.last_line = line;
                let res = if rec.len() != cols.n {
                    Err(format!(
                        "row has {} fields but the header has {} (truncated row or shifted columns)",
                        rec.len(),
                        cols.n
                    ))
                } else {
                    match source {
                        Source::UcdpGed => ged_row(&cols, &rec),
                        Source::Acled => acled_row(&cols, &rec),
                    }
                };
                match res.and_then(|ev| match seen.get(&ev.event_id) {
                    Some(first) => Err(format!("duplicate event id {} (first at line {first})", ev.event_id)),
                    None => Ok(ev),
                }) {
                    Ok(ev) => {
                        seen.insert(ev.event_id.clone(), line);
                        out.events.push(ev);
                    }
                    Err(reason) => out.rejected.push(Rejected { file: file.to_string(), line, reason }),
                }
            }
            Err(e) => {
                out.rows += 1;
                let line = e.position().map(|p| p.line()).unwrap_or(line);
                out.last_line = line;
                out.rejected.push(Rejected { file: file.to_string(), line, reason: format!("malformed CSV: {e}") });
                // A CSV syntax error leaves the reader's position unreliable: stop here.
                if !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) {
                    break;
                }
            }
        }
    }
    out
}

fn field<'a>(cols: &Cols, rec: &'a csv::ByteRecord, name: &str) -> Result<&'a str, String> {
    let Some(i) = cols.get(name) else { return Ok("") };
    let b = rec.get(i).unwrap_or(b"");
    std::str::from_utf8(b).map(str::trim).map_err(|_| format!("{name}: not valid UTF-8"))
}

fn required<'a>(cols: &Cols, rec: &'a csv::ByteRecord, name: &str) -> Result<&'a str, String> {
    let v = field(cols, rec, name)?;
    if v.is_empty() { Err(format!("{name}: missing value")) } else { Ok(v) }
}

fn int_code(cols: &Cols, rec: &csv::ByteRecord, name: &str, lo: u8, hi: u8) -> Result<u8, String> {
    let v = required(cols, rec, name)?;
    let n: f64 = v.parse().map_err(|_| format!("{name}: {v:?} is not a number"))?;
    if n.fract() != 0.0 || n < lo as f64 || n > hi as f64 {
        return Err(format!("{name}: {v:?} is not a precision/type code in {lo}..={hi}"));
    }
    Ok(n as u8)
}

fn count(cols: &Cols, rec: &csv::ByteRecord, name: &str) -> Result<u32, String> {
    let v = required(cols, rec, name)?;
    let n: f64 = v.parse().map_err(|_| format!("{name}: {v:?} is not a number"))?;
    if !(n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= 1e7) {
        return Err(format!("{name}: {v:?} is not a count of deaths (whole number >= 0)"));
    }
    Ok(n as u32)
}

fn coord(cols: &Cols, rec: &csv::ByteRecord, name: &str, lim: f64) -> Result<f64, String> {
    let v = required(cols, rec, name)?;
    let n: f64 = v.parse().map_err(|_| format!("{name}: {v:?} is not a number"))?;
    if !(n.is_finite() && (-lim..=lim).contains(&n)) {
        return Err(format!("{name}: {v} is outside the Earth (must be within -{lim}..={lim} degrees)"));
    }
    Ok(n)
}

/// GED dates: `YYYY-MM-DD`, optionally followed by a time (`2020-01-01 00:00:00.000`).
fn ged_date(cols: &Cols, rec: &csv::ByteRecord, name: &str) -> Result<NaiveDate, String> {
    let v = required(cols, rec, name)?;
    let head = v.get(..10).unwrap_or(v);
    let rest = v.get(10..).unwrap_or("");
    let ok_rest = rest.is_empty() || rest.starts_with(' ') || rest.starts_with('T');
    let d = NaiveDate::parse_from_str(head, "%Y-%m-%d")
        .ok()
        .filter(|_| ok_rest)
        .ok_or_else(|| format!("{name}: {v:?} is not a date (YYYY-MM-DD)"))?;
    in_range(name, d)
}

/// ACLED dates: `YYYY-MM-DD` (API/newer exports) or `DD Month YYYY` (export tool).
fn acled_date(cols: &Cols, rec: &csv::ByteRecord, name: &str) -> Result<NaiveDate, String> {
    let v = required(cols, rec, name)?;
    let d = ["%Y-%m-%d", "%d %B %Y", "%d-%B-%Y", "%d %b %Y", "%d-%b-%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(v, f).ok())
        .ok_or_else(|| format!("{name}: {v:?} is not a date (YYYY-MM-DD or DD Month YYYY)"))?;
    in_range(name, d)
}

fn in_range(name: &str, d: NaiveDate) -> Result<NaiveDate, String> {
    let (lo, hi) = (min_date(), max_date());
    if d < lo || d > hi {
        return Err(format!("{name}: {d} is out of range ({lo} ..= {hi})"));
    }
    Ok(d)
}

fn year_matches(cols: &Cols, rec: &csv::ByteRecord, d: NaiveDate) -> Result<(), String> {
    let y = field(cols, rec, "year")?;
    if y.is_empty() {
        return Ok(());
    }
    match y.parse::<i32>() {
        Ok(y) if y == d.year() => Ok(()),
        _ => Err(format!("year: {y:?} does not match the event date {d}")),
    }
}

fn ged_row(cols: &Cols, rec: &csv::ByteRecord) -> Result<Event, String> {
    let id = required(cols, rec, "id")?;
    let idn: f64 = id.parse().map_err(|_| format!("id: {id:?} is not a GED event id (a number)"))?;
    if !(idn.is_finite() && idn >= 0.0 && idn.fract() == 0.0) {
        return Err(format!("id: {id:?} is not a GED event id (a whole number)"));
    }
    let kind = EventKind::from_ged(int_code(cols, rec, "type_of_violence", 1, 3)?).expect("1..=3");
    let geo_prec = int_code(cols, rec, "where_prec", 1, 7)?;
    let date_prec = int_code(cols, rec, "date_prec", 1, 5)?;
    let lat = coord(cols, rec, "latitude", 90.0)?;
    let lon = coord(cols, rec, "longitude", 180.0)?;
    let date_start = ged_date(cols, rec, "date_start")?;
    let date_end = ged_date(cols, rec, "date_end")?;
    if date_end < date_start {
        return Err(format!("date_end {date_end} is before date_start {date_start}"));
    }
    year_matches(cols, rec, date_start).or_else(|e| year_matches(cols, rec, date_end).map_err(|_| e))?;
    let fatalities = count(cols, rec, "best")?;
    Ok(Event {
        source: crate::Source::UcdpGed,
        event_id: format!("{}", idn as u64),
        kind,
        date_start,
        date_end,
        date_prec,
        geo_prec,
        lat,
        lon,
        fatalities,
        location: field(cols, rec, "where_coordinates")?.to_string(),
        admin1: field(cols, rec, "adm_1")?.to_string(),
    })
}

fn acled_row(cols: &Cols, rec: &csv::ByteRecord) -> Result<Event, String> {
    let id = required(cols, rec, "event_id_cnty")?;
    if id.len() > 64 || id.chars().any(|c| c.is_control()) {
        return Err(format!("event_id_cnty: {id:?} is not an ACLED event id"));
    }
    let ty = required(cols, rec, "event_type")?;
    let kind = EventKind::from_acled(ty).ok_or_else(|| {
        format!(
            "event_type: {ty:?} is not an ACLED event type (Battles, Explosions/Remote violence, \
             Violence against civilians, Protests, Riots, Strategic developments)"
        )
    })?;
    let date = acled_date(cols, rec, "event_date")?;
    year_matches(cols, rec, date)?;
    let date_prec = int_code(cols, rec, "time_precision", 1, 3)?;
    let geo_prec = int_code(cols, rec, "geo_precision", 1, 3)?;
    let lat = coord(cols, rec, "latitude", 90.0)?;
    let lon = coord(cols, rec, "longitude", 180.0)?;
    let fatalities = count(cols, rec, "fatalities")?;
    Ok(Event {
        source: crate::Source::Acled,
        event_id: id.to_string(),
        kind,
        date_start: date,
        date_end: date,
        date_prec,
        geo_prec,
        lat,
        lon,
        fatalities,
        location: field(cols, rec, "location")?.to_string(),
        admin1: field(cols, rec, "admin1")?.to_string(),
    })
}
