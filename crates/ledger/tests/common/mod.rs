#![allow(dead_code)]
use sallyport_core::{AgencyId, PersonId, SiteId};
use sallyport_ledger::device::FieldLog;
use sallyport_ledger::event::{CustodyEvent, EventKind, HandoverStatement};
use sallyport_ledger::{DeviceId, DeviceKey};

pub const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

pub fn p(s: &str) -> PersonId {
    PersonId::new(s).unwrap()
}
pub fn site(s: &str) -> SiteId {
    SiteId::new(s).unwrap()
}
pub fn ag(s: &str) -> AgencyId {
    AgencyId::new(s).unwrap()
}
pub fn device(name: &str) -> FieldLog {
    FieldLog::new(DeviceKey::from_seed(
        DeviceId::new(name).unwrap(),
        b"test-seed",
    ))
}
pub fn ev(person: &PersonId, t_min: i64, kind: EventKind) -> CustodyEvent {
    CustodyEvent {
        person: person.clone(),
        claimed_time_ms: T0 + t_min * 60_000,
        kind,
    }
}

/// A full, clean history for `person`: origin device records intake through
/// departure, destination device records arrival through holding; two
/// hand-overs, each countersigned by the other device.
pub fn full_history(
    person: &PersonId,
    origin: &mut FieldLog,
    dest: &mut FieldLog,
    sortie: &str,
    t: i64,
) {
    origin
        .record(&ev(
            person,
            t,
            EventKind::TakenIntoCustody {
                custodian: ag("SDF"),
                site: site("HASAKAH"),
            },
        ))
        .unwrap();
    origin
        .record(&ev(
            person,
            t + 1,
            EventKind::Enrolled {
                biometric_sha256: "cd".repeat(32),
            },
        ))
        .unwrap();
    origin
        .record(&ev(
            person,
            t + 2,
            EventKind::IdentityVerified {
                score_milli: 910,
                threshold_milli: 700,
            },
        ))
        .unwrap();
    let st = HandoverStatement {
        handover_id: format!("HO-{person}-1"),
        person: person.clone(),
        from: ag("SDF"),
        to: ag("CJTF"),
        site: site("HASAKAH"),
        claimed_time_ms: T0 + (t + 3) * 60_000,
    };
    let sig = dest.countersign_handover(&st);
    origin
        .record(&ev(
            person,
            t + 3,
            EventKind::HandedOver {
                handover_id: st.handover_id.clone(),
                from: ag("SDF"),
                to: ag("CJTF"),
                site: site("HASAKAH"),
                receiver_device: dest.key.id.clone(),
                receiver_sig: sig,
            },
        ))
        .unwrap();
    origin
        .record(&ev(
            person,
            t + 4,
            EventKind::Boarded {
                sortie: sortie.into(),
                site: site("HASAKAH"),
            },
        ))
        .unwrap();
    origin
        .record(&ev(
            person,
            t + 5,
            EventKind::Departed {
                sortie: sortie.into(),
                site: site("HASAKAH"),
            },
        ))
        .unwrap();
    dest.record(&ev(
        person,
        t + 90,
        EventKind::Arrived {
            sortie: sortie.into(),
            site: site("BIAP"),
        },
    ))
    .unwrap();
    dest.record(&ev(
        person,
        t + 91,
        EventKind::IdentityVerified {
            score_milli: 880,
            threshold_milli: 700,
        },
    ))
    .unwrap();
    let st2 = HandoverStatement {
        handover_id: format!("HO-{person}-2"),
        person: person.clone(),
        from: ag("CJTF"),
        to: ag("IRQ-MOJ"),
        site: site("BIAP"),
        claimed_time_ms: T0 + (t + 92) * 60_000,
    };
    let sig2 = origin.countersign_handover(&st2);
    dest.record(&ev(
        person,
        t + 92,
        EventKind::HandedOver {
            handover_id: st2.handover_id.clone(),
            from: ag("CJTF"),
            to: ag("IRQ-MOJ"),
            site: site("BIAP"),
            receiver_device: origin.key.id.clone(),
            receiver_sig: sig2,
        },
    ))
    .unwrap();
    dest.record(&ev(
        person,
        t + 93,
        EventKind::PlacedInHolding {
            site: site("BIAP"),
            area: "B-7".into(),
        },
    ))
    .unwrap();
}
