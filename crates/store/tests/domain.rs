//! The store's domain API, on SQLite and PostgreSQL over real connections.

use sallyport_core::{synth, AgencyId, PersonId, Scenario, SiteId};

pub fn flagship() -> Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/northeast-syria-2026.toml");
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

sallyport_store::backend_tests! {
    async fn flagship_loads_and_status_sums_to_population(db) {
        let scenario = flagship();
        let people = synth::generate(&scenario).unwrap();
        eprintln!("backend: {}", db.name);
        let store = &db.store;
        store.load_scenario(&scenario, &people, false).await.unwrap();
        let status = store.status().await.unwrap();
        assert_eq!(status.total, 6000, "{}", db.name);
        assert_eq!(status.per_site.values().sum::<u64>(), 6000, "{}", db.name);
        assert_eq!(status.per_site["ghwayran"], 2750);
        assert_eq!(status.per_site["baghdad"], 0);
        assert_eq!(status.per_custodian["SDF"], 6000);
        // Round trip: what comes back is what went in.
        assert!(store.people().await.unwrap() == people, "{}: people differ", db.name);
        // By ids: across the 500-id chunks, unknown ids left out, in id order.
        let mut want: Vec<&sallyport_core::Person> = people.iter().step_by(7).take(800).collect();
        let mut ids: Vec<&str> = want.iter().rev().map(|p| p.id.as_str()).collect();
        ids.insert(300, "NOBODY-0001");
        want.sort_by(|a, b| a.id.cmp(&b.id));
        let got = store.people_by_ids(&ids).await.unwrap();
        assert_eq!(got.len(), 800, "{}", db.name);
        assert!(got.iter().zip(&want).all(|(g, w)| g == *w), "{}: people by ids differ", db.name);
        assert!(store.people_by_ids(&[]).await.unwrap().is_empty());
        let back = store.scenario().await.unwrap().unwrap();
        let sorted = |mut v: Vec<sallyport_core::Site>| {
            v.sort_by(|a, b| a.id.cmp(&b.id));
            v
        };
        assert!(sorted(back.sites) == sorted(scenario.sites.clone()), "{}: sites differ", db.name);
        assert_eq!(back.aircraft_types.len(), scenario.aircraft_types.len());
        let mut fleet = scenario.aircraft().unwrap();
        fleet.sort_by(|a, b| a.tail.cmp(&b.tail));
        assert!(store.aircraft().await.unwrap() == fleet, "{}: fleet differs", db.name);
        // A second load is refused and changes nothing.
        let err = store.load_scenario(&scenario, &people[..10], false).await.unwrap_err();
        assert!(err.to_string().contains("already holds an operation"), "{err}");
        assert_eq!(store.status().await.unwrap().total, 6000);
    }

    async fn schema_refuses_invalid_states(db) {
        let scenario = flagship();
        let people = synth::generate(&scenario).unwrap();
        let store = &db.store;
        store.load_scenario(&scenario, &people[..50], false).await.unwrap();
        let id = PersonId::new("P-000001").unwrap();
        // Custody can only move to a known custodian and a known site (FKs).
        let bad = store.update_custody(&id, &AgencyId::new("NOBODY").unwrap(), &SiteId::new("baghdad").unwrap()).await;
        assert!(bad.is_err(), "{}: unknown custodian accepted", db.name);
        let bad = store.update_custody(&id, &AgencyId::new("IQ-GOV").unwrap(), &SiteId::new("atlantis").unwrap()).await;
        assert!(bad.is_err(), "{}: unknown site accepted", db.name);
        store.update_custody(&id, &AgencyId::new("IQ-GOV").unwrap(), &SiteId::new("baghdad").unwrap()).await.unwrap();
        let p = store.person(&id).await.unwrap().unwrap();
        assert_eq!((p.custodian.as_str(), p.site.as_str()), ("IQ-GOV", "baghdad"));
        // CHECK constraints hold even against raw SQL.
        for sql in [
            "UPDATE people SET category = 'adult_female' WHERE id = 'P-000001'",
            "UPDATE people SET risk = 'extreme' WHERE id = 'P-000001'",
            "UPDATE sites SET lat = 91 WHERE id = 'baghdad'",
            "UPDATE people SET custodian = NULL WHERE id = 'P-000001'",
            "INSERT INTO operation (id, name, time_zone, start_ms, status, scenario_json) VALUES (2, 'x', 'UTC', 0, 'planning', '{}')",
        ] {
            assert!(sqlx::query(sql).execute(store.pool()).await.is_err(), "{}: accepted {sql}", db.name);
        }
        assert_eq!(store.status().await.unwrap().per_custodian["IQ-GOV"], 1);
    }
}

mod transactions {
use super::*;
use sallyport_store::sqlx;

sallyport_store::backend_tests! {
    /// Two write transactions that read before they write, interleaved: the second waits
    /// for the first and both commit. (On SQLite a deferred `BEGIN` fails here with
    /// "database is locked": the first has read, the second commits a write, and the first
    /// can then no longer upgrade its read snapshot to a write.)
    async fn interleaved_read_then_write_transactions_both_commit(db) {
        let store = db.store.clone();
        let count = |s: sallyport_store::Store| async move {
            sqlx::query_scalar::<_, i64>("SELECT CAST(COUNT(*) AS BIGINT) FROM agencies").fetch_one(s.pool()).await.unwrap()
        };
        let mut first = store.begin_write().await.unwrap();
        let before: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM agencies").fetch_one(&mut *first).await.unwrap();
        let other = store.clone();
        let second = tokio::spawn(async move {
            let mut tx = other.begin_write().await?;
            sqlx::query("INSERT INTO agencies (id, name, kind, country) VALUES ('AG-B', 'Second', 'police', 'XXX')").execute(&mut *tx).await?;
            tx.commit().await
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        sqlx::query("INSERT INTO agencies (id, name, kind, country) VALUES ('AG-A', 'First', 'police', 'XXX')").execute(&mut *first).await.unwrap();
        first.commit().await.unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(count(store).await, before + 2, "{}", db.name);
    }

    /// People read with `people_by_ids_locked` stay as read until the transaction
    /// ends: another writer of the same person waits (on PostgreSQL for the row
    /// lock, on SQLite for the write lock) and lands after the commit.
    async fn locked_people_wait_for_the_transaction_that_read_them(db) {
        let scenario = flagship();
        let people = synth::generate(&scenario).unwrap();
        let store = db.store.clone();
        store.load_scenario(&scenario, &people[..50], false).await.unwrap();
        let mut tx = store.begin_write().await.unwrap();
        let got = store.people_by_ids_locked(&mut tx, &["P-000002", "NOBODY-1", "P-000001", "P-000002"]).await.unwrap();
        let ids: Vec<&str> = got.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["P-000001", "P-000002"], "{}", db.name);
        let other = store.clone();
        let writer = tokio::spawn(async move {
            let id = PersonId::new("P-000001").unwrap();
            other.update_custody(&id, &AgencyId::new("IQ-GOV").unwrap(), &SiteId::new("baghdad").unwrap()).await
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!writer.is_finished(), "{}: a locked person was changed under the transaction", db.name);
        sqlx::query("UPDATE people SET site = 'ghwayran' WHERE id = 'P-000001'").execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        writer.await.unwrap().unwrap();
        let p = store.person(&PersonId::new("P-000001").unwrap()).await.unwrap().unwrap();
        assert_eq!((p.custodian.as_str(), p.site.as_str()), ("IQ-GOV", "baghdad"), "{}: the waiting write lands last", db.name);
    }
}
}
