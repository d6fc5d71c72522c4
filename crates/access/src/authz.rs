//! The Cedar policy engine: load and validate `policies/`, decide requests.
//!
//! [`Authorizer::load`] reads `sallyport.cedarschema` and `sallyport.cedar`
//! from a directory, validates the policies against the schema in strict mode
//! and refuses them with the validator's messages if they fail.
//! [`Authorizer::reload`] swaps in a new policy set only when it validates;
//! otherwise the previous set stays in force.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};

use cedar_policy::{
    ActionConstraint, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId, PolicySet, Request,
    RestrictedExpression, Schema, ValidationMode, Validator,
};
use miette::Diagnostic;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::principal::{scope_names, Action, Label, Principal, Resource};
use crate::redact::{ClassKey, ClassRef};

pub const SCHEMA_FILE: &str = "sallyport.cedarschema";
pub const POLICY_FILE: &str = "sallyport.cedar";

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("schema {path} is invalid: {message}")]
    Schema { path: PathBuf, message: String },
    #[error("policy file {path} does not parse: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("policy file {path} fails validation against the schema:\n{message}")]
    Validation { path: PathBuf, message: String },
    #[error("policy at {0} has no @id annotation (every rule needs one, for decisions and the audit log)")]
    MissingId(String),
    #[error("policy @id \"{0} is used twice")]
    DuplicateId(String),
    #[error("cannot evaluate the request: {0}")]
    Request(String),
}

/// The outcome of one authorisation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// The `@id`s of the policies that determined the decision (permits when
    /// allowed, forbids when denied; empty when denied because nothing permits).
    pub policies: Vec<String>,
    /// Human-readable reasons (the policies' `@reason`s, or why nothing applied).
    pub reasons: Vec<String>,
}

struct Loaded {
    /// The schema's action entities that belong to a group, part of every
    /// request (an action without a parent behaves the same absent or present).
    actions: Vec<Entity>,
    /// The policies whose action scope can match each action: Cedar never
    /// satisfies (nor errors on) a policy whose scope does not match, so the
    /// slice decides exactly as the whole set does, faster. Inside a slice the
    /// action is known, so each policy is specialised to it ([`specialise`]):
    /// the action scope is dropped (Cedar would otherwise rebuild an `action in
    /// [...]` list on every request) and tests of `action` in conditions are
    /// answered once, at load.
    /// (What requests are decided by are the principals' own slices, built
    /// from `by_action_est`; this one is built at load so that a policy whose
    /// specialisation Cedar cannot read back is refused there, and tests read it.)
    #[cfg_attr(not(test), allow(dead_code))]
    by_action: HashMap<&'static str, PolicySet>,
    /// The same slices as JSON (Cedar's EST), to specialise per principal.
    by_action_est: HashMap<&'static str, SliceEst>,
    /// Each principal's entity store (its agency, its user and `actions`) and
    /// its own slices, by principal and scopes (see [`PrincipalState`]).
    principals: Bounded<PrincipalKey, Arc<PrincipalState>>,
    /// Specialised slices by principal attributes: the users of one agency with
    /// the same roles, clearance, compartments and scopes share them (a slice
    /// refers to its principal only as `principal`, never by id).
    profiles: Bounded<Attrs, Arc<Slices>>,
    /// The request context of each record class (kind, field, marking and
    /// legal hold: what [`context`] builds from a [`Resource`] apart from its
    /// id), built once per class like a principal's entities; approvals, whose
    /// context also carries the release's state, are built every time.
    contexts: Bounded<ClassKey, Context>,
    /// The whole set (what the slices are tested against).
    #[cfg_attr(not(test), allow(dead_code))]
    policies: PolicySet,
    reasons: HashMap<String, String>,
    source: String,
    schema_src: String,
    /// SHA-256 of schema and policies, recorded with every audited decision.
    sha256: String,
    /// Decisions of this policy version by class (see [`Authorizer::decide_class`]);
    /// a reload starts a new one, so a memoised decision is never stale.
    memo: Bounded<MemoKey, Arc<Decision>>,
}

/// One action's slice as JSON EST, with what every request on it knows.
struct SliceEst {
    action: EntityUid,
    within: HashSet<EntityUid>,
    policies: Vec<(PolicyId, serde_json::Value)>,
}

/// A principal's entity store and its own slices: each action's slice
/// specialised to the principal's attributes ([`specialise`]), built on first
/// use of that action. Both belong to one policy version (they live in its
/// [`Loaded`]).
struct PrincipalState {
    entities: Entities,
    /// The user entity's attributes, which the slices were specialised with.
    attrs: Attrs,
    /// Shared by every principal with the same attributes (see `Loaded::profiles`).
    slices: Arc<Slices>,
}

/// A principal's attributes as its user entity carries them (not its id).
type Attrs = BTreeMap<&'static str, Lit>;

/// Slices specialised to one set of principal attributes, by the action's
/// index in [`Action::NAMES`], each built on first use.
type Slices = [std::sync::OnceLock<Result<PolicySet, String>>; Action::NAMES.len()];

/// A map shared between threads, looked up by borrowed keys, and emptied when
/// it reaches its limit (the caches it serves refill from a handful of classes).
struct Bounded<K, V> {
    map: Mutex<hashbrown::HashMap<K, V>>,
    limit: usize,
}

impl<K: std::hash::Hash + Eq, V: Clone> Bounded<K, V> {
    fn new(limit: usize) -> Self {
        Bounded { map: Mutex::new(hashbrown::HashMap::new()), limit }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, hashbrown::HashMap<K, V>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get<Q: std::hash::Hash + hashbrown::Equivalent<K>>(&self, probe: &Q) -> Option<V> {
        self.lock().get(probe).cloned()
    }

    fn insert(&self, key: K, value: V) {
        let mut map = self.lock();
        if map.len() >= self.limit {
            map.clear();
        }
        map.insert(key, value);
    }
}

/// Most decisions a policy version memoises before it starts afresh.
const MEMO_LIMIT: usize = 100_000;
/// Most principals whose entities a policy version keeps.
const PRINCIPAL_LIMIT: usize = 4_096;
/// Most record classes whose request context a policy version keeps.
const CONTEXT_LIMIT: usize = 16_384;

#[derive(Hash, PartialEq, Eq)]
struct PrincipalKey(Principal, Option<BTreeSet<String>>);

/// A borrowed [`PrincipalKey`] (same `Hash` feed, as for [`MemoRef`]).
#[derive(Hash)]
struct PrincipalRef<'k>(&'k Principal, Option<&'k BTreeSet<String>>);

impl hashbrown::Equivalent<PrincipalKey> for PrincipalRef<'_> {
    fn equivalent(&self, k: &PrincipalKey) -> bool {
        self.1 == k.1.as_ref() && *self.0 == k.0
    }
}

/// A class of requests that Cedar must answer alike: everything the request
/// carries except the record id (actions with a context are never memoised).
#[derive(Hash, PartialEq, Eq)]
struct MemoKey {
    principal: Principal,
    scopes: Option<BTreeSet<String>>,
    action: &'static str,
    kind: String,
    field: String,
    label: Label,
    legal_hold: bool,
}

/// A borrowed [`MemoKey`]: its derived `Hash` feeds the hasher exactly what
/// `MemoKey`'s does (`&T` hashes as `T`, `&str` as `String`), as `Equivalent` requires.
#[derive(Hash)]
struct MemoRef<'k> {
    principal: &'k Principal,
    scopes: Option<&'k BTreeSet<String>>,
    action: &'static str,
    kind: &'k str,
    field: &'k str,
    label: &'k Label,
    legal_hold: bool,
}

impl hashbrown::Equivalent<MemoKey> for MemoRef<'_> {
    fn equivalent(&self, k: &MemoKey) -> bool {
        self.action == k.action
            && self.legal_hold == k.legal_hold
            && self.kind == k.kind
            && self.field == k.field
            && *self.label == k.label
            && self.scopes == k.scopes.as_ref()
            && *self.principal == k.principal
    }
}

/// A validated policy set and its schema, safe to share between threads.
pub struct Authorizer {
    dir: PathBuf,
    inner: RwLock<Arc<Loaded>>,
    engine: cedar_policy::Authorizer,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer").field("dir", &self.dir).finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<String, PolicyError> {
    std::fs::read_to_string(path).map_err(|source| PolicyError::Io { path: path.to_path_buf(), source })
}

fn compile(schema_src: &str, policy_src: &str, schema_path: &Path, policy_path: &Path) -> Result<Loaded, PolicyError> {
    let (schema, _warnings) = Schema::from_cedarschema_str(schema_src)
        .map_err(|e| PolicyError::Schema { path: schema_path.to_path_buf(), message: located(&e, schema_src, schema_path) })?;
    check_conformance(&schema).map_err(|message| PolicyError::Schema { path: schema_path.to_path_buf(), message })?;
    let action_entities = schema
        .action_entities()
        .map_err(|e| PolicyError::Schema { path: schema_path.to_path_buf(), message: render(&e) })?;
    let ancestors = |a: &EntityUid| -> HashSet<EntityUid> {
        action_entities.ancestors(a).into_iter().flatten().cloned().collect()
    };
    let actions: Vec<Entity> =
        action_entities.iter().filter(|e| !ancestors(&e.uid()).is_empty()).cloned().collect();
    let parsed = PolicySet::from_str(policy_src)
        .map_err(|e| PolicyError::Parse { path: policy_path.to_path_buf(), message: located(&e, policy_src, policy_path) })?;
    let result = Validator::new(schema.clone()).validate(&parsed, ValidationMode::Strict);
    if !result.validation_passed() {
        let message = result
            .validation_errors()
            .map(|e| format!("  - {}", located(e, policy_src, policy_path)))
            .collect::<Vec<_>>()
            .join("\n");
        return Err(PolicyError::Validation { path: policy_path.to_path_buf(), message });
    }
    if parsed.templates().next().is_some() {
        return Err(PolicyError::Parse {
            path: policy_path.to_path_buf(),
            message: "templates are not supported; write plain policies".into(),
        });
    }
    // Re-key every policy by its @id so decisions name rules an administrator recognises.
    let mut policies = PolicySet::new();
    let mut reasons = HashMap::new();
    for p in parsed.policies() {
        // A policy parsed from text prints as its original text: find it for a line number.
        let text = p.to_string();
        let at = policy_src.find(text.trim()).map(|off| {
            let (line, col) = line_col(policy_src, off);
            format!("{}:{line}:{col}", policy_path.display())
        });
        let id = p.annotation("id").ok_or_else(|| {
            MissingId(at.clone().unwrap_or_else(|| p.to_string().lines().take(3).collect::<Vec<_>>().join(" ")))
        })?;
        if reasons.contains_key(id) {
            return Err(PolicyError::DuplicateId(format!("{id}\" at {}", at.unwrap_or_default())));
        }
        // Decisions are memoised per class of record (everything but its id,
        // see `decide_class`), so no rule may single out one record by its uid.
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.contains("Record::\"") {
            return Err(PolicyError::Validation {
                path: policy_path.to_path_buf(),
                message: format!(
                    "  - {}: policy \"{id}\" names a single Record; write per-record rules on its attributes (as legal holds are)",
                    at.unwrap_or_else(|| policy_path.display().to_string())
                ),
            });
        }
        reasons.insert(id.to_string(), p.annotation("reason").unwrap_or(id).to_string());
        policies
            .add(p.new_id(PolicyId::new(id)))
            .map_err(|e| PolicyError::Parse { path: policy_path.to_path_buf(), message: render(&e) })?;
    }
    let (mut by_action, mut by_action_est) = (HashMap::new(), HashMap::new());
    let parse_err = |message: String| PolicyError::Parse { path: policy_path.to_path_buf(), message };
    for name in Action::NAMES {
        let action = uid(ACTION, name);
        let mut within = ancestors(&action);
        within.insert(action.clone());
        let known = Known { action: &action, within: &within, principal: None };
        let (mut slice, mut ests) = (PolicySet::new(), Vec::new());
        for p in policies.policies() {
            let applies = match p.action_constraint() {
                ActionConstraint::Any => true,
                ActionConstraint::Eq(a) => a == action,
                ActionConstraint::In(groups) => groups.iter().any(|g| within.contains(g)),
            };
            if !applies {
                continue;
            }
            let mut est = p.to_json().map_err(|e| parse_err(format!("policy {}: {e}", p.id())))?;
            est["action"] = serde_json::json!({ "op": "All" });
            if specialise(&mut est, &known) {
                slice.add(from_est(p.id(), est.clone()).map_err(parse_err)?).map_err(|e| parse_err(render(&e)))?;
                ests.push((p.id().clone(), est));
            }
        }
        by_action.insert(name, slice);
        by_action_est.insert(name, SliceEst { action, within, policies: ests });
    }
    let sha256 = hex::encode(Sha256::digest(format!("{schema_src}\0{policy_src}").as_bytes()));
    Ok(Loaded {
        actions,
        by_action,
        by_action_est,
        principals: Bounded::new(PRINCIPAL_LIMIT),
        profiles: Bounded::new(PRINCIPAL_LIMIT),
        contexts: Bounded::new(CONTEXT_LIMIT),
        policies,
        reasons,
        source: policy_src.to_string(),
        schema_src: schema_src.to_string(),
        sha256,
        memo: Bounded::new(MEMO_LIMIT),
    })
}

/// What a slice knows about every request it decides: the action (and its
/// groups), and for a principal's own slices the principal's attributes.
struct Known<'a> {
    action: &'a EntityUid,
    /// The action and its groups.
    within: &'a HashSet<EntityUid>,
    principal: Option<&'a Attrs>,
}

/// A Cedar value the specialiser can reason about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Lit {
    Bool(bool),
    Long(i64),
    Str(String),
    Set(BTreeSet<String>),
}

fn from_est(id: &PolicyId, est: serde_json::Value) -> Result<cedar_policy::Policy, String> {
    cedar_policy::Policy::from_json(Some(id.clone()), est).map_err(|e| format!("policy {id}: {e}"))
}

/// Specialise one policy (as JSON EST, action scope already widened to every
/// action) to what `known` fixes: its conditions are partially evaluated
/// ([`fold`]). Returns false when a condition can then never hold, so the
/// policy cannot apply (nor error) and leaves the slice. The result decides
/// every request that matches `known` exactly as the policy does, errors included.
fn specialise(est: &mut serde_json::Value, known: &Known<'_>) -> bool {
    let Some(conditions) = est.get_mut("conditions").and_then(|c| c.as_array_mut()) else { return true };
    for c in conditions.iter_mut() {
        if let Some(body) = c.get_mut("body") {
            fold(body, known);
        }
    }
    // Conditions are evaluated in order and joined by `&&`: one that can never
    // hold, after only literal ones, means the policy never applies (or errors).
    for c in conditions.iter() {
        let Some(b) = c["body"].get("Value").and_then(|v| v.as_bool()) else { break };
        let holds = if c["kind"] == "unless" { !b } else { b };
        if !holds {
            return false;
        }
    }
    true
}

/// The entity a JSON-EST expression names when it is an entity literal.
fn literal_entity(e: &serde_json::Value) -> Option<EntityUid> {
    let ent = e.get("Value")?.get("__entity")?;
    let (ty, id) = (ent.get("type")?.as_str()?, ent.get("id")?.as_str()?);
    Some(EntityUid::from_type_name_and_id(EntityTypeName::from_str(ty).ok()?, EntityId::new(id)))
}

/// The value of a JSON-EST expression when it is known without a request:
/// a literal, a set of string literals, or an attribute of the known principal.
fn known_value(e: &serde_json::Value, known: &Known<'_>) -> Option<Lit> {
    if let Some(v) = e.get("Value") {
        return match v {
            serde_json::Value::Bool(b) => Some(Lit::Bool(*b)),
            serde_json::Value::Number(n) => n.as_i64().map(Lit::Long),
            serde_json::Value::String(s) => Some(Lit::Str(s.clone())),
            _ => None,
        };
    }
    if let Some(items) = e.get("Set").and_then(|s| s.as_array()) {
        let strs: Option<BTreeSet<String>> = items.iter().map(|i| i.get("Value")?.as_str().map(str::to_string)).collect();
        return strs.map(Lit::Set);
    }
    principal_attr(e.get(".")?, known)
}

/// The value of `principal.attr` (given the `.` node's argument) for a known principal.
fn principal_attr(dot: &serde_json::Value, known: &Known<'_>) -> Option<Lit> {
    if dot["left"].get("Var").and_then(|v| v.as_str()) != Some("principal") {
        return None;
    }
    known.principal?.get(dot["attr"].as_str()?).cloned()
}

/// Partially evaluate a JSON-EST condition for what `known` fixes. Tests of
/// `action` against literal actions (`action == A`, `action in A`, `action in
/// [A, …]`) are answered; with a known principal, its attributes are
/// substituted where they are strings or numbers, and comparisons and set
/// tests whose operands are all known (`==`, `!=`, `<`, `<=`, `>`, `>=`,
/// `contains`, `containsAll`, `containsAny`, `isEmpty`) are answered. Then only
/// folds exact under Cedar's semantics follow — `true && x` → x, `false && x`
/// → false, `true || x` → true, `false || x` → x, `x && true` → x, `x || false`
/// → x (x is boolean: the policies are validated in strict mode), `!b` → ¬b,
/// and `if b then x else y` → x or y. An expression that errors still errors;
/// sets are never written back as literals (Cedar would rebuild them per call).
fn fold(e: &mut serde_json::Value, known: &Known<'_>) {
    use serde_json::{json, Value};
    let Some(obj) = e.as_object_mut() else { return };
    if obj.len() != 1 {
        return;
    }
    let (op, arg) = obj.iter_mut().next().map(|(k, v)| (k.clone(), v)).unwrap_or_else(|| unreachable!());
    if op == "Value" {
        return; // a literal: nothing inside it is an expression
    }
    // Children first.
    match arg {
        Value::Object(m) => m.values_mut().for_each(|c| fold(c, known)),
        Value::Array(a) => a.iter_mut().for_each(|c| fold(c, known)),
        _ => {}
    }
    let is_action = |v: &Value| v.get("Var").and_then(|x| x.as_str()) == Some("action");
    let lit = |v: &Value| v.get("Value").and_then(|x| x.as_bool());
    let both = |arg: &Value| Some((known_value(&arg["left"], known)?, known_value(&arg["right"], known)?));
    let boolean = |b: bool| Some(json!({ "Value": b }));
    let folded: Option<Value> = match op.as_str() {
        "==" | "!=" if is_action(&arg["left"]) || is_action(&arg["right"]) => {
            let other = if is_action(&arg["left"]) { &arg["right"] } else { &arg["left"] };
            literal_entity(other).and_then(|a| boolean((a == *known.action) == (op == "==")))
        }
        "==" | "!=" => both(arg).and_then(|(l, r)| boolean((l == r) == (op == "=="))),
        "<" | "<=" | ">" | ">=" => match both(arg) {
            Some((Lit::Long(l), Lit::Long(r))) => boolean(match op.as_str() {
                "<" => l < r,
                "<=" => l <= r,
                ">" => l > r,
                _ => l >= r,
            }),
            _ => None,
        },
        "contains" => match both(arg) {
            Some((Lit::Set(l), Lit::Str(r))) => boolean(l.contains(&r)),
            _ => None,
        },
        "containsAll" => match both(arg) {
            Some((Lit::Set(l), Lit::Set(r))) => boolean(r.is_subset(&l)),
            _ => None,
        },
        "containsAny" => match both(arg) {
            Some((Lit::Set(l), Lit::Set(r))) => boolean(!l.is_disjoint(&r)),
            _ => None,
        },
        "isEmpty" => match known_value(&arg["arg"], known) {
            Some(Lit::Set(s)) => boolean(s.is_empty()),
            _ => None,
        },
        "." => match principal_attr(arg, known) {
            Some(Lit::Str(s)) => Some(json!({ "Value": s })),
            Some(Lit::Long(n)) => Some(json!({ "Value": n })),
            Some(Lit::Bool(b)) => boolean(b),
            _ => None,
        },
        "in" if is_action(&arg["left"]) => {
            let r = &arg["right"];
            let targets: Option<Vec<EntityUid>> = match r.get("Set").and_then(|s| s.as_array()) {
                Some(items) => items.iter().map(literal_entity).collect(),
                None => literal_entity(r).map(|a| vec![a]),
            };
            targets.and_then(|t| boolean(t.iter().any(|a| known.within.contains(a))))
        }
        "&&" => match (lit(&arg["left"]), lit(&arg["right"])) {
            (Some(false), _) => boolean(false),
            (Some(true), _) => Some(arg["right"].take()),
            (None, Some(true)) => Some(arg["left"].take()),
            _ => None,
        },
        "||" => match (lit(&arg["left"]), lit(&arg["right"])) {
            (Some(true), _) => boolean(true),
            (Some(false), _) => Some(arg["right"].take()),
            (None, Some(false)) => Some(arg["left"].take()),
            _ => None,
        },
        "!" => lit(&arg["arg"]).and_then(|b| boolean(!b)),
        "if-then-else" => match lit(&arg["if"]) {
            Some(true) => Some(arg["then"].take()),
            Some(false) => Some(arg["else"].take()),
            None => None,
        },
        _ => None,
    };
    if let Some(f) = folded {
        *e = f;
    }
}

/// 1-based line and column (in characters) of byte `offset` in `src`.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// `path:line:column: message (help: …)` for a Cedar diagnostic and every related one.
fn located(e: &dyn Diagnostic, src: &str, path: &Path) -> String {
    fn one(e: &dyn Diagnostic, src: &str, path: &Path) -> String {
        let span = e.labels().and_then(|mut l| l.next());
        let mut s = match span {
            Some(l) => {
                let (line, col) = line_col(src, l.offset());
                let snippet: String = src.get(l.offset()..l.offset() + l.len()).unwrap_or("").chars().take(60).collect();
                if snippet.trim().is_empty() {
                    format!("{}:{line}:{col}: {e}", path.display())
                } else {
                    format!("{}:{line}:{col}: {e} (at `{}`)", path.display(), snippet.trim())
                }
            }
            None => format!("{}: {e}", path.display()),
        };
        if let Some(h) = e.help() {
            s.push_str(&format!("; help: {h}"));
        }
        s
    }
    let mut out = vec![one(e, src, path)];
    if let Some(rel) = e.related() {
        out.extend(rel.map(|r| one(r, src, path)));
    }
    out.join("\n  ")
}

use PolicyError::MissingId;

/// Render a Cedar error with its causes (miette diagnostics carry help text).
fn render(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn uid(ty: &str, id: &str) -> EntityUid {
    // The four type names are parsed once; any other is parsed on the spot.
    static PARSED: std::sync::OnceLock<[(&str, EntityTypeName); 4]> = std::sync::OnceLock::new();
    let parse = |ty: &str| EntityTypeName::from_str(ty).unwrap_or_else(|_| unreachable_type(ty));
    let known = PARSED.get_or_init(|| [AGENCY, USER, RECORD, ACTION].map(|t| (t, parse(t))));
    let ty = match known.iter().find(|(t, _)| *t == ty) {
        Some((_, name)) => name.clone(),
        None => parse(ty),
    };
    EntityUid::from_type_name_and_id(ty, EntityId::new(id))
}

#[cold]
fn unreachable_type(ty: &str) -> EntityTypeName {
    // Only reachable if a constant above is edited into an invalid name.
    panic!("internal error: invalid Cedar type name {ty}")
}

fn str_set<'a>(it: impl IntoIterator<Item = &'a String>) -> RestrictedExpression {
    RestrictedExpression::new_set(it.into_iter().map(|s| RestrictedExpression::new_string(s.clone())))
}

impl Authorizer {
    /// Load and validate `dir/sallyport.cedarschema` and `dir/sallyport.cedar`.
    pub fn load(dir: impl AsRef<Path>) -> Result<Authorizer, PolicyError> {
        let dir = dir.as_ref().to_path_buf();
        let loaded = Self::compile_dir(&dir)?;
        Ok(Authorizer { dir, inner: RwLock::new(Arc::new(loaded)), engine: cedar_policy::Authorizer::new() })
    }

    /// Build from source text (tests, embedded defaults).
    pub fn from_sources(schema: &str, policies: &str) -> Result<Authorizer, PolicyError> {
        let loaded = compile(schema, policies, Path::new("<schema>"), Path::new("<policies>"))?;
        Ok(Authorizer {
            dir: PathBuf::from("<memory>"),
            inner: RwLock::new(Arc::new(loaded)),
            engine: cedar_policy::Authorizer::new(),
        })
    }

    /// The policies shipped with this build (the repository's `policies/` at compile time).
    pub fn builtin() -> Result<Authorizer, PolicyError> {
        Self::from_sources(BUILTIN_SCHEMA, BUILTIN_POLICIES)
    }

    fn compile_dir(dir: &Path) -> Result<Loaded, PolicyError> {
        let (sp, pp) = (dir.join(SCHEMA_FILE), dir.join(POLICY_FILE));
        compile(&read(&sp)?, &read(&pp)?, &sp, &pp)
    }

    /// Re-read the policy directory. On any error the previous policy set stays in force.
    pub fn reload(&self) -> Result<(), PolicyError> {
        let loaded = Self::compile_dir(&self.dir)?;
        *self.inner.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(loaded);
        Ok(())
    }

    /// Replace the policies with `policies` (validated against the current schema) or keep the old ones.
    pub fn replace_policies(&self, policies: &str) -> Result<(), PolicyError> {
        let cur = self.current();
        let loaded = compile(&cur.schema_src, policies, Path::new("<schema>"), Path::new("<policies>"))?;
        *self.inner.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(loaded);
        Ok(())
    }

    fn current(&self) -> Arc<Loaded> {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The text of the policies in force.
    pub fn policy_source(&self) -> String {
        self.current().source.clone()
    }

    /// SHA-256 (hex) of the schema and policies in force: which policy version decided.
    pub fn policy_sha256(&self) -> String {
        self.current().sha256.clone()
    }

    /// The `@id`s of the policies in force.
    pub fn policy_ids(&self) -> Vec<String> {
        let mut v: Vec<String> = self.current().reasons.keys().cloned().collect();
        v.sort();
        v
    }

    /// Decide one request with Cedar, for an interactive sign-in (no token scopes).
    pub fn decide(&self, principal: &Principal, action: &Action, resource: &Resource) -> Decision {
        self.decide_scoped(principal, None, action, resource)
    }

    /// Decide one request with Cedar for a credential limited to `scopes`
    /// (a device token's action names; `None` = unrestricted).
    pub fn decide_scoped(&self, principal: &Principal, scopes: Option<&BTreeSet<String>>, action: &Action, resource: &Resource) -> Decision {
        self.decide_in(&self.current(), principal, scopes, action, resource)
    }

    fn decide_in(
        &self,
        loaded: &Loaded,
        principal: &Principal,
        scopes: Option<&BTreeSet<String>>,
        action: &Action,
        resource: &Resource,
    ) -> Decision {
        match self.evaluate(loaded, principal, scopes, action, resource) {
            Ok(d) => d,
            // Fail closed: a request that cannot be evaluated is denied, with the reason.
            Err(e) => Decision { allowed: false, policies: vec![], reasons: vec![e.to_string()] },
        }
    }

    /// The decision for `action` on any record of class (`kind`, `field`,
    /// `label`, `legal_hold`) — what every Cedar request on such a record
    /// carries apart from its id, so Cedar answers them alike. Memoised per
    /// policy version; policies must express per-record rules as attributes
    /// (as legal holds are). Approvals carry a context and are always evaluated.
    #[allow(clippy::too_many_arguments)]
    pub fn decide_class(
        &self,
        principal: &Principal,
        scopes: Option<&BTreeSet<String>>,
        action: &Action,
        kind: &str,
        field: &str,
        label: &Label,
        legal_hold: bool,
    ) -> Arc<Decision> {
        let loaded = self.current();
        let memoised = !matches!(action, Action::ApproveRelease { .. });
        let probe = MemoRef { principal, scopes, action: action.name(), kind, field, label, legal_hold };
        if let Some(d) = loaded.memo.get(&probe).filter(|_| memoised) {
            return d;
        }
        let resource = Resource {
            kind: kind.to_string(),
            id: "*".to_string(),
            field: field.to_string(),
            label: label.clone(),
            legal_hold,
        };
        let d = Arc::new(self.decide_in(&loaded, principal, scopes, action, &resource));
        if !memoised {
            return d;
        }
        let key = MemoKey {
            principal: principal.clone(),
            scopes: scopes.cloned(),
            action: action.name(),
            kind: kind.to_string(),
            field: field.to_string(),
            label: label.clone(),
            legal_hold,
        };
        loaded.memo.insert(key, d.clone());
        d
    }

    /// The entity store and slices of `principal` (built once per policy version).
    fn principal_state(
        &self,
        loaded: &Loaded,
        principal: &Principal,
        scopes: Option<&BTreeSet<String>>,
    ) -> Result<Arc<PrincipalState>, PolicyError> {
        if let Some(e) = loaded.principals.get(&PrincipalRef(principal, scopes)) {
            return Ok(e);
        }
        let attrs = user_attrs(principal, scopes);
        let mut entities = loaded.actions.clone();
        entities.extend([agency_entity(principal)?, user_entity(principal, &attrs)?]);
        let entities = Entities::from_entities(entities, None).map_err(|e| req_err(&e))?;
        let slices = loaded.profiles.get(&attrs).unwrap_or_else(|| {
            let fresh: Arc<Slices> = Arc::default();
            loaded.profiles.insert(attrs.clone(), fresh.clone());
            fresh
        });
        let built = Arc::new(PrincipalState { entities, attrs, slices });
        loaded.principals.insert(PrincipalKey(principal.clone(), scopes.cloned()), built.clone());
        Ok(built)
    }

    /// The slice of `action` specialised to the principal of `state`, built on first use.
    fn principal_slice<'s>(loaded: &Loaded, state: &'s PrincipalState, action: &str) -> Result<&'s PolicySet, PolicyError> {
        let (Some(i), Some(slice)) = (Action::NAMES.iter().position(|n| *n == action), loaded.by_action_est.get(action)) else {
            return Err(PolicyError::Request(format!("unknown action {action:?}")));
        };
        let built = state.slices[i].get_or_init(|| {
            let known = Known { action: &slice.action, within: &slice.within, principal: Some(&state.attrs) };
            let mut set = PolicySet::new();
            for (id, est) in &slice.policies {
                let mut est = est.clone();
                if specialise(&mut est, &known) {
                    set.add(from_est(id, est)?).map_err(|e| render(&e))?;
                }
            }
            Ok(set)
        });
        built.as_ref().map_err(|e| PolicyError::Request(e.clone()))
    }

    /// The context of a request on `r` (see [`context`]), from the class cache
    /// unless the action carries state of its own.
    fn record_context(loaded: &Loaded, action: &Action, r: &Resource) -> Result<Context, PolicyError> {
        if matches!(action, Action::ApproveRelease { .. }) {
            return context(action, r);
        }
        let probe = ClassRef { kind: &r.kind, field: &r.field, label: &r.label, legal_hold: r.legal_hold };
        if let Some(c) = loaded.contexts.get(&probe) {
            return Ok(c);
        }
        let built = context(action, r)?;
        loaded.contexts.insert(probe.to_key(), built.clone());
        Ok(built)
    }

    fn evaluate(
        &self,
        loaded: &Loaded,
        principal: &Principal,
        scopes: Option<&BTreeSet<String>>,
        action: &Action,
        resource: &Resource,
    ) -> Result<Decision, PolicyError> {
        // No per-call schema checks here: `compile` proved that what the
        // builders below make conforms to the schema (`check_conformance`).
        // The record's marking travels in the context, so the principal's
        // store is used as it is (no copy, no transitive closure per request).
        let state = self.principal_state(loaded, principal, scopes)?;
        let request = Request::new(
            uid(USER, &principal.user),
            uid(ACTION, action.name()),
            record_uid(resource),
            Self::record_context(loaded, action, resource)?,
            None,
        )
        .map_err(|e| req_err(&e))?;
        let policies = Self::principal_slice(loaded, &state, action.name())?;
        let response = self.engine.is_authorized(&request, policies, &state.entities);
        let errors: Vec<String> =
            response.diagnostics().errors().map(|e| format!("policy evaluation error: {e}")).collect();
        // Fail closed: Cedar skips a policy whose evaluation errors, which for a
        // `forbid` would mean allowing; any error denies the request instead.
        let allowed = response.decision() == cedar_policy::Decision::Allow && errors.is_empty();
        let mut policies: Vec<String> = response.diagnostics().reason().map(|p| p.to_string()).collect();
        policies.sort();
        let mut reasons: Vec<String> =
            policies.iter().map(|p| loaded.reasons.get(p).cloned().unwrap_or_else(|| p.clone())).collect();
        reasons.extend(errors);
        if !allowed && reasons.is_empty() {
            reasons.push(format!(
                "no policy permits {} for roles [{}]",
                action.name(),
                principal.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(Decision { allowed, policies, reasons })
    }
}

const AGENCY: &str = "Sallyport::Agency";
const USER: &str = "Sallyport::User";
const RECORD: &str = "Sallyport::Record";
const ACTION: &str = "Sallyport::Action";

fn req_err(e: &dyn std::fmt::Display) -> PolicyError {
    PolicyError::Request(e.to_string())
}

fn attrs<const N: usize>(pairs: [(&str, RestrictedExpression); N]) -> HashMap<String, RestrictedExpression> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_string())
}

fn agency_entity(p: &Principal) -> Result<Entity, PolicyError> {
    let a = attrs([("country", string(&p.country)), ("kind", string(&p.agency_kind))]);
    Entity::new(uid(AGENCY, &p.agency), a, HashSet::new()).map_err(|e| req_err(&e))
}

/// The attributes of a principal's user entity (see the schema's `User`), also
/// what its slices are specialised with.
fn user_attrs(p: &Principal, scopes: Option<&BTreeSet<String>>) -> Attrs {
    BTreeMap::from([
        ("agency", Lit::Str(p.agency.clone())),
        ("country", Lit::Str(p.country.clone())),
        ("roles", Lit::Set(p.roles.iter().map(|r| r.as_str().to_string()).collect())),
        ("clearance", Lit::Long(p.clearance.rank())),
        ("compartments", Lit::Set(p.compartments.clone())),
        ("scopes", Lit::Set(scope_names(scopes).into_iter().collect())),
    ])
}

fn user_entity(p: &Principal, attrs: &Attrs) -> Result<Entity, PolicyError> {
    let a = attrs
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Lit::Bool(b) => RestrictedExpression::new_bool(*b),
                Lit::Long(n) => RestrictedExpression::new_long(*n),
                Lit::Str(s) => string(s),
                Lit::Set(s) => str_set(s),
            };
            (k.to_string(), v)
        })
        .collect();
    Entity::new(uid(USER, &p.user), a, HashSet::from([uid(AGENCY, &p.agency)])).map_err(|e| req_err(&e))
}

fn record_uid(r: &Resource) -> EntityUid {
    uid(RECORD, &format!("{}/{}#{}", r.kind, r.id, r.field))
}

/// The record a request acts on: an id without attributes (its marking is in
/// the request's context, see [`context`]).
fn record_entity(r: &Resource) -> Entity {
    Entity::new_no_attrs(record_uid(r), HashSet::new())
}

/// The context of a request on `r`: the record's marking, its originator and
/// legal hold (`context.level`, `context.rel_to`, …), and for an approval who
/// asked for the release, in which capacity, and who has approved it already.
fn context(action: &Action, r: &Resource) -> Result<Context, PolicyError> {
    let m = &r.label.marking;
    let marked = [
        ("kind", string(&r.kind)),
        ("field", string(&r.field)),
        ("originator", string(&r.label.originator)),
        ("originator_country", string(&r.label.originator_country)),
        ("level", RestrictedExpression::new_long(m.level.rank())),
        ("compartments", str_set(&m.compartments)),
        ("rel_to", str_set(&m.rel_to)),
        ("noforn", RestrictedExpression::new_bool(m.noforn)),
        ("orcon", RestrictedExpression::new_bool(m.orcon)),
        ("legal_hold", RestrictedExpression::new_bool(r.legal_hold)),
    ]
    .map(|(k, v)| (k.to_string(), v));
    let pairs: Vec<(String, RestrictedExpression)> = match action {
        Action::ApproveRelease { requester, capacity, other_approvers } => marked
            .into_iter()
            .chain([
                ("requester".to_string(), RestrictedExpression::new_entity_uid(uid(USER, requester))),
                ("capacity".to_string(), string(capacity.as_str())),
                (
                    "other_approvers".to_string(),
                    RestrictedExpression::new_set(
                        other_approvers.iter().map(|u| RestrictedExpression::new_entity_uid(uid(USER, u))),
                    ),
                ),
            ])
            .collect(),
        _ => marked.into_iter().collect(),
    };
    Context::from_pairs(pairs).map_err(|e| req_err(&e))
}

/// Prove, once per load, that the entities, requests and contexts the
/// evaluator builds conform to `schema`, so no call needs to re-check them.
/// Every builder makes the same attributes with the same types whatever the
/// values, so one sample of each kind (every action, both contexts) stands
/// for all of them. A schema edited out of step with the code is refused here.
fn check_conformance(schema: &Schema) -> Result<(), String> {
    let p = Principal {
        user: "conformance.user".into(),
        agency: "CONFORMANCE".into(),
        country: "USA".into(),
        agency_kind: "intelligence".into(),
        roles: [crate::principal::Role::Coordinator].into(),
        clearance: crate::marking::Level::Secret,
        compartments: ["HVD".to_string()].into(),
    };
    let r = Resource {
        kind: "person".into(),
        id: "P-000001".into(),
        field: "*".into(),
        label: crate::principal::Label::new(
            crate::marking::Marking::new(crate::marking::Level::Secret).with_rel_to(["USA".to_string()]),
            "CONFORMANCE",
            "USA",
        ),
        legal_hold: false,
    };
    let e = |e: PolicyError| e.to_string();
    let built = [agency_entity(&p).map_err(e)?, user_entity(&p, &user_attrs(&p, None)).map_err(e)?, record_entity(&r)];
    Entities::from_entities(built, Some(schema)).map_err(|e| format!("entities do not conform: {e}"))?;
    let approve = Action::ApproveRelease {
        requester: "someone.else".into(),
        capacity: crate::principal::Capacity::Originator,
        other_approvers: ["third.person".to_string()].into(),
    };
    let actions = Action::NAMES.iter().filter(|n| **n != "approve_release").map(|n| Action::parse(n));
    for a in actions.map(|a| a.map_err(|e| e.to_string())).chain([Ok(approve)]) {
        let a = a?;
        Request::new(uid(USER, &p.user), uid(ACTION, a.name()), record_uid(&r), context(&a, &r).map_err(e)?, Some(schema))
            .map_err(|err| {
                format!(
                    "request for {} does not conform: {err} (the evaluator passes each record's marking in the \
                     request context — `context.level`, `context.rel_to`, … — with the record itself an id without \
                     attributes; a schema or policy written for `resource.level` needs updating: \
                     `sallyport access policy init --force` writes the current files)",
                    a.name()
                )
            })?;
    }
    Ok(())
}

/// The schema and policies in `policies/` when this crate was built.
pub const BUILTIN_SCHEMA: &str = include_str!("../../../policies/sallyport.cedarschema");
pub const BUILTIN_POLICIES: &str = include_str!("../../../policies/sallyport.cedar");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marking::{Level, Marking};
    use crate::principal::{Capacity, Label, Role};

    fn user(agency: &str, country: &str, level: Level, comps: &[&str]) -> Principal {
        Principal {
            user: format!("{agency}.coordinator"),
            agency: agency.into(),
            country: country.into(),
            agency_kind: "intelligence".into(),
            roles: [Role::Coordinator].into(),
            clearance: level,
            compartments: comps.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn res(m: &str, originator: &str, country: &str) -> Resource {
        Resource {
            kind: "person".into(),
            id: "P-000001".into(),
            field: "intel_notes".into(),
            label: Label::new(Marking::parse(m).unwrap(), originator, country),
            legal_hold: false,
        }
    }

    #[test]
    fn builtin_policy_validates_and_enforces_markings() {
        let a = Authorizer::builtin().unwrap();
        let sdf = user("SDF", "SYR", Level::Confidential, &[]);
        let odni = user("US-ODNI", "USA", Level::TopSecret, &["HVD"]);
        let open = res("UNCLASSIFIED//REL TO IRQ, SYR, USA", "SDF", "SYR");
        let note = res("SECRET//HVD//REL TO USA", "US-ODNI", "USA");
        assert!(a.decide(&sdf, &Action::Read, &open).allowed);
        let d = a.decide(&sdf, &Action::Read, &note);
        assert!(!d.allowed);
        assert!(d.policies.contains(&"clearance-dominates-level".to_string()), "{d:?}");
        assert!(d.policies.contains(&"releasability".to_string()), "{d:?}");
        assert!(a.decide(&odni, &Action::Read, &note).allowed);
        let no_hvd = user("US-ODNI", "USA", Level::TopSecret, &[]);
        assert_eq!(a.decide(&no_hvd, &Action::Read, &note).policies, vec!["need-to-know".to_string()]);
    }

    /// The slow, fully checked evaluation: schema-validated entities and
    /// request, every action entity, the whole policy set.
    fn reference(a: &Authorizer, schema: &Schema, p: &Principal, scopes: Option<&BTreeSet<String>>, action: &Action, r: &Resource) -> (bool, Vec<String>) {
        let loaded = a.current();
        let mut entities: Vec<Entity> = schema.action_entities().unwrap().iter().cloned().collect();
        entities.extend([agency_entity(p).unwrap(), user_entity(p, &user_attrs(p, scopes)).unwrap(), record_entity(r)]);
        let entities = Entities::from_entities(entities, Some(schema)).unwrap();
        let req = Request::new(uid(USER, &p.user), uid(ACTION, action.name()), record_uid(r), context(action, r).unwrap(), Some(schema))
            .unwrap();
        let resp = a.engine.is_authorized(&req, &loaded.policies, &entities);
        assert_eq!(resp.diagnostics().errors().count(), 0);
        let mut ids: Vec<String> = resp.diagnostics().reason().map(|p| p.to_string()).collect();
        ids.sort();
        (resp.decision() == cedar_policy::Decision::Allow, ids)
    }

    #[test]
    fn the_fast_path_decides_exactly_as_the_fully_checked_one() {
        let a = Authorizer::builtin().unwrap();
        let mut principals = Vec::new();
        for (agency, country, kind) in [("SDF", "SYR", "partner_force"), ("US-ODNI", "USA", "intelligence"), ("IQ-GOV", "IRQ", "receiving_government")] {
            for roles in [vec![Role::FieldCustodian], vec![Role::Coordinator], vec![Role::LegalOfficer, Role::Auditor], vec![Role::Administrator], vec![]] {
                for (level, comps) in [(Level::Confidential, vec![]), (Level::TopSecret, vec!["HVD"])] {
                    let mut p = user(agency, country, level, &comps);
                    p.agency_kind = kind.into();
                    p.roles = roles.iter().copied().collect();
                    principals.push(p);
                }
            }
        }
        let marks = [
            ("UNCLASSIFIED//REL TO IRQ, SYR, USA", "SDF", "SYR"),
            ("SECRET//REL TO IRQ, USA", "SDF", "SYR"),
            ("SECRET//HVD//REL TO USA", "US-ODNI", "USA"),
            ("TOP SECRET//HVD//NOFORN", "US-ODNI", "USA"),
            ("CONFIDENTIAL", "IQ-GOV", "IRQ"),
            ("UNCLASSIFIED", "US-FBI", "USA"),
        ];
        let mut actions: Vec<Action> = Action::NAMES.iter().filter_map(|n| Action::parse(n).ok()).collect();
        for capacity in [Capacity::Originator, Capacity::ReleaseAuthority] {
            actions.push(Action::ApproveRelease { requester: "SDF.coordinator".into(), capacity, other_approvers: BTreeSet::new() });
            actions.push(Action::ApproveRelease {
                requester: "x.legal".into(),
                capacity,
                other_approvers: ["US-ODNI.coordinator".to_string()].into(),
            });
        }
        // An interactive sign-in and device tokens of several scopes (the slices
        // are specialised to their action: token-scope is answered at load).
        let scope_sets: Vec<Option<BTreeSet<String>>> = vec![
            None,
            Some(BTreeSet::new()),
            Some(["read".to_string()].into()),
            Some(["write".to_string(), "approve_release".to_string(), "legal_hold".to_string()].into()),
        ];
        let schema = Schema::from_cedarschema_str(&a.current().schema_src).unwrap().0;
        let (mut allowed, mut n) = (0, 0);
        for p in &principals {
            for (m, o, c) in marks {
                for hold in [false, true] {
                    let mut r = res(m, o, c);
                    r.legal_hold = hold;
                    for action in &actions {
                        for scopes in &scope_sets {
                            let fast = a.decide_scoped(p, scopes.as_ref(), action, &r);
                            let (ok, ids) = reference(&a, &schema, p, scopes.as_ref(), action, &r);
                            assert_eq!((fast.allowed, &fast.policies), (ok, &ids), "{p:?} {scopes:?} {action:?} {m} hold={hold}");
                            allowed += usize::from(ok);
                            n += 1;
                        }
                    }
                }
            }
        }
        // The grid exercises both outcomes, not one.
        assert!(allowed > n / 20 && allowed < n - n / 20, "{allowed} of {n} allowed");
    }

    #[test]
    fn slices_answer_tests_of_the_action_at_load() {
        let a = Authorizer::builtin().unwrap();
        let loaded = a.current();
        let text = |action: &str, id: &str| loaded.by_action[action].policy(&PolicyId::new(id)).map(|p| p.to_string());
        // The seven-way token-scope rule becomes the one test that matters per action.
        for (action, scope) in [("read", "read"), ("write", "write"), ("approve_release", "approve_release")] {
            let t = text(action, "token-scope").unwrap();
            let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
            assert!(compact.contains(&format!("unless{{principal.scopes.contains(\"{scope}\")}}")), "{action}: {t}");
            assert!(!compact.contains("Action::"), "{action}: {t}");
        }
        // A rule that can never hold for an action leaves that action's slice.
        let extra = r#"
            @id("write-only-extra")
            forbid (principal, action, resource)
            when { action == Sallyport::Action::"write" && !(action in [Sallyport::Action::"read", Sallyport::Action::"write"]) || action == Sallyport::Action::"legal_hold" };
        "#;
        a.replace_policies(&format!("{BUILTIN_POLICIES}\n{extra}")).unwrap();
        let loaded = a.current();
        assert!(loaded.by_action["read"].policy(&PolicyId::new("write-only-extra")).is_none());
        assert!(loaded.by_action["write"].policy(&PolicyId::new("write-only-extra")).is_none());
        let hold = loaded.by_action["legal_hold"].policy(&PolicyId::new("write-only-extra")).unwrap().to_string();
        assert!(hold.contains("when") && hold.contains("true"), "{hold}");
        // and the legal_hold slice forbids it outright, the others do not
        let lo = Principal { roles: [Role::LegalOfficer].into(), ..user("SDF", "SYR", Level::TopSecret, &["HVD"]) };
        let r = res("UNCLASSIFIED", "SDF", "SYR");
        assert_eq!(a.decide(&lo, &Action::LegalHold, &r).policies, vec!["write-only-extra".to_string()]);
        assert!(a.decide(&lo, &Action::Read, &r).allowed);
    }

    #[test]
    fn a_principals_slices_answer_what_its_attributes_decide() {
        let a = Authorizer::builtin().unwrap();
        let loaded = a.current();
        let coordinator = user("US-ODNI", "USA", Level::TopSecret, &["HVD"]);
        let text = |scopes: Option<&BTreeSet<String>>, action: &str| -> std::collections::BTreeMap<String, String> {
            let state = a.principal_state(&loaded, &coordinator, scopes).unwrap();
            let set = Authorizer::principal_slice(&loaded, &state, action).unwrap();
            set.policies().map(|p| (p.id().to_string(), p.to_string().chars().filter(|c| !c.is_whitespace()).collect())).collect()
        };
        // A signed-in coordinator: the role test is answered, token-scope can never
        // forbid (every action is in its scopes) and leaves the slice, and the
        // marking rules keep only their tests of the record, with its values in place.
        let read = text(None, "read");
        assert!(read["read-by-role"].ends_with("when{true};"), "{read:?}");
        assert!(!read.contains_key("token-scope"), "{read:?}");
        assert!(read["clearance-dominates-level"].contains("unless{4>=context.level}"), "{read:?}");
        assert!(read["releasability"].contains("\"US-ODNI\"==context.originator"), "{read:?}");
        // Only a set-valued attribute compared with the record stays a lookup
        // (a set literal would be rebuilt on every call).
        let left: Vec<&str> = read.values().flat_map(|t| t.match_indices("principal.").map(|(i, _)| &t[i..])).collect();
        assert!(left.iter().all(|t| t.starts_with("principal.compartments.containsAll(context.compartments)")), "{left:?}");
        assert_eq!(left.len(), 1, "{read:?}");
        // Coordinators may write: the role test is answered there too.
        assert!(text(None, "write")["write-by-role"].ends_with("when{true};"));
        // Nothing permits a coordinator to manage users: the slice has no permit.
        assert!(!text(None, "manage_users").contains_key("manage-users"));
        // A device token limited to `write`: reading is forbidden outright.
        let write_only: BTreeSet<String> = ["write".to_string()].into();
        let read = text(Some(&write_only), "read");
        assert!(read["token-scope"].ends_with("unless{false};"), "{read:?}");
        let r = res("UNCLASSIFIED//REL TO USA", "US-ODNI", "USA");
        let d = a.decide_scoped(&coordinator, Some(&write_only), &Action::Read, &r);
        assert_eq!((d.allowed, d.policies), (false, vec!["token-scope".to_string()]));
        assert!(a.decide_scoped(&coordinator, None, &Action::Read, &r).allowed);
    }

    #[test]
    fn a_rule_on_one_record_is_refused_because_decisions_are_memoised_by_class() {
        let a = Authorizer::builtin().unwrap();
        let one = "@id(\"one\") forbid(principal, action, resource == Sallyport::Record :: \"person/P-000001#*\");";
        let e = a.replace_policies(&format!("{BUILTIN_POLICIES}\n{one}")).unwrap_err();
        assert!(matches!(e, PolicyError::Validation { .. }), "{e}");
        assert!(e.to_string().contains("\"one\" names a single Record"), "{e}");
        assert!(!a.policy_ids().contains(&"one".to_string()));
    }

    #[test]
    fn a_schema_out_of_step_with_the_evaluator_is_refused_at_load() {
        // A required attribute the evaluator does not supply: without the load-time
        // conformance check, every policy reading it would error and be skipped.
        let schema = BUILTIN_SCHEMA.replace("legal_hold: Bool,", "legal_hold: Bool,\n    sensitivity: Long,");
        assert_ne!(schema, BUILTIN_SCHEMA);
        let e = Authorizer::from_sources(&schema, BUILTIN_POLICIES).unwrap_err();
        assert!(matches!(e, PolicyError::Schema { .. }), "{e}");
        assert!(e.to_string().contains("request for read does not conform"), "{e}");
    }

    #[test]
    fn a_schema_of_the_old_shape_is_refused_with_a_way_forward() {
        // Before the marking moved into the context, `read` had an empty context
        // and `Record` carried the attributes.
        let schema = BUILTIN_SCHEMA.replace("context: Marked", "context: {}");
        assert_ne!(schema, BUILTIN_SCHEMA);
        let e = Authorizer::from_sources(&schema, BUILTIN_POLICIES).unwrap_err();
        assert!(matches!(e, PolicyError::Schema { .. }), "{e}");
        assert!(e.to_string().contains("policy init --force"), "{e}");
    }

    #[test]
    fn a_cached_context_answers_only_for_its_own_class() {
        // Classes that differ in one attribute each, decided in turn and again:
        // every answer must be the one its own class gets from a fresh authorizer.
        let a = Authorizer::builtin().unwrap();
        let sdf = Principal { roles: [Role::FieldCustodian].into(), ..user("SDF", "SYR", Level::Secret, &[]) };
        let base = res("SECRET//REL TO IRQ, SYR, USA", "US-ODNI", "USA");
        let held = Resource { legal_hold: true, ..base.clone() };
        let noforn = Resource { label: Label::new(Marking::parse("SECRET//NOFORN").unwrap(), "US-ODNI", "USA"), ..base.clone() };
        let own = Resource { label: Label::new(Marking::parse("SECRET//NOFORN").unwrap(), "SDF", "SYR"), ..base.clone() };
        let cases = [(&base, true), (&held, false), (&noforn, false), (&own, true)];
        for _ in 0..2 {
            for (r, allowed) in cases {
                let d = a.decide(&sdf, &Action::Write, r);
                assert_eq!(d.allowed, allowed, "{r:?}: {d:?}");
                assert_eq!(d, Authorizer::builtin().unwrap().decide(&sdf, &Action::Write, r));
            }
        }
        assert!(a.decide(&sdf, &Action::Write, &held).policies.contains(&"legal-hold".to_string()));
    }

    #[test]
    fn memoised_class_decisions_equal_fresh_ones_and_reset_on_reload() {
        let a = Authorizer::builtin().unwrap();
        let odni = user("US-ODNI", "USA", Level::TopSecret, &["HVD"]);
        let r = res("SECRET//HVD//REL TO USA", "US-ODNI", "USA");
        let fresh = a.decide(&odni, &Action::Read, &r);
        let memo = a.decide_class(&odni, None, &Action::Read, &r.kind, &r.field, &r.label, false);
        assert_eq!(*memo, fresh);
        assert!(fresh.allowed);
        // A stricter policy set: the memo of the old one must not answer.
        let strict = BUILTIN_POLICIES.replace("principal.clearance >= context.level", "principal.clearance > context.level + 4");
        a.replace_policies(&strict).unwrap();
        let after = a.decide_class(&odni, None, &Action::Read, &r.kind, &r.field, &r.label, false);
        assert!(!after.allowed, "{after:?}");
        assert!(after.policies.contains(&"clearance-dominates-level".to_string()), "{after:?}");
    }

    #[test]
    fn invalid_policy_is_refused_and_previous_stays() {
        let a = Authorizer::builtin().unwrap();
        let bad = "@id(\"x\") permit(principal, action == Sallyport::Action::\"read\", resource) when { principal.clearence >= 1 };";
        let e = a.replace_policies(bad).unwrap_err();
        assert!(matches!(e, PolicyError::Validation { .. }), "{e}");
        assert!(e.to_string().contains("clearence"), "{e}");
        assert!(a.policy_ids().contains(&"releasability".to_string()));
    }
}
