//! Authentication: who is calling ([`Auth::authenticate`]). What they may do
//! is decided by `sallyport-access` through [`crate::policy::Policy`], which
//! this module holds.
//!
//! SEAM until `sallyport-access` publishes its identity API (users with
//! argon2 passwords, API tokens, sessions, audit): principals come from bearer
//! tokens and users configured at start (`Auth::add_token`, `Auth::add_user`),
//! each mapped to an access [`Principal`] (agency, roles, clearance,
//! compartments); secrets are held only as SHA-256 digests and compared in
//! constant time; dashboard sessions are random 256-bit tokens held in memory.
//! Swapping in the access crate's identity store changes this file only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use rand::RngCore;
use sallyport_access::Principal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::policy::{Identity, Policy};
use crate::problem::ApiError;

/// Name of the dashboard's session cookie.
pub const SESSION_COOKIE: &str = "sp_session";
/// How long a dashboard session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// Who is calling, as the API shows it (`GET /api/v1/session`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PrincipalView {
    pub subject: String,
    pub agency: String,
    /// The agency's country (ISO alpha-3).
    pub country: String,
    pub agency_kind: String,
    /// Access roles (`coordinator`, `planner`, `enrollment_officer`, `field_custodian`, `legal_officer`, `auditor`, `administrator`).
    pub roles: Vec<String>,
    /// Clearance level, e.g. `SECRET`.
    pub clearance: String,
    /// Need-to-know compartments.
    pub compartments: Vec<String>,
}

impl From<&Identity> for PrincipalView {
    fn from(i: &Identity) -> Self {
        let p = &i.principal;
        PrincipalView {
            subject: i.subject.clone(),
            agency: p.agency.clone(),
            country: p.country.clone(),
            agency_kind: p.agency_kind.clone(),
            roles: p.roles.iter().map(|r| r.as_str().to_string()).collect(),
            clearance: p.clearance.banner().to_string(),
            compartments: p.compartments.iter().cloned().collect(),
        }
    }
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub struct Auth {
    tokens: Vec<([u8; 32], Arc<Identity>)>,
    users: HashMap<String, ([u8; 32], Arc<Identity>)>,
    sessions: Mutex<HashMap<[u8; 32], (Instant, Arc<Identity>)>>,
    policy: Policy,
}

impl Auth {
    /// No users yet; decisions by `policy`.
    pub fn new(policy: Policy) -> Self {
        Auth {
            tokens: Vec::new(),
            users: HashMap::new(),
            sessions: Mutex::new(HashMap::new()),
            policy,
        }
    }

    /// With the Cedar policies compiled into this build.
    pub fn builtin() -> Result<Self, sallyport_access::PolicyError> {
        Ok(Self::new(Policy::builtin()?))
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Accept `token` as a bearer token for `who` (its subject is `who.user`).
    pub fn add_token(&mut self, token: &str, who: Principal) {
        self.tokens
            .push((digest(token), Arc::new(Identity::new(who))));
    }

    /// Accept `username`/`password` at the login form and `POST /api/v1/session`.
    pub fn add_user(&mut self, username: &str, password: &str, mut who: Principal) {
        who.user = username.to_string();
        self.users.insert(
            username.to_string(),
            (digest(password), Arc::new(Identity::new(who))),
        );
    }

    /// Check a password; on success open a session and return its token.
    pub fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(String, Arc<Identity>), ApiError> {
        let bad = || ApiError::unauthenticated("unknown user or wrong password");
        let (want, who) = self.users.get(username).ok_or_else(bad)?;
        if !ct_eq(want, &digest(password)) {
            return Err(bad());
        }
        let token = random_secret();
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        s.retain(|_, (at, _)| at.elapsed() < SESSION_TTL);
        s.insert(digest(&token), (Instant::now(), who.clone()));
        Ok((token, who.clone()))
    }

    pub fn logout(&self, token: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&digest(token));
    }

    /// The caller behind `Authorization: Bearer …` or the session cookie.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Identity>, ApiError> {
        let token = bearer(headers).or_else(|| cookie(headers, SESSION_COOKIE));
        let Some(token) = token else {
            return Err(ApiError::unauthenticated(
                "send Authorization: Bearer <token> or log in at /login",
            ));
        };
        let d = digest(&token);
        if let Some((_, who)) = self.tokens.iter().find(|(t, _)| ct_eq(t, &d)) {
            return Ok(who.clone());
        }
        let s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match s.get(&d) {
            Some((at, who)) if at.elapsed() < SESSION_TTL => Ok(who.clone()),
            _ => Err(ApiError::unauthenticated(
                "the token or session is unknown or expired",
            )),
        }
    }
}

/// A fresh random 256-bit secret, hex-encoded (session tokens, generated passwords).
pub fn random_secret() -> String {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

fn bearer(h: &HeaderMap) -> Option<String> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The value of cookie `name`, if sent.
pub fn cookie(h: &HeaderMap, name: &str) -> Option<String> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
}
