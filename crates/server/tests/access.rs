//! Authorisation by the access crate's Cedar policy and field redaction, over
//! real HTTP on both backends: who sees which people and which of their fields.

mod common;

use common::*;
use sallyport_access::people::GroupMarking;
use sallyport_access::{Level, Marking};
use sallyport_core::RiskClass;
use sallyport_server::policy::{Overrides, Policy};
use serde_json::{Value, json};

async fn get(c: &reqwest::Client, url: String, token: &str) -> reqwest::Response {
    c.get(url).bearer_auth(token).send().await.unwrap()
}

async fn json_of(c: &reqwest::Client, url: String, token: &str) -> Value {
    let r = get(c, url.clone(), token).await;
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn fields_are_redacted_per_reader_on_both_backends() {
    for db in sallyport_store::testing::backends().await {
        let name = db.name;
        let srv = TestServer::start_on(db, true, Default::default()).await;
        let c = client();
        let people = srv.db.store.people().await.unwrap();
        let high = people
            .iter()
            .find(|p| p.risk == RiskClass::High)
            .expect("the flagship has high-risk people");
        let url = srv.url(&format!("/api/v1/people/{}", high.id));

        // The partner force sees who, where and in whose custody, identity and
        // medical, but neither the SECRET risk group nor intelligence notes.
        let p = json_of(&c, url.clone(), PARTNER_TOKEN).await["person"].clone();
        assert_eq!(p["id"], high.id.as_str(), "{name}");
        assert_eq!(p["site"], high.site.as_str(), "{name}");
        assert_eq!(p["custodian"], high.custodian.as_str(), "{name}");
        assert_eq!(
            p["identity"]["name_latin"], high.identity.name_latin,
            "{name}"
        );
        assert!(
            p.get("risk").is_none(),
            "{name}: risk shown to the partner: {p}"
        );
        assert!(p.get("separation_groups").is_none(), "{name}");
        assert_eq!(p["intel_notes"], json!([]), "{name}");
        assert!(
            !p.to_string().contains("SYNTHETIC NOTE"),
            "{name}: a note leaked: {p}"
        );
        assert!(p["markings"].get("/risk").is_none(), "{name}");

        // A US coordinator cleared SECRET sees the risk group, not the HVD note.
        let p = json_of(&c, url.clone(), OPERATOR_TOKEN).await["person"].clone();
        assert_eq!(p["risk"], "high", "{name}");
        assert_eq!(p["markings"]["/risk"], "(S//REL TO IRQ, USA)", "{name}");
        assert_eq!(p["intel_notes"], json!([]), "{name}");

        // The intelligence analyst, read into HVD, sees the note with its marking.
        let p = json_of(&c, url.clone(), ANALYST_TOKEN).await["person"].clone();
        let notes = p["intel_notes"].as_array().unwrap();
        assert_eq!(notes.len(), 1, "{name}: {p}");
        assert_eq!(notes[0]["marking"], "(S//HVD//REL TO USA)", "{name}");
        assert!(
            notes[0]["text"]
                .as_str()
                .unwrap()
                .starts_with("SYNTHETIC NOTE")
        );

        // Lists and exports are redacted the same way.
        let page = json_of(
            &c,
            srv.url(&format!("/api/v1/people?site={}&limit=500", high.site)),
            PARTNER_TOKEN,
        )
        .await;
        assert!(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p.get("risk").is_none()),
            "{name}"
        );
        let export = json_of(&c, srv.url("/api/v1/export/people"), PARTNER_TOKEN).await;
        assert_eq!(export["total"], 6000, "{name}");
        assert_eq!(export["items"].as_array().unwrap().len(), 6000, "{name}");
        assert!(!export.to_string().contains("SYNTHETIC NOTE"), "{name}");
        assert!(!export.to_string().contains("\"risk\""), "{name}");
        let export = json_of(&c, srv.url("/api/v1/export/people"), ANALYST_TOKEN).await;
        let noted = export["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| !p["intel_notes"].as_array().unwrap().is_empty())
            .count();
        let expected = people
            .iter()
            .filter(|p| matches!(p.risk, RiskClass::High | RiskClass::Critical))
            .count();
        assert_eq!(noted, expected, "{name}: the analyst sees every note");

        // An observer from outside the operation: the picture is refused, the
        // people list is empty, a person is answered like a missing one.
        problem(
            get(&c, srv.url("/api/v1/overview"), OUTSIDER_TOKEN).await,
            403,
        )
        .await;
        let page = json_of(&c, srv.url("/api/v1/people"), OUTSIDER_TOKEN).await;
        assert_eq!(page, json!({"total": 0, "items": []}), "{name}");
        let d = problem(get(&c, url.clone(), OUTSIDER_TOKEN).await, 404).await;
        let d_missing = problem(
            get(&c, srv.url("/api/v1/people/P-999999"), OUTSIDER_TOKEN).await,
            404,
        )
        .await;
        assert_eq!(
            d.replace(high.id.as_str(), "X"),
            d_missing.replace("P-999999", "X"),
            "{name}: a hidden person must look exactly like a missing one"
        );
        srv.stop().await;
    }
}

#[tokio::test]
async fn hidden_records_are_never_listed_or_counted_and_holds_block_writes() {
    for db in sallyport_store::testing::backends().await {
        let name = db.name;
        let scenario = flagship();
        let people = sallyport_core::synth::generate(&scenario).unwrap();
        let hidden = people[1].clone();
        let held = people[2].clone();
        // Operator-set markings: one person's custody group is SECRET and
        // releasable to the USA only; another is under legal hold.
        let mut o = Overrides::default();
        o.markings.insert(
            (hidden.id.to_string(), "custody".into()),
            GroupMarking {
                marking: Marking::new(Level::Secret).with_rel_to(["USA"]),
                originator: Some("US-CENTCOM".into()),
            },
        );
        o.legal_holds.insert(held.id.to_string());
        let policy = Policy::builtin().unwrap().with_overrides(o);
        let srv = TestServer::start_with(db, true, Default::default(), auth_with(policy)).await;
        let c = client();
        let site = hidden.site.to_string();
        let at_site = people.iter().filter(|p| p.site == hidden.site).count() as u64;

        for (token, sees) in [
            (PARTNER_TOKEN, false),
            (VIEWER_TOKEN, false),
            (OPERATOR_TOKEN, true),
        ] {
            let n = 6000 - u64::from(!sees);
            let ov = json_of(&c, srv.url("/api/v1/overview"), token).await;
            assert_eq!(ov["total_in_custody"], n, "{name} {token}");
            let s = ov["sites"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["id"] == site)
                .unwrap()
                .clone();
            assert_eq!(s["held_now"], at_site - u64::from(!sees), "{name} {token}");
            let sum: u64 = ov["per_custodian"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_u64().unwrap())
                .sum();
            assert_eq!(sum, n, "{name} {token}");
            let page = json_of(
                &c,
                srv.url(&format!("/api/v1/people?site={site}&limit=500")),
                token,
            )
            .await;
            assert_eq!(page["total"], at_site - u64::from(!sees), "{name} {token}");
            let listed = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["id"] == hidden.id.as_str());
            // The hidden person is the second of the synthetic population, on the first page.
            assert_eq!(listed, sees, "{name} {token}");
            let export = json_of(&c, srv.url("/api/v1/export/people"), token).await;
            assert_eq!(export["total"], n, "{name} {token}");
            assert_eq!(
                export.to_string().contains(&format!("\"{}\"", hidden.id)),
                sees,
                "{name} {token}"
            );
            let r = get(&c, srv.url(&format!("/api/v1/people/{}", hidden.id)), token).await;
            assert_eq!(r.status(), if sees { 200 } else { 404 }, "{name} {token}");
        }

        // A write to a visible person under legal hold is refused by the policy,
        // and nothing is stored.
        let ev = |seq: u64, person: &str| {
            json!({"events": [{"seq": seq, "person": person, "kind": "checkpoint", "site": held.site.as_str(),
                "custodian": held.custodian.as_str(), "at": "2026-01-21T10:00:00Z"}]})
        };
        let r = c
            .post(srv.url("/api/v1/devices/fd-test/events"))
            .bearer_auth(OPERATOR_TOKEN)
            .json(&ev(1, held.id.as_str()))
            .send()
            .await
            .unwrap();
        let d = problem(r, 403).await;
        assert!(d.contains("legal-hold"), "{name}: {d}");
        // A person the partner may not see is reported as unknown to them.
        let r = c
            .post(srv.url("/api/v1/devices/fd-test/events"))
            .bearer_auth(PARTNER_TOKEN)
            .json(&ev(1, hidden.id.as_str()))
            .send()
            .await
            .unwrap();
        let d = problem(r, 422).await;
        assert!(d.contains("no person"), "{name}: {d}");
        let st = json_of(&c, srv.url("/api/v1/devices/fd-test"), OPERATOR_TOKEN).await;
        assert_eq!(st["high_water"], 0, "{name}: nothing stored");
        // Others' custody is still writable by the partner's field custodian.
        let r = c
            .post(srv.url("/api/v1/devices/fd-test/events"))
            .bearer_auth(PARTNER_TOKEN)
            .json(&ev(1, people[3].id.as_str()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        srv.stop().await;
    }
}

#[tokio::test]
async fn whoami_shows_the_policy_principal() {
    let srv = TestServer::start(true).await;
    let c = client();
    let me = json_of(&c, srv.url("/api/v1/session"), PARTNER_TOKEN).await;
    assert_eq!(
        me,
        json!({"subject": "partner", "agency": "SDF", "country": "SYR", "agency_kind": "partner_force",
            "roles": ["field_custodian"], "clearance": "CONFIDENTIAL", "compartments": []})
    );
    srv.stop().await;
}
