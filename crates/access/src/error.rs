//! Errors of the access service: each names what was wrong and where.

use crate::authz::{Decision, PolicyError};
use crate::marking::MarkingError;

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Bad input from outside: which field, and why.
    #[error("invalid {field}: {why}")]
    Invalid { field: String, why: String },
    /// No valid credential: unknown user, wrong password, unknown, expired or revoked token.
    #[error("not authenticated: {0}")]
    Unauthenticated(String),
    /// The policy refused: who, what, and the deciding rules.
    #[error("{who} may not {action} {target}: {}", reasons.join("; "))]
    Denied { who: String, action: String, target: String, reasons: Vec<String>, policies: Vec<String> },
    /// Not there, or not visible to the caller (the two are not distinguished).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what is stored (duplicate, wrong state).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Marking(#[from] MarkingError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("database error: {0}")]
    Db(String),
    /// Stored data failed a check on the way out (never repaired silently).
    #[error("stored data is invalid ({what}): {why}")]
    Corrupt { what: String, why: String },
}

impl AccessError {
    pub fn invalid(field: impl Into<String>, why: impl Into<String>) -> Self {
        AccessError::Invalid { field: field.into(), why: why.into() }
    }
    pub fn corrupt(what: impl Into<String>, why: impl std::fmt::Display) -> Self {
        AccessError::Corrupt { what: what.into(), why: why.to_string() }
    }
    pub(crate) fn denied(who: &str, action: &str, target: impl Into<String>, d: &Decision) -> Self {
        AccessError::Denied {
            who: who.to_string(),
            action: action.to_string(),
            target: target.into(),
            reasons: d.reasons.clone(),
            policies: d.policies.clone(),
        }
    }
}

impl From<sqlx::Error> for AccessError {
    fn from(e: sqlx::Error) -> Self {
        AccessError::Db(e.to_string())
    }
}

impl From<sallyport_store::StoreError> for AccessError {
    fn from(e: sallyport_store::StoreError) -> Self {
        AccessError::Db(e.to_string())
    }
}

pub type Result<T, E = AccessError> = std::result::Result<T, E>;
