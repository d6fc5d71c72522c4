//! Import is all or nothing, and its errors say where and why; export round-trips.

use std::io::Write;

use sallyport_core::{synth, Scenario};
use sallyport_store::import::{Format, ImportError, Kind};
use sallyport_store::testing::TestDb;
use sallyport_store::Store;

fn flagship() -> Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/northeast-syria-2026.toml");
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `db` loaded with the flagship's sites and its first 100 people.
async fn loaded(db: TestDb) -> TestDb {
    let scenario = flagship();
    let people = synth::generate(&scenario).unwrap();
    db.store.load_scenario(&scenario, &people[..100], false).await.unwrap();
    db
}

async fn snapshot(store: &Store) -> Vec<u8> {
    let mut out = Vec::new();
    for kind in [Kind::Sites, Kind::People, Kind::Fleet] {
        store.export(kind, Format::Csv, &mut out).await.unwrap();
    }
    out
}

async fn import_bytes(store: &Store, kind: Kind, format: Format, bytes: &[u8]) -> Result<u64, ImportError> {
    store.import_reader(kind, format, "input.csv", std::io::Cursor::new(bytes.to_vec()), &mut |_| {}).await.map(|r| r.records)
}

async fn people_csv(store: &Store) -> String {
    let mut out = Vec::new();
    store.export(Kind::People, Format::Csv, &mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

/// A people CSV of new, valid rows: the stored rows with their ids renumbered.
fn fresh_rows(csv: &str, n: usize) -> Vec<String> {
    csv.lines().skip(1).take(n).enumerate().map(|(i, l)| l.replacen("P-", &format!("Q{i}-"), 1)).collect()
}

/// Assert `bytes` is refused with a message containing every `needle`, and nothing changed.
async fn refused(db: &TestDb, kind: Kind, format: Format, bytes: &[u8], needles: &[&str]) {
    let before = snapshot(&db.store).await;
    let e = import_bytes(&db.store, kind, format, bytes).await.expect_err("bad input accepted");
    let msg = e.to_string();
    for n in needles {
        assert!(msg.contains(n), "{}: message {msg:?} lacks {n:?}", db.name);
    }
    assert!(snapshot(&db.store).await == before, "{}: database changed by a refused import", db.name);
}

sallyport_store::backend_tests! {
    async fn wrong_types_are_located(db) {
        let db = loaded(db).await;
        let csv = people_csv(&db.store).await;
        let header = csv.lines().next().unwrap();
        let mut rows = fresh_rows(&csv, 3);
        rows[2] = rows[2].replace(",true,", ",yes,");
        let file = format!("{header}\n{}\n", rows.join("\n"));
        refused(&db, Kind::People, Format::Csv, file.as_bytes(), &["input.csv:line 4", "column fit_to_fly"]).await;
        // A site's population that is not a number.
        let site = "id,name,kind,lat,lon,population,holding_capacity,daily_intake_capacity,open,close,refuel,runway,operator,source\n\
                    x1,New,camp,36.0,40.0,many,10,,,,false,false,SDF,\n";
        refused(&db, Kind::Sites, Format::Csv, site.as_bytes(), &["line 2", "column population"]).await;
    }

    async fn unknown_site_and_bad_rules_are_located(db) {
        let db = loaded(db).await;
        let csv = people_csv(&db.store).await;
        let header = csv.lines().next().unwrap();
        let mut rows = fresh_rows(&csv, 5);
        rows[3] = rows[3].rsplit_once(',').map(|(a, _)| format!("{a},atlantis")).unwrap();
        let file = format!("{header}\n{}\n", rows.join("\n"));
        refused(&db, Kind::People, Format::Csv, file.as_bytes(), &["line 5", "column site", "unknown site atlantis"]).await;
        let mut rows: Vec<String> = fresh_rows(&csv, 50).into_iter().filter(|r| r.contains(",male,")).take(2).collect();
        rows[1] = rows[1].replace(",adult_male,", ",adult_female,").replace(",minor,", ",adult_female,");
        let file = format!("{header}\n{}\n", rows.join("\n"));
        refused(&db, Kind::People, Format::Csv, file.as_bytes(), &["line 3", "column category"]).await;
    }

    async fn an_error_after_several_inserted_batches_rolls_all_back(db) {
        // Import writes in batches of 5,000 while the next batch is parsed: a bad
        // row in the third batch must undo the two already inserted.
        let db = loaded(db).await;
        let csv = people_csv(&db.store).await;
        let header = csv.lines().next().unwrap();
        let row = csv.lines().nth(1).unwrap();
        let mut rows: Vec<String> = (0..12_000).map(|i| row.replacen("P-000001", &format!("B{i}-1"), 1)).collect();
        rows[11_000] = rows[11_000].replace(",true,", ",maybe,").replace(",false,", ",maybe,");
        let file = format!("{header}\n{}\n", rows.join("\n"));
        refused(&db, Kind::People, Format::Csv, file.as_bytes(), &["line 11002", "column fit_to_fly"]).await;
        // The same file without the bad row goes in whole.
        rows.remove(11_000);
        let file = format!("{header}\n{}\n", rows.join("\n"));
        assert_eq!(import_bytes(&db.store, Kind::People, Format::Csv, file.as_bytes()).await.unwrap(), 11_999, "{}", db.name);
        assert_eq!(db.store.people().await.unwrap().len(), 100 + 11_999, "{}", db.name);
    }

    async fn a_schema_refusal_late_in_the_file_is_located_and_rolls_all_back(db) {
        // A rule only the database knows (validation passes every row): at most
        // one person named "Zed Unique". The second such row is in the third
        // batch, so two batches are already inserted when the database refuses it.
        let db = loaded(db).await;
        sqlx::query("CREATE UNIQUE INDEX test_once ON people (name_latin) WHERE name_latin = 'Zed Unique'")
            .execute(db.store.pool())
            .await
            .unwrap();
        let csv = people_csv(&db.store).await;
        let header = csv.lines().next().unwrap();
        let row = csv.lines().nth(1).unwrap();
        let mut rows: Vec<String> = (0..12_000).map(|i| row.replacen("P-000001", &format!("U{i}-1"), 1)).collect();
        let renamed = |line: &str| {
            let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(line.as_bytes());
            let mut fields: Vec<String> = r.records().next().unwrap().unwrap().iter().map(str::to_string).collect();
            fields[2] = "Zed Unique".into();
            let mut w = csv::WriterBuilder::new().has_headers(false).terminator(csv::Terminator::Any(b'\n')).from_writer(vec![]);
            w.write_record(&fields).unwrap();
            String::from_utf8(w.into_inner().unwrap()).unwrap().trim_end().to_string()
        };
        rows[5] = renamed(&rows[5]);
        rows[11_000] = renamed(&rows[11_000]);
        let file = format!("{header}\n{}\n", rows.join("\n"));
        let needles: &[&str] = if db.name == "sqlite" {
            &["input.csv:line 11002", "column name_latin", "UNIQUE constraint failed: people.name_latin"]
        } else {
            &["input.csv:line 11002", "column name_latin", "test_once"]
        };
        refused(&db, Kind::People, Format::Csv, file.as_bytes(), needles).await;
        assert_eq!(db.store.people().await.unwrap().len(), 100, "{}", db.name);
        // Without the second "Zed Unique" the file goes in whole, constraint and all.
        rows.remove(11_000);
        let file = format!("{header}\n{}\n", rows.join("\n"));
        assert_eq!(import_bytes(&db.store, Kind::People, Format::Csv, file.as_bytes()).await.unwrap(), 11_999, "{}", db.name);
        assert_eq!(db.store.people().await.unwrap().len(), 100 + 11_999, "{}", db.name);
    }

    async fn a_large_import_round_trips_exactly(db) {
        // More than one batch through the backend's bulk path: export → import
        // into a fresh store → export gives the same bytes.
        let scenario = flagship();
        let people = synth::generate(&scenario).unwrap();
        db.store.load_scenario(&scenario, &people, false).await.unwrap();
        let mut first = Vec::new();
        db.store.export(Kind::People, Format::Csv, &mut first).await.unwrap();
        let fresh = if db.name == "sqlite" { sallyport_store::testing::sqlite().await } else { sallyport_store::testing::postgres().await.unwrap() };
        fresh.store.load_scenario(&scenario, &[], false).await.unwrap();
        assert_eq!(import_bytes(&fresh.store, Kind::People, Format::Csv, &first).await.unwrap(), 6_000);
        let mut second = Vec::new();
        fresh.store.export(Kind::People, Format::Csv, &mut second).await.unwrap();
        assert!(first == second, "{}: export differs after a round trip", db.name);
        assert!(fresh.store.people().await.unwrap() == people, "{}: people differ", db.name);
    }

    async fn duplicate_ids_are_refused(db) {
        let db = loaded(db).await;
        let csv = people_csv(&db.store).await;
        let header = csv.lines().next().unwrap();
        let rows = fresh_rows(&csv, 3);
        let file = format!("{header}\n{}\n{}\n{}\n", rows[0], rows[1], rows[0]);
        refused(&db, Kind::People, Format::Csv, file.as_bytes(), &["line 4", "column id", "duplicate id Q0-000001"]).await;
        // Already in the database.
        let existing = csv.lines().nth(1).unwrap();
        let file = format!("{header}\n{}\n{existing}\n", rows[1]);
        refused(&db, Kind::People, Format::Csv, file.as_bytes(), &["line 3", "duplicate id P-000001"]).await;
    }

    async fn coordinates_out_of_range_are_refused(db) {
        let db = loaded(db).await;
        let site = "id,name,kind,lat,lon,population,holding_capacity,daily_intake_capacity,open,close,refuel,runway,operator,source\n\
                    ok1,Fine,camp,36.0,40.0,0,10,,,,false,false,SDF,\n\
                    x1,Nowhere,camp,95.5,40.0,0,10,,,,false,false,SDF,\n";
        refused(&db, Kind::Sites, Format::Csv, site.as_bytes(), &["line 3", "column lat", "latitude"]).await;
        let json = r#"[{"id":"x2","name":"Far","kind":"camp","lat":36,"lon":-181,"population":0,"holding_capacity":1,
            "daily_intake_capacity":null,"open":null,"close":null,"refuel":false,"runway":false,"operator":"SDF","source":""}]"#;
        refused(&db, Kind::Sites, Format::Json, json.as_bytes(), &["element 1", "column lon"]).await;
    }

    async fn truncated_files_are_refused(db) {
        let db = loaded(db).await;
        let csv = people_csv(&db.store).await;
        let header = csv.lines().next().unwrap();
        let rows = fresh_rows(&csv, 10).join("\n");
        let cut = format!("{header}\n{rows}");
        let cut = &cut[..cut.len() - 60];
        refused(&db, Kind::People, Format::Csv, cut.as_bytes(), &["line 11", "expected 15 columns"]).await;
        let mut json = Vec::new();
        db.store.export(Kind::People, Format::Json, &mut json).await.unwrap();
        refused(&db, Kind::People, Format::Json, &json[..json.len() / 2], &["invalid JSON", "line"]).await;
    }

    async fn wrong_encoding_is_located(db) {
        let db = loaded(db).await;
        let csv = people_csv(&db.store).await;
        let header = csv.lines().next().unwrap();
        let rows = fresh_rows(&csv, 2);
        let mut file = format!("{header}\n{}\n", rows[0]).into_bytes();
        // Latin-1 "é" (0xE9) in the transliteration: not UTF-8.
        let second = rows[1].replacen("al-", "\u{1}", 1).into_bytes();
        file.extend(second.iter().map(|&b| if b == 1 { 0xE9 } else { b }));
        file.push(b'\n');
        refused(&db, Kind::People, Format::Csv, &file, &["line 3", "column name_latin", "not valid UTF-8"]).await;
    }

    async fn a_gigabyte_of_garbage_fails_fast_and_changes_nothing(db) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage.csv");
        {
            // 1 GiB file (sparse: zeros after the first MiB of random bytes).
            let mut f = std::fs::File::create(&path).unwrap();
            let noise: Vec<u8> = (0..1 << 20).map(|_| rand::random::<u8>()).collect();
            f.write_all(&noise).unwrap();
            f.set_len(1 << 30).unwrap();
        }
        let db = loaded(db).await;
        let before = snapshot(&db.store).await;
        for format in [Format::Csv, Format::Json] {
            let e = db.store.import_file(Kind::People, format, &path, &mut |_| {}).await.unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains("garbage.csv"), "{msg}");
            assert!(msg.contains("NUL byte") || msg.contains("header") || msg.contains("invalid JSON") || msg.contains("line"), "{msg}");
        }
        assert!(snapshot(&db.store).await == before);
    }

    async fn export_import_export_round_trips_exactly(db) {
        let scenario = flagship();
        let people = synth::generate(&scenario).unwrap();
        db.store.load_scenario(&scenario, &people[..500], false).await.unwrap();
        for format in [Format::Csv, Format::Json] {
            let mut first = Vec::new();
            db.store.export(Kind::People, format, &mut first).await.unwrap();
            let fresh = sallyport_store::testing::sqlite().await;
            fresh.store.load_scenario(&scenario, &[], false).await.unwrap();
            let n = import_bytes(&fresh.store, Kind::People, format, &first).await.unwrap();
            assert_eq!(n, 500);
            let mut second = Vec::new();
            fresh.store.export(Kind::People, format, &mut second).await.unwrap();
            assert!(first == second, "{} {format:?}: export differs after a round trip", db.name);
            assert!(fresh.store.people().await.unwrap() == people[..500], "{format:?}: people differ");
        }
        let mut sites = Vec::new();
        db.store.export(Kind::Sites, Format::Json, &mut sites).await.unwrap();
        let text = String::from_utf8(sites).unwrap();
        assert_eq!(text.matches("\"id\"").count(), scenario.sites.len());
    }
}
