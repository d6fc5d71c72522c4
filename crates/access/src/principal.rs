//! Who is asking: a user of an agency or partner, with roles and a clearance.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::marking::{Level, Marking};

/// Roles a user may hold (several at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Coordinator,
    Planner,
    EnrollmentOfficer,
    FieldCustodian,
    LegalOfficer,
    Auditor,
    Administrator,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Coordinator,
        Role::Planner,
        Role::EnrollmentOfficer,
        Role::FieldCustodian,
        Role::LegalOfficer,
        Role::Auditor,
        Role::Administrator,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Coordinator => "coordinator",
            Role::Planner => "planner",
            Role::EnrollmentOfficer => "enrollment_officer",
            Role::FieldCustodian => "field_custodian",
            Role::LegalOfficer => "legal_officer",
            Role::Auditor => "auditor",
            Role::Administrator => "administrator",
        }
    }
    pub fn parse(s: &str) -> Result<Role, String> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim()).ok_or_else(|| {
            format!(
                "unknown role {s:?}; expected one of: {}",
                Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            )
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated caller, as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Principal {
    /// Username (synthetic, e.g. `odni.coordinator`).
    pub user: String,
    /// Agency id, e.g. `US-ODNI`.
    pub agency: String,
    /// The agency's country (ISO alpha-3).
    pub country: String,
    /// The agency's kind (`intelligence`, `partner_force`, …).
    pub agency_kind: String,
    pub roles: BTreeSet<Role>,
    pub clearance: Level,
    /// Need-to-know compartments (caveats) the user is read into.
    pub compartments: BTreeSet<String>,
}

/// The scopes of a credential as the policy sees them: `None` (an interactive
/// sign-in) is every action name; a device token's scopes are its own.
pub fn scope_names(scopes: Option<&BTreeSet<String>>) -> Vec<String> {
    match scopes {
        Some(s) => s.iter().cloned().collect(),
        None => Action::NAMES.iter().map(|s| s.to_string()).collect(),
    }
}

/// Whose data a label protects: the marking plus its originating agency.
///
/// `Hash` feeds only the cheap parts (level, flags, the sizes of the sets,
/// the originator): equal labels still hash equally, and the few labels a
/// list holds are told apart by `Eq`. Lists hash one label per field of every
/// record, so this is on the hot path of every filtered read. The marking is
/// shared ([`Arc`]): the labels of a list's records are mostly clones of a
/// handful, which `Eq` recognises by address before it compares contents, and
/// which cost a reference count, not a deep copy, to clone and drop.
#[derive(Debug, Clone, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Label {
    #[serde(with = "shared")]
    pub marking: Arc<Marking>,
    /// Originating agency id.
    pub originator: String,
    /// The originating agency's country.
    pub originator_country: String,
}

impl std::hash::Hash for Label {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let m = &self.marking;
        // One word: level, the three flags and the two set sizes (low 16 bits each).
        let word = (m.level as u64)
            | (u64::from(m.noforn) << 8)
            | (u64::from(m.orcon) << 9)
            | (u64::from(m.relido) << 10)
            | ((m.compartments.len() as u64 & 0xffff) << 16)
            | ((m.rel_to.len() as u64 & 0xffff) << 32);
        h.write_u64(word);
        self.originator.hash(h);
    }
}

/// Serde for a shared marking: as the marking itself.
mod shared {
    use super::{Arc, Marking};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(m: &Arc<Marking>, s: S) -> Result<S::Ok, S::Error> {
        m.as_ref().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Marking>, D::Error> {
        Marking::deserialize(d).map(Arc::new)
    }
}

impl PartialEq for Label {
    fn eq(&self, other: &Self) -> bool {
        (Arc::ptr_eq(&self.marking, &other.marking) || self.marking == other.marking)
            && self.originator == other.originator
            && self.originator_country == other.originator_country
    }
}

impl Label {
    /// A label; pass an `Arc<Marking>` to share one marking between labels.
    pub fn new(marking: impl Into<Arc<Marking>>, originator: impl Into<String>, originator_country: impl Into<String>) -> Self {
        Label { marking: marking.into(), originator: originator.into(), originator_country: originator_country.into() }
    }
}

/// What is being acted on: one marked record or field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resource {
    /// `person`, `release`, `audit`, …
    pub kind: String,
    pub id: String,
    /// Field group, or `*` for the whole record.
    pub field: String,
    pub label: Label,
    pub legal_hold: bool,
}

/// Capacity in which someone approves a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capacity {
    /// For the originating agency of the records.
    Originator,
    /// As the release authority (a legal officer).
    ReleaseAuthority,
}

impl Capacity {
    pub fn as_str(self) -> &'static str {
        match self {
            Capacity::Originator => "originator",
            Capacity::ReleaseAuthority => "release_authority",
        }
    }
    pub fn parse(s: &str) -> Result<Capacity, String> {
        match s {
            "originator" => Ok(Capacity::Originator),
            "release_authority" | "authority" => Ok(Capacity::ReleaseAuthority),
            _ => Err(format!("unknown capacity {s:?}; expected originator or release_authority")),
        }
    }
}

/// What the caller wants to do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    Read,
    Write,
    ReadAudit,
    ManageUsers,
    RequestRelease,
    /// Place or lift a legal hold.
    LegalHold,
    /// Approve a release: who asked for it, in which capacity, and who has
    /// already approved it (the policy wants two different people).
    ApproveRelease { requester: String, capacity: Capacity, other_approvers: BTreeSet<String> },
}

impl Action {
    /// Every Cedar action id, in schema order.
    pub const NAMES: [&'static str; 7] =
        ["read", "write", "read_audit", "manage_users", "request_release", "approve_release", "legal_hold"];

    /// The Cedar action id.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::ReadAudit => "read_audit",
            Action::ManageUsers => "manage_users",
            Action::RequestRelease => "request_release",
            Action::LegalHold => "legal_hold",
            Action::ApproveRelease { .. } => "approve_release",
        }
    }
    pub fn parse(s: &str) -> Result<Action, String> {
        match s {
            "read" => Ok(Action::Read),
            "write" => Ok(Action::Write),
            "read_audit" => Ok(Action::ReadAudit),
            "manage_users" => Ok(Action::ManageUsers),
            "request_release" => Ok(Action::RequestRelease),
            "legal_hold" => Ok(Action::LegalHold),
            _ => Err(format!(
                "unknown action {s:?}; expected read, write, read_audit, manage_users, request_release or legal_hold"
            )),
        }
    }
}
