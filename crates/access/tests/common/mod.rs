//! Shared fixture: the flagship scenario (a subset of its people) in a fresh
//! store, a clock the test controls, and one user per role across agencies.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use sallyport_access::{Access, Authorizer, Caller, Level, NewUser, Role};
use sallyport_core::{synth, Person, Scenario};
use sallyport_store::Store;

pub const PASSWORD: &str = "synthetic-password-for-tests";
/// 2026-01-21T03:00:00Z, the flagship operation's start.
pub const T0: i64 = 1_768_964_400_000;

pub fn flagship() -> Scenario {
    let text = include_str!("../../../../scenarios/northeast-syria-2026.toml");
    toml::from_str(text).expect("flagship scenario parses")
}

pub struct Fixture {
    pub access: Access,
    pub clock: Arc<AtomicI64>,
    pub people: Vec<Person>,
    pub admin: Caller,
}

impl Fixture {
    pub fn set_time(&self, ms: i64) {
        self.clock.store(ms, Ordering::SeqCst);
    }
    pub fn advance(&self, ms: i64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }
    /// Sign in as `user` (password).
    pub async fn login(&self, user: &str) -> Caller {
        self.access.check_password(user, PASSWORD).await.unwrap_or_else(|e| panic!("sign in {user}: {e}"))
    }
    /// Ids of people with this risk class.
    pub fn with_risk(&self, risk: &str) -> Vec<String> {
        self.people.iter().filter(|p| p.risk.as_str() == risk).map(|p| p.id.to_string()).collect()
    }
}

/// The users of the fixture: (username, agency, roles, clearance, compartments).
pub const USERS: &[(&str, &str, &[Role], Level, &[&str])] = &[
    ("odni.analyst", "US-ODNI", &[Role::Coordinator], Level::TopSecret, &["HVD"]),
    ("odni.legal", "US-ODNI", &[Role::LegalOfficer], Level::TopSecret, &["HVD"]),
    ("fbi.enrol", "US-FBI", &[Role::EnrollmentOfficer], Level::Secret, &[]),
    ("fbi.legal", "US-FBI", &[Role::LegalOfficer], Level::Secret, &["HVD"]),
    ("centcom.planner", "US-CENTCOM", &[Role::Planner], Level::Secret, &[]),
    ("sdf.custodian", "SDF", &[Role::FieldCustodian], Level::Confidential, &[]),
    ("sdf.coord", "SDF", &[Role::Coordinator], Level::Confidential, &[]),
    ("iq.legal", "IQ-GOV", &[Role::LegalOfficer], Level::Secret, &[]),
    ("state.auditor", "US-STATE", &[Role::Auditor], Level::Secret, &["HVD"]),
];

pub fn new_user(name: &str, agency: &str, roles: &[Role], clearance: Level, comps: &[&str], password: Option<&str>) -> NewUser {
    NewUser {
        username: name.into(),
        display_name: String::new(),
        agency: agency.into(),
        roles: roles.iter().copied().collect(),
        clearance,
        compartments: comps.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(),
        password: password.map(str::to_string),
    }
}

/// Load `n` people of the flagship scenario, bootstrap `odni.admin`, add [`USERS`].
pub async fn fixture(store: &Store, n: usize) -> Fixture {
    let scenario = flagship();
    let mut people = synth::generate(&scenario).expect("synthetic population");
    people.truncate(n);
    store.load_scenario(&scenario, &people, false).await.expect("load scenario");
    let clock = Arc::new(AtomicI64::new(T0));
    let c2 = clock.clone();
    let access = Access::new(store.clone(), Arc::new(Authorizer::builtin().expect("built-in policy")))
        .with_clock(Arc::new(move || c2.load(Ordering::SeqCst)));
    let admin_user = new_user("odni.admin", "US-ODNI", &[Role::Administrator], Level::TopSecret, &["HVD"], Some(PASSWORD));
    access.add_user(None, &admin_user).await.expect("bootstrap administrator");
    let admin = access.check_password("odni.admin", PASSWORD).await.expect("admin signs in");
    for (name, agency, roles, clearance, comps) in USERS {
        access
            .add_user(Some(&admin), &new_user(name, agency, roles, *clearance, comps, Some(PASSWORD)))
            .await
            .unwrap_or_else(|e| panic!("add {name}: {e}"));
    }
    Fixture { access, clock, people, admin }
}

/// Table sizes (for "nothing changed" checks).
pub async fn counts(store: &Store) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for t in [
        "access_users",
        "access_tokens",
        "access_sessions",
        "access_markings",
        "access_notes",
        "access_legal_holds",
        "access_releases",
        "access_release_records",
        "access_release_approvals",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {t}")).fetch_one(store.pool()).await.unwrap();
        out.push((t.to_string(), n));
    }
    out
}
