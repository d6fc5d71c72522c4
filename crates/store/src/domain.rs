//! The core domain tables: operation, agencies, sites, fleet, convoys, people.

use std::collections::BTreeMap;

use chrono::NaiveTime;
use sallyport_core::person::{Alias, ApproxDate, Identity, Medical};
use sallyport_core::{
    Agency, AgencyId, AgencyKind, Aircraft, AircraftType, AircraftTypeId, Category, ConvoyRoute, CountryCode,
    DomainError, EscortNeed, GroupId, LatLon, LegalStatus, OperatingHours, Person, PersonId, RiskClass, Scenario,
    Sex, Site, SiteId, SiteKind, TailNumber,
};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{Backend, Result, Store, StoreError};

/// Columns of one `people` row.
const PEOPLE_COLS: usize = 15;

pub(crate) const PEOPLE_COLUMNS: &str = "id, name_ar, name_latin, aliases_json, date_of_birth, sex, nationality, category, \
     risk, separation_groups, fit_to_fly, escort, legal_status, custodian, site";

fn corrupt(what: impl Into<String>) -> impl FnOnce(DomainError) -> StoreError {
    let what = what.into();
    move |e| StoreError::Corrupt { what, why: e.to_string() }
}

fn enum_from<T>(what: &str, v: &str, all: &[T], name: impl Fn(&T) -> &'static str) -> Result<T>
where
    T: Copy,
{
    all.iter().copied().find(|x| name(x) == v).ok_or_else(|| StoreError::Corrupt {
        what: what.to_string(),
        why: format!("unknown value {v:?}"),
    })
}

/// Counts of people in custody, for `sallyport status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub operation: Option<String>,
    pub total: u64,
    /// Every site, with zero where nobody is held.
    pub per_site: BTreeMap<String, u64>,
    pub per_category: BTreeMap<String, u64>,
    pub per_custodian: BTreeMap<String, u64>,
}

impl Store {
    /// Load a whole scenario and its people in one transaction.
    ///
    /// Refuses when an operation is already stored unless `replace`, in which
    /// case the core tables are emptied first (in the same transaction).
    pub async fn load_scenario(&self, scenario: &Scenario, people: &[Person], replace: bool) -> Result<()> {
        scenario.validate().map_err(corrupt("scenario"))?;
        let mut tx = self.begin_write().await?;
        let existing: i64 = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM operation").fetch_one(&mut *tx).await?.try_get(0)?;
        if existing > 0 {
            if !replace {
                return Err(StoreError::Conflict(
                    "the database already holds an operation; use a fresh data directory or --replace".into(),
                ));
            }
            for t in ["people", "aircraft", "convoys", "sites", "aircraft_types", "agencies", "operation"] {
                sqlx::query(&format!("DELETE FROM {t}")).execute(&mut *tx).await?;
            }
        }
        let op = &scenario.operation;
        let doc = serde_json::to_string(scenario).map_err(|e| StoreError::Corrupt { what: "scenario".into(), why: e.to_string() })?;
        sqlx::query("INSERT INTO operation (id, name, time_zone, start_ms, status, scenario_json) VALUES (1, $1, $2, $3, $4, $5)")
            .bind(op.name.clone())
            .bind(op.time_zone.name().to_string())
            .bind(op.start.timestamp_millis())
            .bind(op.status.as_str())
            .bind(doc)
            .execute(&mut *tx)
            .await?;
        insert_agencies(&mut tx, &scenario.agencies).await?;
        insert_sites(&mut tx, &scenario.sites).await?;
        insert_aircraft_types(&mut tx, &scenario.aircraft_types).await?;
        insert_aircraft(&mut tx, &scenario.aircraft().map_err(corrupt("fleet"))?).await?;
        for c in &scenario.convoys {
            sqlx::query("INSERT INTO convoys (from_site, to_site, distance_km, speed_kmh, vehicles, seats_per_vehicle) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(c.from.to_string())
                .bind(c.to.to_string())
                .bind(c.distance_km)
                .bind(c.speed_kmh)
                .bind(c.vehicles as i64)
                .bind(c.seats_per_vehicle as i64)
                .execute(&mut *tx)
                .await?;
        }
        insert_people(&mut tx, self.backend(), people, &mut |_| {}).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The stored scenario document, with agencies, sites, aircraft types and
    /// convoys as they are now in their tables.
    pub async fn scenario(&self) -> Result<Option<Scenario>> {
        let Some(row) = sqlx::query("SELECT scenario_json FROM operation WHERE id = 1").fetch_optional(self.pool()).await? else {
            return Ok(None);
        };
        let json: String = row.try_get(0)?;
        let mut s: Scenario =
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt { what: "operation.scenario_json".into(), why: e.to_string() })?;
        s.agencies = self.agencies().await?;
        s.sites = self.sites().await?;
        s.aircraft_types = self.aircraft_types().await?;
        s.convoys = self.convoys().await?;
        Ok(Some(s))
    }

    pub async fn agencies(&self) -> Result<Vec<Agency>> {
        let mut conn = self.pool().acquire().await?;
        agencies_in(&mut conn).await
    }

    /// [`Store::agencies`] read inside `tx`, so that a decision on them and the
    /// write it permits see the same agencies.
    pub async fn agencies_in_tx(&self, tx: &mut Transaction<'static, Any>) -> Result<Vec<Agency>> {
        agencies_in(tx).await
    }

    pub async fn sites(&self) -> Result<Vec<Site>> {
        let rows = sqlx::query(
            "SELECT id, name, kind, lat, lon, population, holding_capacity, daily_intake_capacity, open_time, close_time, \
             refuel, runway, operator, source FROM sites ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(site_from_row).collect()
    }

    pub async fn aircraft_types(&self) -> Result<Vec<AircraftType>> {
        let rows = sqlx::query(
            "SELECT id, name, seats, payload_kg, cruise_kmh, range_km, turnaround_min, max_flight_hours_per_day, \
             crew_duty_hours, needs_runway, night_capable, source FROM aircraft_types ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AircraftType {
                    id: AircraftTypeId::new(r.try_get::<String, _>(0)?).map_err(corrupt("aircraft_types.id"))?,
                    name: r.try_get(1)?,
                    seats: r.try_get::<i64, _>(2)? as u32,
                    payload_kg: r.try_get::<i64, _>(3)? as u32,
                    cruise_kmh: r.try_get::<i64, _>(4)? as u32,
                    range_km: r.try_get::<i64, _>(5)? as u32,
                    turnaround_min: r.try_get::<i64, _>(6)? as u32,
                    max_flight_hours_per_day: r.try_get(7)?,
                    crew_duty_hours: r.try_get(8)?,
                    needs_runway: r.try_get::<i64, _>(9)? != 0,
                    night_capable: r.try_get::<i64, _>(10)? != 0,
                    source: r.try_get(11)?,
                })
            })
            .collect()
    }

    /// The fleet: every airframe (authoritative over the scenario's fleet groups).
    pub async fn aircraft(&self) -> Result<Vec<Aircraft>> {
        let rows = sqlx::query("SELECT tail, type_id, base, availability_json FROM aircraft ORDER BY tail").fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                let json: String = r.try_get(3)?;
                Ok(Aircraft {
                    tail: TailNumber::new(r.try_get::<String, _>(0)?).map_err(corrupt("aircraft.tail"))?,
                    type_id: AircraftTypeId::new(r.try_get::<String, _>(1)?).map_err(corrupt("aircraft.type_id"))?,
                    base: SiteId::new(r.try_get::<String, _>(2)?).map_err(corrupt("aircraft.base"))?,
                    availability: serde_json::from_str(&json)
                        .map_err(|e| StoreError::Corrupt { what: "aircraft.availability_json".into(), why: e.to_string() })?,
                })
            })
            .collect()
    }

    pub async fn convoys(&self) -> Result<Vec<ConvoyRoute>> {
        let rows = sqlx::query("SELECT from_site, to_site, distance_km, speed_kmh, vehicles, seats_per_vehicle FROM convoys ORDER BY from_site, to_site")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ConvoyRoute {
                    from: SiteId::new(r.try_get::<String, _>(0)?).map_err(corrupt("convoys.from_site"))?,
                    to: SiteId::new(r.try_get::<String, _>(1)?).map_err(corrupt("convoys.to_site"))?,
                    distance_km: r.try_get(2)?,
                    speed_kmh: r.try_get(3)?,
                    vehicles: r.try_get::<i64, _>(4)? as u32,
                    seats_per_vehicle: r.try_get::<i64, _>(5)? as u32,
                })
            })
            .collect()
    }

    /// Every person in custody, ordered by id.
    pub async fn people(&self) -> Result<Vec<Person>> {
        let rows = sqlx::query(&format!("SELECT {PEOPLE_COLUMNS} FROM people ORDER BY id")).fetch_all(self.pool()).await?;
        rows.iter().map(person_from_row).collect()
    }

    /// The people with these ids, ordered by id; ids not on record are left out.
    pub async fn people_by_ids(&self, ids: &[&str]) -> Result<Vec<Person>> {
        let mut conn = self.pool().acquire().await?;
        people_in(&mut conn, ids, "").await
    }

    /// [`Store::people_by_ids`] read inside `tx`, a write transaction from
    /// [`Store::begin_write`], and on PostgreSQL locked until it ends (`FOR
    /// UPDATE`, taken in byte order of id): a decision made on these rows
    /// still holds at commit, and writers of overlapping sets of people queue
    /// instead of deadlocking. (On SQLite the write transaction, `BEGIN
    /// IMMEDIATE`, already excludes every other writer.)
    pub async fn people_by_ids_locked(&self, tx: &mut Transaction<'static, Any>, ids: &[&str]) -> Result<Vec<Person>> {
        let lock = match self.backend {
            Backend::Postgres => " ORDER BY id COLLATE \"C\" FOR UPDATE",
            Backend::Sqlite => "",
        };
        people_in(tx, ids, lock).await
    }

    pub async fn person(&self, id: &PersonId) -> Result<Option<Person>> {
        let row = sqlx::query(&format!("SELECT {PEOPLE_COLUMNS} FROM people WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(person_from_row).transpose()
    }

    /// Record that `person` is now held by `custodian` at `site`.
    pub async fn update_custody(&self, person: &PersonId, custodian: &AgencyId, site: &SiteId) -> Result<()> {
        let done = sqlx::query("UPDATE people SET custodian = $1, site = $2 WHERE id = $3")
            .bind(custodian.to_string())
            .bind(site.to_string())
            .bind(person.to_string())
            .execute(self.pool())
            .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("no person {person}")));
        }
        Ok(())
    }

    /// Counts per site, category and custodian, from one consistent snapshot.
    pub async fn status(&self) -> Result<Status> {
        let mut tx = self.pool().begin().await?;
        let operation = sqlx::query("SELECT name FROM operation WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?;
        let mut count = async |sql: &str| -> Result<BTreeMap<String, u64>> {
            let rows = sqlx::query(sql).fetch_all(&mut *tx).await?;
            rows.iter().map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)? as u64))).collect()
        };
        let per_site = count(
            "SELECT s.id, CAST(COUNT(p.id) AS BIGINT) FROM sites s LEFT JOIN people p ON p.site = s.id GROUP BY s.id",
        )
        .await?;
        let per_category = count("SELECT category, CAST(COUNT(*) AS BIGINT) FROM people GROUP BY category").await?;
        let per_custodian = count("SELECT custodian, CAST(COUNT(*) AS BIGINT) FROM people GROUP BY custodian").await?;
        let total = per_category.values().sum();
        tx.commit().await?;
        Ok(Status { operation, total, per_site, per_category, per_custodian })
    }
}

fn site_from_row(r: &AnyRow) -> Result<Site> {
    let time = |i: usize| -> Result<Option<NaiveTime>> {
        r.try_get::<Option<String>, _>(i)?
            .map(|t| NaiveTime::parse_from_str(&t, "%H:%M:%S").map_err(|e| StoreError::Corrupt { what: "sites hours".into(), why: e.to_string() }))
            .transpose()
    };
    let operating_hours = match (time(8)?, time(9)?) {
        (Some(open), Some(close)) => Some(OperatingHours { open, close }),
        _ => None,
    };
    Ok(Site {
        id: SiteId::new(r.try_get::<String, _>(0)?).map_err(corrupt("sites.id"))?,
        name: r.try_get(1)?,
        kind: enum_from("sites.kind", &r.try_get::<String, _>(2)?, &SiteKind::ALL, |k| k.as_str())?,
        position: LatLon::new(r.try_get(3)?, r.try_get(4)?).map_err(corrupt("sites.position"))?,
        population: r.try_get::<i64, _>(5)? as u32,
        holding_capacity: r.try_get::<i64, _>(6)? as u32,
        daily_intake_capacity: r.try_get::<Option<i64>, _>(7)?.map(|v| v as u32),
        operating_hours,
        refuel: r.try_get::<i64, _>(10)? != 0,
        runway: r.try_get::<i64, _>(11)? != 0,
        operator: AgencyId::new(r.try_get::<String, _>(12)?).map_err(corrupt("sites.operator"))?,
        source: r.try_get(13)?,
    })
}

fn person_from_row(r: &AnyRow) -> Result<Person> {
    let id: String = r.try_get(0)?;
    let what = |f: &str| format!("people[{id}].{f}");
    let aliases: Vec<Alias> = serde_json::from_str(&r.try_get::<String, _>(3)?)
        .map_err(|e| StoreError::Corrupt { what: what("aliases_json"), why: e.to_string() })?;
    let groups: String = r.try_get(9)?;
    Ok(Person {
        id: PersonId::new(id.clone()).map_err(corrupt(what("id")))?,
        identity: Identity {
            name_ar: r.try_get(1)?,
            name_latin: r.try_get(2)?,
            aliases,
            date_of_birth: ApproxDate::parse(&r.try_get::<String, _>(4)?).map_err(corrupt(what("date_of_birth")))?,
            sex: Sex::parse(&r.try_get::<String, _>(5)?).map_err(corrupt(what("sex")))?,
            nationality: CountryCode::new(&r.try_get::<String, _>(6)?).map_err(corrupt(what("nationality")))?,
        },
        category: Category::parse(&r.try_get::<String, _>(7)?).map_err(corrupt(what("category")))?,
        risk: RiskClass::parse(&r.try_get::<String, _>(8)?).map_err(corrupt(what("risk")))?,
        separation_groups: split_groups(&groups).map_err(corrupt(what("separation_groups")))?,
        medical: Medical {
            fit_to_fly: r.try_get::<i64, _>(10)? != 0,
            escort: EscortNeed::parse(&r.try_get::<String, _>(11)?).map_err(corrupt(what("escort")))?,
        },
        legal_status: LegalStatus::parse(&r.try_get::<String, _>(12)?).map_err(corrupt(what("legal_status")))?,
        custodian: AgencyId::new(r.try_get::<String, _>(13)?).map_err(corrupt(what("custodian")))?,
        site: SiteId::new(r.try_get::<String, _>(14)?).map_err(corrupt(what("site")))?,
    })
}

/// `G-1;G-2` → groups; empty string → none.
pub fn split_groups(s: &str) -> Result<Vec<GroupId>, DomainError> {
    s.split(';').filter(|g| !g.is_empty()).map(GroupId::new).collect()
}

/// Groups → `G-1;G-2`.
pub fn join_groups(groups: &[GroupId]) -> String {
    groups.iter().map(GroupId::as_str).collect::<Vec<_>>().join(";")
}

pub(crate) async fn insert_agencies(tx: &mut Transaction<'_, Any>, agencies: &[Agency]) -> Result<()> {
    for a in agencies {
        sqlx::query("INSERT INTO agencies (id, name, kind, country) VALUES ($1, $2, $3, $4)")
            .bind(a.id.to_string())
            .bind(a.name.clone())
            .bind(a.kind.as_str())
            .bind(a.country.to_string())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

pub(crate) async fn insert_sites(tx: &mut Transaction<'_, Any>, sites: &[Site]) -> Result<()> {
    for s in sites {
        let hours = s.operating_hours.map(|h| (h.open.format("%H:%M:%S").to_string(), h.close.format("%H:%M:%S").to_string()));
        sqlx::query(
            "INSERT INTO sites (id, name, kind, lat, lon, population, holding_capacity, daily_intake_capacity, open_time, \
             close_time, refuel, runway, operator, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(s.id.to_string())
        .bind(s.name.clone())
        .bind(s.kind.as_str())
        .bind(s.position.lat())
        .bind(s.position.lon())
        .bind(s.population as i64)
        .bind(s.holding_capacity as i64)
        .bind(s.daily_intake_capacity.map(|v| v as i64))
        .bind(hours.as_ref().map(|h| h.0.clone()))
        .bind(hours.as_ref().map(|h| h.1.clone()))
        .bind(s.refuel as i64)
        .bind(s.runway as i64)
        .bind(s.operator.to_string())
        .bind(s.source.clone())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub(crate) async fn insert_aircraft_types(tx: &mut Transaction<'_, Any>, types: &[AircraftType]) -> Result<()> {
    for t in types {
        sqlx::query(
            "INSERT INTO aircraft_types (id, name, seats, payload_kg, cruise_kmh, range_km, turnaround_min, \
             max_flight_hours_per_day, crew_duty_hours, needs_runway, night_capable, source) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(t.id.to_string())
        .bind(t.name.clone())
        .bind(t.seats as i64)
        .bind(t.payload_kg as i64)
        .bind(t.cruise_kmh as i64)
        .bind(t.range_km as i64)
        .bind(t.turnaround_min as i64)
        .bind(t.max_flight_hours_per_day)
        .bind(t.crew_duty_hours)
        .bind(t.needs_runway as i64)
        .bind(t.night_capable as i64)
        .bind(t.source.clone())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub(crate) async fn insert_aircraft(tx: &mut Transaction<'_, Any>, aircraft: &[Aircraft]) -> Result<()> {
    for a in aircraft {
        let json = serde_json::to_string(&a.availability).unwrap_or_else(|_| "[]".into());
        sqlx::query("INSERT INTO aircraft (tail, type_id, base, availability_json) VALUES ($1, $2, $3, $4)")
            .bind(a.tail.to_string())
            .bind(a.type_id.to_string())
            .bind(a.base.to_string())
            .bind(json)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// People per INSERT statement: each statement carries one JSON parameter.
pub(crate) const PEOPLE_BATCH: usize = 5_000;

/// `people` as one JSON array of 15-element rows, in [`PEOPLE_COLUMNS`] order,
/// the single parameter of [`insert_people_json`].
///
/// One text parameter per batch, unpacked by the database's own JSON functions,
/// costs far less than 15 bound parameters per row (which SQLite looks up one
/// by one and sqlx's `Any` driver copies twice): see docs/benchmarks/store.md.
pub(crate) fn people_json<'a>(people: impl IntoIterator<Item = &'a Person>) -> String {
    let rows: Vec<_> = people
        .into_iter()
        .map(|p| {
            (
                p.id.as_str(),
                p.identity.name_ar.as_str(),
                p.identity.name_latin.as_str(),
                serde_json::to_string(&p.identity.aliases).unwrap_or_else(|_| "[]".into()),
                p.identity.date_of_birth.to_string(),
                p.identity.sex.as_str(),
                p.identity.nationality.as_str(),
                p.category.as_str(),
                p.risk.as_str(),
                join_groups(&p.separation_groups),
                p.medical.fit_to_fly as i64,
                p.medical.escort.as_str(),
                p.legal_status.as_str(),
                p.custodian.as_str(),
                p.site.as_str(),
            )
        })
        .collect();
    serde_json::to_string(&rows).expect("plain strings and integers always serialise")
}

/// Insert a batch encoded by [`people_json`] in one statement. The schema's
/// CHECK and foreign-key constraints apply to every row as with plain VALUES.
pub(crate) async fn insert_people_json(tx: &mut Transaction<'_, Any>, backend: Backend, json: &str) -> Result<()> {
    static SQL: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| {
        let cols = |cast: &dyn Fn(usize, String) -> String| (0..PEOPLE_COLS).map(|i| cast(i, format!("e->>{i}"))).collect::<Vec<_>>().join(", ");
        [
            // SQLite ≥ 3.38: `->>` with an integer index reads one array element
            // (SQLite caches the parsed row across the fifteen lookups).
            format!("INSERT INTO people ({PEOPLE_COLUMNS}) SELECT {} FROM (SELECT value AS e FROM json_each($1))", cols(&|_, c| c)),
            format!(
                "INSERT INTO people ({PEOPLE_COLUMNS}) SELECT {} FROM jsonb_array_elements($1::text::jsonb) AS t(e)",
                cols(&|i, c| if i == 10 { format!("({c})::bigint") } else { c })
            ),
        ]
    });
    let sql = match backend {
        Backend::Sqlite => &sql[0],
        Backend::Postgres => &sql[1],
    };
    sqlx::query(sql).bind(json).execute(&mut **tx).await?;
    Ok(())
}

/// Insert people in batches of [`PEOPLE_BATCH`]; `progress` gets the running count.
pub(crate) async fn insert_people(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    people: &[Person],
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let mut done = 0u64;
    for chunk in people.chunks(PEOPLE_BATCH) {
        insert_people_json(tx, backend, &people_json(chunk)).await?;
        done += chunk.len() as u64;
        progress(done);
    }
    Ok(())
}

/// A batch of validated people flattened for SQLite's row-at-a-time INSERT
/// ([`insert_people_rows`]): the text columns of every row back to back in one
/// string (one allocation per batch, not fifteen per row), with each row's
/// `fit_to_fly` and where it came from.
///
/// Every value is the one [`people_json`] would store for the same person, so
/// both paths write identical rows and export reproduces the file.
#[derive(Debug, Default)]
pub(crate) struct PeopleRows {
    text: String,
    /// End offset in `text` of each text column, [`PEOPLE_TEXT_COLS`] per row.
    ends: Vec<usize>,
    fit_to_fly: Vec<bool>,
    at: Vec<crate::import::At>,
}

/// The text columns of a `people` row: all but `fit_to_fly` (column 10).
const PEOPLE_TEXT_COLS: usize = PEOPLE_COLS - 1;
const FIT_TO_FLY_COL: usize = 10;

impl PeopleRows {
    pub(crate) fn with_capacity(rows: usize) -> PeopleRows {
        PeopleRows {
            text: String::with_capacity(rows * 160),
            ends: Vec::with_capacity(rows * PEOPLE_TEXT_COLS),
            fit_to_fly: Vec::with_capacity(rows),
            at: Vec::with_capacity(rows),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.at.len()
    }

    /// Append `p`, read from `at`.
    pub(crate) fn push(&mut self, p: &Person, at: crate::import::At) {
        use std::fmt::Write;
        let col = |rows: &mut PeopleRows, s: &str| {
            rows.text.push_str(s);
            rows.ends.push(rows.text.len());
        };
        col(self, p.id.as_str());
        col(self, &p.identity.name_ar);
        col(self, &p.identity.name_latin);
        if p.identity.aliases.is_empty() {
            col(self, "[]");
        } else {
            col(self, &serde_json::to_string(&p.identity.aliases).unwrap_or_else(|_| "[]".into()));
        }
        write!(self.text, "{}", p.identity.date_of_birth).expect("writing to a String cannot fail");
        self.ends.push(self.text.len());
        col(self, p.identity.sex.as_str());
        col(self, p.identity.nationality.as_str());
        col(self, p.category.as_str());
        col(self, p.risk.as_str());
        for (i, g) in p.separation_groups.iter().enumerate() {
            if i > 0 {
                self.text.push(';');
            }
            self.text.push_str(g.as_str());
        }
        self.ends.push(self.text.len());
        col(self, p.medical.escort.as_str());
        col(self, p.legal_status.as_str());
        col(self, p.custodian.as_str());
        col(self, p.site.as_str());
        self.fit_to_fly.push(p.medical.fit_to_fly);
        self.at.push(at);
    }

    /// Where each row came from, in order.
    pub(crate) fn origins(&self) -> &[crate::import::At] {
        &self.at
    }

    /// Append every row to `out` in PostgreSQL's `COPY … FROM STDIN` text
    /// format ([`PEOPLE_COLUMNS`] order, tab-separated, one line per row, with
    /// backslash, tab, newline and carriage return escaped; no value is NULL).
    pub(crate) fn copy_text(&self, out: &mut Vec<u8>) {
        use crate::sqlite_raw::Value;
        use std::io::Write;
        for i in 0..self.len() {
            let (values, _) = self.row(i);
            for (c, v) in values.iter().enumerate() {
                if c > 0 {
                    out.push(b'\t');
                }
                match v {
                    Value::Int(n) => write!(out, "{n}").expect("writing to a Vec cannot fail"),
                    Value::Text(t) if !t.bytes().any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r')) => out.extend_from_slice(t.as_bytes()),
                    Value::Text(t) => {
                        for &b in t.as_bytes() {
                            match b {
                                b'\\' => out.extend_from_slice(b"\\\\"),
                                b'\t' => out.extend_from_slice(b"\\t"),
                                b'\n' => out.extend_from_slice(b"\\n"),
                                b'\r' => out.extend_from_slice(b"\\r"),
                                _ => out.push(b),
                            }
                        }
                    }
                }
            }
            out.push(b'\n');
        }
    }

    /// Row `i`'s fifteen values in [`PEOPLE_COLUMNS`] order, and where it came from.
    pub(crate) fn row(&self, i: usize) -> ([crate::sqlite_raw::Value<'_>; PEOPLE_COLS], crate::import::At) {
        use crate::sqlite_raw::Value;
        let ends = &self.ends[i * PEOPLE_TEXT_COLS..(i + 1) * PEOPLE_TEXT_COLS];
        let mut start = if i == 0 { 0 } else { self.ends[i * PEOPLE_TEXT_COLS - 1] };
        let mut values = [Value::Int(0); PEOPLE_COLS];
        let mut text = ends.iter().map(|&end| {
            let s = &self.text[start..end];
            start = end;
            Value::Text(s)
        });
        for (c, v) in values.iter_mut().enumerate() {
            *v = if c == FIT_TO_FLY_COL { Value::Int(self.fit_to_fly[i] as i64) } else { text.next().expect("14 text columns per row") };
        }
        (values, self.at[i])
    }
}

/// Why [`insert_people_rows`] failed.
#[derive(Debug)]
pub(crate) enum RowsError {
    /// The connection could not be lent out (sqlx's worker is gone).
    Db(sqlx::Error),
    /// Preparing the statement failed.
    Prepare(crate::sqlite_raw::SqliteError),
    /// The row read from `At` broke a constraint (or hit an I/O error).
    Row(crate::import::At, crate::sqlite_raw::SqliteError),
}

/// Insert a batch on SQLite through one prepared single-row INSERT stepped per
/// row (see [`crate::sqlite_raw`]); the caller owns the transaction.
///
/// Constraints apply per row exactly as with any INSERT (CHECKs, NOT NULL,
/// foreign keys, the primary key), and a failing row is named by where it came
/// from. A failed row's statement is undone by SQLite; the rest of the
/// transaction is the caller's to roll back. The SQLite calls block the
/// calling thread for the batch (a few milliseconds per thousand rows).
pub(crate) async fn insert_people_rows(conn: &mut sqlx::SqliteConnection, rows: &PeopleRows) -> Result<(), RowsError> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| format!("INSERT INTO people ({PEOPLE_COLUMNS}) VALUES ({})", vec!["?"; PEOPLE_COLS].join(", ")));
    let mut handle = conn.lock_handle().await.map_err(RowsError::Db)?;
    let mut insert = crate::sqlite_raw::Statement::prepare(&mut handle, sql).map_err(RowsError::Prepare)?;
    for i in 0..rows.len() {
        let (values, at) = rows.row(i);
        insert.run(&values).map_err(|e| RowsError::Row(at, e))?;
    }
    Ok(())
}

/// All agencies, ordered by id.
async fn agencies_in(conn: &mut sqlx::AnyConnection) -> Result<Vec<Agency>> {
    let rows = sqlx::query("SELECT id, name, kind, country FROM agencies ORDER BY id").fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok(Agency {
                id: AgencyId::new(r.try_get::<String, _>(0)?).map_err(corrupt("agencies.id"))?,
                name: r.try_get(1)?,
                kind: enum_from("agencies.kind", &r.try_get::<String, _>(2)?, &AgencyKind::ALL, |k| k.as_str())?,
                country: CountryCode::new(&r.try_get::<String, _>(3)?).map_err(corrupt("agencies.country"))?,
            })
        })
        .collect()
}

/// People by id, `ids` taken in byte order in chunks well under SQLite's and
/// PostgreSQL's bind-parameter limits; `suffix` ends each chunk's query.
async fn people_in(conn: &mut sqlx::AnyConnection, ids: &[&str], suffix: &str) -> Result<Vec<Person>> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!("SELECT {PEOPLE_COLUMNS} FROM people WHERE id IN ({}){suffix}", marks.join(", "));
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id.to_string());
        }
        for row in q.fetch_all(&mut *conn).await? {
            out.push(person_from_row(&row)?);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Undo PostgreSQL's COPY text escapes of one field.
    fn unescape(f: &str) -> String {
        let mut out = String::new();
        let mut chars = f.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            out.push(match chars.next().expect("an escape names a character") {
                't' => '\t',
                'n' => '\n',
                'r' => '\r',
                '\\' => '\\',
                other => panic!("unexpected escape \\{other}"),
            });
        }
        out
    }

    proptest::proptest! {
        /// Whatever the text (validation keeps names plain, but the encoding
        /// must not depend on it), every row's COPY line decodes to its values.
        #[test]
        fn copy_text_decodes_to_the_row(name in "\\PC*[\\\\\t\n\r]?\\PC*", alias in "[a-z\\\\\"\t]{0,6}") {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/northeast-syria-2026.toml");
            let scenario: sallyport_core::Scenario = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            let mut people = sallyport_core::synth::generate(&scenario).unwrap();
            people.truncate(3);
            people[1].identity.name_latin = name;
            people[2].identity.aliases = vec![sallyport_core::person::Alias { name_ar: String::new(), name_latin: alias }];
            let mut rows = PeopleRows::with_capacity(3);
            for p in &people {
                rows.push(p, crate::import::At::Line(1));
            }
            let mut out = Vec::new();
            rows.copy_text(&mut out);
            let text = String::from_utf8(out).unwrap();
            let lines: Vec<&str> = text.strip_suffix('\n').unwrap().split('\n').collect();
            proptest::prop_assert_eq!(lines.len(), 3);
            for (i, line) in lines.iter().enumerate() {
                let fields: Vec<String> = line.split('\t').map(unescape).collect();
                let (values, _) = rows.row(i);
                let want: Vec<String> = values
                    .iter()
                    .map(|v| match v {
                        crate::sqlite_raw::Value::Text(t) => t.to_string(),
                        crate::sqlite_raw::Value::Int(n) => n.to_string(),
                    })
                    .collect();
                proptest::prop_assert_eq!(fields, want);
            }
        }
    }
}
