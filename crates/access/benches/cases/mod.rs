//! The readers, markings and decision cases the access bench and
//! `examples/decisions.rs` share (the example includes this file by path).

// Each includer uses only part of this module.
#![allow(dead_code)]

use sallyport_access::{Action, Label, Level, Marking, Principal, Resource, Role};

pub fn principal(user: &str, agency: &str, country: &str, kind: &str, roles: &[Role], clearance: Level, comps: &[&str]) -> Principal {
    Principal {
        user: user.into(),
        agency: agency.into(),
        country: country.into(),
        agency_kind: kind.into(),
        roles: roles.iter().copied().collect(),
        clearance,
        compartments: comps.iter().map(|s| s.to_string()).collect(),
    }
}

pub fn readers() -> Vec<(&'static str, Principal)> {
    vec![
        ("partner", principal("sdf.custodian", "SDF", "SYR", "partner_force", &[Role::FieldCustodian], Level::Confidential, &[])),
        ("analyst", principal("odni.analyst", "US-ODNI", "USA", "intelligence", &[Role::Coordinator], Level::TopSecret, &["HVD"])),
        ("receiving", principal("iq.legal", "IQ-GOV", "IRQ", "receiving_government", &[Role::LegalOfficer], Level::Secret, &[])),
    ]
}

pub fn labels() -> Vec<Label> {
    let ms = [
        ("UNCLASSIFIED//REL TO IRQ, SYR, USA", "SDF", "SYR"),
        ("SECRET//REL TO IRQ, USA", "SDF", "SYR"),
        ("SECRET//HVD//REL TO USA", "US-ODNI", "USA"),
        ("TOP SECRET//HVD//NOFORN", "US-ODNI", "USA"),
        ("CONFIDENTIAL", "IQ-GOV", "IRQ"),
        ("UNCLASSIFIED", "US-FBI", "USA"),
        ("RESTRICTED//REL TO GBR, USA", "US-FBI", "USA"),
        ("SECRET//CT-NES/HVD//ORCON/REL TO USA, GBR", "US-ODNI", "USA"),
    ];
    ms.iter().map(|(m, o, c)| Label::new(Marking::parse(m).unwrap(), *o, *c)).collect()
}

/// Every reader × every label × read, write and request_release (72 cases;
/// 3 principals and 24 record classes, a legal hold on every fourth label).
pub fn decision_cases() -> Vec<(Principal, Action, Resource)> {
    let mut cases = Vec::new();
    for (_, p) in readers() {
        for (i, l) in labels().into_iter().enumerate() {
            for a in [Action::Read, Action::Write, Action::RequestRelease] {
                let res = Resource { kind: "person".into(), id: format!("P-{i:06}"), field: "risk".into(), label: l.clone(), legal_hold: i % 4 == 0 };
                cases.push((p.clone(), a, res));
            }
        }
    }
    cases
}
