//! Bad input over a real HTTP connection: every client mistake gets the
//! documented problem shape (RFC 9457) and the right 4xx status.

mod common;

use common::*;
use sallyport_server::Config;
use serde_json::json;

const SYNC: &str = "/api/v1/devices/lz-1/events";

#[tokio::test]
async fn client_mistakes_are_problems() {
    let srv = TestServer::start_on(
        sallyport_store::testing::sqlite().await,
        true,
        Config {
            body_limit: 64 * 1024,
            ..Config::default()
        },
    )
    .await;
    let c = client();
    let post = |body: Vec<u8>, ct: &'static str| {
        c.post(srv.url(SYNC))
            .bearer_auth(OPERATOR_TOKEN)
            .header("content-type", ct)
            .body(body)
            .send()
    };

    // Unauthenticated, bad token, unauthorised.
    problem(
        c.get(srv.url("/api/v1/overview")).send().await.unwrap(),
        401,
    )
    .await;
    let r = c
        .get(srv.url("/api/v1/overview"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("www-authenticate"));
    problem(r, 401).await;
    // Unauthorised, as Cedar decides: an administrator holds no grant to read
    // people's records or the picture; a planner may not write custody; an
    // observer whose country is not party to the operation is refused the picture.
    let d = problem(
        c.get(srv.url("/api/v1/people"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    assert!(d.contains("no policy permits read"), "{d}");
    problem(
        c.get(srv.url("/api/v1/people/P-000001"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    problem(
        c.get(srv.url("/api/v1/overview"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    let d = problem(
        c.get(srv.url("/api/v1/overview"))
            .bearer_auth(OUTSIDER_TOKEN)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    assert!(d.contains("releasability"), "{d}");
    let r = c
        .post(srv.url(SYNC))
        .bearer_auth(VIEWER_TOKEN)
        .json(&json!({"events": []}))
        .send()
        .await
        .unwrap();
    let d = problem(r, 403).await;
    assert!(d.contains("may not write"), "{d}");
    let r = c
        .post(srv.url("/api/v1/session"))
        .json(&json!({"username": "operator", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    problem(r, 401).await;

    // Oversized, malformed, wrong type, wrong shape.
    let huge = format!("{{\"events\": [{}]}}", "1,".repeat(40_000));
    let d = problem(
        post(huge.into_bytes(), "application/json").await.unwrap(),
        413,
    )
    .await;
    assert!(!d.is_empty());
    let d = problem(
        post(b"{\"events\": [".to_vec(), "application/json")
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(d.to_lowercase().contains("json"), "{d}");
    problem(
        post(b"{\"events\": []}".to_vec(), "text/plain")
            .await
            .unwrap(),
        415,
    )
    .await;
    problem(
        c.post(srv.url(SYNC))
            .bearer_auth(OPERATOR_TOKEN)
            .body("{}")
            .send()
            .await
            .unwrap(),
        415,
    )
    .await;
    let d = problem(
        post(
            br#"{"events": [{"seq": "one"}]}"#.to_vec(),
            "application/json",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert!(d.contains("seq"), "{d}");
    let d = problem(
        post(
            br#"{"events": [], "extra": 1}"#.to_vec(),
            "application/json",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert!(d.contains("extra"), "{d}");

    // Well-formed but invalid content, each named with its place.
    let ev = |f: &str, v: serde_json::Value| {
        let mut e = json!({"seq": 1, "person": "P-000001", "kind": "arrived", "site": "baghdad", "custodian": "IQ-GOV", "at": "2026-01-22T10:00:00Z"});
        e[f] = v;
        serde_json::to_vec(&json!({"events": [e]})).unwrap()
    };
    for (field, value, needle) in [
        ("person", json!("P-999999"), "events[0].person"),
        ("site", json!("atlantis"), "events[0].site"),
        ("custodian", json!("NOBODY"), "events[0].custodian"),
        ("seq", json!(0), "events[0].seq"),
        ("person", json!("a b"), "events[0].person"),
        ("at", json!("2999-01-01T00:00:00Z"), "events[0].at"),
    ] {
        let d = problem(
            post(ev(field, value.clone()), "application/json")
                .await
                .unwrap(),
            422,
        )
        .await;
        assert!(d.contains(needle), "{field}={value}: {d}");
    }
    let d = problem(
        post(ev("kind", json!("teleported")), "application/json")
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(d.contains("kind") || d.contains("teleported"), "{d}");
    let p = srv
        .db
        .store
        .person(&"P-000001".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        p.site.as_str(),
        "baghdad",
        "no refused event changed custody"
    );

    // Paths, queries, routes, methods.
    problem(
        c.get(srv.url("/api/v1/people/P-424242"))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    problem(
        c.get(srv.url("/api/v1/people/bad%20id"))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    problem(
        c.get(srv.url("/api/v1/sites/nowhere"))
            .bearer_auth(VIEWER_TOKEN)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    problem(
        c.get(srv.url("/api/v1/people?limit=0"))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    problem(
        c.get(srv.url("/api/v1/people?limit=abc"))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    problem(
        c.get(srv.url("/api/v1/people?color=red"))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    problem(
        c.get(srv.url("/api/v1/sitrep?date=yesterday"))
            .bearer_auth(VIEWER_TOKEN)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    problem(
        c.get(srv.url("/api/v1/nothing-here")).send().await.unwrap(),
        404,
    )
    .await;
    problem(
        c.delete(srv.url("/api/v1/overview"))
            .bearer_auth(VIEWER_TOKEN)
            .send()
            .await
            .unwrap(),
        405,
    )
    .await;
    problem(
        c.get(srv.url("/api/v1/devices/bad%20device"))
            .bearer_auth(OPERATOR_TOKEN)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;

    // Every problem kind is documented at its type URI.
    let doc = c
        .get(srv.url("/problems/payload-too-large"))
        .send()
        .await
        .unwrap();
    assert_eq!(doc.status(), 200);
    assert!(doc.text().await.unwrap().contains("413"));
    srv.stop().await;
}

#[tokio::test]
async fn rate_limit_per_token() {
    let srv = TestServer::start_on(
        sallyport_store::testing::sqlite().await,
        false,
        Config {
            rate_per_second: 1,
            rate_burst: 5,
            ..Config::default()
        },
    )
    .await;
    let c = client();
    let mut codes = Vec::new();
    for _ in 0..8 {
        codes.push(
            c.get(srv.url("/api/v1/session"))
                .bearer_auth(VIEWER_TOKEN)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(&codes[..5], &[200; 5], "{codes:?}");
    assert!(codes[5..].contains(&429), "{codes:?}");
    let r = c
        .get(srv.url("/api/v1/session"))
        .bearer_auth(VIEWER_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("retry-after"));
    problem(r, 429).await;
    // Another token has its own allowance.
    let r = c
        .get(srv.url("/api/v1/session"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    srv.stop().await;
}
