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

/// One segment of a JSON pointer, unescaped (RFC 6901); borrowed unless escaped.
fn unescape(s: &str) -> Cow<'_, str> {
    if s.contains('~') {
        Cow::Owned(s.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(s)
    }
}

/// The raw (still escaped) segments of JSON pointer `ptr`.
fn raw_segments(ptr: &str) -> std::str::Split<'_, char> {
    let mut it = ptr.split('/');
    it.next(); // the empty text before the first '/'
    it
}

fn index(seg: &str) -> Option<usize> {
    seg.parse::<usize>().ok()
}

/// Remove the values at `denied`, JSON pointers in ascending byte order (the
/// order of a record's `parts`), in one pass: every object and array on the
/// way is visited once, deepest first, and keeps the order of what remains.
///
/// Pointers that lead nowhere are ignored; `""` (the value itself) is never removed.
fn remove_all<D: AsRef<str>>(value: &mut Value, denied: &[D]) {
    debug_assert!(denied.windows(2).all(|w| w[0].as_ref() <= w[1].as_ref()), "denied pointers must be sorted");
    remove_under(value, denied, 0);
}

/// [`remove_all`] for `value`, the target of the first `at` bytes of every
/// pointer in `denied`.
fn remove_under<D: AsRef<str>>(value: &mut Value, denied: &[D], at: usize) {
    let mut direct: Vec<&str> = Vec::new(); // raw child segments removed here
    let mut i = 0;
    while i < denied.len() {
        let Some(rest) = denied[i].as_ref()[at..].strip_prefix('/') else {
            i += 1; // the value itself: its parent removes it
            continue;
        };
        let Some(slash) = rest.find('/') else {
            direct.push(rest);
            i += 1;
            continue;
        };
        // Pointers below one child are contiguous in byte order: recurse once for them all.
        let seg = &rest[..slash];
        let below = at + 1 + slash; // the byte of the '/' after `seg`
        let head = &denied[i].as_ref()[..=below];
        let j = i + denied[i..].iter().take_while(|d| d.as_ref().starts_with(head)).count();
        let child = match value {
            Value::Object(m) => m.get_mut(unescape(seg).as_ref()),
            Value::Array(a) => index(seg).and_then(|k| a.get_mut(k)),
            _ => None,
        };
        if let Some(child) = child {
            remove_under(child, &denied[i..j], below);
        }
        i = j;
    }
    if direct.is_empty() {
        return;
    }
    match value {
        Value::Object(m) => {
            for k in direct {
                m.shift_remove(unescape(k).as_ref());
            }
        }
        Value::Array(a) => {
            // Ascending in byte order is not ascending in number ("10" < "9"):
            // remove from the highest index down, so no removal shifts another.
            let mut gone: Vec<usize> = direct.into_iter().filter_map(index).filter(|&k| k < a.len()).collect();
            gone.sort_unstable();
            gone.dedup();
            for k in gone.into_iter().rev() {
                a.remove(k);
            }
        }
        _ => {}
    }
}

/// Whether `ptr` is `d` or lies inside it.
fn inside(ptr: &str, d: &str) -> bool {
    ptr.strip_prefix(d).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Where `ptr` points after the array elements at `denied` have been removed.
fn shift_pointer<D: AsRef<str>>(ptr: String, denied: &[D]) -> String {
    if !raw_segments(&ptr).any(|s| index(s).is_some()) {
        return ptr; // no array index to shift
    }
    let mut out = String::with_capacity(ptr.len());
    let mut prefix_len = 0; // bytes of `ptr` before the current segment
    for seg in raw_segments(&ptr) {
        let parent = &ptr[..prefix_len];
        out.push('/');
        match index(seg) {
            Some(idx) => {
                // Removed elements of the same array before this one.
                let removed_before = denied
                    .iter()
                    .filter_map(|d| d.as_ref().strip_prefix(parent)?.strip_prefix('/'))
                    .filter(|rest| !rest.contains('/') && index(rest).is_some_and(|j| j < idx))
                    .count();
                out.push_str(&(idx - removed_before).to_string());
            }
            None => out.push_str(seg),
        }
        prefix_len += 1 + seg.len();
    }
    out
}

/// The redacted record: every denied part (ascending pointers) removed from
/// `value`, the visible parts' marks re-pointed.
fn finish<D: AsRef<str>>(kind: String, id: String, mut value: Value, mut markings: BTreeMap<String, String>, denied: Vec<D>) -> Redacted {
    if denied.is_empty() {
        return Redacted { kind, id, value, markings };
    }
    remove_all(&mut value, &denied);
    // A visible part nested in a removed one is gone too: drop its marking;
    // re-point the others past removed array elements.
    if markings.keys().any(|ptr| !ptr.is_empty() && denied.iter().any(|d| inside(ptr, d.as_ref()))) {
        markings.retain(|ptr, _| ptr.is_empty() || !denied.iter().any(|d| inside(ptr, d.as_ref())));
    }
    // Only marks under an array can move, and only when array elements were removed.
    let shifts = denied.iter().any(|d| d.as_ref().rsplit('/').next().is_some_and(|s| index(s).is_some()))
        && markings.keys().any(|ptr| raw_segments(ptr).any(|s| index(s).is_some()));
    if shifts {
        markings = markings.into_iter().map(|(ptr, m)| (shift_pointer(ptr, &denied), m)).collect();
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
    /// Scratch of [`Filter::plan`]: each part's class, `None` if denied.
    planned: Vec<Option<usize>>,
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
            planned: Vec::new(),
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
        let c = self.class(kind, field, label, legal_hold);
        &self.classes[c].decision
    }

    /// The index in `classes` of the marking class of (kind, field, label, hold).
    fn class(&mut self, kind: &str, field: &str, label: &Label, legal_hold: bool) -> usize {
        let probe = ClassRef { kind, field, label, legal_hold };
        match self.cache.get(&probe) {
            Some(&i) => i,
            None => {
                // A miss is rare: lists share a handful of marking classes.
                self.evaluations += 1;
                let decision = self.authz.decide_class(self.principal, self.scopes, &self.action, kind, field, label, legal_hold);
                self.classes.push(Class { decision, portion: label.marking.portion() });
                self.cache.insert(probe.to_key(), self.classes.len() - 1);
                self.classes.len() - 1
            }
        }
    }

    /// Redact one record; `None` if the reader may not see it at all.
    pub fn redact(&mut self, rec: &MarkedRecord) -> Option<Redacted> {
        let whole = self.plan(&rec.kind, &rec.label, &rec.parts, rec.legal_hold)?;
        let (markings, denied) = self.sort_parts(whole, rec.parts.keys().map(String::as_str));
        Some(finish(rec.kind.clone(), rec.id.clone(), rec.value.clone(), markings, denied))
    }

    /// Redact one record the caller owns, without copying its value or its pointers.
    pub fn redact_owned(&mut self, rec: MarkedRecord) -> Option<Redacted> {
        let MarkedRecord { kind, id, value, label, parts, legal_hold } = rec;
        let whole = self.plan(&kind, &label, &parts, legal_hold)?;
        let (markings, denied) = self.sort_parts(whole, parts.into_keys());
        Some(finish(kind, id, value, markings, denied))
    }

    /// After [`Filter::plan`]: the portion marks of the whole record (`""`) and of each
    /// visible part, and the denied parts' pointers (in `parts` order, as `finish` needs).
    fn sort_parts<P: AsRef<str> + Into<String>>(&self, whole: usize, ptrs: impl Iterator<Item = P>) -> (BTreeMap<String, String>, Vec<P>) {
        let mut markings = BTreeMap::from([(String::new(), self.classes[whole].portion.clone())]);
        let mut denied = Vec::new();
        for (ptr, &c) in ptrs.zip(&self.planned) {
            match c {
                Some(c) => {
                    markings.insert(ptr.into(), self.classes[c].portion.clone());
                }
                None => denied.push(ptr),
            }
        }
        (markings, denied)
    }

    /// Decide a record: `None` if it is hidden, else the class of the whole
    /// record, with `self.planned` holding each part's class (in `parts`
    /// order), `None` for a denied part.
    fn plan(&mut self, kind: &str, label: &Label, parts: &BTreeMap<String, (String, Label)>, legal_hold: bool) -> Option<usize> {
        let whole = self.class(kind, "*", label, legal_hold);
        if !self.classes[whole].decision.allowed {
            return None;
        }
        let mut planned = std::mem::take(&mut self.planned);
        planned.clear();
        // Neighbouring parts often share field and label (one group's keys):
        // comparing with the last costs less than a lookup.
        let mut last: Option<(&str, &Label, Option<usize>)> = None;
        for (field, label) in parts.values() {
            let p = match last {
                Some((f, l, p)) if f == field && l == label => p,
                _ => {
                    let c = self.class(kind, field, label, legal_hold);
                    self.classes[c].decision.allowed.then_some(c)
                }
            };
            last = Some((field, label, p));
            planned.push(p);
        }
        self.planned = planned;
        Some(whole)
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
    fn remove_all_removes_exactly_the_denied_parts_and_keeps_key_order() {
        let mut v = json!({"z": 1, "a": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], "b/c": ["p", {"q": 1, "r": 2}, "s"], "a-": 2, "m": {"n": {"o": 1, "p": 2}}, "y": 3});
        let mut denied = vec!["/a/10", "/a/2", "/a/9", "/b~1c/0", "/b~1c/1/q", "/m/n/o", "/z", "/a-", "/nowhere/1", "/a/99", "/y/0", ""];
        denied.sort_unstable();
        remove_all(&mut v, &denied);
        assert_eq!(v, json!({"a": [0, 1, 3, 4, 5, 6, 7, 8, 11], "b/c": [{"r": 2}, "s"], "m": {"n": {"p": 2}}, "y": 3}));
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "b/c", "m", "y"], "remaining keys keep their order");
        // A denied part and something inside it: both gone, nothing else.
        let mut w = json!({"n": [{"x": 1}, {"x": 2}], "k": 0});
        remove_all(&mut w, &["/n", "/n/1/x"]);
        assert_eq!(w, json!({"k": 0}));
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
