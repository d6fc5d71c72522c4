//! The API over a real HTTP connection, on the flagship scenario.

mod common;

use common::*;
use sallyport_server::LiveEvent;
use serde_json::{Value, json};

fn arrival(seq: u64, person: &str) -> Value {
    json!({"seq": seq, "person": person, "kind": "arrived", "site": "baghdad", "custodian": "IQ-GOV", "at": "2026-01-22T10:00:00Z"})
}

#[tokio::test]
async fn picture_sync_and_live_updates_on_both_backends() {
    for db in sallyport_store::testing::backends().await {
        let name = db.name;
        let srv = TestServer::start_on(db, true, Default::default()).await;
        let c = client();
        let status = srv.db.store.status().await.unwrap();
        let ov: Value = c
            .get(srv.url("/api/v1/overview"))
            .bearer_auth(VIEWER_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            ov["total_in_custody"].as_u64(),
            Some(status.total),
            "{name}"
        );
        assert_eq!(
            ov["total_in_custody"].as_u64(),
            Some(6000),
            "{name}: the flagship holds 6,000 people"
        );
        let ghw = ov["sites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == "ghwayran")
            .unwrap();
        assert_eq!(
            ghw["held_now"].as_u64(),
            status.per_site.get("ghwayran").copied(),
            "{name}"
        );
        assert_eq!(ov["delivered"].as_u64(), Some(0), "{name}");

        // Subscribe to live updates before the write.
        let mut live = c
            .get(srv.url("/api/v1/live"))
            .bearer_auth(VIEWER_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(live.status(), 200);
        assert!(
            live.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );

        let body = json!({"events": [arrival(1, "P-000001"), arrival(2, "P-000002")]});
        let url = srv.url("/api/v1/devices/lz-1/events");
        let ack: Value = c
            .post(&url)
            .bearer_auth(OPERATOR_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            ack,
            json!({"device": "lz-1", "accepted": 2, "duplicates": 0, "high_water": 2}),
            "{name}"
        );
        // Re-sent after a lost acknowledgement: recognised, nothing changes.
        let ack: Value = c
            .post(&url)
            .bearer_auth(OPERATOR_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ack["accepted"], 0, "{name}");
        assert_eq!(ack["duplicates"], 2, "{name}");
        // Same seq, different content: refused whole.
        let changed = json!({"events": [arrival(3, "P-000003"), arrival(2, "P-000004")]});
        let r = c
            .post(&url)
            .bearer_auth(OPERATOR_TOKEN)
            .json(&changed)
            .send()
            .await
            .unwrap();
        assert!(problem(r, 409).await.contains("seq 2"), "{name}");
        let st: Value = c
            .get(srv.url("/api/v1/devices/lz-1"))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            st["high_water"], 2,
            "{name}: the refused batch stored nothing"
        );

        let p = srv
            .db
            .store
            .person(&"P-000001".parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.site.as_str(), p.custodian.as_str()),
            ("baghdad", "IQ-GOV"),
            "{name}"
        );
        let ov: Value = c
            .get(srv.url("/api/v1/overview"))
            .bearer_auth(VIEWER_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            ov["delivered"].as_u64(),
            Some(2),
            "{name}: the read model reflects the write at once"
        );

        let person: Value = c
            .get(srv.url("/api/v1/people/P-000001"))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(person["person"]["site"], "baghdad");
        assert_eq!(person["timeline"].as_array().unwrap().len(), 1);
        assert_eq!(person["timeline"][0]["device"], "lz-1");

        // The custody event reached the live stream.
        let mut seen = String::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !seen.contains("event: custody") {
            let chunk = tokio::time::timeout_at(deadline, live.chunk())
                .await
                .expect("live event in time")
                .unwrap()
                .unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        assert!(
            seen.contains("\"site\":\"baghdad\"") && seen.contains("\"people\":2"),
            "{seen}"
        );
        drop(live);
        srv.stop().await;
    }
}

#[tokio::test]
async fn bus_events_reach_the_picture_and_the_sitrep() {
    let srv = TestServer::start(true).await;
    let c = client();
    srv.bus
        .send(LiveEvent::Alert {
            id: "A-1".into(),
            severity: "critical".into(),
            site: Some("raqqa".into()),
            message: "shelling reported near the site".into(),
        })
        .unwrap();
    // The server's own listener remembers the alert; poll until it is visible.
    let mut ok = false;
    for _ in 0..50 {
        let alerts: Value = c
            .get(srv.url("/api/v1/alerts"))
            .bearer_auth(VIEWER_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if alerts.as_array().unwrap().iter().any(|a| a["id"] == "A-1") {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ok, "alert never reached the read model");
    let site: Value = c
        .get(srv.url("/api/v1/sites/raqqa"))
        .bearer_auth(VIEWER_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(site["threat"], "critical");
    let rep: Value = c
        .get(srv.url("/api/v1/sitrep"))
        .bearer_auth(VIEWER_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        rep["threats"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["message"] == "shelling reported near the site")
    );
    assert_eq!(rep["totals"]["planned"], 6000);
    let pdf = c
        .get(srv.url("/api/v1/sitrep.pdf"))
        .bearer_auth(VIEWER_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    assert!(
        bytes.starts_with(b"%PDF-") && bytes.len() > 1000,
        "{} bytes",
        bytes.len()
    );
    srv.stop().await;
}

#[tokio::test]
async fn ops_endpoints_and_openapi() {
    let srv = TestServer::start(false).await;
    let c = client();
    let h: Value = c
        .get(srv.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok");
    let r: Value = c
        .get(srv.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "ready");
    let doc: Value = c
        .get(srv.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/overview",
        "/api/v1/people/{id}",
        "/api/v1/devices/{device}/events",
        "/api/v1/live",
        "/api/v1/sitrep.pdf",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"].get("Problem").is_some());
    // An empty database still answers with an empty picture, not an error.
    let ov: Value = c
        .get(srv.url("/api/v1/overview"))
        .bearer_auth(VIEWER_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ov["total_in_custody"], 0);
    let m = c
        .get(srv.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("sallyport_http_requests_total{method=\"GET\",route=\"/api/v1/overview\",status=\"200\"} 1"), "{m}");
    srv.stop().await;
}

/// Six devices syncing at once, their batches naming the same 200 people in
/// opposite orders: every batch commits (writers of the same people queue on
/// the row locks taken in id order, never deadlock into a 5xx), each event is
/// stored once, and each person ends with their latest event by time.
#[tokio::test]
async fn overlapping_batches_from_several_devices_all_commit() {
    for db in sallyport_store::testing::backends().await {
        let name = db.name;
        let srv = TestServer::start_on(db, true, Default::default()).await;
        let people: Vec<String> = (1..=200).map(|i| format!("P-{i:06}")).collect();
        let mut sends = Vec::new();
        for d in 0..6u64 {
            let mut order: Vec<&String> = people.iter().collect();
            if d % 2 == 1 {
                order.reverse();
            }
            // Device 5's events are the latest; its custodian differs.
            let (site, custodian) = if d == 5 { ("baghdad", "IQ-GOV") } else { ("baghdad", "US-CENTCOM") };
            let events: Vec<Value> = order
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    json!({"seq": k + 1, "person": p, "kind": "arrived", "site": site, "custodian": custodian,
                           "at": format!("2026-01-22T1{d}:00:00Z")})
                })
                .collect();
            let (c, url) = (client(), srv.url(&format!("/api/v1/devices/lz-{d}/events")));
            sends.push(tokio::spawn(async move {
                let r = c.post(&url).bearer_auth(OPERATOR_TOKEN).json(&json!({ "events": events })).send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }));
        }
        for (d, s) in sends.into_iter().enumerate() {
            let (status, body) = s.await.unwrap();
            assert_eq!(status, 200, "{name}: device lz-{d}: {body}");
            let ack: Value = serde_json::from_str(&body).unwrap();
            assert_eq!((ack["accepted"].as_u64(), ack["high_water"].as_u64()), (Some(200), Some(200)), "{name}: lz-{d}");
        }
        for id in ["P-000001", "P-000100", "P-000200"] {
            let p = srv.db.store.person(&id.parse().unwrap()).await.unwrap().unwrap();
            assert_eq!((p.site.as_str(), p.custodian.as_str()), ("baghdad", "IQ-GOV"), "{name}: {id} follows its latest event");
        }
        srv.stop().await;
    }
}
