//! Field-level redaction over `serde_json` values, and list filtering.
//!
//! A [`MarkedRecord`] is a JSON object, a label for the whole record, and
//! labels for parts of it addressed by JSON pointer (`/intel_notes/0`). A
//! reader sees the record only if the whole-record label allows `read`; then
//! every labelled part the policy denies is removed. Anything not labelled
//! inherits the record label (fail closed: an unlabelled part is never more
//! visible than its record). Withheld parts are removed without a trace (no
//! placeholder), so their existence is not revealed; visible parts carry their
//! portion marks in `markings`.
//!
//! Lists: [`Filter`] asks the authorizer once per distinct (field, label,
//! legal-hold) class for one principal ([`Authorizer::decide_class`], itself
//! memoised per policy version) and caches the answer with its portion mark —
//! records share few distinct markings, so a list of 6,000 people costs a
//! handful of decisions plus hash lookups that allocate nothing. Records whose whole-record label is denied
//! are dropped, so counts (`len()` of the result) never include hidden records.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::authz::{Authorizer, Decision};
use crate::principal::{Action, Label, Principal};

/// One record with its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkedRecord {
    pub kind: String,
    pub id: String,
    pub value: Value,
    /// Label of the record as a whole; gates whether it appears at all.
    pub label: Label,
    /// Labels of parts: JSON pointer → (field group name for the policy, label).
    pub parts: BTreeMap<String, (String, Label)>,
    pub legal_hold: bool,
}

/// What a reader may see of one record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Redacted {
    pub kind: String,
    pub id: String,
    pub value: Value,
    /// Portion marks of what is shown: `""` (record) and each visible labelled part.
    pub markings: BTreeMap<String, String>,
}

/// A person as the policy lets a reader see them.
pub type RedactedPerson = Redacted;

/// The unescaped segments of JSON pointer `ptr` (RFC 6901); borrowed unless escaped.
fn segments(ptr: &str) -> Vec<Cow<'_, str>> {
    ptr.split('/')
        .skip(1)
        .map(|s| if s.contains('~') { Cow::Owned(s.replace("~1", "/").replace("~0", "~")) } else { Cow::Borrowed(s) })
        .collect()
}

fn index(seg: &str) -> Option<usize> {
    seg.parse::<usize>().ok()
}

/// Remove the value at the pointer with segments `segs`, if present.
fn remove_at(value: &mut Value, segs: &[Cow<'_, str>]) {
    let Some((last, parents)) = segs.split_last() else { return };
    let mut cur = value;
    for s in parents {
        cur = match cur {
            Value::Object(m) => match m.get_mut(s.as_ref()) {
                Some(v) => v,
                None => return,
            },
            Value::Array(a) => match index(s).and_then(|i| a.get_mut(i)) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    match cur {
        Value::Object(m) => {
            m.remove(last.as_ref());
        }
        Value::Array(a) => {
            if let Some(i) = index(last).filter(|&i| i < a.len()) {
                a.remove(i);
            }
        }
        _ => {}
    }
}

/// Removal order of two pointers' segments: deeper and later first, array
/// indices numerically, so removing one part never shifts another still to be removed.
fn removal_order(a: &[Cow<'_, str>], b: &[Cow<'_, str>]) -> std::cmp::Ordering {
    // An index sorts before a key, indices by number, keys by text.
    let key = |s: &Cow<'_, str>| index(s).map_or((1u8, 0), |n| (0u8, n));
    for (x, y) in a.iter().zip(b) {
        let o = key(x).cmp(&key(y)).then_with(|| x.cmp(y));
        if o.is_ne() {
            return o.reverse();
        }
    }
    b.len().cmp(&a.len())
}

/// Where `ptr` points after the array elements at `denied` have been removed.
fn shift_pointer(ptr: String, denied: &[Vec<Cow<'_, str>>]) -> String {
    if !ptr.split('/').any(|s| index(s).is_some()) {
        return ptr; // no array index to shift
    }
    let segs = segments(&ptr);
    let mut out = String::with_capacity(ptr.len());
    for (k, seg) in segs.iter().enumerate() {
        out.push('/');
        match index(seg) {
            Some(idx) => {
                let removed_before = denied
                    .iter()
                    .filter(|d| d.len() == k + 1 && d[..k] == segs[..k] && index(&d[k]).is_some_and(|j| j < idx))
                    .count();
                out.push_str(&(idx - removed_before).to_string());
            }
            None => out.push_str(&seg.replace('~', "~0").replace('/', "~1")),
        }
    }
    out
}

/// The redacted record: every denied part removed from `value` (deepest and
/// last first), the visible parts' marks re-pointed.
fn finish(kind: String, id: String, mut value: Value, mut markings: BTreeMap<String, String>, denied: &[&str]) -> Redacted {
    if denied.is_empty() {
        return Redacted { kind, id, value, markings };
    }
    let mut segs: Vec<Vec<Cow<'_, str>>> = denied.iter().map(|d| segments(d)).collect();
    segs.sort_by(|a, b| removal_order(a, b));
    for s in &segs {
        remove_at(&mut value, s);
    }
    // A visible part nested in a removed one is gone too: drop its marking;
    // re-point the others past removed array elements.
    let inside = |ptr: &str, d: &str| ptr.strip_prefix(d).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    markings.retain(|ptr, _| ptr.is_empty() || !denied.iter().any(|d| inside(ptr, d)));
    // Only marks under an array can move, and only when array elements were removed.
    let shifts = segs.iter().any(|d| d.last().is_some_and(|s| index(s).is_some()))
        && markings.keys().any(|ptr| ptr.split('/').any(|s| index(s).is_some()));
    if shifts {
        markings = markings.into_iter().map(|(ptr, m)| (shift_pointer(ptr, &segs), m)).collect();
    }
    Redacted { kind, id, value, markings }
}

/// A marking class: everything the Cedar resource carries except the record id
/// (the key of the list filter's cache and of the authorizer's context cache).
#[derive(Debug, Hash, PartialEq, Eq)]
pub(crate) struct ClassKey {
    kind: String,
    field: String,
    label: Label,
    legal_hold: bool,
}

/// A borrowed [`ClassKey`], for lookups that allocate nothing. Its derived
/// `Hash` feeds the hasher exactly what `ClassKey`'s does (`&str` hashes as
/// `String`, `&Label` as `Label`), which `Equivalent` requires.
#[derive(Hash)]
pub(crate) struct ClassRef<'k> {
    pub(crate) kind: &'k str,
    pub(crate) field: &'k str,
    pub(crate) label: &'k Label,
    pub(crate) legal_hold: bool,
}

impl ClassRef<'_> {
    pub(crate) fn to_key(&self) -> ClassKey {
        ClassKey { kind: self.kind.to_string(), field: self.field.to_string(), label: self.label.clone(), legal_hold: self.legal_hold }
    }
}

impl hashbrown::Equivalent<ClassKey> for ClassRef<'_> {
    fn equivalent(&self, k: &ClassKey) -> bool {
        self.legal_hold == k.legal_hold && self.kind == k.kind && self.field == k.field && *self.label == k.label
    }
}

/// The cached decision of one marking class and the portion mark shown with it.
#[derive(Debug)]
struct Class {
    decision: Arc<Decision>,
    portion: String,
}

/// Decides reads for one principal, caching by marking class.
pub struct Filter<'a> {
    authz: &'a Authorizer,
    principal: &'a Principal,
    scopes: Option<&'a BTreeSet<String>>,
    action: Action,
    /// Marking class → its index in `classes` (one hash lookup per part).
    cache: hashbrown::HashMap<ClassKey, usize>,
    classes: Vec<Class>,
    /// Marking classes decided for this filter (its cache misses; each is one
    /// Cedar evaluation unless the authorizer's memo already held it).
    pub evaluations: usize,
}

impl<'a> Filter<'a> {
    pub fn new(authz: &'a Authorizer, principal: &'a Principal) -> Self {
        Filter {
            authz,
            principal,
            scopes: None,
            action: Action::Read,
            cache: hashbrown::HashMap::new(),
            classes: Vec::new(),
            evaluations: 0,
        }
    }

    /// A filter for a credential limited to `scopes` (a device token).
    pub fn scoped(authz: &'a Authorizer, principal: &'a Principal, scopes: Option<&'a BTreeSet<String>>) -> Self {
        Filter { scopes, ..Filter::new(authz, principal) }
    }

    /// The (cached) decision for `action` on a part labelled `label`.
    ///
    /// The cache key is everything the Cedar resource carries except the record
    /// id, so per-record rules must be expressed as attributes (as legal holds are).
    pub fn decide(&mut self, kind: &str, field: &str, label: &Label, legal_hold: bool) -> &Decision {
        &self.class(kind, field, label, legal_hold).decision
    }

    fn class(&mut self, kind: &str, field: &str, label: &Label, legal_hold: bool) -> &Class {
        let probe = ClassRef { kind, field, label, legal_hold };
        let i = match self.cache.get(&probe) {
            Some(&i) => i,
            None => {
                // A miss is rare: lists share a handful of marking classes.
                self.evaluations += 1;
                let decision = self.authz.decide_class(self.principal, self.scopes, &self.action, kind, field, label, legal_hold);
                self.classes.push(Class { decision, portion: label.marking.portion() });
                self.cache.insert(probe.to_key(), self.classes.len() - 1);
                self.classes.len() - 1
            }
        };
        &self.classes[i]
    }

    /// Redact one record; `None` if the reader may not see it at all.
    pub fn redact(&mut self, rec: &MarkedRecord) -> Option<Redacted> {
        let (markings, denied) = self.plan(&rec.kind, &rec.label, &rec.parts, rec.legal_hold)?;
        Some(finish(rec.kind.clone(), rec.id.clone(), rec.value.clone(), markings, &denied))
    }

    /// Redact one record the caller owns, without copying its value.
    pub fn redact_owned(&mut self, rec: MarkedRecord) -> Option<Redacted> {
        let MarkedRecord { kind, id, value, label, parts, legal_hold } = rec;
        let (markings, denied) = self.plan(&kind, &label, &parts, legal_hold)?;
        Some(finish(kind, id, value, markings, &denied))
    }

    /// What to show of a record: the portion marks of its visible parts and the
    /// pointers of its denied parts; `None` if the record is hidden.
    fn plan<'p>(
        &mut self,
        kind: &str,
        label: &Label,
        parts: &'p BTreeMap<String, (String, Label)>,
        legal_hold: bool,
    ) -> Option<(BTreeMap<String, String>, Vec<&'p str>)> {
        let whole = self.class(kind, "*", label, legal_hold);
        if !whole.decision.allowed {
            return None;
        }
        let mut markings: BTreeMap<String, String> = BTreeMap::from([(String::new(), whole.portion.clone())]);
        let mut denied: Vec<&'p str> = Vec::new();
        for (ptr, (field, label)) in parts {
            let class = self.class(kind, field, label, legal_hold);
            if class.decision.allowed {
                markings.insert(ptr.clone(), class.portion.clone());
            } else {
                denied.push(ptr);
            }
        }
        Some((markings, denied))
    }

    /// Redact a list: hidden records are dropped, so the result's length is the
    /// only count a caller should report.
    pub fn redact_all<'r>(&mut self, records: impl IntoIterator<Item = &'r MarkedRecord>) -> Vec<Redacted> {
        records.into_iter().filter_map(|r| self.redact(r)).collect()
    }

    /// [`Filter::redact_all`] over records the caller owns (no copies of their values).
    pub fn redact_all_owned(&mut self, records: impl IntoIterator<Item = MarkedRecord>) -> Vec<Redacted> {
        records.into_iter().filter_map(|r| self.redact_owned(r)).collect()
    }
}

/// Convenience: filter and redact `records` for `principal`.
pub fn filter_records(authz: &Authorizer, principal: &Principal, records: &[MarkedRecord]) -> Vec<Redacted> {
    Filter::new(authz, principal).redact_all(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marking::{Level, Marking};
    use crate::principal::Role;
    use serde_json::json;

    fn reader() -> Principal {
        Principal {
            user: "sdf.custodian".into(),
            agency: "SDF".into(),
            country: "SYR".into(),
            agency_kind: "partner_force".into(),
            roles: [Role::FieldCustodian].into(),
            clearance: Level::Confidential,
            compartments: BTreeSet::new(),
        }
    }

    fn label(m: &str) -> Label {
        Label::new(Marking::parse(m).unwrap(), "SDF", "SYR")
    }

    #[test]
    fn removed_array_elements_re_point_the_marks_after_them_and_top_level_removals_move_nothing() {
        let authz = Authorizer::builtin().unwrap();
        let open = label("UNCLASSIFIED//REL TO SYR");
        let secret = label("SECRET//REL TO SYR");
        let value = json!({"id": "P-000001", "risk": "high", "notes": ["a", "b", "c", "d"]});
        let parts = BTreeMap::from([
            ("/risk".to_string(), ("risk".to_string(), secret.clone())),
            ("/notes/0".to_string(), ("intel_notes".to_string(), open.clone())),
            ("/notes/1".to_string(), ("intel_notes".to_string(), secret.clone())),
            ("/notes/2".to_string(), ("intel_notes".to_string(), secret.clone())),
            ("/notes/3".to_string(), ("intel_notes".to_string(), label("CONFIDENTIAL//REL TO SYR"))),
        ]);
        let rec = MarkedRecord { kind: "person".into(), id: "P-000001".into(), value, label: open.clone(), parts, legal_hold: false };
        let p = reader();
        let got = Filter::new(&authz, &p).redact(&rec).unwrap();
        assert_eq!(got.value, json!({"id": "P-000001", "notes": ["a", "d"]}));
        let marks: Vec<(&str, &str)> = got.markings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(marks, vec![("", "(U//REL TO SYR)"), ("/notes/0", "(U//REL TO SYR)"), ("/notes/1", "(C//REL TO SYR)")]);
        // Only a top-level key withheld: the visible array marks stay where they are.
        let mut rec2 = rec.clone();
        rec2.parts.retain(|k, _| k == "/risk" || k == "/notes/0" || k == "/notes/3");
        let got = Filter::new(&authz, &p).redact(&rec2).unwrap();
        assert_eq!(got.value, json!({"id": "P-000001", "notes": ["a", "b", "c", "d"]}));
        assert_eq!(got.markings.keys().cloned().collect::<Vec<_>>(), vec!["", "/notes/0", "/notes/3"]);
    }

    #[test]
    fn labels_are_equal_by_content_whether_or_not_they_share_their_marking() {
        use std::hash::BuildHasher;
        let m = Marking::parse("SECRET//HVD//REL TO IRQ, USA").unwrap();
        let (a, b) = (Label::new(m.clone(), "US-ODNI", "USA"), Label::new(m.clone(), "US-ODNI", "USA"));
        let shared = Label::new(a.marking.clone(), "US-ODNI", "USA");
        let s = std::collections::hash_map::RandomState::new();
        assert!(!std::sync::Arc::ptr_eq(&a.marking, &b.marking));
        assert_eq!(a, b);
        assert_eq!(a, shared);
        assert_eq!(s.hash_one(&a), s.hash_one(&b));
        assert_ne!(a, Label::new(m.clone(), "US-FBI", "USA"));
        assert_ne!(a, Label::new(m, "US-ODNI", "GBR"));
        assert_ne!(a, Label::new(Marking::parse("SECRET//HVD//REL TO USA").unwrap(), "US-ODNI", "USA"));
    }
}
