//! Release for legal proceedings, on both backends: the two approvals, the
//! refusals (missing approval, self-approval, wrong agency, one person twice),
//! the derived document, its verification back to the original, tampering.

mod common;

use std::collections::BTreeSet;

use common::{counts, fixture, Fixture};
use sallyport_access::release::{original_sha256, ReleaseDocument};
use sallyport_access::{AccessError, Capacity, Marking, ReleaseRequest, ReleaseStatus};
use sallyport_store::testing::backends;

fn request(people: &[String], fields: &[&str]) -> ReleaseRequest {
    ReleaseRequest {
        people: people.to_vec(),
        fields: fields.iter().map(|s| s.to_string()).collect(),
        recipient: "Central Criminal Court of Iraq (synthetic)".into(),
        case_ref: "CCCI-2026-0042".into(),
        purpose: "prosecution of synthetic case".into(),
        marking: Marking::parse("UNCLASSIFIED//REL TO IRQ").unwrap(),
    }
}

/// Two high-risk people with an ODNI note each (SECRET//HVD//REL TO USA).
async fn with_notes(f: &Fixture) -> Vec<String> {
    let analyst = f.login("odni.analyst").await;
    let ids: Vec<String> = f.with_risk("high").into_iter().take(2).collect();
    assert_eq!(ids.len(), 2, "the fixture needs two high-risk people");
    let m = Marking::parse("SECRET//HVD//REL TO USA").unwrap();
    for id in &ids {
        f.access.add_note(&analyst, id, &m, &format!("SYNTHETIC NOTE {id}: courier links under review.")).await.unwrap();
    }
    ids
}

fn denied_by(e: &AccessError) -> Vec<String> {
    match e {
        AccessError::Denied { policies, .. } => policies.clone(),
        other => panic!("expected a policy denial, got {other}"),
    }
}

#[tokio::test]
async fn two_approvals_issue_a_document_that_verifies() {
    for db in backends().await {
        let f = fixture(&db.store, 300).await;
        let a = &f.access;
        let ids = with_notes(&f).await;
        let requester = f.login("fbi.legal").await;
        let rel = a.request_release(&requester, &request(&ids, &["custody", "intel_notes"])).await.unwrap();
        assert_eq!(rel.status, ReleaseStatus::Pending);
        // Custody originates with the custodian (SDF), the notes with US-ODNI.
        assert_eq!(rel.originators, BTreeSet::from(["SDF".to_string(), "US-ODNI".to_string()]));
        assert_eq!(rel.missing_approvals(), vec!["originator SDF", "originator US-ODNI", "release_authority"]);

        // Missing approvals: nothing to export or verify yet.
        let e = a.verify_release(&f.login("odni.legal").await, &rel.id, None).await.unwrap_err().to_string();
        assert!(e.contains("pending") && e.contains("originator US-ODNI"), "{}: {e}", db.name);
        let v = a.show_release(&requester, &rel.id).await.unwrap();
        assert!(v.document.is_none() && v.preview.len() == 2);

        // The requester cannot approve, in any capacity.
        let before = counts(&db.store).await;
        let e = a.approve_release(&requester, &rel.id, Capacity::ReleaseAuthority).await.unwrap_err();
        assert_eq!(denied_by(&e), vec!["no-self-approval".to_string()], "{}", db.name);
        // Wrong agency: a US-FBI... no, an IQ-GOV legal officer is not an originator here.
        let iq = f.login("iq.legal").await;
        let e = a.approve_release(&iq, &rel.id, Capacity::Originator).await.unwrap_err();
        assert!(e.to_string().contains("not an originating agency"), "{}: {e}", db.name);
        // A planner of the right country but no approving role.
        let planner = f.login("centcom.planner").await;
        assert!(a.approve_release(&planner, &rel.id, Capacity::ReleaseAuthority).await.is_err());
        assert_eq!(counts(&db.store).await, before, "{}: refused approvals changed something", db.name);

        // The originating agencies approve, each for its own parts.
        let odni = f.login("odni.analyst").await;
        let r = a.approve_release(&odni, &rel.id, Capacity::Originator).await.unwrap();
        assert_eq!(r.missing_approvals(), vec!["originator SDF", "release_authority"]);
        // The same person cannot approve twice (two people).
        let odni_legal_twice = a.approve_release(&odni, &rel.id, Capacity::ReleaseAuthority).await.unwrap_err();
        assert!(!denied_by(&odni_legal_twice).is_empty());
        let sdf = f.login("sdf.coord").await;
        let r = a.approve_release(&sdf, &rel.id, Capacity::Originator).await.unwrap();
        assert_eq!(r.status, ReleaseStatus::Pending);
        // An SDF legal approval again for SDF is a conflict, not a second vote.
        assert!(matches!(a.approve_release(&sdf, &rel.id, Capacity::Originator).await.unwrap_err(), AccessError::Conflict(_)));
        // The release authority (a legal officer who is neither requester nor earlier approver).
        let authority = f.login("odni.legal").await;
        let r = a.approve_release(&authority, &rel.id, Capacity::ReleaseAuthority).await.unwrap();
        assert_eq!(r.status, ReleaseStatus::Issued, "{}", db.name);
        assert!(r.missing_approvals().is_empty());

        // The document: downgraded marking, custody and notes verbatim, the rest redacted by hash.
        let v = a.show_release(&iq, &rel.id).await.unwrap();
        let doc = v.document.expect("IRQ may read UNCLASSIFIED//REL TO IRQ");
        assert_eq!(doc.marking, "UNCLASSIFIED//REL TO IRQ");
        assert_eq!(doc.records.len(), 2);
        for r in &doc.records {
            assert_eq!(r.marking, "UNCLASSIFIED//REL TO IRQ");
            assert!(r.content.get("custodian").is_some() && r.content.get("site").is_some());
            assert!(r.content.get("identity").is_none() && r.content.get("medical").is_none() && r.content.get("risk").is_none());
            let notes = r.content["intel_notes"].as_array().unwrap();
            assert_eq!(notes.len(), 1);
            assert_eq!(notes[0]["marking"], "(U//REL TO IRQ)");
            let redacted: Vec<&str> = r.redactions.iter().map(|x| x.pointer.as_str()).collect();
            assert_eq!(redacted, ["/identity", "/medical", "/risk", "/separation_groups"]);
            assert!(r.redactions.iter().all(|x| x.sha256.len() == 64));
        }
        // Still hidden from whoever may not read the downgraded marking: a planner of US-CENTCOM
        // (REL TO IRQ only) sees no release at all.
        assert!(matches!(a.show_release(&planner, &rel.id).await.unwrap_err(), AccessError::NotFound(_)));

        // Verification back to the originals.
        let ver = a.verify_release(&authority, &rel.id, None).await.unwrap();
        assert!(ver.ok, "{}: {:#?}", db.name, ver.checks);
        let text = doc.to_json();
        assert!(a.verify_release(&authority, &rel.id, Some(&text)).await.unwrap().ok);
        // The original commitment uses the stored salt: recompute it independently.
        let (orig, salt): (String, String) = sqlx::query_as("SELECT original, salt FROM access_release_records WHERE release_id = $1 AND record = $2")
            .bind(&rel.id)
            .bind(&doc.records[0].id)
            .fetch_one(db.store.pool())
            .await
            .unwrap();
        let value: serde_json::Value = serde_json::from_str(&orig).unwrap();
        assert_eq!(original_sha256(&hex::decode(salt).unwrap(), &value), doc.records[0].original_sha256);

        // A court's copy altered: content changed and hash recomputed → the derived check fails;
        // content changed without the hash → the document check fails.
        let mut forged: ReleaseDocument = doc.clone();
        forged.records[0].content["site"] = serde_json::json!("somewhere-else");
        let unsigned = forged.to_json();
        let v = a.verify_release(&authority, &rel.id, Some(&unsigned)).await.unwrap();
        assert!(!v.ok && v.checks.iter().any(|c| c.what == "document hash" && !c.ok), "{}", db.name);
        let mut v2: serde_json::Value = serde_json::from_str(&unsigned).unwrap();
        v2.as_object_mut().unwrap().remove("sha256");
        let body = sallyport_access::release::canonical(&v2);
        use sha2::Digest;
        forged.sha256 = hex::encode(sha2::Sha256::digest(body.as_bytes()));
        let v = a.verify_release(&authority, &rel.id, Some(&forged.to_json())).await.unwrap();
        assert!(!v.ok, "{}", db.name);
        let failed: Vec<&str> = v.checks.iter().filter(|c| !c.ok).map(|c| c.what.as_str()).collect();
        assert_eq!(failed, ["issued document", "derived records"], "{}", db.name);

        // Every step is in the audit log, which verifies.
        let trail = a.audit_log().for_record("release", &rel.id).await.unwrap();
        let steps: Vec<(&str, bool)> = trail.iter().map(|e| (e.record.action.as_str(), e.record.allowed)).collect();
        for want in [("release_request", true), ("release_approve", false), ("release_approve", true), ("release_issue", true), ("release_verify", true)] {
            assert!(steps.contains(&want), "{}: {want:?} missing from {steps:?}", db.name);
        }
        assert_eq!(steps.iter().filter(|s| **s == ("release_approve", true)).count(), 3);
        a.audit_log().verify().await.unwrap();
        // Each person's audit trail shows the release.
        let auditor = f.login("state.auditor").await;
        let p = a.person_audit(&auditor, &ids[0]).await.unwrap();
        assert!(p.iter().any(|e| e.record.action == "release_issue"), "{}", db.name);
    }
}

#[tokio::test]
async fn bad_requests_are_refused_and_change_nothing() {
    for db in backends().await {
        let f = fixture(&db.store, 300).await;
        let a = &f.access;
        let ids = with_notes(&f).await;
        let iq = f.login("iq.legal").await;
        let before = counts(&db.store).await;
        // iq.legal may not see the notes (HVD, REL TO USA): requesting them is refused by the policy.
        let e = a.request_release(&iq, &request(&ids, &["custody", "intel_notes"])).await.unwrap_err();
        assert!(denied_by(&e).contains(&"need-to-know".to_string()), "{}: {e}", db.name);
        // A planner holds no role that requests releases.
        let planner = f.login("centcom.planner").await;
        let e = a.request_release(&planner, &request(&ids, &["custody"])).await.unwrap_err();
        assert!(e.to_string().contains("no policy permits request_release"), "{e}");
        for (req, want) in [
            (request(&[], &["custody"]), "invalid people"),
            (request(&ids, &[]), "invalid fields"),
            (request(&ids, &["custody", "dna"]), "unknown field group \"dna\""),
            (request(&[ids[0].clone(), ids[0].clone()], &["custody"]), "named twice"),
            (request(&["P-999999".to_string()], &["custody"]), "no person P-999999"),
            (request(&["not an id".to_string()], &["custody"]), "invalid people"),
            (ReleaseRequest { recipient: " ".into(), ..request(&ids, &["custody"]) }, "invalid recipient"),
        ] {
            let e = a.request_release(&iq, &req).await.unwrap_err().to_string();
            assert!(e.contains(want), "{}: {e:?} should contain {want:?}", db.name);
        }
        assert_eq!(counts(&db.store).await, before, "{}", db.name);
        // A custody-only release is approved by SDF and an Iraqi release authority.
        let rel = a.request_release(&iq, &request(&ids, &["custody"])).await.unwrap();
        assert_eq!(rel.originators, BTreeSet::from(["SDF".to_string()]));
        let odni = f.login("odni.analyst").await;
        let e = a.approve_release(&odni, &rel.id, Capacity::Originator).await.unwrap_err();
        assert!(e.to_string().contains("not an originating agency"), "{}: {e}", db.name);
        a.approve_release(&f.login("sdf.coord").await, &rel.id, Capacity::Originator).await.unwrap();
        let r = a.approve_release(&f.login("fbi.legal").await, &rel.id, Capacity::ReleaseAuthority).await.unwrap();
        assert_eq!(r.status, ReleaseStatus::Issued);
        // Issued releases take no more approvals, and cannot be withdrawn.
        assert!(matches!(a.approve_release(&odni, &rel.id, Capacity::Originator).await.unwrap_err(), AccessError::Conflict(_)));
        assert!(matches!(a.withdraw_release(&iq, &rel.id).await.unwrap_err(), AccessError::Conflict(_)));
        assert!(a.verify_release(&f.login("state.auditor").await, &rel.id, None).await.unwrap().ok);
        // A malformed document is refused with the position.
        let e = a.verify_release(&f.login("state.auditor").await, &rel.id, Some("{\"format\": 1")).await.unwrap();
        assert!(!e.ok && e.checks[0].detail.contains("line 1"), "{:?}", e.checks);
    }
}
