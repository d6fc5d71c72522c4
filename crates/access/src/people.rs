//! People as marked records: field groups, default markings, intelligence notes.
//!
//! A person's JSON view is split into field groups, each with its own label:
//!
//! | group        | JSON keys                                   | default marking                      | originator        |
//! |--------------|---------------------------------------------|--------------------------------------|-------------------|
//! | `custody`    | id, custodian, site, category, legal_status | `UNCLASSIFIED//REL TO <all parties>` | custodian         |
//! | `identity`   | identity                                    | `UNCLASSIFIED//REL TO <all parties>` | custodian         |
//! | `medical`    | medical                                     | `UNCLASSIFIED//REL TO <all parties>` | custodian         |
//! | `risk`       | risk, separation_groups                     | `SECRET//REL TO USA, <receiving>`    | custodian         |
//! | `intel_notes`| intel_notes[i]                              | the note's own marking               | the note's author |
//!
//! "All parties" is every country of an agency in the operation. The custody
//! group is the whole-record label: who cannot see it does not see the person.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use sallyport_core::{Agency, AgencyKind, Person, RiskClass};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::authz::Authorizer;
use crate::marking::{Level, Marking};
use crate::principal::{Label, Principal};
use crate::redact::{Filter, MarkedRecord, RedactedPerson};

/// Field groups of a person record.
pub const GROUPS: [&str; 5] = ["custody", "identity", "medical", "risk", "intel_notes"];

/// JSON keys of each field group (except intel notes, labelled per note).
pub fn group_keys(group: &str) -> &'static [&'static str] {
    match group {
        "custody" => &["id", "custodian", "site", "category", "legal_status"],
        "identity" => &["identity"],
        "medical" => &["medical"],
        "risk" => &["risk", "separation_groups"],
        _ => &[],
    }
}

/// Where a field group's marking comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMarking {
    pub marking: Marking,
    /// Originating agency; `None` means the person's custodian.
    pub originator: Option<String>,
}

/// Markings of a kind of record: defaults per group, and per-record overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeopleMarkings {
    pub defaults: BTreeMap<String, GroupMarking>,
    /// (person id, group) → marking.
    pub overrides: HashMap<(String, String), GroupMarking>,
    /// People under legal hold.
    pub legal_holds: BTreeSet<String>,
}

/// One intelligence note on a person (synthetic text only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntelNote {
    pub person_id: String,
    pub marking: Marking,
    /// Authoring agency (originator of the note).
    pub originator: String,
    pub text: String,
}

/// The default markings for people of an operation with these agencies.
pub fn default_markings(agencies: &[Agency]) -> PeopleMarkings {
    let all: BTreeSet<String> = agencies.iter().map(|a| a.country.to_string()).collect();
    let mut risk_to: BTreeSet<String> = agencies
        .iter()
        .filter(|a| a.kind == AgencyKind::ReceivingGovernment)
        .map(|a| a.country.to_string())
        .collect();
    risk_to.insert("USA".to_string());
    let open = Marking::unclassified().with_rel_to(all.iter().cloned());
    let mut defaults = BTreeMap::new();
    for g in ["custody", "identity", "medical"] {
        defaults.insert(g.to_string(), GroupMarking { marking: open.clone(), originator: None });
    }
    defaults.insert(
        "risk".to_string(),
        GroupMarking { marking: Marking::new(Level::Secret).with_rel_to(risk_to), originator: None },
    );
    PeopleMarkings { defaults, overrides: HashMap::new(), legal_holds: BTreeSet::new() }
}

/// Synthetic intelligence notes for the high- and critical-risk people: a
/// `SECRET//HVD//REL TO USA` note for high risk, `TOP SECRET//HVD//NOFORN` for
/// critical, authored by the operation's intelligence agency.
pub fn synthetic_notes(people: &[Person], agencies: &[Agency]) -> Vec<IntelNote> {
    let Some(intel) = agencies.iter().find(|a| a.kind == AgencyKind::Intelligence) else { return vec![] };
    let country = intel.country.to_string();
    people
        .iter()
        .filter_map(|p| {
            let (marking, text) = match p.risk {
                RiskClass::High => (
                    Marking::new(Level::Secret).with_compartments(["HVD"]).with_rel_to([country.clone()]),
                    format!("SYNTHETIC NOTE {}: assessed facilitator; travel history under review.", p.id),
                ),
                RiskClass::Critical => (
                    Marking::new(Level::TopSecret).with_compartments(["HVD"]).with_noforn(),
                    format!("SYNTHETIC NOTE {}: assessed senior figure; sourcing sensitive.", p.id),
                ),
                _ => return None,
            };
            Some(IntelNote { person_id: p.id.to_string(), marking, originator: intel.id.to_string(), text })
        })
        .collect()
}

/// The agency directory: id → (country, kind).
pub type Directory = HashMap<String, (String, String)>;

pub fn directory(agencies: &[Agency]) -> Directory {
    agencies.iter().map(|a| (a.id.to_string(), (a.country.to_string(), a.kind.as_str().to_string()))).collect()
}

/// One shared copy of each distinct marking, for the labels of many records
/// (see [`Label`]: equal labels that share their marking compare by address).
#[derive(Default)]
struct Shared(HashMap<Marking, Arc<Marking>>);

impl Shared {
    fn get(&mut self, m: &Marking) -> Arc<Marking> {
        if let Some(a) = self.0.get(m) {
            return a.clone();
        }
        let a = Arc::new(m.clone());
        self.0.insert(m.clone(), a.clone());
        a
    }
}

fn label_for(g: &GroupMarking, person: &Person, dir: &Directory, shared: &mut Shared) -> Label {
    let originator = g.originator.clone().unwrap_or_else(|| person.custodian.to_string());
    // An unknown originator gets an impossible country: only its own agency matches.
    let country = dir.get(&originator).map(|(c, _)| c.clone()).unwrap_or_else(|| "-".to_string());
    Label::new(shared.get(&g.marking), originator, country)
}

/// A person's JSON view with labels on every field group.
///
/// A group without a marking (neither default nor override) is labelled
/// `TOP SECRET//NOFORN` by the custodian: fail closed.
pub fn marked_person(person: &Person, notes: &[&IntelNote], markings: &PeopleMarkings, dir: &Directory) -> MarkedRecord {
    marked_person_sharing(person, notes, markings, dir, &mut Shared::default())
}

fn marked_person_sharing(
    person: &Person,
    notes: &[&IntelNote],
    markings: &PeopleMarkings,
    dir: &Directory,
    shared: &mut Shared,
) -> MarkedRecord {
    let pid = person.id.to_string();
    let mut group = |g: &str| -> Label {
        let gm = markings.overrides.get(&(pid.clone(), g.to_string())).or_else(|| markings.defaults.get(g));
        match gm {
            Some(gm) => label_for(gm, person, dir, shared),
            None => label_for(
                &GroupMarking { marking: Marking::new(Level::TopSecret).with_noforn(), originator: None },
                person,
                dir,
                shared,
            ),
        }
    };
    let mut value = serde_json::to_value(person).unwrap_or(Value::Null);
    let notes_json: Vec<Value> =
        notes.iter().map(|n| json!({"marking": n.marking.portion(), "originator": n.originator, "text": n.text})).collect();
    if let Value::Object(m) = &mut value {
        m.insert("intel_notes".into(), Value::Array(notes_json));
    }
    let mut parts = BTreeMap::new();
    for g in ["identity", "medical", "risk"] {
        let l = group(g);
        for k in group_keys(g) {
            parts.insert(format!("/{k}"), (g.to_string(), l.clone()));
        }
    }
    let custody = group("custody");
    for (i, n) in notes.iter().enumerate() {
        let country = dir.get(&n.originator).map(|(c, _)| c.clone()).unwrap_or_else(|| "-".to_string());
        parts.insert(
            format!("/intel_notes/{i}"),
            ("intel_notes".to_string(), Label::new(shared.get(&n.marking), n.originator.clone(), country)),
        );
    }
    MarkedRecord {
        kind: "person".to_string(),
        id: pid.clone(),
        value,
        label: custody,
        parts,
        legal_hold: markings.legal_holds.contains(&pid),
    }
}

/// Build marked records for many people (notes grouped by person).
pub fn marked_people(
    people: &[Person],
    notes: &[IntelNote],
    markings: &PeopleMarkings,
    agencies: &[Agency],
) -> Vec<MarkedRecord> {
    let dir = directory(agencies);
    let mut by_person: HashMap<&str, Vec<&IntelNote>> = HashMap::new();
    for n in notes {
        by_person.entry(n.person_id.as_str()).or_default().push(n);
    }
    let mut shared = Shared::default();
    people
        .iter()
        .map(|p| marked_person_sharing(p, by_person.get(p.id.as_str()).map_or(&[][..], |v| v), markings, &dir, &mut shared))
        .collect()
}

/// What `principal` may see of `people`: hidden people dropped, denied fields removed.
pub fn filter_people(authz: &Authorizer, principal: &Principal, records: &[MarkedRecord]) -> Vec<RedactedPerson> {
    Filter::new(authz, principal).redact_all(records)
}
