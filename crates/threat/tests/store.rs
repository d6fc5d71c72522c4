//! Ingestion into the store, on both backends: idempotent, all or nothing,
//! with a clear report for every kind of bad input.

mod common;

use sallyport_store::testing::backends;
use sallyport_threat::db::{event_count, load_events};
use sallyport_threat::{IngestOptions, ingest_files, parse_bytes};

use common::*;

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[tokio::test]
async fn real_extract_ingests_once_and_reloads_exactly() {
    let real = ged_path();
    let expected = parse_bytes("x", &ged_bytes()).events;
    for db in backends().await {
        let r = ingest_files(&db.store, &[&real], IngestOptions::default()).await.unwrap();
        assert!(r.committed, "{}: {}", db.name, r.summary);
        assert_eq!(r.added, 16_566, "{}", db.name);
        assert_eq!(event_count(&db.store).await.unwrap(), 16_566);
        // The same file twice: nothing added, all counted as present.
        let r2 = ingest_files(&db.store, &[&real], IngestOptions::default()).await.unwrap();
        assert_eq!((r2.added, r2.files[0].already_present), (0, 16_566), "{}", db.name);
        assert_eq!(event_count(&db.store).await.unwrap(), 16_566);
        let mut back = load_events(&db.store).await.unwrap();
        let mut exp = expected.clone();
        let key = |e: &sallyport_threat::Event| (e.source, e.event_id.clone());
        back.sort_by_key(key);
        exp.sort_by_key(key);
        assert_eq!(back, exp, "{}: round trip through the store", db.name);
    }
}

#[tokio::test]
async fn bad_files_ingest_nothing_and_name_file_line_and_why() {
    let (header, rows) = ged_head(300);
    let dir = tempfile::tempdir().unwrap();
    let good = write(&dir, "good.csv", &csv_file(&header, &rows[..100]));
    let full = csv_file(&header, &rows[100..]);
    let truncated = write(&dir, "truncated.csv", &full[..full.len() - 40]);
    let mut shifted_rows = rows[100..].to_vec();
    shifted_rows[7] = shifted_rows[7].replacen(",", ",,", 1);
    let shifted = write(&dir, "shifted.csv", &csv_file(&header, &shifted_rows));
    let mut date_rows = rows[100..].to_vec();
    date_rows[20] = set_field(&header, &date_rows[20], "date_start", "2105-03-01");
    let dates = write(&dir, "dates.csv", &csv_file(&header, &date_rows));
    let mut coord_rows = rows[100..].to_vec();
    coord_rows[50] = set_field(&header, &coord_rows[50], "latitude", "-91.5");
    let coords = write(&dir, "coords.csv", &csv_file(&header, &coord_rows));
    let cases = [(&truncated, "truncated"), (&shifted, "shifted"), (&dates, "out of range"), (&coords, "outside the Earth")];
    for db in backends().await {
        let r = ingest_files(&db.store, &[&good], IngestOptions::default()).await.unwrap();
        assert_eq!(r.added, 100);
        for (bad, why) in &cases {
            // Together with a good file: the whole ingest is refused.
            let r = ingest_files(&db.store, &[&good, *bad], IngestOptions::default()).await.unwrap();
            assert!(!r.committed, "{} {}", db.name, bad.display());
            assert_eq!(r.rejected, 1, "{}: {:?}", bad.display(), r.files[1].rejected);
            let rej = &r.files[1].rejected[0];
            assert_eq!(rej.file, bad.display().to_string());
            assert!(rej.line >= 2 && rej.reason.contains(why), "{}: {rej}", db.name);
            assert_eq!(event_count(&db.store).await.unwrap(), 100, "{}: nothing half-ingested", db.name);
        }
        // Line numbers point at the bad row in the file (header is line 1;
        // some records span several lines).
        let r = ingest_files(&db.store, &[&dates], IngestOptions::default()).await.unwrap();
        let line = r.files[0].rejected[0].line as usize;
        let text = std::fs::read_to_string(&dates).unwrap();
        assert!(text.lines().nth(line - 1).unwrap().contains("2105-03-01"), "{}", db.name);
        // --skip-invalid stores the valid rows only, and still reports the bad one.
        let r = ingest_files(&db.store, &[&coords], IngestOptions { skip_invalid: true }).await.unwrap();
        assert!(r.committed);
        assert_eq!((r.added, r.rejected), (199, 1), "{}", db.name);
        assert_eq!(event_count(&db.store).await.unwrap(), 299);
    }
}

#[tokio::test]
async fn unreadable_and_unrecognised_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let junk = write(&dir, "junk.csv", b"name,age\nx,1\n");
    for db in backends().await {
        let missing = dir.path().join("nope.csv");
        let e = ingest_files(&db.store, &[&missing], IngestOptions::default()).await.unwrap_err();
        assert!(e.to_string().contains("nope.csv"), "{e}");
        let r = ingest_files(&db.store, &[&junk], IngestOptions::default()).await.unwrap();
        assert!(!r.committed);
        assert!(r.files[0].rejected[0].reason.contains("unrecognised header"));
        assert_eq!(event_count(&db.store).await.unwrap(), 0);
    }
}
