//! Roles × markings × actions, as a table written by hand from the policy's
//! intent (not computed by the code under test), on both backends: the users
//! come from the store, the decisions from the Cedar policy, and for `read`
//! the table is checked again through the audited person view.

mod common;

use common::fixture;
use sallyport_access::{Action, Caller, Label, Marking, Resource};
use sallyport_store::testing::backends;

/// Column order of every row below.
const USERS: [&str; 10] = [
    "odni.analyst",    // US-ODNI coordinator, TS + HVD
    "odni.legal",      // US-ODNI legal officer, TS + HVD
    "fbi.enrol",       // US-FBI enrollment officer, S
    "fbi.legal",       // US-FBI legal officer, S + HVD
    "centcom.planner", // US-CENTCOM planner, S
    "sdf.custodian",   // SDF (SYR partner force) field custodian, C
    "sdf.coord",       // SDF coordinator, C
    "iq.legal",        // IQ-GOV (IRQ receiving government) legal officer, S
    "state.auditor",   // US-STATE auditor, S + HVD
    "odni.admin",      // US-ODNI administrator, TS + HVD
];

/// (marking, originating agency, originator's country).
const MARKINGS: [(&str, &str, &str); 6] = [
    ("UNCLASSIFIED//REL TO IRQ, SYR, USA", "SDF", "SYR"),
    ("SECRET//REL TO IRQ, USA", "SDF", "SYR"),
    ("SECRET//HVD//REL TO USA", "US-ODNI", "USA"),
    ("TOP SECRET//HVD//NOFORN", "US-ODNI", "USA"),
    ("CONFIDENTIAL", "IQ-GOV", "IRQ"),
    ("UNCLASSIFIED", "US-FBI", "USA"),
];

/// (marking index, action, legal hold, expected per user in USERS order).
const TABLE: &[(usize, &str, bool, &str)] = &[
    // read: every role but administrator; clearance, compartments and REL TO / originator country decide.
    (0, "read", false, "Y Y Y Y Y Y Y Y Y N"),
    (1, "read", false, "Y Y Y Y Y N N Y Y N"),
    (2, "read", false, "Y Y N Y N N N N Y N"),
    (3, "read", false, "Y Y N N N N N N N N"),
    (4, "read", false, "N N N N N N N Y N N"),
    (5, "read", false, "Y Y Y Y Y Y Y Y Y N"),
    // write: coordinators, enrollment officers, field custodians; never under a legal hold.
    (0, "write", false, "Y N Y N N Y Y N N N"),
    (1, "write", false, "Y N Y N N N N N N N"),
    (2, "write", false, "Y N N N N N N N N N"),
    (3, "write", false, "Y N N N N N N N N N"),
    (4, "write", false, "N N N N N N N N N N"),
    (5, "write", false, "Y N Y N N Y Y N N N"),
    (0, "write", true, "N N N N N N N N N N"),
    (1, "read", true, "Y Y Y Y Y N N Y Y N"),
    // request_release: legal officers and coordinators, under the same marking rules.
    (0, "request_release", false, "Y Y N Y N N Y Y N N"),
    (1, "request_release", false, "Y Y N Y N N N Y N N"),
    (2, "request_release", false, "Y Y N Y N N N N N N"),
    (3, "request_release", false, "Y Y N N N N N N N N"),
    (4, "request_release", false, "N N N N N N N Y N N"),
    (5, "request_release", false, "Y Y N Y N N Y Y N N"),
    // legal_hold: legal officers.
    (0, "legal_hold", false, "N Y N Y N N N Y N N"),
    (1, "legal_hold", false, "N Y N Y N N N Y N N"),
    (2, "legal_hold", false, "N Y N Y N N N N N N"),
    (3, "legal_hold", false, "N Y N N N N N N N N"),
    (4, "legal_hold", false, "N N N N N N N Y N N"),
    (5, "legal_hold", true, "N Y N Y N N N Y N N"),
    // read_audit: auditors, legal officers, administrators — only for what they could see.
    (0, "read_audit", false, "N Y N Y N N N Y Y Y"),
    (1, "read_audit", false, "N Y N Y N N N Y Y Y"),
    (2, "read_audit", false, "N Y N Y N N N N Y Y"),
    (3, "read_audit", false, "N Y N N N N N N N Y"),
    (4, "read_audit", false, "N N N N N N N Y N N"),
    (5, "read_audit", false, "N Y N Y N N N Y Y Y"),
];

fn label(i: usize) -> Label {
    let (m, o, c) = MARKINGS[i];
    Label::new(Marking::parse(m).unwrap(), o, c)
}

#[tokio::test]
async fn roles_by_markings_by_actions() {
    for db in backends().await {
        let f = fixture(&db.store, 30).await;
        let mut callers: Vec<Caller> = Vec::new();
        for u in USERS {
            callers.push(if u == "odni.admin" { f.admin.clone() } else { f.login(u).await });
        }
        let authz = f.access.authorizer();
        let mut failures = Vec::new();
        for &(mi, action, hold, expected) in TABLE {
            let want: Vec<bool> = expected.split(' ').map(|s| s == "Y").collect();
            assert_eq!(want.len(), USERS.len(), "row {mi} {action}");
            let act = Action::parse(action).unwrap();
            for (c, w) in callers.iter().zip(&want) {
                let res = Resource { kind: "person".into(), id: "P-000001".into(), field: "risk".into(), label: label(mi), legal_hold: hold };
                let d = authz.decide(&c.principal, &act, &res);
                if d.allowed != *w {
                    failures.push(format!("{} {action} {} (hold {hold}): got {} want {} — {:?}", c.principal.user, MARKINGS[mi].0, d.allowed, w, d.reasons));
                }
            }
        }
        assert!(failures.is_empty(), "{}: {} cells differ:\n{}", db.name, failures.len(), failures.join("\n"));

        // Spot-check that denials name the rule that decided.
        let d = authz.decide(&callers[5].principal, &Action::Read, &Resource { kind: "person".into(), id: "x".into(), field: "risk".into(), label: label(1), legal_hold: false });
        assert_eq!(d.policies, vec!["clearance-dominates-level".to_string()]);
        let d = authz.decide(&callers[2].principal, &Action::Read, &Resource { kind: "person".into(), id: "x".into(), field: "risk".into(), label: label(2), legal_hold: false });
        assert_eq!(d.policies, vec!["need-to-know".to_string()]);
        let d = authz.decide(&callers[7].principal, &Action::Read, &Resource { kind: "person".into(), id: "x".into(), field: "risk".into(), label: label(2), legal_hold: false });
        assert_eq!(d.policies, vec!["need-to-know".to_string(), "releasability".to_string()]);
        let d = authz.decide(&callers[0].principal, &Action::Write, &Resource { kind: "person".into(), id: "x".into(), field: "risk".into(), label: label(0), legal_hold: true });
        assert_eq!(d.policies, vec!["legal-hold".to_string()]);

        // The read rows once more, end to end: mark the risk group of six people
        // with the six markings and look at them through the audited view.
        let ids: Vec<String> = f.people.iter().take(MARKINGS.len()).map(|p| p.id.to_string()).collect();
        for (i, id) in ids.iter().enumerate() {
            let (m, o, _) = MARKINGS[i];
            sqlx::query("INSERT INTO access_markings (kind, record, field, marking, originator, set_ms, set_by) VALUES ('person', $1, 'risk', $2, $3, 0, 'test')")
                .bind(id)
                .bind(m)
                .bind(o)
                .execute(db.store.pool())
                .await
                .unwrap();
        }
        for &(mi, action, hold, expected) in TABLE {
            if action != "read" || hold {
                continue;
            }
            let want: Vec<bool> = expected.split(' ').map(|s| s == "Y").collect();
            for (c, w) in callers.iter().zip(&want) {
                let v = f.access.view_person(c, &ids[mi]).await.unwrap();
                // The administrator holds no reading role: the person is hidden altogether.
                if c.principal.user == "odni.admin" {
                    assert!(v.is_none(), "{}: admin sees a person", db.name);
                    continue;
                }
                let v = v.unwrap_or_else(|| panic!("{}: {} cannot see {}", db.name, c.principal.user, ids[mi]));
                assert_eq!(v.value.get("risk").is_some(), *w, "{}: {} risk of {} under {}", db.name, c.principal.user, ids[mi], MARKINGS[mi].0);
                assert_eq!(v.value.get("separation_groups").is_some(), *w);
            }
        }
    }
}
