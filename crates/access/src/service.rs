//! [`Access`]: the one handle the CLI and the server use.
//!
//! It bundles the store, the Cedar [`Authorizer`], the [`AuditLog`] and a clock.
//! Its methods (spread over [`crate::identity`], [`crate::records`] and
//! [`crate::release`]) authenticate callers, decide with Cedar, change or read
//! the store, and write the audit entry in the same transaction as the change
//! (reads: before the data is returned, so nothing leaves unaudited).

use std::collections::BTreeSet;
use std::sync::Arc;

use sallyport_store::Store;
use serde::Serialize;

use crate::audit::{AuditLog, AuditRecord};
use crate::authz::{Authorizer, Decision};
use crate::principal::{Action, Principal, Resource};
use crate::redact::Filter;

/// Milliseconds since the Unix epoch.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    })
}

/// Tunables of authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessConfig {
    /// How long a signed-in session lasts.
    pub session_ttl_ms: i64,
    /// Longest lifetime of an API token.
    pub max_token_ttl_ms: i64,
    /// Consecutive wrong passwords before the account is locked…
    pub lockout_after: i64,
    /// …for this long.
    pub lockout_ms: i64,
}

impl Default for AccessConfig {
    fn default() -> Self {
        const DAY: i64 = 24 * 3600 * 1000;
        AccessConfig { session_ttl_ms: DAY / 2, max_token_ttl_ms: 366 * DAY, lockout_after: 5, lockout_ms: DAY / 96 }
    }
}

/// How a caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "via", content = "id")]
pub enum Via {
    Password,
    Session,
    /// A device API token (its public id).
    Token(String),
    /// Creating the first administrator of an empty user table.
    Bootstrap,
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Via::Password => f.write_str("password"),
            Via::Session => f.write_str("session"),
            Via::Token(id) => write!(f, "token:{id}"),
            Via::Bootstrap => f.write_str("bootstrap"),
        }
    }
}

/// An authenticated caller: who, and by which credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub principal: Principal,
    pub via: Via,
    /// Actions this credential may be used for (a device token's scopes);
    /// `None` for a password or session sign-in. Enforced by the policy's
    /// `token-scope` rule.
    pub scopes: Option<BTreeSet<String>>,
}

/// The access service.
#[derive(Clone)]
pub struct Access {
    pub(crate) store: Store,
    pub(crate) authz: Arc<Authorizer>,
    pub(crate) audit: AuditLog,
    pub(crate) clock: Clock,
    pub(crate) config: AccessConfig,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").field("authz", &self.authz).field("config", &self.config).finish_non_exhaustive()
    }
}

impl Access {
    pub fn new(store: Store, authz: Arc<Authorizer>) -> Self {
        Access { audit: AuditLog::new(store.clone()), store, authz, clock: system_clock(), config: AccessConfig::default() }
    }

    /// Replace the clock (tests of expiry; replaying at a fixed time).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_config(mut self, config: AccessConfig) -> Self {
        self.config = config;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn authorizer(&self) -> &Authorizer {
        &self.authz
    }

    pub fn audit_log(&self) -> &AuditLog {
        &self.audit
    }

    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Decide with Cedar for `caller` (principal and credential scopes).
    pub fn decide(&self, caller: &Caller, action: &Action, resource: &Resource) -> Decision {
        self.authz.decide_scoped(&caller.principal, caller.scopes.as_ref(), action, resource)
    }

    /// A read filter for `caller` (principal and credential scopes).
    pub fn filter<'a>(&'a self, caller: &'a Caller) -> Filter<'a> {
        Filter::scoped(&self.authz, &caller.principal, caller.scopes.as_ref())
    }

    /// An audit record for `caller` doing `action` on `kind/record`, decided by `d`.
    pub(crate) fn record(
        &self,
        caller: &Caller,
        action: &str,
        kind: &str,
        record: &str,
        d: Option<&Decision>,
        detail: serde_json::Value,
        subjects: BTreeSet<String>,
    ) -> AuditRecord {
        AuditRecord {
            at_ms: self.now(),
            actor: caller.principal.user.clone(),
            agency: caller.principal.agency.clone(),
            via: caller.via.to_string(),
            action: action.to_string(),
            kind: kind.to_string(),
            record: record.to_string(),
            allowed: d.is_none_or(|d| d.allowed),
            policies: d.map(|d| d.policies.clone()).unwrap_or_default(),
            policy_sha256: if d.is_some() { self.authz.policy_sha256() } else { String::new() },
            detail: detail.to_string(),
            subjects,
        }
    }
}
