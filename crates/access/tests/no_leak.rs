//! No output contains a record or field the policy denies.
//!
//! The oracle below is written from the rules in plain Rust, separately from
//! the Cedar policy and from the redaction code; outputs (values, JSON and the
//! rendered text the CLI prints) are searched for sentinel content of every
//! denied part. Completeness is checked too: what the oracle allows appears.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sallyport_access::redact::Filter;
use sallyport_access::{render, Authorizer, Label, Level, MarkedRecord, Marking, Principal, Role};
use serde_json::json;

// ------------------------------------------------------------------ the oracle

struct OracleUser<'a> {
    agency: &'a str,
    country: &'a str,
    roles: &'a BTreeSet<Role>,
    clearance: Level,
    compartments: &'a BTreeSet<String>,
    scopes: Option<&'a BTreeSet<String>>,
}

impl<'a> OracleUser<'a> {
    fn new(p: &'a Principal, scopes: Option<&'a BTreeSet<String>>) -> Self {
        OracleUser { agency: &p.agency, country: &p.country, roles: &p.roles, clearance: p.clearance, compartments: &p.compartments, scopes }
    }
}

/// May `u` read something labelled `l`? (The rules of issue 5, stated directly.)
fn oracle_read(u: &OracleUser, l: &Label) -> bool {
    let reading_role = u.roles.iter().any(|r| *r != Role::Administrator);
    let scoped = u.scopes.is_none_or(|s| s.contains("read"));
    let m = &l.marking;
    let cleared = u.clearance >= m.level;
    let need_to_know = m.compartments.iter().all(|c| u.compartments.contains(c));
    let releasable = u.agency == l.originator
        || m.rel_to.contains(u.country)
        || m.rel_to.contains(u.agency)
        || (m.rel_to.is_empty() && u.country == l.originator_country)
        || (m.rel_to.is_empty() && !m.noforn && m.level == Level::Unclassified);
    reading_role && scoped && cleared && need_to_know && releasable
}

// ------------------------------------------------------------------ generators

const AGENCIES: [(&str, &str); 7] = [
    ("US-ODNI", "USA"),
    ("US-FBI", "USA"),
    ("SDF", "SYR"),
    ("IQ-GOV", "IRQ"),
    ("UK-MOD", "GBR"),
    ("FR-DGSE", "FRA"),
    ("ICRC", "CHE"),
];
const COMPARTMENTS: [&str; 3] = ["HVD", "CT-NES", "SIGMA"];
const REL: [&str; 8] = ["USA", "SYR", "IRQ", "GBR", "FRA", "US-FBI", "SDF", "NATO"];

fn arb_label() -> impl Strategy<Value = Label> {
    (
        0usize..5,
        prop::collection::btree_set(prop::sample::select(COMPARTMENTS.to_vec()), 0..3),
        any::<bool>(),
        prop::collection::btree_set(prop::sample::select(REL.to_vec()), 0..4),
        prop::sample::select(AGENCIES.to_vec()),
    )
        .prop_map(|(lvl, comps, noforn, rel, (orig, country))| {
            let level = Level::ALL[lvl];
            let mut m = Marking::new(level);
            if level != Level::Unclassified {
                m = m.with_compartments(comps);
            }
            if noforn {
                m = m.with_noforn();
            } else {
                m = m.with_rel_to(rel);
            }
            m.validate().expect("generated marking is valid");
            Label::new(m, orig, country)
        })
}

fn arb_principal() -> impl Strategy<Value = (Principal, Option<BTreeSet<String>>)> {
    (
        prop::sample::select(AGENCIES.to_vec()),
        prop::collection::btree_set(prop::sample::select(Role::ALL.to_vec()), 1..3),
        0usize..5,
        prop::collection::btree_set(prop::sample::select(COMPARTMENTS.to_vec()), 0..3),
        prop::option::of(prop::collection::btree_set(prop::sample::select(vec!["read", "write", "read_audit"]), 1..3)),
    )
        .prop_map(|((agency, country), roles, lvl, comps, scopes)| {
            let p = Principal {
                user: "random.user".into(),
                agency: agency.into(),
                country: country.into(),
                agency_kind: "intelligence".into(),
                roles,
                clearance: Level::ALL[lvl],
                compartments: comps.into_iter().map(str::to_string).collect(),
            };
            (p, scopes.map(|s| s.into_iter().map(str::to_string).collect()))
        })
}

/// A record with sentinel text in every part: `S<r>-<part>`.
#[derive(Debug, Clone)]
struct Spec {
    label: Label,
    groups: Vec<(String, Label)>,
    notes: Vec<Label>,
}

fn arb_spec() -> impl Strategy<Value = Spec> {
    (arb_label(), prop::collection::vec(arb_label(), 3), prop::collection::vec(arb_label(), 0..4)).prop_map(|(label, g, notes)| Spec {
        label,
        groups: ["identity", "medical", "risk"].iter().zip(g).map(|(n, l)| (n.to_string(), l)).collect(),
        notes,
    })
}

fn build(i: usize, s: &Spec) -> MarkedRecord {
    let mut value = json!({
        "id": format!("REC{i:03}"),
        "custodian": format!("S{i}-custody"),
        "intel_notes": s.notes.iter().enumerate().map(|(k, _)| json!({"originator": "x", "text": format!("S{i}-note{k}")})).collect::<Vec<_>>(),
    });
    let mut parts = BTreeMap::new();
    for (g, l) in &s.groups {
        value[g.as_str()] = json!({"detail": format!("S{i}-{g}")});
        parts.insert(format!("/{g}"), (g.clone(), l.clone()));
    }
    for (k, l) in s.notes.iter().enumerate() {
        parts.insert(format!("/intel_notes/{k}"), ("intel_notes".to_string(), l.clone()));
    }
    MarkedRecord { kind: "person".into(), id: format!("REC{i:03}"), value, label: s.label.clone(), parts, legal_hold: i.is_multiple_of(3) }
}

fn authz() -> &'static Authorizer {
    static A: std::sync::OnceLock<Authorizer> = std::sync::OnceLock::new();
    A.get_or_init(|| Authorizer::builtin().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn outputs_hold_exactly_what_the_oracle_allows((p, scopes) in arb_principal(), specs in prop::collection::vec(arb_spec(), 1..8)) {
        let records: Vec<MarkedRecord> = specs.iter().enumerate().map(|(i, s)| build(i, s)).collect();
        let out = Filter::scoped(authz(), &p, scopes.as_ref()).redact_all(&records);
        let text: String = out.iter().map(render::person_text).collect::<String>() + &serde_json::to_string(&out).unwrap();
        let u = OracleUser::new(&p, scopes.as_ref());
        let visible: Vec<usize> = (0..specs.len()).filter(|&i| oracle_read(&u, &specs[i].label)).collect();
        // Lists hold exactly the visible records: the count reveals nothing hidden.
        prop_assert_eq!(out.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), visible.iter().map(|i| format!("REC{i:03}")).collect::<Vec<_>>());
        for (i, s) in specs.iter().enumerate() {
            let rec_ok = oracle_read(&u, &s.label);
            prop_assert_eq!(text.contains(&format!("S{i}-custody")), rec_ok, "record {} custody", i);
            for (g, l) in &s.groups {
                let want = rec_ok && oracle_read(&u, l);
                prop_assert_eq!(text.contains(&format!("S{i}-{g}")), want, "record {} group {} label {}", i, g, l.marking);
            }
            for (k, l) in s.notes.iter().enumerate() {
                let want = rec_ok && oracle_read(&u, l);
                prop_assert_eq!(text.contains(&format!("S{i}-note{k}\"")) || text.contains(&format!("S{i}-note{k}\n")), want, "record {} note {} label {}", i, k, l.marking);
            }
        }
        // Every shown part carries its own portion mark, re-pointed past removed notes.
        for r in &out {
            let i: usize = r.id[3..].parse().unwrap();
            let s = &specs[i];
            for (ptr, mark) in &r.markings {
                let at = ptr.split('/').skip(1).try_fold(&r.value, |v, seg| v.get(seg).or_else(|| seg.parse::<usize>().ok().and_then(|i| v.get(i))));
                prop_assert!(at.is_some(), "marking for absent {}", ptr);
                let want = match ptr.strip_prefix("/intel_notes/") {
                    None if ptr.is_empty() => s.label.marking.portion(),
                    None => s.groups.iter().find(|(g, _)| ptr == &format!("/{g}")).map(|(_, l)| l.marking.portion()).unwrap(),
                    Some(_) => {
                        let text = at.unwrap()["text"].as_str().unwrap();
                        let k: usize = text.rsplit("note").next().unwrap().parse().unwrap();
                        s.notes[k].marking.portion()
                    }
                };
                prop_assert_eq!(mark, &want, "record {} part {}", i, ptr);
            }
            let shown_notes = r.value["intel_notes"].as_array().map_or(0, |a| a.len());
            prop_assert_eq!(r.markings.keys().filter(|p| p.starts_with("/intel_notes/")).count(), shown_notes, "record {} note marks", i);
        }
    }
}

// ------------------------------------------------------------------ through the store, both backends

#[tokio::test]
async fn store_views_and_lists_obey_the_oracle() {
    use sallyport_store::testing::backends;
    for db in backends().await {
        let f = common::fixture(&db.store, 80).await;
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let real: Vec<(&str, &str)> = vec![("US-ODNI", "USA"), ("US-FBI", "USA"), ("SDF", "SYR"), ("IQ-GOV", "IRQ"), ("US-STATE", "USA")];
        let rand_label = |rng: &mut ChaCha8Rng| -> Label {
            let level = Level::ALL[rng.gen_range(0..5)];
            let mut m = Marking::new(level);
            if level != Level::Unclassified && rng.gen_bool(0.3) {
                m = m.with_compartments(["HVD"]);
            }
            if rng.gen_bool(0.2) {
                m = m.with_noforn();
            } else {
                let n = rng.gen_range(0..3);
                m = m.with_rel_to((0..n).map(|_| ["USA", "SYR", "IRQ", "SDF", "US-FBI"][rng.gen_range(0..5)]));
            }
            let (o, c) = real[rng.gen_range(0..real.len())];
            Label::new(m, o, c)
        };
        // Explicit labels for every group of every person, and random notes.
        let mut labels: BTreeMap<(String, String), Label> = BTreeMap::new();
        let mut notes: BTreeMap<String, Vec<(Label, String)>> = BTreeMap::new();
        let mut note_id = 0;
        for p in &f.people {
            let pid = p.id.to_string();
            for g in ["custody", "identity", "medical", "risk"] {
                let l = rand_label(&mut rng);
                sqlx::query("INSERT INTO access_markings (kind, record, field, marking, originator, set_ms, set_by) VALUES ('person', $1, $2, $3, $4, 0, 'test')")
                    .bind(&pid).bind(g).bind(l.marking.banner()).bind(&l.originator)
                    .execute(db.store.pool()).await.unwrap();
                labels.insert((pid.clone(), g.to_string()), l);
            }
            for _ in 0..rng.gen_range(0..3) {
                note_id += 1;
                let l = rand_label(&mut rng);
                let text = format!("SENTINEL-NOTE-{note_id:04}.");
                sqlx::query("INSERT INTO access_notes (id, person, marking, originator, body, created_ms, created_by) VALUES ($1, $2, $3, $4, $5, 0, 'test')")
                    .bind(note_id as i64).bind(&pid).bind(l.marking.banner()).bind(&l.originator).bind(&text)
                    .execute(db.store.pool()).await.unwrap();
                notes.entry(pid.clone()).or_default().push((l, text));
            }
        }
        // Random users (token-only, so no password hashing), each acting through a token.
        for k in 0..10 {
            let (agency, _) = real[rng.gen_range(0..real.len())];
            let roles: BTreeSet<Role> = (0..rng.gen_range(1..3)).map(|_| Role::ALL[rng.gen_range(0..Role::ALL.len())]).collect();
            let clearance = Level::ALL[rng.gen_range(0..5)];
            let comps: Vec<&str> = if rng.gen_bool(0.5) { vec!["HVD"] } else { vec![] };
            let name = format!("random.user{k}");
            let roles_v: Vec<Role> = roles.iter().copied().collect();
            f.access.add_user(Some(&f.admin), &common::new_user(&name, agency, &roles_v, clearance, &comps, None)).await.unwrap();
            let scopes: BTreeSet<String> = if rng.gen_bool(0.8) { ["read".to_string()].into() } else { ["write".to_string()].into() };
            let tok = f.access.issue_token(&f.admin, &name, "random device", &scopes, 86_400_000).await.unwrap();
            let caller = f.access.authenticate(&tok.secret).await.unwrap();
            let u = OracleUser::new(&caller.principal, caller.scopes.as_ref());

            let listed = f.access.list_people(&caller, None).await.unwrap();
            let want: Vec<String> = f.people.iter().map(|p| p.id.to_string()).filter(|id| oracle_read(&u, &labels[&(id.clone(), "custody".to_string())])).collect();
            assert_eq!(listed.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), want, "{}: {name} list", db.name);
            for p in f.people.iter().take(40) {
                let pid = p.id.to_string();
                let view = f.access.view_person(&caller, &pid).await.unwrap();
                let rec_ok = oracle_read(&u, &labels[&(pid.clone(), "custody".to_string())]);
                assert_eq!(view.is_some(), rec_ok, "{}: {name} sees {pid}", db.name);
                let Some(v) = view else { continue };
                let text = render::person_text(&v) + &serde_json::to_string(&v).unwrap();
                for (g, keys) in [("identity", &["identity"][..]), ("medical", &["medical"][..]), ("risk", &["risk", "separation_groups"][..])] {
                    let ok = oracle_read(&u, &labels[&(pid.clone(), g.to_string())]);
                    for k in keys {
                        assert_eq!(v.value.get(*k).is_some(), ok, "{}: {name} {pid} {k}", db.name);
                    }
                    if g == "identity" {
                        assert_eq!(text.contains(&p.identity.name_latin), ok, "{}: {name} {pid} name in output", db.name);
                    }
                }
                for (l, t) in notes.get(&pid).into_iter().flatten() {
                    assert_eq!(text.contains(t.as_str()), oracle_read(&u, l), "{}: {name} {pid} note {t} {}", db.name, l.marking);
                }
            }
        }
        f.access.audit_log().verify().await.unwrap();
    }
}
