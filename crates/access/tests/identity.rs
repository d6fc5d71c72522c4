//! Identity on both backends: users, passwords, tokens, sessions; bad input
//! and dead credentials are refused with clear errors and change nothing.

mod common;

use std::collections::BTreeSet;

use common::{counts, fixture, new_user, PASSWORD};
use sallyport_access::{AccessError, Level, Role, Via};
use sallyport_store::testing::backends;

const DAY: i64 = 86_400_000;

fn scopes(s: &[&str]) -> BTreeSet<String> {
    s.iter().map(|x| x.to_string()).collect()
}

#[tokio::test]
async fn users_passwords_and_bootstrap() {
    for db in backends().await {
        let f = fixture(&db.store, 40).await;
        let a = &f.access;
        // Bootstrap only works on an empty user table.
        let again = new_user("second.admin", "US-ODNI", &[Role::Administrator], Level::Secret, &[], Some(PASSWORD));
        let e = a.add_user(None, &again).await.unwrap_err();
        assert!(matches!(e, AccessError::Unauthenticated(_)), "{}: {e}", db.name);
        // A password sign-in yields the principal with the agency's country and kind.
        let c = f.login("sdf.custodian").await;
        assert_eq!((c.principal.country.as_str(), c.principal.agency_kind.as_str()), ("SYR", "partner_force"));
        assert_eq!(c.principal.clearance, Level::Confidential);
        assert_eq!(c.via, Via::Password);
        assert!(c.scopes.is_none());
        // Wrong password and unknown user: the same message.
        let w = a.check_password("sdf.custodian", "wrong password 123").await.unwrap_err().to_string();
        let u = a.check_password("nobody.here", "wrong password 123").await.unwrap_err().to_string();
        assert_eq!(w, u, "{}", db.name);
        // Only an administrator adds users; a coordinator is refused by the policy.
        let coord = f.login("sdf.coord").await;
        let before = counts(&db.store).await;
        let e = a.add_user(Some(&coord), &new_user("sdf.new", "SDF", &[Role::Planner], Level::Restricted, &[], Some(PASSWORD))).await.unwrap_err();
        assert!(matches!(&e, AccessError::Denied { .. }), "{}: {e}", db.name);
        assert_eq!(counts(&db.store).await, before, "{}: refused add changed something", db.name);
        // An administrator cannot grant a clearance or compartment they do not hold.
        let low_admin = new_user("fbi.admin", "US-FBI", &[Role::Administrator], Level::Secret, &[], Some(PASSWORD));
        a.add_user(Some(&f.admin), &low_admin).await.unwrap();
        let fbi_admin = f.login("fbi.admin").await;
        let e = a.add_user(Some(&fbi_admin), &new_user("fbi.ts", "US-FBI", &[Role::Planner], Level::TopSecret, &[], Some(PASSWORD))).await.unwrap_err();
        match &e {
            AccessError::Denied { policies, .. } => assert_eq!(policies, &vec!["grant-within-own-clearance".to_string()]),
            other => panic!("{}: {other}", db.name),
        }
        // … nor list accounts above their clearance (not even their count).
        let listed = a.list_users(&fbi_admin).await.unwrap();
        assert!(listed.iter().all(|u| u.clearance <= Level::Secret && u.compartments.is_empty()), "{}", db.name);
        assert!(listed.iter().any(|u| u.username == "sdf.custodian"));
        assert!(!listed.iter().any(|u| u.username == "odni.analyst"));
        assert_eq!(a.list_users(&f.admin).await.unwrap().len(), common::USERS.len() + 2);
    }
}

#[tokio::test]
async fn bad_user_input_is_refused_and_changes_nothing() {
    for db in backends().await {
        let f = fixture(&db.store, 20).await;
        let a = &f.access;
        let before = counts(&db.store).await;
        let cases: Vec<(sallyport_access::NewUser, &str)> = vec![
            (new_user("X", "SDF", &[Role::Planner], Level::Secret, &[], Some(PASSWORD)), "invalid username"),
            (new_user("ok.user", "NOPE", &[Role::Planner], Level::Secret, &[], Some(PASSWORD)), "is not an agency of the operation"),
            (new_user("ok.user", "SDF", &[], Level::Secret, &[], Some(PASSWORD)), "invalid roles"),
            (new_user("ok.user", "SDF", &[Role::Planner], Level::Secret, &["hvd"], Some(PASSWORD)), "invalid compartments"),
            (new_user("ok.user", "SDF", &[Role::Planner], Level::Secret, &[], Some("short")), "at least 12"),
            (new_user("sdf.coord", "SDF", &[Role::Planner], Level::Secret, &[], Some(PASSWORD)), "already exists"),
        ];
        for (u, want) in cases {
            let e = a.add_user(Some(&f.admin), &u).await.unwrap_err().to_string();
            assert!(e.contains(want), "{}: {e:?} should contain {want:?}", db.name);
        }
        assert_eq!(counts(&db.store).await, before, "{}", db.name);
    }
}

#[tokio::test]
async fn tokens_are_scoped_expire_and_revoke() {
    for db in backends().await {
        let f = fixture(&db.store, 40).await;
        let a = &f.access;
        let person = f.people[0].id.to_string();
        let t = a.issue_token(&f.admin, "sdf.custodian", "LZ-1 tablet 3", &scopes(&["read"]), 2 * DAY).await.unwrap();
        assert!(t.secret.starts_with("spt_"));
        // Only the hash is stored.
        let stored: String = sqlx::query_scalar("SELECT secret_sha256 FROM access_tokens WHERE id = $1").bind(&t.token.id).fetch_one(db.store.pool()).await.unwrap();
        assert!(!t.secret.contains(&stored) && stored.len() == 64);
        let c = a.authenticate(&t.secret).await.unwrap();
        assert_eq!(c.via, Via::Token(t.token.id.clone()));
        assert_eq!(c.scopes, Some(scopes(&["read"])));
        // The scope is enforced by the policy: read yes, write no (even though the role may write).
        assert!(a.view_person(&c, &person).await.unwrap().is_some());
        let m = sallyport_access::Marking::parse("UNCLASSIFIED//REL TO IRQ, SYR, USA").unwrap();
        let e = a.set_marking(&c, &person, "medical", &m, None).await.unwrap_err();
        match &e {
            AccessError::Denied { policies, .. } => assert!(policies.contains(&"token-scope".to_string()), "{e}"),
            other => panic!("{}: {other}", db.name),
        }
        let session_user = f.login("sdf.custodian").await;
        a.set_marking(&session_user, &person, "medical", &m, None).await.unwrap();
        // A tampered secret is unknown (same message as an unknown id).
        let mut bad = t.secret.clone();
        bad.pop();
        bad.push(if t.secret.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(a.authenticate(&bad).await.unwrap_err().to_string(), "not authenticated: unknown API token");
        assert!(a.authenticate("spt_nonsense").await.unwrap_err().to_string().contains("malformed"));
        assert!(a.authenticate("Bearer xyz").await.unwrap_err().to_string().contains("not an API token"));
        // Expiry.
        f.advance(2 * DAY);
        let e = a.authenticate(&t.secret).await.unwrap_err().to_string();
        assert!(e.contains("expired at"), "{}: {e}", db.name);
        f.set_time(common::T0);
        // Revocation: by the owner, or an administrator; then refused, naming who revoked it.
        let before = counts(&db.store).await;
        let other = f.login("fbi.enrol").await;
        let e = a.revoke_token(&other, &t.token.id).await.unwrap_err();
        assert!(matches!(e, AccessError::Denied { .. }), "{}: {e}", db.name);
        assert_eq!(counts(&db.store).await, before);
        a.revoke_token(&f.admin, &t.token.id).await.unwrap();
        let e = a.authenticate(&t.secret).await.unwrap_err().to_string();
        assert!(e.contains("revoked") && e.contains("odni.admin"), "{}: {e}", db.name);
        let e = a.revoke_token(&f.admin, &t.token.id).await.unwrap_err().to_string();
        assert!(e.contains("already revoked"), "{e}");
        // Bad token requests change nothing.
        let before = counts(&db.store).await;
        for (sc, ttl, label, want) in [
            (scopes(&["read", "delete"]), DAY, "x", "unknown scope"),
            (scopes(&[]), DAY, "x", "at least one scope"),
            (scopes(&["read"]), 0, "x", "token lifetime"),
            (scopes(&["read"]), 400 * DAY, "x", "at most 366 days"),
            (scopes(&["read"]), DAY, " ", "token label"),
        ] {
            let e = a.issue_token(&f.admin, "sdf.custodian", label, &sc, ttl).await.unwrap_err().to_string();
            assert!(e.contains(want), "{}: {e:?} should contain {want:?}", db.name);
        }
        let e = a.issue_token(&f.admin, "no.such.user", "x", &scopes(&["read"]), DAY).await.unwrap_err().to_string();
        assert!(e.contains("no user"), "{e}");
        assert_eq!(counts(&db.store).await, before, "{}", db.name);
        // Disabling a user stops their tokens at once.
        let t2 = a.issue_token(&f.admin, "sdf.custodian", "LZ-1 tablet 4", &scopes(&["read"]), DAY).await.unwrap();
        a.set_disabled(&f.admin, "sdf.custodian", true).await.unwrap();
        assert!(a.authenticate(&t2.secret).await.unwrap_err().to_string().contains("disabled"));
        assert!(a.check_password("sdf.custodian", PASSWORD).await.unwrap_err().to_string().contains("disabled"));
    }
}

#[tokio::test]
async fn sessions_expire_end_and_lockout_works() {
    for db in backends().await {
        let f = fixture(&db.store, 20).await;
        let a = &f.access;
        let s = a.login("iq.legal", PASSWORD).await.unwrap();
        assert!(s.secret.starts_with("sps_"));
        let c = a.authenticate(&s.secret).await.unwrap();
        assert_eq!((c.principal.user.as_str(), c.via.clone()), ("iq.legal", Via::Session));
        f.advance(12 * 3600 * 1000);
        assert!(a.authenticate(&s.secret).await.unwrap_err().to_string().contains("expired"), "{}", db.name);
        f.set_time(common::T0);
        a.logout(&s.secret).await.unwrap();
        assert!(a.authenticate(&s.secret).await.unwrap_err().to_string().contains("signed out"));
        // Five wrong passwords lock the account, even against the right one.
        for _ in 0..5 {
            a.check_password("iq.legal", "not the password").await.unwrap_err();
        }
        let e = a.check_password("iq.legal", PASSWORD).await.unwrap_err().to_string();
        assert!(e.contains("locked"), "{}: {e}", db.name);
        f.advance(16 * 60 * 1000);
        a.check_password("iq.legal", PASSWORD).await.unwrap();
        // Every attempt is in the audit log, and the chain verifies.
        let logins: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM access_audit WHERE actor = 'iq.legal' AND action = 'login' AND allowed = 0")
            .fetch_one(db.store.pool())
            .await
            .unwrap();
        assert_eq!(logins, 6, "{}", db.name);
        a.audit_log().verify().await.unwrap();
    }
}
