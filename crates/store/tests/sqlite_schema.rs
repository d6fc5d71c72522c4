//! SQLite's migration 0002 (people's CHECKs as OR-chains, edited in place):
//! an existing database keeps every row, including the rows that reference
//! people, and the rules are enforced exactly as before.

use std::str::FromStr;

use sallyport_store::Store;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

const PERSON: &str = "INSERT INTO people (id, name_ar, name_latin, aliases_json, date_of_birth, sex, nationality, category, \
     risk, separation_groups, fit_to_fly, escort, legal_status, custodian, site) VALUES \
     ($1, 'محمد', 'Muhammad', '[]', '1980', 'male', 'SYR', $2, $3, '', 1, $4, $5, 'SDF', 's1')";

#[tokio::test]
async fn migration_0002_keeps_existing_rows_and_enforces_the_same_rules() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    // A database as it was before 0002: every other migration applied, with a
    // person and a fingerprint template that references them.
    let before = dir.path().join("migrations");
    std::fs::create_dir(&before).unwrap();
    let all = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
    for entry in std::fs::read_dir(all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if !name.starts_with("0002_") {
            std::fs::copy(&path, before.join(name)).unwrap();
        }
    }
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}?mode=rwc", db.display())).unwrap().foreign_keys(true);
    let pool = SqlitePoolOptions::new().max_connections(2).connect_with(options).await.unwrap();
    sqlx::migrate::Migrator::new(before.as_path()).await.unwrap().run(&pool).await.unwrap();
    for sql in [
        "INSERT INTO agencies (id, name, kind, country) VALUES ('SDF', 'SDF', 'partner_force', 'SYR')",
        "INSERT INTO sites (id, name, kind, lat, lon, population, holding_capacity, refuel, runway, operator) \
         VALUES ('s1', 'Camp', 'camp', 36, 40, 0, 10, 0, 0, 'SDF')",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    sqlx::query(PERSON).bind("P-1").bind("adult_male").bind("high").bind("none").bind("detained").execute(&pool).await.unwrap();
    sqlx::query(
        "INSERT INTO bio_templates (person_id, finger_position, template, format, minutiae, quality, source_file, enrolled_at_ms) \
         VALUES ('P-1', 1, x'00', 'SPFT1', 3, 50, 'f.png', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    // A connection that stays open across the migration must see the new rules too.
    let mut other = pool.acquire().await.unwrap();

    let store = Store::open(&format!("sqlite://{}", db.display())).await.unwrap();
    let reader = &pool;
    let count = |sql: &'static str| async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(reader).await.unwrap() };
    assert_eq!(count("SELECT COUNT(*) FROM people").await, 1);
    assert_eq!(count("SELECT COUNT(*) FROM bio_templates").await, 1, "the migration must not cascade to templates");
    assert_eq!(count("SELECT COUNT(*) FROM pragma_foreign_key_check").await, 0);
    let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&pool).await.unwrap();
    assert_eq!(check, "ok");
    let sql: String = sqlx::query_scalar("SELECT sql FROM sqlite_schema WHERE name = 'people'").fetch_one(&pool).await.unwrap();
    assert!(sql.contains("risk = 'low' OR risk = 'medium'") && !sql.contains("risk IN"), "{sql}");
    let bio: String = sqlx::query_scalar("SELECT sql FROM sqlite_schema WHERE name = 'bio_templates'").fetch_one(&pool).await.unwrap();
    assert!(bio.contains("REFERENCES people(id) ON DELETE CASCADE"), "{bio}");

    // Every enumeration still refuses an unknown value, on a fresh connection
    // and on one opened before the migration; the valid values still go in.
    let bad = [
        ("Q-1", "adult_mail", "high", "none", "detained", "category"),
        ("Q-2", "adult_male", "severe", "none", "detained", "risk"),
        ("Q-3", "adult_male", "high", "litter", "detained", "escort"),
        ("Q-4", "adult_male", "high", "none", "released", "legal_status"),
        ("Q-5", "adult_female", "high", "none", "detained", "category <> 'adult_female'"),
    ];
    for (id, category, risk, escort, legal, rule) in bad {
        let fresh = sqlx::query(PERSON).bind(id).bind(category).bind(risk).bind(escort).bind(legal).execute(store.pool()).await;
        let old = sqlx::query(PERSON).bind(id).bind(category).bind(risk).bind(escort).bind(legal).execute(&mut *other).await;
        for e in [fresh.map(|_| ()), old.map(|_| ())] {
            let e = e.expect_err(id).to_string();
            assert!(e.contains("CHECK constraint failed") && e.contains(rule), "{id}: {e}");
        }
    }
    for (i, (category, risk, escort, legal)) in
        [("minor", "low", "medical", "charged"), ("adult_male", "critical", "stretcher", "for_repatriation")].into_iter().enumerate()
    {
        sqlx::query(PERSON).bind(format!("R-{i}")).bind(category).bind(risk).bind(escort).bind(legal).execute(&mut *other).await.unwrap();
    }
    // Deleting a person still cascades to their templates (the reference is intact).
    sqlx::query("DELETE FROM people WHERE id = 'P-1'").execute(store.pool()).await.unwrap();
    assert_eq!(count("SELECT COUNT(*) FROM bio_templates").await, 0);
}
