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
    let shifts = segs.iter().any(|d| d.last().is_some_and(|s| index(s).is_some()));
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
    cache: hashbrown::HashMap<ClassKey, Class>,
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
        // Two lookups on a miss (the borrow checker cannot return from the first);
        // a miss is rare: lists share a handful of marking classes.
        if !self.cache.contains_key(&probe) {
            self.evaluations += 1;
            let decision = self.authz.decide_class(self.principal, self.scopes, &self.action, kind, field, label, legal_hold);
            self.cache.insert(probe.to_key(), Class { decision, portion: label.marking.portion() });
        }
        &self.cache[&probe]
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
