//! Multi-agency access: markings, releasability, Cedar policy, identity,
//! release for legal proceedings, audit.
//!
//! Codemap:
//! - [`marking`]: structured security labels (level, compartments, NOFORN/ORCON/RELIDO,
//!   REL TO) with banner/portion parsing and printing; bad input is refused with the
//!   offending token and position.
//! - [`principal`]: users as the policy sees them ([`Principal`]), roles, labels
//!   ([`Label`] = marking + originator), resources and actions.
//! - [`authz`]: the Cedar engine. [`Authorizer::load`] validates `policies/` strictly
//!   against the schema (errors carry file:line:column); [`Authorizer::decide`]
//!   returns a [`Decision`] naming the deciding policies. A policy set that fails
//!   validation never replaces the one in force.
//! - [`redact`]: generic field redaction over JSON values with per-pointer labels, and
//!   [`redact::Filter`], which caches decisions per marking class for lists.
//! - [`people`]: a person as a marked record (field groups, default markings,
//!   synthetic intelligence notes) and [`people::filter_people`].
//! - [`service`]: [`Access`], the handle the CLI and server use (store + policy + audit + clock),
//!   and [`Caller`] (an authenticated principal and its credential).
//! - [`identity`]: users, argon2id passwords, scoped expiring revocable API tokens, sessions.
//! - [`records`]: markings, notes and legal holds in the store; audited person views and lists.
//! - [`release`]: the two-approval release workflow and verifiable release documents.
//! - [`audit`]: the hash-chained audit log, verification against published heads.
//! - [`render`]: text renderings of what the policy let through (for the CLI).
//!
//! Invariants: every decision is made by Cedar (the cache only memoises Cedar's
//! answer for one principal and one marking class); a record whose whole-record label
//! is denied never appears in an output, and no part whose label is denied does;
//! unlabelled parts inherit the record's label; evaluation errors deny; nothing
//! about a person leaves [`Access`] before its audit entry is stored; every change
//! commits together with its audit entry or not at all.

pub mod audit;
pub mod authz;
pub mod error;
pub mod identity;
pub mod marking;
pub mod people;
pub mod principal;
pub mod records;
pub mod redact;
pub mod release;
pub mod render;
pub mod service;

pub use audit::{AuditEntry, AuditHead, AuditLog, AuditRecord};
pub use authz::{Authorizer, Decision, PolicyError};
pub use error::AccessError;
pub use identity::{IssuedToken, NewUser, Session, TokenInfo, User};
pub use marking::{Level, Marking, MarkingError};
pub use people::{filter_people, IntelNote, PeopleMarkings};
pub use principal::{Action, Capacity, Label, Principal, Resource, Role};
pub use redact::{MarkedRecord, Redacted, RedactedPerson};
pub use release::{Release, ReleaseDocument, ReleaseRequest, ReleaseStatus, ReleaseVerification};
pub use service::{Access, AccessConfig, Caller, Via};
