//! The Cedar policy engine: load and validate `policies/`, decide requests.
//!
//! [`Authorizer::load`] reads `sallyport.cedarschema` and `sallyport.cedar`
//! from a directory, validates the policies against the schema in strict mode
//! and refuses them with the validator's messages if they fail.
//! [`Authorizer::reload`] swaps in a new policy set only when it validates;
//! otherwise the previous set stays in force.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId, PolicySet, Request,
    RestrictedExpression, Schema, ValidationMode, Validator,
};
use miette::Diagnostic;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::principal::{scope_names, Action, Principal, Resource};

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
    schema: Schema,
    policies: PolicySet,
    reasons: HashMap<String, String>,
    source: String,
    schema_src: String,
    /// SHA-256 of schema and policies, recorded with every audited decision.
    sha256: String,
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
        reasons.insert(id.to_string(), p.annotation("reason").unwrap_or(id).to_string());
        policies
            .add(p.new_id(PolicyId::new(id)))
            .map_err(|e| PolicyError::Parse { path: policy_path.to_path_buf(), message: render(&e) })?;
    }
    let sha256 = hex::encode(Sha256::digest(format!("{schema_src}\0{policy_src}").as_bytes()));
    Ok(Loaded { schema, policies, reasons, source: policy_src.to_string(), schema_src: schema_src.to_string(), sha256 })
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
    // Type names are constants of this module and always parse.
    let ty = EntityTypeName::from_str(ty).unwrap_or_else(|_| unreachable_type(ty));
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
        let loaded = self.current();
        match self.evaluate(&loaded, principal, scopes, action, resource) {
            Ok(d) => d,
            // Fail closed: a request that cannot be evaluated is denied, with the reason.
            Err(e) => Decision { allowed: false, policies: vec![], reasons: vec![e.to_string()] },
        }
    }

    fn evaluate(
        &self,
        loaded: &Loaded,
        principal: &Principal,
        scopes: Option<&BTreeSet<String>>,
        action: &Action,
        resource: &Resource,
    ) -> Result<Decision, PolicyError> {
        let req_err = |e: &dyn std::fmt::Display| PolicyError::Request(e.to_string());
        let agency_uid = uid("Sallyport::Agency", &principal.agency);
        let agency = Entity::new(
            agency_uid.clone(),
            HashMap::from([
                ("country".to_string(), RestrictedExpression::new_string(principal.country.clone())),
                ("kind".to_string(), RestrictedExpression::new_string(principal.agency_kind.clone())),
            ]),
            HashSet::new(),
        )
        .map_err(|e| req_err(&e))?;
        let p_uid = uid("Sallyport::User", &principal.user);
        let roles: Vec<String> = principal.roles.iter().map(|r| r.as_str().to_string()).collect();
        let user = Entity::new(
            p_uid.clone(),
            HashMap::from([
                ("agency".to_string(), RestrictedExpression::new_string(principal.agency.clone())),
                ("country".to_string(), RestrictedExpression::new_string(principal.country.clone())),
                ("roles".to_string(), str_set(&roles)),
                ("clearance".to_string(), RestrictedExpression::new_long(principal.clearance.rank())),
                ("compartments".to_string(), str_set(&principal.compartments)),
                ("scopes".to_string(), str_set(&scope_names(scopes))),
            ]),
            HashSet::from([agency_uid]),
        )
        .map_err(|e| req_err(&e))?;
        let m = &resource.label.marking;
        let r_uid = uid("Sallyport::Record", &format!("{}/{}#{}", resource.kind, resource.id, resource.field));
        let record = Entity::new(
            r_uid.clone(),
            HashMap::from([
                ("kind".to_string(), RestrictedExpression::new_string(resource.kind.clone())),
                ("field".to_string(), RestrictedExpression::new_string(resource.field.clone())),
                ("originator".to_string(), RestrictedExpression::new_string(resource.label.originator.clone())),
                (
                    "originator_country".to_string(),
                    RestrictedExpression::new_string(resource.label.originator_country.clone()),
                ),
                ("level".to_string(), RestrictedExpression::new_long(m.level.rank())),
                ("compartments".to_string(), str_set(&m.compartments)),
                ("rel_to".to_string(), str_set(&m.rel_to)),
                ("noforn".to_string(), RestrictedExpression::new_bool(m.noforn)),
                ("orcon".to_string(), RestrictedExpression::new_bool(m.orcon)),
                ("legal_hold".to_string(), RestrictedExpression::new_bool(resource.legal_hold)),
            ]),
            HashSet::new(),
        )
        .map_err(|e| req_err(&e))?;
        let context = match action {
            Action::ApproveRelease { requester, capacity, other_approvers } => Context::from_pairs([
                ("requester".to_string(), RestrictedExpression::new_entity_uid(uid("Sallyport::User", requester))),
                ("capacity".to_string(), RestrictedExpression::new_string(capacity.as_str().to_string())),
                (
                    "other_approvers".to_string(),
                    RestrictedExpression::new_set(
                        other_approvers.iter().map(|u| RestrictedExpression::new_entity_uid(uid("Sallyport::User", u))),
                    ),
                ),
            ])
            .map_err(|e| req_err(&e))?,
            _ => Context::empty(),
        };
        let a_uid = uid("Sallyport::Action", action.name());
        let request = Request::new(p_uid, a_uid, r_uid, context, Some(&loaded.schema)).map_err(|e| req_err(&e))?;
        let entities = Entities::from_entities([agency, user, record], Some(&loaded.schema)).map_err(|e| req_err(&e))?;
        let response = self.engine.is_authorized(&request, &loaded.policies, &entities);
        let allowed = response.decision() == cedar_policy::Decision::Allow;
        let mut policies: Vec<String> = response.diagnostics().reason().map(|p| p.to_string()).collect();
        policies.sort();
        let mut reasons: Vec<String> =
            policies.iter().map(|p| loaded.reasons.get(p).cloned().unwrap_or_else(|| p.clone())).collect();
        for e in response.diagnostics().errors() {
            reasons.push(format!("policy evaluation error: {e}"));
        }
        if !allowed && policies.is_empty() {
            reasons.push(format!(
                "no policy permits {} for roles [{}]",
                action.name(),
                principal.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(Decision { allowed, policies, reasons })
    }
}

/// The schema and policies in `policies/` when this crate was built.
pub const BUILTIN_SCHEMA: &str = include_str!("../../../policies/sallyport.cedarschema");
pub const BUILTIN_POLICIES: &str = include_str!("../../../policies/sallyport.cedar");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marking::{Level, Marking};
    use crate::principal::{Label, Role};

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
