//! Fresh Cedar decisions in a loop, for profiling and instruction counts.
//!
//! `cargo run --release -p sallyport-access --example decisions -- 20000`
//! prints the wall time per decision; under
//! `valgrind --tool=callgrind target/release/examples/decisions 2000` the
//! instruction count per decision is load-independent, for A/B comparisons.
//! The cases are the benchmark's (`benches/access.rs`, `decision/cedar_uncached`):
//! three readers × eight markings × read, write and request_release. Then the
//! same with a record class (marking originator) never seen before on every
//! call, and with a new principal as well. `SALLYPORT_POLICIES=DIR` loads the
//! schema and policies from DIR instead of the built-in ones.

use std::hint::black_box;
use std::time::Instant;

use sallyport_access::{Action, Authorizer, Label, Level, Marking, Principal, Resource, Role};

/// The same allocator as the `sallyport` binary, so figures match the product.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn principal(user: &str, agency: &str, country: &str, kind: &str, role: Role, clearance: Level, comps: &[&str]) -> Principal {
    Principal {
        user: user.into(),
        agency: agency.into(),
        country: country.into(),
        agency_kind: kind.into(),
        roles: [role].into(),
        clearance,
        compartments: comps.iter().map(|s| s.to_string()).collect(),
    }
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    // Which loops to run: all, or one of `fresh`, `class`, `principal`.
    let only = std::env::args().nth(2).unwrap_or_default();
    let runs = |name: &str| only.is_empty() || only == name;
    let readers = [
        principal("sdf.custodian", "SDF", "SYR", "partner_force", Role::FieldCustodian, Level::Confidential, &[]),
        principal("odni.analyst", "US-ODNI", "USA", "intelligence", Role::Coordinator, Level::TopSecret, &["HVD"]),
        principal("iq.legal", "IQ-GOV", "IRQ", "receiving_government", Role::LegalOfficer, Level::Secret, &[]),
    ];
    let markings = [
        ("UNCLASSIFIED//REL TO IRQ, SYR, USA", "SDF", "SYR"),
        ("SECRET//REL TO IRQ, USA", "SDF", "SYR"),
        ("SECRET//HVD//REL TO USA", "US-ODNI", "USA"),
        ("TOP SECRET//HVD//NOFORN", "US-ODNI", "USA"),
        ("CONFIDENTIAL", "IQ-GOV", "IRQ"),
        ("UNCLASSIFIED", "US-FBI", "USA"),
        ("RESTRICTED//REL TO GBR, USA", "US-FBI", "USA"),
        ("SECRET//CT-NES/HVD//ORCON/REL TO USA, GBR", "US-ODNI", "USA"),
    ];
    let mut cases = Vec::new();
    for p in &readers {
        for (i, (m, o, c)) in markings.iter().enumerate() {
            let label = Label::new(Marking::parse(m).expect("marking"), *o, *c);
            for a in [Action::Read, Action::Write, Action::RequestRelease] {
                let r = Resource { kind: "person".into(), id: format!("P-{i:06}"), field: "risk".into(), label: label.clone(), legal_hold: i % 4 == 0 };
                cases.push((p.clone(), a, r));
            }
        }
    }
    let authz = match std::env::var_os("SALLYPORT_POLICIES") {
        Some(dir) => Authorizer::load(dir).expect("policies"),
        None => Authorizer::builtin().expect("built-in policies"),
    };
    let allowed = cases.iter().filter(|(p, a, r)| authz.decide(p, a, r).allowed).count();
    if runs("fresh") {
        let t = Instant::now();
        for k in 0..n {
            let (p, a, r) = &cases[k % cases.len()];
            black_box(authz.decide(p, a, r).allowed);
        }
        let per = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!("{n} fresh decisions over {} cases ({allowed} allowed): {per:.2} µs each", cases.len());
    }
    // Cold inputs: the record's class (here its originator) is new on every call,
    // then the principal too.
    let cold = |new_principal: bool| {
        let t = Instant::now();
        for k in 0..n {
            let (p, a, r) = &cases[k % cases.len()];
            let mut r = r.clone();
            r.label.originator = format!("AG-{k}");
            let mut p = p.clone();
            if new_principal {
                p.user = format!("user-{k}");
            }
            black_box(authz.decide(&p, a, &r).allowed);
        }
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    };
    if runs("class") {
        println!("new record class each call: {:.2} µs each", cold(false));
    }
    if runs("principal") {
        println!("new record class and principal each call: {:.2} µs each", cold(true));
    }
}
