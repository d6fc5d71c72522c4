//! Authorisation through `sallyport-access`: every route and page asks the
//! Cedar [`Authorizer`] (policies in `policies/`), and people's records are
//! filtered and field-redacted with the access crate's redaction.
//!
//! What each route asks (the Cedar request is always principal × action × a
//! marked record; see `policies/sallyport.cedar`):
//! - picture routes (overview, sites, fleet, schedule, progress, alerts, live
//!   updates, sitrep): `read` on the record `operation/<field>` labelled with
//!   [`picture_label`] — the operation's aggregate picture, releasable to every
//!   party of the operation;
//! - people routes: `read` on a probe record (UNCLASSIFIED, no caveats, the
//!   caller's own agency as originator) decides whether the caller may read
//!   people's records at all (403 if not); then every person is a
//!   [`MarkedRecord`] (field groups and intelligence notes with their own
//!   labels) and [`Filter`] drops the hidden people and the denied fields;
//! - field-device sync: `write` on the probe, then `write` on each named
//!   person's custody label.
//!
//! Decisions are memoised per principal and marking class by the authorizer
//! itself (`Authorizer::decide_class`, per policy version), and a request's
//! [`Filter`] caches them again without a lock, so a read costs a hash lookup
//! once Cedar has answered; the memo only repeats Cedar's answer.
//!
//! The marking data of people comes from [`AccessData::load`]: the access
//! crate's default markings for the operation's agencies and its synthetic
//! intelligence notes. SEAM: when `sallyport-access` stores per-person
//! markings, notes and legal holds, `AccessData::load` reads them instead.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use sallyport_access::people::{self, Directory, GroupMarking};
use sallyport_access::redact::Filter;
use sallyport_access::{
    Action, Authorizer, Decision, IntelNote, Label, MarkedRecord, Marking, PeopleMarkings,
    Principal,
};
use sallyport_core::{Agency, Person};
use sallyport_store::Store;

use crate::problem::ApiError;

/// An authenticated caller as the policy sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Login name or token name.
    pub subject: String,
    pub principal: Principal,
    /// Hash of every attribute of `principal`: equal keys get equal decisions.
    pub key: u64,
}

impl Identity {
    pub fn new(principal: Principal) -> Identity {
        let mut h = DefaultHasher::new();
        principal.hash(&mut h);
        Identity {
            subject: principal.user.clone(),
            key: h.finish(),
            principal,
        }
    }
}

/// Per-person markings and legal holds set by the operator, on top of the
/// access crate's defaults: (person id, field group) → marking.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub markings: HashMap<(String, String), GroupMarking>,
    pub legal_holds: BTreeSet<String>,
}

/// The Cedar authorizer in force (it memoises its decisions).
pub struct Policy {
    authz: Authorizer,
    overrides: Overrides,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy").finish_non_exhaustive()
    }
}

impl Policy {
    pub fn new(authz: Authorizer) -> Policy {
        Policy {
            authz,
            overrides: Overrides::default(),
        }
    }

    /// Add per-person markings and legal holds (see [`Overrides`]).
    pub fn with_overrides(mut self, overrides: Overrides) -> Policy {
        self.overrides = overrides;
        self
    }

    pub fn overrides(&self) -> &Overrides {
        &self.overrides
    }

    /// The policies compiled into this build (the repository's `policies/`).
    pub fn builtin() -> Result<Policy, sallyport_access::PolicyError> {
        Ok(Policy::new(Authorizer::builtin()?))
    }

    pub fn authorizer(&self) -> &Authorizer {
        &self.authz
    }

    /// Cedar's decision for `who` doing `action` on a `kind` record's `field`
    /// labelled `label` (memoised per principal and marking class by the
    /// authorizer, per policy version).
    pub fn decide(
        &self,
        who: &Identity,
        action: &Action,
        kind: &str,
        field: &str,
        label: &Label,
        legal_hold: bool,
    ) -> Arc<Decision> {
        self.authz
            .decide_class(&who.principal, None, action, kind, field, label, legal_hold)
    }

    /// `Ok` when Cedar allows, else a 403 naming the deciding policies.
    pub fn require(
        &self,
        who: &Identity,
        action: &Action,
        kind: &str,
        field: &str,
        label: &Label,
    ) -> Result<(), ApiError> {
        let d = self.decide(who, action, kind, field, label, false);
        if d.allowed {
            Ok(())
        } else {
            Err(denied(who, action, &format!("{kind}/{field}"), &d))
        }
    }

    /// May `who` read the operation's picture (`field` names the view)?
    pub fn read_picture(&self, who: &Identity, field: &str, label: &Label) -> Result<(), ApiError> {
        self.require(who, &Action::Read, "operation", field, label)
    }

    /// May `who` do `action` on people's records at all? Asked on the least
    /// restricted record there is (UNCLASSIFIED, no caveats, originated by the
    /// caller's own agency), so only the grants decide.
    pub fn people_at_all(&self, who: &Identity, action: &Action) -> Result<(), ApiError> {
        let probe = Label::new(
            Marking::unclassified(),
            who.principal.agency.clone(),
            who.principal.country.clone(),
        );
        self.require(who, action, "person", "*", &probe)
    }

    /// A per-request list filter for `who` (decisions come from the memo).
    pub fn filter<'a>(&'a self, who: &'a Identity) -> PeopleFilter<'a> {
        PeopleFilter {
            filter: Filter::new(&self.authz, &who.principal),
        }
    }
}

/// The 403 problem for a denied decision.
pub fn denied(who: &Identity, action: &Action, what: &str, d: &Decision) -> ApiError {
    let why = if d.reasons.is_empty() {
        "no policy permits it".to_string()
    } else {
        d.reasons.join("; ")
    };
    let rules = if d.policies.is_empty() {
        String::new()
    } else {
        format!(" [policies: {}]", d.policies.join(", "))
    };
    ApiError::forbidden(format!(
        "{} ({}, roles {}) may not {} {what}: {why}{rules}",
        who.subject,
        who.principal.agency,
        roles(&who.principal),
        action.name()
    ))
}

/// Roles as `a, b` (or `none`).
pub fn roles(p: &Principal) -> String {
    if p.roles.is_empty() {
        "none".into()
    } else {
        p.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Decides visibility of marked people for one caller, through the memo.
pub struct PeopleFilter<'a> {
    /// The access crate's filter, caching per marking class for this request.
    filter: Filter<'a>,
}

impl PeopleFilter<'_> {
    /// Whether the whole record (its custody label) is visible.
    pub fn visible(&mut self, rec: &MarkedRecord) -> bool {
        self.filter
            .decide(&rec.kind, "*", &rec.label, rec.legal_hold)
            .allowed
    }

    /// Whether a person with this whole-record label is visible.
    pub fn label_visible(&mut self, label: &Label, legal_hold: bool) -> bool {
        self.filter.decide("person", "*", label, legal_hold).allowed
    }

    /// The record as `who` may see it, or `None` when hidden. Redaction is the
    /// access crate's [`Filter::redact`].
    pub fn redact(&mut self, rec: &MarkedRecord) -> Option<sallyport_access::Redacted> {
        self.filter.redact(rec)
    }
}

/// Everything the policy needs to label people: the agency directory, the
/// markings and the intelligence notes.
pub struct AccessData {
    pub agencies: Vec<Agency>,
    pub directory: Directory,
    pub markings: PeopleMarkings,
    pub notes: Vec<IntelNote>,
    /// The label of the operation-wide picture.
    pub picture: Label,
}

impl AccessData {
    /// Defaults of the access crate for the stored operation: the default
    /// markings for its agencies and SYNTHETIC intelligence notes for high- and
    /// critical-risk people (see `sallyport_access::people`).
    pub async fn load(
        store: &Store,
        people: &[Person],
        overrides: &Overrides,
    ) -> Result<AccessData, ApiError> {
        let agencies = store.agencies().await?;
        Ok(AccessData::from_parts(agencies, people, overrides))
    }

    pub fn from_parts(
        agencies: Vec<Agency>,
        people: &[Person],
        overrides: &Overrides,
    ) -> AccessData {
        let mut markings = people::default_markings(&agencies);
        markings.overrides.extend(overrides.markings.clone());
        markings
            .legal_holds
            .extend(overrides.legal_holds.iter().cloned());
        let notes = people::synthetic_notes(people, &agencies);
        AccessData {
            directory: people::directory(&agencies),
            picture: picture_label(&agencies),
            agencies,
            markings,
            notes,
        }
    }

    /// Every person as a marked record, in the order given.
    pub fn marked(&self, people: &[Person]) -> Vec<MarkedRecord> {
        people::marked_people(people, &self.notes, &self.markings, &self.agencies)
    }
}

/// The label of the operation's aggregate picture: the access crate's default
/// custody marking (UNCLASSIFIED, REL TO every party's country), originated by
/// the first agency of the operation (its coordinator). With no operation
/// stored: UNCLASSIFIED without caveats.
pub fn picture_label(agencies: &[Agency]) -> Label {
    match agencies.first() {
        Some(a) => {
            let all: BTreeSet<String> = agencies.iter().map(|a| a.country.to_string()).collect();
            Label::new(
                Marking::unclassified().with_rel_to(all),
                a.id.to_string(),
                a.country.to_string(),
            )
        }
        None => Label::new(Marking::unclassified(), "-", "-"),
    }
}

/// Build a policy principal for a user of `agency`, taking the agency's
/// country and kind from the operation's agencies.
pub fn principal(
    agencies: &[Agency],
    user: &str,
    agency: &str,
    roles: &[sallyport_access::Role],
    clearance: sallyport_access::Level,
    compartments: &[&str],
) -> Result<Principal, String> {
    let a = agencies
        .iter()
        .find(|a| a.id.as_str() == agency)
        .ok_or_else(|| {
            format!(
                "unknown agency {agency:?}; the operation's agencies are: {}",
                agencies
                    .iter()
                    .map(|a| a.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    Ok(Principal {
        user: user.to_string(),
        agency: agency.to_string(),
        country: a.country.to_string(),
        agency_kind: a.kind.as_str().to_string(),
        roles: roles.iter().copied().collect(),
        clearance,
        compartments: compartments.iter().map(|c| c.to_string()).collect(),
    })
}

/// Shared handle.
pub type SharedAccess = Arc<AccessData>;
