//! All-or-nothing import and exact export of sites, people and fleet (CSV, JSON).
//!
//! Every file is untrusted. Import streams the file, checks each record
//! (types, domain rules, duplicates, references to stored agencies and sites)
//! and writes in batches inside ONE transaction: the first error rolls back
//! everything, so a bad file changes nothing. Errors name the file, the line
//! (CSV) or element (JSON), the column and the rule broken.
//!
//! Formats are flat records, one per row/element; columns are listed by
//! [`Kind::columns`]. Export writes the same formats, so export → import →
//! export reproduces the bytes.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use chrono::NaiveTime;
use sallyport_core::person::{Alias, ApproxDate, Identity, Medical};
use sallyport_core::{
    AgencyId, Aircraft, AircraftTypeId, AvailabilityWindow, Category, CountryCode, DomainError, EscortNeed, LatLon,
    LegalStatus, OperatingHours, Person, PersonId, RiskClass, Sex, Site, SiteId, SiteKind, TailNumber,
};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Row};

use crate::domain::{
    insert_aircraft, insert_people_json, insert_people_rows, insert_sites, join_groups, people_json, split_groups, PeopleRows, RowsError,
    PEOPLE_BATCH, PEOPLE_COLUMNS,
};
use crate::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    /// From a file name's extension.
    pub fn from_path(p: &Path) -> Option<Format> {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sites,
    People,
    Fleet,
}

impl Kind {
    /// The CSV header (and JSON field names), in order.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Kind::Sites => &[
                "id", "name", "kind", "lat", "lon", "population", "holding_capacity", "daily_intake_capacity",
                "open", "close", "refuel", "runway", "operator", "source",
            ],
            Kind::People => &[
                "id", "name_ar", "name_latin", "aliases", "date_of_birth", "sex", "nationality", "category", "risk",
                "separation_groups", "fit_to_fly", "escort", "legal_status", "custodian", "site",
            ],
            Kind::Fleet => &["tail", "type", "base", "availability"],
        }
    }
}

/// Why an import failed, and where.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}{}: {rule}", .at.as_deref().map(|a| format!(":{a}")).unwrap_or_default(), .column.as_deref().map(|c| format!(": column {c}")).unwrap_or_default())]
pub struct ImportError {
    pub file: String,
    /// `line N` (CSV) or `element N` (JSON); `None` for whole-file problems.
    pub at: Option<String>,
    pub column: Option<String>,
    pub rule: String,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub records: u64,
}

/// Bytes looked at before parsing, to refuse binary garbage early.
const SNIFF: usize = 64 * 1024;

// ---- flat records -------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteRecord {
    id: String,
    name: String,
    kind: String,
    lat: f64,
    lon: f64,
    population: u32,
    holding_capacity: u32,
    daily_intake_capacity: Option<u32>,
    open: Option<String>,
    close: Option<String>,
    refuel: bool,
    runway: bool,
    operator: String,
    source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonRecord {
    id: String,
    name_ar: String,
    name_latin: String,
    /// `arabic|latin;arabic|latin`
    aliases: String,
    date_of_birth: String,
    sex: String,
    nationality: String,
    category: String,
    risk: String,
    /// `G-1;G-2`
    separation_groups: String,
    fit_to_fly: bool,
    escort: String,
    legal_status: String,
    custodian: String,
    site: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AircraftRecord {
    tail: String,
    #[serde(rename = "type")]
    type_id: String,
    base: String,
    /// `FROM/TO;FROM/TO` in RFC 3339.
    availability: String,
}

/// A column-named domain error.
struct Bad {
    column: String,
    rule: String,
}

impl From<DomainError> for Bad {
    fn from(e: DomainError) -> Bad {
        let column = e.field.split(['.', '[']).next().unwrap_or_default().to_string();
        Bad { column, rule: if e.field.contains('.') || e.field.contains('[') { format!("{}: {}", e.field, e.rule) } else { e.rule } }
    }
}

fn col<T>(column: &str, r: Result<T, DomainError>) -> Result<T, Bad> {
    r.map_err(|e| Bad { column: column.to_string(), rule: e.rule })
}

fn fmt_hours(t: NaiveTime) -> String {
    t.format("%H:%M:%S").to_string()
}

impl SiteRecord {
    fn from_site(s: &Site) -> Self {
        SiteRecord {
            id: s.id.to_string(),
            name: s.name.clone(),
            kind: s.kind.as_str().into(),
            lat: s.position.lat(),
            lon: s.position.lon(),
            population: s.population,
            holding_capacity: s.holding_capacity,
            daily_intake_capacity: s.daily_intake_capacity,
            open: s.operating_hours.map(|h| fmt_hours(h.open)),
            close: s.operating_hours.map(|h| fmt_hours(h.close)),
            refuel: s.refuel,
            runway: s.runway,
            operator: s.operator.to_string(),
            source: s.source.clone(),
        }
    }

    fn into_site(self) -> Result<Site, Bad> {
        let time = |c: &str, v: &str| {
            NaiveTime::parse_from_str(v, "%H:%M:%S").map_err(|_| Bad { column: c.into(), rule: format!("{v:?} is not HH:MM:SS") })
        };
        let operating_hours = match (self.open.as_deref(), self.close.as_deref()) {
            (None, None) => None,
            (Some(o), Some(c)) => Some(OperatingHours { open: time("open", o)?, close: time("close", c)? }),
            _ => return Err(Bad { column: "close".into(), rule: "open and close go together".into() }),
        };
        let site = Site {
            id: col("id", SiteId::new(self.id))?,
            name: self.name,
            kind: col("kind", parse_site_kind(&self.kind))?,
            position: LatLon::new(self.lat, self.lon)?,
            population: self.population,
            holding_capacity: self.holding_capacity,
            daily_intake_capacity: self.daily_intake_capacity,
            operating_hours,
            refuel: self.refuel,
            runway: self.runway,
            operator: col("operator", AgencyId::new(self.operator))?,
            source: self.source,
        };
        site.validate()?;
        Ok(site)
    }
}

fn parse_site_kind(s: &str) -> Result<SiteKind, DomainError> {
    SiteKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
        let all: Vec<_> = SiteKind::ALL.iter().map(|k| k.as_str()).collect();
        DomainError::new("kind", format!("unknown value {s:?}; expected one of: {}", all.join(", ")))
    })
}

impl PersonRecord {
    fn from_person(p: &Person) -> Self {
        let aliases = p.identity.aliases.iter().map(|a| format!("{}|{}", a.name_ar, a.name_latin)).collect::<Vec<_>>().join(";");
        PersonRecord {
            id: p.id.to_string(),
            name_ar: p.identity.name_ar.clone(),
            name_latin: p.identity.name_latin.clone(),
            aliases,
            date_of_birth: p.identity.date_of_birth.to_string(),
            sex: p.identity.sex.as_str().into(),
            nationality: p.identity.nationality.to_string(),
            category: p.category.as_str().into(),
            risk: p.risk.as_str().into(),
            separation_groups: join_groups(&p.separation_groups),
            fit_to_fly: p.medical.fit_to_fly,
            escort: p.medical.escort.as_str().into(),
            legal_status: p.legal_status.as_str().into(),
            custodian: p.custodian.to_string(),
            site: p.site.to_string(),
        }
    }

    fn into_person(self, on: chrono::NaiveDate) -> Result<Person, Bad> {
        let aliases = self
            .aliases
            .split(';')
            .filter(|a| !a.is_empty())
            .map(|a| match a.split_once('|') {
                Some((ar, la)) => Ok(Alias { name_ar: ar.into(), name_latin: la.into() }),
                None => Err(Bad { column: "aliases".into(), rule: format!("{a:?} is not ARABIC|LATIN") }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let person = Person {
            id: col("id", PersonId::new(self.id))?,
            identity: Identity {
                name_ar: self.name_ar,
                name_latin: self.name_latin,
                aliases,
                date_of_birth: col("date_of_birth", ApproxDate::parse(&self.date_of_birth))?,
                sex: col("sex", Sex::parse(&self.sex))?,
                nationality: col("nationality", CountryCode::new(&self.nationality))?,
            },
            category: col("category", Category::parse(&self.category))?,
            risk: col("risk", RiskClass::parse(&self.risk))?,
            separation_groups: col("separation_groups", split_groups(&self.separation_groups))?,
            medical: Medical { fit_to_fly: self.fit_to_fly, escort: col("escort", EscortNeed::parse(&self.escort))? },
            legal_status: col("legal_status", LegalStatus::parse(&self.legal_status))?,
            custodian: col("custodian", AgencyId::new(self.custodian))?,
            site: col("site", SiteId::new(self.site))?,
        };
        person.validate(on).map_err(|e| {
            let column = match e.field.as_str() {
                f if f.starts_with("identity.aliases") => "aliases",
                f if f.starts_with("identity.") => f.trim_start_matches("identity."),
                f => f,
            }
            .split('.')
            .next()
            .unwrap_or_default()
            .to_string();
            Bad { column, rule: e.rule }
        })?;
        Ok(person)
    }
}

impl AircraftRecord {
    fn from_aircraft(a: &Aircraft) -> Self {
        let availability = a
            .availability
            .iter()
            .map(|w| format!("{}/{}", w.from.to_rfc3339(), w.to.to_rfc3339()))
            .collect::<Vec<_>>()
            .join(";");
        AircraftRecord { tail: a.tail.to_string(), type_id: a.type_id.to_string(), base: a.base.to_string(), availability }
    }

    fn into_aircraft(self) -> Result<Aircraft, Bad> {
        let bad = |w: &str| Bad { column: "availability".into(), rule: format!("{w:?} is not FROM/TO in RFC 3339") };
        let availability = self
            .availability
            .split(';')
            .filter(|w| !w.is_empty())
            .map(|w| {
                let (f, t) = w.split_once('/').ok_or_else(|| bad(w))?;
                let p = |s: &str| chrono::DateTime::parse_from_rfc3339(s).map(|d| d.to_utc()).map_err(|_| bad(w));
                Ok(AvailabilityWindow { from: p(f)?, to: p(t)? })
            })
            .collect::<Result<Vec<_>, Bad>>()?;
        let a = Aircraft {
            tail: col("tail", TailNumber::new(self.tail))?,
            type_id: col("type", AircraftTypeId::new(self.type_id))?,
            base: col("base", SiteId::new(self.base))?,
            availability,
        };
        a.validate().map_err(|e| Bad { column: "availability".into(), rule: e.rule })?;
        Ok(a)
    }
}

// ---- reading ------------------------------------------------------------

/// Where a record is in its file: `line N` (CSV) or `element N` (JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum At {
    Line(u64),
    Element(usize),
}

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Line(n) => write!(f, "line {n}"),
            At::Element(n) => write!(f, "element {n}"),
        }
    }
}

/// One record read from a file, with where it came from.
struct Located<T> {
    at: At,
    value: T,
}

/// Streams records out of a CSV or JSON file.
enum Records<R: BufRead> {
    Csv { reader: csv::Reader<R>, record: csv::ByteRecord, headers: Vec<String>, header_record: csv::ByteRecord },
    Json { items: std::vec::IntoIter<serde_json::Value>, index: usize },
}

impl<R: BufRead> Records<R> {
    fn open(mut input: R, format: Format, kind: Kind, err: &dyn Fn(Option<String>, Option<String>, String) -> ImportError) -> Result<Self, ImportError> {
        let head = input.fill_buf().map_err(|e| err(None, None, format!("cannot read: {e}")))?;
        let head = &head[..head.len().min(SNIFF)];
        if head.is_empty() {
            return Err(err(None, None, "file is empty".into()));
        }
        if let Some(pos) = head.iter().position(|&b| b == 0) {
            return Err(err(None, None, format!("not a text file: NUL byte at offset {pos}")));
        }
        match format {
            Format::Csv => {
                if head.len() == SNIFF && !head.contains(&b'\n') {
                    return Err(err(None, None, format!("no line break in the first {SNIFF} bytes: not a CSV file")));
                }
                let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(input);
                let raw = reader.byte_headers().map_err(|e| err(Some("line 1".into()), None, e.to_string()))?.clone();
                let headers: Vec<String> = raw.iter().map(|h| String::from_utf8_lossy(h).trim_start_matches('\u{feff}').to_string()).collect();
                let expected = kind.columns();
                if headers != expected {
                    return Err(err(
                        Some("line 1".into()),
                        None,
                        format!("header must be exactly `{}`, found `{}`", expected.join(","), headers.join(",")),
                    ));
                }
                let header_record = csv::ByteRecord::from(headers.clone());
                Ok(Records::Csv { reader, record: csv::ByteRecord::new(), headers, header_record })
            }
            Format::Json => {
                let value: serde_json::Value = serde_json::from_reader(input).map_err(|e| {
                    let at = (e.line() > 0).then(|| format!("line {} column {}", e.line(), e.column()));
                    err(at, None, format!("invalid JSON: {e}"))
                })?;
                match value {
                    serde_json::Value::Array(items) => Ok(Records::Json { items: items.into_iter(), index: 0 }),
                    _ => Err(err(None, None, "JSON must be an array of records".into())),
                }
            }
        }
    }

    /// Next record as a typed value, or a located error.
    fn next<T: for<'de> Deserialize<'de>>(
        &mut self,
        err: &dyn Fn(Option<String>, Option<String>, String) -> ImportError,
    ) -> Option<Result<Located<T>, ImportError>> {
        match self {
            Records::Csv { reader, record, headers, header_record } => {
                match reader.read_byte_record(record) {
                    Ok(false) => None,
                    Err(e) => {
                        let at = e.position().map(|p| format!("line {}", p.line()));
                        let rule = match e.kind() {
                            csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                                format!("expected {expected_len} columns, found {len} (truncated or shifted row?)")
                            }
                            _ => e.to_string(),
                        };
                        Some(Err(err(at, None, rule)))
                    }
                    Ok(true) => {
                        let at = At::Line(record.position().map_or(0, |p| p.line()));
                        // Decoding checks every field's UTF-8 once; only when it
                        // fails are the fields re-checked, to name an encoding
                        // problem first and precisely.
                        Some(deserialize_csv(record, header_record, headers).map(|value| Located { at, value }).map_err(|(c, r)| {
                            match record.iter().enumerate().find_map(|(i, field)| std::str::from_utf8(field).err().map(|e| (i, e))) {
                                Some((i, e)) => err(Some(at.to_string()), Some(headers[i].clone()), format!("not valid UTF-8 (byte {} of the field)", e.valid_up_to())),
                                None => err(Some(at.to_string()), c, r),
                            }
                        }))
                    }
                }
            }
            Records::Json { items, index } => {
                let item = items.next()?;
                *index += 1;
                let at = At::Element(*index);
                Some(serde_json::from_value(item).map(|value| Located { at, value }).map_err(|e| err(Some(at.to_string()), None, e.to_string())))
            }
        }
    }
}

/// Deserialize a CSV row, naming the column on a type error.
fn deserialize_csv<T: for<'de> Deserialize<'de>>(
    record: &csv::ByteRecord,
    header_record: &csv::ByteRecord,
    headers: &[String],
) -> Result<T, (Option<String>, String)> {
    record.deserialize(Some(header_record)).map_err(|e| {
        let column = match e.kind() {
            csv::ErrorKind::Deserialize { err, .. } => err.field().and_then(|f| headers.get(f as usize).cloned()),
            _ => None,
        };
        let rule = match e.kind() {
            csv::ErrorKind::Deserialize { err, .. } => err.kind().to_string(),
            _ => e.to_string(),
        };
        (column, rule)
    })
}

// ---- import -------------------------------------------------------------

type Locate<'a> = dyn Fn(Option<String>, Option<String>, String) -> ImportError + 'a;

/// `id` must be new: neither stored nor earlier in the file.
fn check_new(seen: &mut HashSet<String>, at: At, column: &str, id: &str, err: &Locate) -> Result<(), ImportError> {
    if seen.insert(id.to_string()) {
        Ok(())
    } else {
        Err(err(Some(at.to_string()), Some(column.into()), format!("duplicate id {id} (already in the file or the database)")))
    }
}

/// `id` must name a stored `what`.
fn known(set: &HashSet<String>, at: At, column: &str, what: &str, id: &str, err: &Locate) -> Result<(), ImportError> {
    if set.contains(id) { Ok(()) } else { Err(err(Some(at.to_string()), Some(column.into()), format!("unknown {what} {id}"))) }
}

/// How the parsing thread hands a batch of validated people to the inserting side.
#[derive(Debug, Clone, Copy)]
enum Encode {
    /// Flat rows for SQLite's prepared single-row INSERT ([`PeopleRows`]).
    Rows,
    /// One JSON array for the one-statement insert ([`insert_people_json`]).
    Json,
}

/// One batch of validated people, encoded for the backend.
///
/// The parsing thread's last message is [`Payload::End`]: a channel that
/// closes without it means the thread died (a bug), and nothing is committed.
enum Payload {
    Rows(PeopleRows),
    Json { json: String, rows: u64 },
    /// Every record was read and valid, and every batch sent.
    End,
}

/// The inserting side's refusal to commit when the parsing thread vanished.
fn unfinished(name: &str) -> ImportError {
    ImportError { file: name.to_string(), at: None, column: None, rule: "reading stopped unexpectedly; nothing was imported".into() }
}

impl Encode {
    fn batch(self, batch: &[(Person, At)]) -> Payload {
        match self {
            Encode::Rows => {
                let mut rows = PeopleRows::with_capacity(batch.len());
                for (p, at) in batch {
                    rows.push(p, *at);
                }
                Payload::Rows(rows)
            }
            Encode::Json => {
                Payload::Json { json: people_json(batch.iter().map(|(p, _)| p)), rows: batch.len() as u64 }
            }
        }
    }
}

/// The error constructor for the file `name`: (where, column, rule) → error.
fn error_in(name: &str) -> impl Fn(Option<String>, Option<String>, String) -> ImportError + '_ {
    move |at, column, rule| ImportError { file: name.to_string(), at, column, rule }
}

/// The import file's name for a `people` column.
fn file_column(db: &str) -> &str {
    if db == "aliases_json" { "aliases" } else { db }
}

/// The `people` column (as the file names it) that a SQLite constraint message
/// points at, if any: `UNIQUE constraint failed: people.id` → `id`,
/// `CHECK constraint failed: length(name_ar) > 0` → `name_ar`.
fn constraint_column(message: &str) -> Option<String> {
    let (_, detail) = message.split_once("constraint failed: ")?;
    detail
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map(file_column)
        .find(|w| Kind::People.columns().contains(w))
        .map(str::to_string)
}

/// The inserting side of a people import on PostgreSQL: a native connection,
/// one transaction, every batch streamed into one `COPY people … FROM STDIN`
/// (text format, [`PeopleRows::copy_text`]). The schema's constraints apply to
/// every row as with INSERT; a refused row is named by where it came from
/// (PostgreSQL reports the COPY line). Commits only after the parsing thread's
/// last batch; on any error the COPY is aborted, the transaction rolled back
/// and the connection closed before returning.
async fn insert_people_copy(
    options: &PgConnectOptions,
    name: &str,
    mut incoming: tokio::sync::mpsc::Receiver<Result<Payload, ImportError>>,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, ImportError> {
    let err = error_in(name);
    let dbx = |e: sqlx::Error| err(None, None, format!("database: {e}"));
    let mut conn = PgConnection::connect_with(options).await.map_err(dbx)?;
    let result = async {
        let mut tx = conn.begin().await.map_err(dbx)?;
        let mut copy = tx.copy_in_raw(&format!("COPY people ({PEOPLE_COLUMNS}) FROM STDIN")).await.map_err(dbx)?;
        let mut origins: Vec<At> = Vec::new();
        let mut buf = Vec::new();
        let refused = |e: sqlx::Error, origins: &[At]| match pg_refusal(&e) {
            Some((line, column)) => {
                let at = line.checked_sub(1).and_then(|i| origins.get(i as usize)).map(At::to_string);
                err(at, column, format!("database refused the row: {e}"))
            }
            None => dbx(e),
        };
        loop {
            let rows = match incoming.recv().await.ok_or_else(|| unfinished(name)).and_then(|r| r) {
                Ok(Payload::Rows(rows)) => rows,
                Ok(Payload::End) => break,
                Ok(Payload::Json { .. }) => unreachable!("the parsing thread encodes rows here"),
                Err(e) => {
                    let _ = copy.abort("import stopped: invalid input").await;
                    return Err(e);
                }
            };
            buf.clear();
            rows.copy_text(&mut buf);
            origins.extend_from_slice(rows.origins());
            copy.send(buf.as_slice()).await.map_err(|e| refused(e, &origins))?;
            progress(origins.len() as u64);
        }
        copy.finish().await.map_err(|e| refused(e, &origins))?;
        tx.commit().await.map_err(dbx)?;
        Ok(origins.len() as u64)
    }
    .await;
    let closed = conn.close().await;
    let count = result?;
    closed.map_err(dbx)?;
    Ok(count)
}

/// The COPY line and, where PostgreSQL names it, the file's column of a row
/// the database refused during `COPY people`.
fn pg_refusal(e: &sqlx::Error) -> Option<(u64, Option<String>)> {
    let db = e.as_database_error()?.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
    // e.g. `COPY people, line 11001` or `COPY people, line 7, column risk: "x"`.
    let at = db.r#where()?.split_once("COPY people, line ")?.1;
    let line: u64 = at.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    let named = at.split_once(", column ").map(|(_, c)| c.split(':').next().unwrap_or(c).to_string());
    // `Key (name_latin)=(…) already exists.`
    let keyed = || db.detail()?.strip_prefix("Key (")?.split(')').next().map(str::to_string);
    let column = named.or_else(|| db.column().map(str::to_string)).or_else(keyed).map(|c| file_column(&c).to_string());
    Some((line, column.filter(|c| Kind::People.columns().contains(&c.as_str()))))
}

impl Store {
    /// Import `path` (kind and format given) all or nothing.
    pub async fn import_file(
        &self,
        kind: Kind,
        format: Format,
        path: &Path,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ImportReport, ImportError> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| ImportError { file: name.clone(), at: None, column: None, rule: format!("cannot open: {e}") })?;
        self.import_reader(kind, format, &name, BufReader::with_capacity(1 << 20, file), progress).await
    }

    /// Import from any reader; `name` is used in error messages.
    pub async fn import_reader(
        &self,
        kind: Kind,
        format: Format,
        name: &str,
        input: impl Read + Send + 'static,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ImportReport, ImportError> {
        let err = error_in(name);
        let db = |e: StoreError| err(None, None, format!("database: {e}"));
        let dbx = |e: sqlx::Error| err(None, None, format!("database: {e}"));
        let mut records = Records::open(BufReader::new(input), format, kind, &err)?;
        let ids = |sql: &'static str| async move {
            let rows = sqlx::query(sql).fetch_all(self.pool()).await?;
            rows.iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<HashSet<String>, sqlx::Error>>()
        };
        let agencies = ids("SELECT id FROM agencies").await.map_err(dbx)?;
        let sites = ids("SELECT id FROM sites").await.map_err(dbx)?;
        let (mut seen, today) = match kind {
            Kind::Sites => (sites.clone(), chrono::Utc::now().date_naive()),
            Kind::People => (ids("SELECT id FROM people").await.map_err(dbx)?, self.reference_date().await.map_err(db)?),
            Kind::Fleet => (ids("SELECT tail FROM aircraft").await.map_err(dbx)?, chrono::Utc::now().date_naive()),
        };
        let types = ids("SELECT id FROM aircraft_types").await.map_err(dbx)?;
        let bad = |at: At, b: Bad| err(Some(at.to_string()), Some(b.column), b.rule);

        let count = match kind {
            Kind::People => {
                // Parsing and validation run on their own thread, one batch ahead
                // of the inserts, so both cores work; the first error stops both.
                let native = self.sqlite.clone();
                let (batches, incoming) = tokio::sync::mpsc::channel::<Result<Payload, ImportError>>(2);
                let file = name.to_string();
                let copy = self.postgres.clone();
                let encode = if native.is_some() || copy.is_some() { Encode::Rows } else { Encode::Json };
                std::thread::spawn(move || {
                    let err = error_in(&file);
                    let bad = |at: At, b: Bad| err(Some(at.to_string()), Some(b.column), b.rule);
                    let mut batch: Vec<(Person, At)> = Vec::with_capacity(PEOPLE_BATCH);
                    let send = |batch: &mut Vec<(Person, At)>| {
                        let payload = encode.batch(batch);
                        batch.clear();
                        batches.blocking_send(Ok(payload)).is_ok()
                    };
                    let mut check = |r: Result<Located<PersonRecord>, ImportError>| -> Result<(Person, At), ImportError> {
                        let Located { at, value } = r?;
                        let p = value.into_person(today).map_err(|b| bad(at, b))?;
                        check_new(&mut seen, at, "id", p.id.as_str(), &err)?;
                        known(&agencies, at, "custodian", "agency", p.custodian.as_str(), &err)?;
                        known(&sites, at, "site", "site", p.site.as_str(), &err)?;
                        Ok((p, at))
                    };
                    while let Some(r) = records.next::<PersonRecord>(&err) {
                        match check(r) {
                            Ok(p) => batch.push(p),
                            Err(e) => {
                                let _ = batches.blocking_send(Err(e));
                                return;
                            }
                        }
                        // A closed channel means the inserting side failed and rolled back.
                        if batch.len() == PEOPLE_BATCH && !send(&mut batch) {
                            return;
                        }
                    }
                    if batch.is_empty() || send(&mut batch) {
                        // Fails only if the inserting side has already stopped and rolled back.
                        let _ = batches.blocking_send(Ok(Payload::End));
                    }
                });
                match (native, copy) {
                    (Some(options), _) => self.insert_people_native(&options, name, incoming, progress).await?,
                    (None, Some(options)) => insert_people_copy(&options, name, incoming, progress).await?,
                    (None, None) => {
                        let mut incoming = incoming;
                        let mut tx = self.begin_write().await.map_err(dbx)?;
                        let mut count = 0u64;
                        loop {
                            match incoming.recv().await.ok_or_else(|| unfinished(name))?? {
                                Payload::Json { json, rows } => {
                                    insert_people_json(&mut tx, self.backend(), &json).await.map_err(db)?;
                                    count += rows;
                                    progress(count);
                                }
                                Payload::End => break,
                                Payload::Rows(_) => unreachable!("the parsing thread encodes JSON here"),
                            }
                        }
                        tx.commit().await.map_err(dbx)?;
                        count
                    }
                }
            }
            Kind::Sites => {
                let mut all = Vec::new();
                while let Some(r) = records.next::<SiteRecord>(&err) {
                    let Located { at, value } = r?;
                    let s = value.into_site().map_err(|b| bad(at, b))?;
                    check_new(&mut seen, at, "id", s.id.as_str(), &err)?;
                    known(&agencies, at, "operator", "agency", s.operator.as_str(), &err)?;
                    all.push(s);
                }
                let mut tx = self.begin_write().await.map_err(dbx)?;
                insert_sites(&mut tx, &all).await.map_err(db)?;
                tx.commit().await.map_err(dbx)?;
                all.len() as u64
            }
            Kind::Fleet => {
                let mut all = Vec::new();
                while let Some(r) = records.next::<AircraftRecord>(&err) {
                    let Located { at, value } = r?;
                    let a = value.into_aircraft().map_err(|b| bad(at, b))?;
                    check_new(&mut seen, at, "tail", a.tail.as_str(), &err)?;
                    known(&types, at, "type", "aircraft type", a.type_id.as_str(), &err)?;
                    known(&sites, at, "base", "site", a.base.as_str(), &err)?;
                    all.push(a);
                }
                let mut tx = self.begin_write().await.map_err(dbx)?;
                insert_aircraft(&mut tx, &all).await.map_err(db)?;
                tx.commit().await.map_err(dbx)?;
                all.len() as u64
            }
        };
        Ok(ImportReport { records: count })
    }

    /// The inserting side of a people import on SQLite: a native connection,
    /// one transaction, each batch stepped row by row through SQLite's C API
    /// ([`insert_people_rows`]). Commits only after the parsing thread has sent
    /// its last batch without error; on any error the transaction is rolled back
    /// and the connection closed before returning, so nothing of it remains.
    async fn insert_people_native(
        &self,
        options: &SqliteConnectOptions,
        name: &str,
        mut incoming: tokio::sync::mpsc::Receiver<Result<Payload, ImportError>>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, ImportError> {
        let err = error_in(name);
        let dbx = |e: sqlx::Error| err(None, None, format!("database: {e}"));
        let mut conn = SqliteConnection::connect_with(options).await.map_err(dbx)?;
        let result = async {
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(dbx)?; // see [`Store::begin_write`]
            let mut count = 0u64;
            loop {
                let rows = match incoming.recv().await.ok_or_else(|| unfinished(name))?? {
                    Payload::Rows(rows) => rows,
                    Payload::End => break,
                    Payload::Json { .. } => unreachable!("the parsing thread encodes rows here"),
                };
                insert_people_rows(&mut tx, &rows).await.map_err(|e| match e {
                    RowsError::Db(e) => dbx(e),
                    RowsError::Prepare(e) => err(None, None, format!("database: {e}")),
                    RowsError::Row(at, e) => err(Some(at.to_string()), constraint_column(&e.message), format!("database refused the row: {e}")),
                })?;
                count += rows.len() as u64;
                progress(count);
            }
            tx.commit().await.map_err(dbx)?;
            Ok(count)
        }
        .await;
        // Dropping an open transaction queued its ROLLBACK; closing runs it and
        // waits for the connection to end (releasing SQLite's write lock).
        let closed = conn.close().await;
        let count = result?;
        closed.map_err(dbx)?;
        Ok(count)
    }

    /// The date age rules are checked against: the operation's start, else today.
    async fn reference_date(&self) -> crate::Result<chrono::NaiveDate> {
        let row = sqlx::query("SELECT start_ms FROM operation WHERE id = 1").fetch_optional(self.pool()).await?;
        let ms = row.map(|r| r.try_get::<i64, _>(0)).transpose()?;
        Ok(ms.and_then(chrono::DateTime::from_timestamp_millis).map_or_else(|| chrono::Utc::now().date_naive(), |d| d.date_naive()))
    }

    /// Export every record of `kind` in `format` to `out`.
    pub async fn export(&self, kind: Kind, format: Format, out: &mut dyn Write) -> crate::Result<u64> {
        let io = |e: std::io::Error| StoreError::Corrupt { what: "export".into(), why: e.to_string() };
        match kind {
            Kind::Sites => write_all(kind, format, self.sites().await?.iter().map(SiteRecord::from_site), out).map_err(io),
            Kind::People => write_all(kind, format, self.people().await?.iter().map(PersonRecord::from_person), out).map_err(io),
            Kind::Fleet => write_all(kind, format, self.aircraft().await?.iter().map(AircraftRecord::from_aircraft), out).map_err(io),
        }
    }
}

/// Write `people` in an import format (for generating test and benchmark files).
pub fn write_people(format: Format, people: &[Person], out: &mut dyn Write) -> std::io::Result<u64> {
    write_all(Kind::People, format, people.iter().map(PersonRecord::from_person), out)
}

fn write_all<T: Serialize>(kind: Kind, format: Format, records: impl Iterator<Item = T>, out: &mut dyn Write) -> std::io::Result<u64> {
    let mut n = 0;
    match format {
        Format::Csv => {
            let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(out);
            w.write_record(kind.columns())?;
            for r in records {
                w.serialize(r)?;
                n += 1;
            }
            w.flush()?;
        }
        Format::Json => {
            out.write_all(b"[")?;
            for r in records {
                out.write_all(if n == 0 { b"\n  " } else { b",\n  " })?;
                serde_json::to_writer(&mut *out, &r)?;
                n += 1;
            }
            out.write_all(b"\n]\n")?;
        }
    }
    Ok(n)
}
