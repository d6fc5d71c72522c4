//! CSV parsing: the real GED extract, other GED versions, ACLED exports, bad
//! input of every kind, and property tests (no panic on any bytes; round-trip).

mod common;

use chrono::NaiveDate;
use proptest::prelude::*;
use sallyport_threat::{EventKind, Source, parse_bytes};

use common::*;

#[test]
fn real_ged_extract_parses_completely() {
    let p = parse_bytes("ged.csv", &ged_bytes());
    assert_eq!(p.source, Some(Source::UcdpGed));
    assert!(p.rejected.is_empty(), "{:?}", &p.rejected[..p.rejected.len().min(5)]);
    assert_eq!(p.rows, 16_566);
    assert_eq!(p.events.len(), 16_566);
    let deaths: u64 = p.events.iter().map(|e| e.fatalities as u64).sum();
    assert_eq!(deaths, 112_337, "sum(best) per the README");
    let one_sided = p.events.iter().filter(|e| e.kind == EventKind::OneSided).count();
    assert_eq!(one_sided, 482);
    let first = &p.events[0];
    assert_eq!(first.event_id, "214797");
    assert_eq!(first.date_start, NaiveDate::from_ymd_opt(2016, 1, 1).unwrap());
    assert_eq!((first.lat, first.lon), (34.802462, 36.707602));
    assert_eq!(first.location, "Teir Maaleh village");
}

/// A later GED version: extra columns (relid, code_status, conflict_dset_id …),
/// other column order, and dates with a time part.
#[test]
fn later_ged_versions_are_accepted() {
    let (header, rows) = ged_head(3);
    let cols: Vec<&str> = header.split(',').collect();
    let mut newh = vec!["relid", "code_status", "conflict_dset_id"];
    newh.extend(cols.iter().rev());
    let mut body = Vec::new();
    for (k, r) in rows.iter().enumerate() {
        let mut rd = csv::ReaderBuilder::new().has_headers(false).from_reader(r.as_bytes());
        let rec = rd.records().next().unwrap().unwrap();
        let mut f: Vec<String> = rec.iter().map(str::to_string).collect();
        let ds = cols.iter().position(|c| *c == "date_start").unwrap();
        f[ds] = format!("{} 00:00:00.000", f[ds]);
        f.reverse();
        let mut full = vec![format!("SYR-2016-1-{k}"), "Clear".into(), "299".into()];
        full.extend(f);
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&full).unwrap();
        body.push(String::from_utf8(w.into_inner().unwrap()).unwrap().trim_end().to_string());
    }
    let p = parse_bytes("ged-v25.csv", &csv_file(&newh.join(","), &body));
    assert!(p.rejected.is_empty(), "{:?}", p.rejected);
    let orig = parse_bytes("ged.csv", &csv_file(&header, &rows));
    assert_eq!(p.events, orig.events);
}

const ACLED_HEADER: &str = "event_id_cnty,event_date,year,time_precision,disorder_type,event_type,sub_event_type,\
actor1,assoc_actor_1,inter1,actor2,assoc_actor_2,inter2,interaction,civilian_targeting,iso,region,country,admin1,\
admin2,admin3,location,latitude,longitude,geo_precision,source,source_scale,notes,fatalities,tags,timestamp";

fn acled_row(id: &str, date: &str, year: &str, ty: &str, lat: &str, lon: &str, geo: &str, fat: &str) -> String {
    format!(
        "{id},{date},{year},1,Political violence,{ty},Armed clash,Military Forces of Syria (2000-),,1,\
         Islamic State (Syria),,2,12,,760,Middle East,Syria,Al Hasakeh,Al Hasakeh,Al Hasakeh,Al Hasakeh,\
         {lat},{lon},{geo},SOHR,National,\"Clashes, shelling\",{fat},,1618528621"
    )
}

#[test]
fn acled_exports_in_both_date_formats() {
    let rows = vec![
        acled_row("SYR1001", "2019-12-31", "2019", "Battles", "36.5", "40.74", "1", "3"),
        acled_row("SYR1002", "31 December 2019", "2019", "Explosions/Remote violence", "36.5", "40.74", "2", "0"),
        acled_row("SYR1003", "01-January-2020", "2020", "Violence against civilians", "36.5", "40.74", "3", "1"),
        acled_row("SYR1004", "2020-01-02", "2020", "Strategic developments", "36.5", "40.74", "1", "0"),
    ];
    let p = parse_bytes("acled.csv", &csv_file(ACLED_HEADER, &rows));
    assert_eq!(p.source, Some(Source::Acled));
    assert!(p.rejected.is_empty(), "{:?}", p.rejected);
    assert_eq!(p.events.len(), 4);
    assert_eq!(p.events[1].date_start, NaiveDate::from_ymd_opt(2019, 12, 31).unwrap());
    assert_eq!(p.events[1].kind, EventKind::ExplosionsRemoteViolence);
    assert_eq!(p.events[2].geo_prec, 3);
    assert_eq!(p.events[0].fatalities, 3);
    assert_eq!(p.events[0].admin1, "Al Hasakeh");
}

#[test]
fn acled_bad_codes_are_rejected_with_line() {
    let rows = vec![
        acled_row("SYR1", "2019-12-31", "2019", "Battles", "36.5", "40.74", "4", "3"),
        acled_row("SYR2", "2019-12-31", "2019", "Picnic", "36.5", "40.74", "1", "3"),
        acled_row("SYR3", "2019-12-31", "2018", "Battles", "36.5", "40.74", "1", "3"),
        acled_row("SYR4", "2019-12-31", "2019", "Battles", "36.5", "40.74", "1", "-2"),
        acled_row("SYR1", "2019-12-31", "2019", "Battles", "36.5", "40.74", "1", "3"),
        acled_row("SYR5", "2019-12-31", "2019", "Battles", "36.5", "40.74", "1", "3"),
    ];
    let p = parse_bytes("acled.csv", &csv_file(ACLED_HEADER, &rows));
    let lines: Vec<u64> = p.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 5]);
    assert!(p.rejected[0].reason.contains("geo_precision"), "{}", p.rejected[0]);
    assert!(p.rejected[1].reason.contains("event_type"));
    assert!(p.rejected[2].reason.contains("year"));
    assert!(p.rejected[3].reason.contains("fatalities"));
    // The first SYR1 was rejected, so the copy at line 6 is the first valid one.
    assert_eq!(p.events.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), vec!["SYR1", "SYR5"]);
}

#[test]
fn truncated_file_rejects_the_cut_row() {
    let bytes = ged_bytes();
    // Cut inside a row, and also inside the last field of a row (a row that
    // still has every field but a shortened number).
    let mut at = bytes.len() / 3;
    while bytes[at - 1] == b'\n' {
        at -= 1;
    }
    let nl = bytes[..bytes.len() / 2].iter().rposition(|b| *b == b'\n').unwrap();
    for cut in [&bytes[..at], &bytes[..nl - 1]] {
        let p = parse_bytes("cut.csv", cut);
        assert_eq!(p.rejected.len(), 1, "{:?}", p.rejected);
        let r = &p.rejected[0];
        assert!(r.line > 1 && r.reason.contains("truncated"), "{r}");
        assert_eq!(p.events.len() as u64 + 1, p.rows);
    }
}

#[test]
fn shifted_columns_are_rejected() {
    let (header, rows) = ged_head(5);
    let mut rows = rows;
    // One field dropped: everything after shifts left by one.
    rows[1] = rows[1].replacen(",Syria,", ",", 1);
    // An extra field inserted early: fields shift right.
    rows[3] = rows[3].replacen(",", ",9999,", 1);
    let p = parse_bytes("shifted.csv", &csv_file(&header, &rows));
    let lines: Vec<u64> = p.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![3, 5], "{:?}", p.rejected);
    assert!(p.rejected.iter().all(|r| r.reason.contains("shifted")));
    assert_eq!(p.events.len(), 3);
}

#[test]
fn dates_and_coordinates_out_of_range_are_rejected() {
    let (header, rows) = ged_head(6);
    let rows = vec![
        set_field(&header, &rows[0], "date_start", "2999-01-01"),
        set_field(&header, &rows[1], "date_end", "1850-05-01"),
        set_field(&header, &rows[2], "latitude", "123.4"),
        set_field(&header, &rows[3], "longitude", "-200"),
        set_field(&header, &rows[4], "where_prec", "9"),
        rows[5].clone(),
    ];
    let p = parse_bytes("bad.csv", &csv_file(&header, &rows));
    let why: Vec<&str> = p.rejected.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(p.rejected.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 3, 4, 5, 6], "{why:?}");
    assert!(why[0].contains("date_start") && why[0].contains("out of range"));
    assert!(why[1].contains("date_end"));
    assert!(why[2].contains("latitude") && why[2].contains("outside the Earth"));
    assert!(why[3].contains("longitude"));
    assert!(why[4].contains("where_prec"));
    assert_eq!(p.events.len(), 1);
}

#[test]
fn unknown_or_incomplete_headers_name_the_problem() {
    let p = parse_bytes("x.csv", b"a,b,c\n1,2,3\n");
    assert_eq!(p.rejected[0].line, 0);
    assert!(p.rejected[0].reason.contains("unrecognised header"));
    let p = parse_bytes("x.csv", b"id,type_of_violence,where_prec,latitude\n1,1,1,30\n");
    assert!(p.rejected[0].reason.contains("date_start"), "{}", p.rejected[0]);
    let p = parse_bytes("x.csv", b"");
    assert!(p.rejected[0].reason.contains("empty"));
}

/// Header and the first rows of the real extract, read once.
fn head() -> &'static (String, Vec<String>) {
    static H: std::sync::OnceLock<(String, Vec<String>)> = std::sync::OnceLock::new();
    H.get_or_init(|| ged_head(10))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let p = parse_bytes("fuzz.csv", &bytes);
        prop_assert!(p.events.len() as u64 <= p.rows);
    }

    #[test]
    fn arbitrary_rows_under_a_real_header_never_panic(
        fields in proptest::collection::vec(proptest::collection::vec("[ -~]{0,12}", 0..45), 0..8)
    ) {
        let (header, _) = head();
        // Flexible: rows of any length, as a broken export would have.
        let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
        w.write_record(header.split(',')).unwrap();
        for f in &fields { if !f.is_empty() { w.write_record(f).unwrap(); } }
        let bytes = w.into_inner().unwrap();
        let p = parse_bytes("fuzz.csv", &bytes);
        prop_assert_eq!(p.events.len() + p.rejected.len(), p.rows as usize);
        // A row of the wrong length is rejected as such, naming its line.
        for r in &p.rejected {
            prop_assert!(r.line >= 2 && r.file == "fuzz.csv", "{}", r);
        }
    }

    /// One field of a real row replaced by anything: never a panic; the row
    /// is either accepted or rejected on its own line, naming the column.
    #[test]
    fn one_mutated_field_is_rejected_on_its_line_naming_the_column(
        row in 0usize..6, col in 0usize..41, value in "\\PC{0,16}"
    ) {
        let (header, rows) = head();
        let cols: Vec<&str> = header.split(',').collect();
        let mut rows = rows[..6].to_vec();
        rows[row] = set_field(header, &rows[row], cols[col], &value);
        let bytes = csv_file(header, &rows);
        let p = parse_bytes("m.csv", &bytes);
        prop_assert_eq!(p.rows, 6);
        prop_assert!(p.rejected.len() <= 1, "{:?}", p.rejected);
        prop_assert_eq!(p.events.len() + p.rejected.len(), 6);
        if let Some(r) = p.rejected.first() {
            // Line where the mutated record starts (records may span lines).
            let line = 2 + rows[..row].iter().map(|r| r.matches('\n').count() as u64 + 1).sum::<u64>();
            prop_assert_eq!(r.line, line, "{}", r);
            let named = r.reason.contains(cols[col])
                || (cols[col] == "year" && r.reason.contains("year"))
                || (cols[col] == "id" && r.reason.contains("duplicate event id"));
            prop_assert!(named, "{} (mutated {})", r, cols[col]);
        }
    }

    #[test]
    fn valid_ged_rows_round_trip(
        rows in proptest::collection::vec((
            1u64..10_000_000, 1u8..=3, 1u8..=7, 1u8..=5, -90.0f64..=90.0, -180.0f64..=180.0,
            0i64..10_000, 0i64..40, 0u32..5000, "[a-zA-Z ,\"']{0,20}"), 1..20)
    ) {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["id","year","type_of_violence","where_prec","where_coordinates","adm_1","latitude","longitude","date_prec","date_start","date_end","best"]).unwrap();
        let mut expect = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (id, ty, wp, dp, lat, lon, start, len, best, place) in rows {
            if !seen.insert(id) { continue; }
            let ds = NaiveDate::from_ymd_opt(1995, 1, 1).unwrap() + chrono::Duration::days(start);
            let de = ds + chrono::Duration::days(len);
            w.write_record([id.to_string(), ds.format("%Y").to_string(), ty.to_string(), wp.to_string(), place.clone(),
                "Adm".into(), format!("{lat}"), format!("{lon}"), dp.to_string(), ds.to_string(), de.to_string(), best.to_string()]).unwrap();
            expect.push((id.to_string(), ty, wp, dp, lat, lon, ds, de, best, place.trim().to_string()));
        }
        let p = parse_bytes("rt.csv", &w.into_inner().unwrap());
        prop_assert!(p.rejected.is_empty(), "{:?}", p.rejected);
        prop_assert_eq!(p.events.len(), expect.len());
        for (e, x) in p.events.iter().zip(&expect) {
            prop_assert_eq!(&e.event_id, &x.0);
            prop_assert_eq!(e.kind, EventKind::from_ged(x.1).unwrap());
            prop_assert_eq!((e.geo_prec, e.date_prec), (x.2, x.3));
            prop_assert_eq!((e.lat, e.lon), (x.4, x.5));
            prop_assert_eq!((e.date_start, e.date_end), (x.6, x.7));
            prop_assert_eq!(e.fatalities, x.8);
            prop_assert_eq!(&e.location, &x.9);
        }
    }
}
