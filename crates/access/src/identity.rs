//! Identity: users, passwords (argon2id), device API tokens, sessions.
//!
//! - A user belongs to one agency (checked against the operation's agencies
//!   when added and at every sign-in), holds roles, a clearance and
//!   compartments (caveats). The first administrator of an empty user table is
//!   created without a caller ([`Via::Bootstrap`]); after that only a caller
//!   the policy lets `manage_users` may add or change users, and never grant a
//!   clearance or compartment they do not hold themselves.
//! - Passwords are stored as argon2id PHC strings (OWASP parameters of the
//!   `argon2` crate's defaults: 19 MiB, 2 passes); verification runs off the
//!   async threads, an unknown user costs the same as a wrong password, and
//!   [`AccessConfig::lockout_after`] consecutive failures lock the account.
//! - API tokens (`spt_<id>_<secret>`) and sessions (`sps_<secret>`) carry 256
//!   random bits; only their SHA-256 is stored, compared in constant time.
//!   Tokens are scoped (Cedar action names: the policy's `token-scope` rule
//!   enforces them), expire, and can be revoked; sessions expire and end at
//!   sign-out. Disabling a user stops their tokens and sessions at once.
//! - Every sign-in (success or failure) and every change is audited.

use std::collections::BTreeSet;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use rand::RngCore;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::audit::{AuditLog, AuditRecord};
use crate::authz::Decision;
use crate::error::{AccessError, Result};
use crate::marking::{valid_compartment, Level, Marking};
use crate::principal::{Action, Label, Principal, Resource, Role};
use crate::service::{Access, Caller, Via};

pub const MIN_PASSWORD_LEN: usize = 12;
pub const MAX_PASSWORD_LEN: usize = 1024;
const TOKEN_PREFIX: &str = "spt_";
const SESSION_PREFIX: &str = "sps_";

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub agency: String,
    pub roles: BTreeSet<Role>,
    pub clearance: Level,
    pub compartments: BTreeSet<String>,
    /// `None`: the user can only act through API tokens.
    pub password: Option<String>,
}

/// A stored user (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub username: String,
    pub display_name: String,
    pub agency: String,
    pub roles: BTreeSet<Role>,
    pub clearance: Level,
    pub compartments: BTreeSet<String>,
    pub has_password: bool,
    pub disabled: bool,
    pub locked_until_ms: i64,
    pub created_ms: i64,
    pub created_by: String,
}

/// A stored API token (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub username: String,
    pub label: String,
    pub scopes: BTreeSet<String>,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub revoked_ms: Option<i64>,
    pub revoked_by: Option<String>,
    pub last_used_ms: Option<i64>,
}

/// A newly issued token: the secret is shown once and never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedToken {
    pub token: TokenInfo,
    pub secret: String,
}

/// A new session: send `secret` back as a bearer token or cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub secret: String,
    pub expires_ms: i64,
    pub caller: Caller,
}

pub(crate) fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn random_b64(n: usize) -> String {
    let mut raw = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn random_hex(n: usize) -> String {
    let mut raw = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

/// A random password: 24 characters from a 58-symbol alphabet (about 140 bits).
pub fn generate_password() -> String {
    use rand::Rng;
    const A: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..24).map(|_| A[rng.gen_range(0..A.len())] as char).collect()
}

/// `[a-z0-9][a-z0-9._-]{2,63}`.
pub fn validate_username(u: &str) -> Result<()> {
    let ok = (3..=64).contains(&u.len())
        && u.bytes().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && u.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(AccessError::invalid(
            "username",
            format!("{u:?}: 3 to 64 characters, lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"),
        ))
    }
}

pub fn validate_password(p: &str) -> Result<()> {
    let n = p.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(AccessError::invalid("password", format!("{n} characters; at least {MIN_PASSWORD_LEN} are required")));
    }
    if p.len() > MAX_PASSWORD_LEN {
        return Err(AccessError::invalid("password", format!("longer than {MAX_PASSWORD_LEN} bytes")));
    }
    if p.chars().any(char::is_control) {
        return Err(AccessError::invalid("password", "contains a control character"));
    }
    Ok(())
}

/// Parse `a,b,c` compartments (caveats), each as in a marking.
pub fn parse_compartments(s: &str) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for (i, c) in s.split(',').map(str::trim).enumerate() {
        if c.is_empty() && s.trim().is_empty() {
            break;
        }
        if !valid_compartment(c) {
            return Err(AccessError::invalid(
                "compartments",
                format!("entry {} {c:?} is not a compartment (upper-case letters, digits and '-', e.g. HVD)", i + 1),
            ));
        }
        out.insert(c.to_string());
    }
    Ok(out)
}

/// Parse `coordinator,planner` roles.
pub fn parse_roles(s: &str) -> Result<BTreeSet<Role>> {
    let roles: BTreeSet<Role> =
        s.split(',').filter(|r| !r.trim().is_empty()).map(Role::parse).collect::<Result<_, _>>().map_err(|e| AccessError::invalid("roles", e))?;
    if roles.is_empty() {
        return Err(AccessError::invalid("roles", "at least one role is required"));
    }
    Ok(roles)
}

/// Parse token scopes: Cedar action names.
pub fn parse_scopes(s: &str) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for sc in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        if !Action::NAMES.contains(&sc) {
            return Err(AccessError::invalid("scopes", format!("unknown scope {sc:?}; expected one of {}", Action::NAMES.join(", "))));
        }
        out.insert(sc.to_string());
    }
    if out.is_empty() {
        return Err(AccessError::invalid("scopes", format!("at least one scope is required ({})", Action::NAMES.join(", "))));
    }
    Ok(out)
}

fn join<T: AsRef<str>>(it: impl IntoIterator<Item = T>) -> String {
    it.into_iter().map(|s| s.as_ref().to_string()).collect::<Vec<_>>().join(",")
}

const USER_COLUMNS: &str = "username, display_name, agency, roles, clearance, compartments, password_hash, disabled, locked_until_ms, created_ms, created_by, failed_logins";
const TOKEN_COLUMNS: &str = "id, username, label, scopes, created_ms, expires_ms, revoked_ms, revoked_by, last_used_ms, secret_sha256";

fn user_from_row(r: &sqlx::any::AnyRow) -> Result<(User, Option<String>, i64)> {
    let username: String = r.try_get("username")?;
    let bad = |why: String| AccessError::corrupt(format!("user {username}"), why);
    let roles: String = r.try_get("roles")?;
    let roles = parse_roles(&roles).map_err(|e| bad(e.to_string()))?;
    let clearance: i64 = r.try_get("clearance")?;
    let clearance =
        *Level::ALL.get(usize::try_from(clearance).unwrap_or(99)).ok_or_else(|| bad(format!("clearance {clearance}")))?;
    let comps: String = r.try_get("compartments")?;
    let compartments = parse_compartments(&comps).map_err(|e| bad(e.to_string()))?;
    let hash: Option<String> = r.try_get("password_hash")?;
    let disabled: i64 = r.try_get("disabled")?;
    let failed: i64 = r.try_get("failed_logins")?;
    Ok((
        User {
            display_name: r.try_get("display_name")?,
            agency: r.try_get("agency")?,
            roles,
            clearance,
            compartments,
            has_password: hash.is_some(),
            disabled: disabled != 0,
            locked_until_ms: r.try_get("locked_until_ms")?,
            created_ms: r.try_get("created_ms")?,
            created_by: r.try_get("created_by")?,
            username,
        },
        hash,
        failed,
    ))
}

fn token_from_row(r: &sqlx::any::AnyRow) -> Result<(TokenInfo, String)> {
    let id: String = r.try_get("id")?;
    let scopes: String = r.try_get("scopes")?;
    let scopes = parse_scopes(&scopes).map_err(|e| AccessError::corrupt(format!("token {id}"), e))?;
    Ok((
        TokenInfo {
            username: r.try_get("username")?,
            label: r.try_get("label")?,
            scopes,
            created_ms: r.try_get("created_ms")?,
            expires_ms: r.try_get("expires_ms")?,
            revoked_ms: r.try_get("revoked_ms")?,
            revoked_by: r.try_get("revoked_by")?,
            last_used_ms: r.try_get("last_used_ms")?,
            id,
        },
        r.try_get("secret_sha256")?,
    ))
}

/// A PHC hash to verify against when the user does not exist (equal cost).
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password_blocking("not-a-real-password-0000").unwrap_or_default())
}

fn hash_password_blocking(pw: &str) -> Result<String> {
    let mut raw = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut raw);
    let salt = SaltString::encode_b64(&raw).map_err(|e| AccessError::invalid("password", e.to_string()))?;
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccessError::invalid("password", e.to_string()))
}

fn verify_password_blocking(pw: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
}

/// Hash a password with argon2id (off the async threads).
pub async fn hash_password(pw: &str) -> Result<String> {
    let pw = pw.to_string();
    tokio::task::spawn_blocking(move || hash_password_blocking(&pw))
        .await
        .map_err(|e| AccessError::Db(format!("password hashing task failed: {e}")))?
}

async fn verify_password(pw: &str, phc: Option<String>) -> bool {
    let pw = pw.to_string();
    tokio::task::spawn_blocking(move || {
        let (phc, real) = match phc {
            Some(p) => (p, true),
            None => (dummy_hash().to_string(), false),
        };
        verify_password_blocking(&pw, &phc) && real
    })
    .await
    .unwrap_or(false)
}

impl Access {
    /// The user's agency as the policy sees it: (country, kind).
    async fn agency_of(&self, agency: &str) -> Result<Option<(String, String)>> {
        let row = sqlx::query("SELECT country, kind FROM agencies WHERE id = $1").bind(agency).fetch_optional(self.store.pool()).await?;
        Ok(match row {
            Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
            None => None,
        })
    }

    async fn principal_for(&self, user: &User) -> Result<Principal> {
        let (country, kind) = self.agency_of(&user.agency).await?.ok_or_else(|| {
            AccessError::Unauthenticated(format!(
                "user {} belongs to agency {} which is not an agency of the loaded operation",
                user.username, user.agency
            ))
        })?;
        Ok(Principal {
            user: user.username.clone(),
            agency: user.agency.clone(),
            country,
            agency_kind: kind,
            roles: user.roles.clone(),
            clearance: user.clearance,
            compartments: user.compartments.clone(),
        })
    }

    async fn load_user(&self, username: &str) -> Result<Option<(User, Option<String>, i64)>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM access_users WHERE username = $1"))
            .bind(username)
            .fetch_optional(self.store.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// One user.
    pub async fn user(&self, username: &str) -> Result<Option<User>> {
        Ok(self.load_user(username).await?.map(|(u, _, _)| u))
    }

    /// The Cedar resource a user account is, for `manage_users`: its clearance and compartments.
    async fn user_resource(&self, username: &str, agency: &str, clearance: Level, comps: &BTreeSet<String>) -> Result<Resource> {
        let country = self.agency_of(agency).await?.map(|(c, _)| c).unwrap_or_else(|| "-".into());
        let mut m = Marking::new(clearance);
        m.compartments = comps.clone();
        Ok(Resource { kind: "user".into(), id: username.into(), field: "*".into(), label: Label::new(m, agency, country), legal_hold: false })
    }

    /// Decide `manage_users` for `caller` on an account; deny → audited error.
    async fn must_manage(&self, caller: &Caller, what: &str, res: &Resource) -> Result<Decision> {
        let d = self.decide(caller, &Action::ManageUsers, res);
        if !d.allowed {
            let rec = self.record(caller, what, &res.kind, &res.id, Some(&d), json!({"reasons": d.reasons}), BTreeSet::new());
            self.audit.append(&rec).await?;
            return Err(AccessError::denied(&caller.principal.user, what, format!("{} {}", res.kind, res.id), &d));
        }
        Ok(d)
    }

    /// Whether any user exists (the first one is created by bootstrap).
    pub async fn has_users(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM access_users").fetch_one(self.store.pool()).await?;
        Ok(n > 0)
    }

    /// Add a user. `caller` is `None` only to create the first administrator.
    pub async fn add_user(&self, caller: Option<&Caller>, new: &NewUser) -> Result<User> {
        validate_username(&new.username)?;
        if new.display_name.chars().count() > 200 || new.display_name.chars().any(char::is_control) {
            return Err(AccessError::invalid("display name", "at most 200 characters, no control characters"));
        }
        if new.roles.is_empty() {
            return Err(AccessError::invalid("roles", "at least one role is required"));
        }
        for c in &new.compartments {
            if !valid_compartment(c) {
                return Err(AccessError::invalid("compartments", format!("{c:?} is not a compartment")));
            }
        }
        if let Some(p) = &new.password {
            validate_password(p)?;
        }
        if self.agency_of(&new.agency).await?.is_none() {
            let known: Vec<String> = sqlx::query_scalar("SELECT id FROM agencies ORDER BY id").fetch_all(self.store.pool()).await?;
            return Err(AccessError::invalid(
                "agency",
                if known.is_empty() {
                    format!("{:?}: no operation is loaded (load a scenario first)", new.agency)
                } else {
                    format!("{:?} is not an agency of the operation ({})", new.agency, known.join(", "))
                },
            ));
        }
        let bootstrap;
        let (caller, decision) = match caller {
            Some(c) => {
                let res = self.user_resource(&new.username, &new.agency, new.clearance, &new.compartments).await?;
                (c.clone(), Some(self.must_manage(c, "user_add", &res).await?))
            }
            None => {
                if self.has_users().await? {
                    return Err(AccessError::Unauthenticated(
                        "users exist: sign in as an administrator to add users (bootstrap only creates the first one)".into(),
                    ));
                }
                if !new.roles.contains(&Role::Administrator) || new.password.is_none() {
                    return Err(AccessError::invalid("roles", "the first user must be an administrator with a password"));
                }
                bootstrap = Caller {
                    principal: Principal {
                        user: "-".into(),
                        agency: new.agency.clone(),
                        country: String::new(),
                        agency_kind: String::new(),
                        roles: BTreeSet::new(),
                        clearance: Level::Unclassified,
                        compartments: BTreeSet::new(),
                    },
                    via: Via::Bootstrap,
                    scopes: None,
                };
                (bootstrap, None)
            }
        };
        let hash = match &new.password {
            Some(p) => Some(hash_password(p).await?),
            None => None,
        };
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        let exists: Option<String> = sqlx::query_scalar("SELECT username FROM access_users WHERE username = $1")
            .bind(&new.username)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(AccessError::Conflict(format!("user {} already exists", new.username)));
        }
        if caller.via == Via::Bootstrap {
            let n: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM access_users").fetch_one(&mut *tx).await?;
            if n > 0 {
                return Err(AccessError::Conflict("another user was created meanwhile; sign in as an administrator".into()));
            }
        }
        sqlx::query(
            "INSERT INTO access_users (username, display_name, agency, roles, clearance, compartments, password_hash, disabled, failed_logins, locked_until_ms, created_ms, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, 0, $8, $9)",
        )
        .bind(&new.username)
        .bind(&new.display_name)
        .bind(&new.agency)
        .bind(join(new.roles.iter().map(|r| r.as_str())))
        .bind(new.clearance.rank())
        .bind(join(&new.compartments))
        .bind(hash.clone())
        .bind(now)
        .bind(&caller.principal.user)
        .execute(&mut *tx)
        .await?;
        let detail = json!({
            "agency": new.agency,
            "roles": new.roles,
            "clearance": new.clearance.banner(),
            "compartments": new.compartments,
            "password": new.password.is_some(),
        });
        AuditLog::append_in(&mut tx, &self.record(&caller, "user_add", "user", &new.username, decision.as_ref(), detail, BTreeSet::new())).await?;
        tx.commit().await?;
        Ok(User {
            username: new.username.clone(),
            display_name: new.display_name.clone(),
            agency: new.agency.clone(),
            roles: new.roles.clone(),
            clearance: new.clearance,
            compartments: new.compartments.clone(),
            has_password: hash.is_some(),
            disabled: false,
            locked_until_ms: 0,
            created_ms: now,
            created_by: caller.principal.user.clone(),
        })
    }

    /// The users `caller` may manage (others are not listed, nor counted).
    pub async fn list_users(&self, caller: &Caller) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM access_users ORDER BY username")).fetch_all(self.store.pool()).await?;
        let mut out = Vec::new();
        let mut any_allowed = None;
        for r in &rows {
            let (u, _, _) = user_from_row(r)?;
            let res = self.user_resource(&u.username, &u.agency, u.clearance, &u.compartments).await?;
            let d = self.decide(caller, &Action::ManageUsers, &res);
            if d.allowed {
                any_allowed.get_or_insert(d);
                out.push(u);
            }
        }
        let d = any_allowed.unwrap_or_else(|| {
            let res = Resource {
                kind: "user".into(),
                id: "*".into(),
                field: "*".into(),
                label: Label::new(Marking::unclassified(), caller.principal.agency.clone(), caller.principal.country.clone()),
                legal_hold: false,
            };
            self.decide(caller, &Action::ManageUsers, &res)
        });
        let rec = self.record(caller, "user_list", "user", "*", Some(&d), json!({"listed": out.len()}), BTreeSet::new());
        self.audit.append(&rec).await?;
        if !d.allowed {
            return Err(AccessError::denied(&caller.principal.user, "list", "users", &d));
        }
        Ok(out)
    }

    /// Enable or disable a user; disabling ends their sessions (tokens stop working too).
    pub async fn set_disabled(&self, caller: &Caller, username: &str, disabled: bool) -> Result<()> {
        let (u, _, _) = self.load_user(username).await?.ok_or_else(|| AccessError::NotFound(format!("no user {username}")))?;
        let res = self.user_resource(&u.username, &u.agency, u.clearance, &u.compartments).await?;
        let what = if disabled { "user_disable" } else { "user_enable" };
        let d = self.must_manage(caller, what, &res).await?;
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        sqlx::query("UPDATE access_users SET disabled = $1, failed_logins = 0, locked_until_ms = 0 WHERE username = $2")
            .bind(i64::from(disabled))
            .bind(username)
            .execute(&mut *tx)
            .await?;
        if disabled {
            sqlx::query("UPDATE access_sessions SET ended_ms = $1 WHERE username = $2 AND ended_ms IS NULL")
                .bind(now)
                .bind(username)
                .execute(&mut *tx)
                .await?;
        }
        AuditLog::append_in(&mut tx, &self.record(caller, what, "user", username, Some(&d), json!({}), BTreeSet::new())).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Set a user's password (an administrator resetting it).
    pub async fn set_password(&self, caller: &Caller, username: &str, password: &str) -> Result<()> {
        validate_password(password)?;
        let (u, _, _) = self.load_user(username).await?.ok_or_else(|| AccessError::NotFound(format!("no user {username}")))?;
        let res = self.user_resource(&u.username, &u.agency, u.clearance, &u.compartments).await?;
        let d = self.must_manage(caller, "password_set", &res).await?;
        let hash = hash_password(password).await?;
        let mut tx = self.store.begin_write().await?;
        sqlx::query("UPDATE access_users SET password_hash = $1, failed_logins = 0, locked_until_ms = 0 WHERE username = $2")
            .bind(hash)
            .bind(username)
            .execute(&mut *tx)
            .await?;
        AuditLog::append_in(&mut tx, &self.record(caller, "password_set", "user", username, Some(&d), json!({}), BTreeSet::new())).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_auth(&self, username: &str, agency: &str, via: &str, action: &str, ok: bool, detail: serde_json::Value) -> Result<()> {
        let rec = AuditRecord {
            at_ms: self.now(),
            actor: username.to_string(),
            agency: agency.to_string(),
            via: via.to_string(),
            action: action.to_string(),
            kind: "user".into(),
            record: username.to_string(),
            allowed: ok,
            policies: vec![],
            policy_sha256: String::new(),
            detail: detail.to_string(),
            subjects: BTreeSet::new(),
        };
        self.audit.append(&rec).await.map(|_| ())
    }

    /// Check a password (every attempt audited; repeated failures lock the account).
    pub async fn check_password(&self, username: &str, password: &str) -> Result<Caller> {
        let generic = || AccessError::Unauthenticated("unknown user or wrong password".into());
        let loaded = if validate_username(username).is_ok() { self.load_user(username).await? } else { None };
        let now = self.now();
        let Some((user, hash, failed)) = loaded else {
            verify_password(password, None).await;
            return Err(generic());
        };
        if user.locked_until_ms > now {
            self.audit_auth(username, &user.agency, "password", "login", false, json!({"reason": "locked"})).await?;
            return Err(AccessError::Unauthenticated(format!(
                "account {username} is locked after {failed} failed sign-ins; try again in {} s or ask an administrator",
                (user.locked_until_ms - now + 999) / 1000
            )));
        }
        if !verify_password(password, hash).await {
            let failed = failed + 1;
            let lock = if failed >= self.config.lockout_after { now + self.config.lockout_ms } else { 0 };
            let mut tx = self.store.begin_write().await?;
            sqlx::query("UPDATE access_users SET failed_logins = $1, locked_until_ms = $2 WHERE username = $3")
                .bind(if lock > 0 { 0 } else { failed })
                .bind(lock)
                .bind(username)
                .execute(&mut *tx)
                .await?;
            let rec = AuditRecord {
                at_ms: now,
                actor: username.to_string(),
                agency: user.agency.clone(),
                via: "password".into(),
                action: "login".into(),
                kind: "user".into(),
                record: username.to_string(),
                allowed: false,
                policies: vec![],
                policy_sha256: String::new(),
                detail: json!({"reason": "wrong password", "locked": lock > 0}).to_string(),
                subjects: BTreeSet::new(),
            };
            AuditLog::append_in(&mut tx, &rec).await?;
            tx.commit().await?;
            return Err(generic());
        }
        if user.disabled {
            self.audit_auth(username, &user.agency, "password", "login", false, json!({"reason": "disabled"})).await?;
            return Err(AccessError::Unauthenticated(format!("account {username} is disabled")));
        }
        let principal = match self.principal_for(&user).await {
            Ok(p) => p,
            Err(e) => {
                self.audit_auth(username, &user.agency, "password", "login", false, json!({"reason": e.to_string()})).await?;
                return Err(e);
            }
        };
        if failed > 0 {
            sqlx::query("UPDATE access_users SET failed_logins = 0 WHERE username = $1").bind(username).execute(self.store.pool()).await?;
        }
        self.audit_auth(username, &user.agency, "password", "login", true, json!({})).await?;
        Ok(Caller { principal, via: Via::Password, scopes: None })
    }

    /// Sign in with a password and open a session.
    pub async fn login(&self, username: &str, password: &str) -> Result<Session> {
        let caller = self.check_password(username, password).await?;
        let secret = format!("{SESSION_PREFIX}{}", random_b64(32));
        let now = self.now();
        let expires_ms = now + self.config.session_ttl_ms;
        sqlx::query("INSERT INTO access_sessions (secret_sha256, username, created_ms, expires_ms, ended_ms) VALUES ($1, $2, $3, $4, NULL)")
            .bind(sha256_hex(&secret))
            .bind(username)
            .bind(now)
            .bind(expires_ms)
            .execute(self.store.pool())
            .await?;
        Ok(Session { secret, expires_ms, caller: Caller { principal: caller.principal, via: Via::Session, scopes: None } })
    }

    /// End a session (unknown or ended sessions are ignored).
    pub async fn logout(&self, secret: &str) -> Result<()> {
        let r = sqlx::query("UPDATE access_sessions SET ended_ms = $1 WHERE secret_sha256 = $2 AND ended_ms IS NULL")
            .bind(self.now())
            .bind(sha256_hex(secret))
            .execute(self.store.pool())
            .await?;
        if r.rows_affected() > 0 {
            let user: Option<String> = sqlx::query_scalar("SELECT username FROM access_sessions WHERE secret_sha256 = $1")
                .bind(sha256_hex(secret))
                .fetch_optional(self.store.pool())
                .await?;
            if let Some(u) = user {
                let agency = self.user(&u).await?.map(|u| u.agency).unwrap_or_default();
                self.audit_auth(&u, &agency, "session", "logout", true, json!({})).await?;
            }
        }
        Ok(())
    }

    /// Who is behind a bearer secret: a device API token (`spt_…`) or a session (`sps_…`).
    /// Expired, revoked, ended or malformed credentials are refused with the reason.
    pub async fn authenticate(&self, secret: &str) -> Result<Caller> {
        let secret = secret.trim();
        let now = self.now();
        if let Some(rest) = secret.strip_prefix(TOKEN_PREFIX) {
            let (id, body) = rest.split_once('_').filter(|(id, b)| id.len() == 16 && !b.is_empty()).ok_or_else(|| {
                AccessError::Unauthenticated("malformed API token (expected spt_<16 hex>_<secret>)".into())
            })?;
            let row = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE id = $1"))
                .bind(id)
                .fetch_optional(self.store.pool())
                .await?;
            let unknown = || AccessError::Unauthenticated("unknown API token".into());
            let Some(row) = row else { return Err(unknown()) };
            let (tok, want) = token_from_row(&row)?;
            if !ct_eq(&want, &sha256_hex(body)) {
                return Err(unknown());
            }
            let via = format!("token:{}", tok.id);
            let agency = self.user(&tok.username).await?.map(|u| u.agency).unwrap_or_default();
            if let Some(at) = tok.revoked_ms {
                self.audit_auth(&tok.username, &agency, &via, "authenticate", false, json!({"reason": "revoked"})).await?;
                return Err(AccessError::Unauthenticated(format!(
                    "API token {} was revoked at {} by {}",
                    tok.id,
                    fmt_ms(at),
                    tok.revoked_by.as_deref().unwrap_or("?")
                )));
            }
            if tok.expires_ms <= now {
                self.audit_auth(&tok.username, &agency, &via, "authenticate", false, json!({"reason": "expired"})).await?;
                return Err(AccessError::Unauthenticated(format!("API token {} expired at {}", tok.id, fmt_ms(tok.expires_ms))));
            }
            let (user, _, _) = self.load_user(&tok.username).await?.ok_or_else(unknown)?;
            if user.disabled {
                self.audit_auth(&tok.username, &agency, &via, "authenticate", false, json!({"reason": "disabled"})).await?;
                return Err(AccessError::Unauthenticated(format!("the account {} of API token {} is disabled", user.username, tok.id)));
            }
            let principal = self.principal_for(&user).await?;
            if tok.last_used_ms.is_none_or(|t| t < now - 60_000) {
                sqlx::query("UPDATE access_tokens SET last_used_ms = $1 WHERE id = $2").bind(now).bind(&tok.id).execute(self.store.pool()).await?;
            }
            return Ok(Caller { principal, via: Via::Token(tok.id), scopes: Some(tok.scopes) });
        }
        if secret.starts_with(SESSION_PREFIX) {
            let row = sqlx::query("SELECT username, expires_ms, ended_ms FROM access_sessions WHERE secret_sha256 = $1")
                .bind(sha256_hex(secret))
                .fetch_optional(self.store.pool())
                .await?;
            let Some(row) = row else { return Err(AccessError::Unauthenticated("unknown session".into())) };
            let username: String = row.try_get(0)?;
            let expires: i64 = row.try_get(1)?;
            let ended: Option<i64> = row.try_get(2)?;
            if let Some(e) = ended {
                return Err(AccessError::Unauthenticated(format!("the session ended at {} (signed out)", fmt_ms(e))));
            }
            if expires <= now {
                return Err(AccessError::Unauthenticated(format!("the session expired at {}; sign in again", fmt_ms(expires))));
            }
            let (user, _, _) =
                self.load_user(&username).await?.ok_or_else(|| AccessError::Unauthenticated("unknown session".into()))?;
            if user.disabled {
                return Err(AccessError::Unauthenticated(format!("account {username} is disabled")));
            }
            return Ok(Caller { principal: self.principal_for(&user).await?, via: Via::Session, scopes: None });
        }
        Err(AccessError::Unauthenticated("not an API token (spt_…) or session (sps_…)".into()))
    }

    /// Issue an API token for `username` (a device acting for that user).
    pub async fn issue_token(&self, caller: &Caller, username: &str, label: &str, scopes: &BTreeSet<String>, ttl_ms: i64) -> Result<IssuedToken> {
        if label.trim().is_empty() || label.chars().count() > 100 || label.chars().any(char::is_control) {
            return Err(AccessError::invalid("token label", "1 to 100 characters naming the device, no control characters"));
        }
        for s in scopes {
            if !Action::NAMES.contains(&s.as_str()) {
                return Err(AccessError::invalid("scopes", format!("unknown scope {s:?}; expected one of {}", Action::NAMES.join(", "))));
            }
        }
        if scopes.is_empty() {
            return Err(AccessError::invalid("scopes", "at least one scope is required"));
        }
        if ttl_ms <= 0 || ttl_ms > self.config.max_token_ttl_ms {
            return Err(AccessError::invalid(
                "token lifetime",
                format!("{} days; must be more than 0 and at most {} days", ttl_ms / 86_400_000, self.config.max_token_ttl_ms / 86_400_000),
            ));
        }
        let (u, _, _) = self.load_user(username).await?.ok_or_else(|| AccessError::NotFound(format!("no user {username}")))?;
        if u.disabled {
            return Err(AccessError::Conflict(format!("user {username} is disabled")));
        }
        let res = self.user_resource(&u.username, &u.agency, u.clearance, &u.compartments).await?;
        let d = self.must_manage(caller, "token_issue", &res).await?;
        let id = random_hex(8);
        let body = random_b64(32);
        let now = self.now();
        let info = TokenInfo {
            id: id.clone(),
            username: username.to_string(),
            label: label.to_string(),
            scopes: scopes.clone(),
            created_ms: now,
            expires_ms: now + ttl_ms,
            revoked_ms: None,
            revoked_by: None,
            last_used_ms: None,
        };
        let mut tx = self.store.begin_write().await?;
        sqlx::query(&format!("INSERT INTO access_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, NULL, $7)"))
            .bind(&id)
            .bind(username)
            .bind(label)
            .bind(join(scopes))
            .bind(now)
            .bind(info.expires_ms)
            .bind(sha256_hex(&body))
            .execute(&mut *tx)
            .await?;
        let detail = json!({"user": username, "label": label, "scopes": scopes, "expires_ms": info.expires_ms});
        AuditLog::append_in(&mut tx, &self.record(caller, "token_issue", "token", &id, Some(&d), detail, BTreeSet::new())).await?;
        tx.commit().await?;
        Ok(IssuedToken { token: info, secret: format!("{TOKEN_PREFIX}{id}_{body}") })
    }

    /// Revoke a token: its owner, or whoever may manage the owner's account.
    pub async fn revoke_token(&self, caller: &Caller, id: &str) -> Result<TokenInfo> {
        let row = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.pool())
            .await?;
        let Some(row) = row else { return Err(AccessError::NotFound(format!("no API token {id}"))) };
        let (mut tok, _) = token_from_row(&row)?;
        if let Some(at) = tok.revoked_ms {
            return Err(AccessError::Conflict(format!("API token {id} was already revoked at {}", fmt_ms(at))));
        }
        let d = if tok.username == caller.principal.user {
            None
        } else {
            let (u, _, _) = self.load_user(&tok.username).await?.ok_or_else(|| AccessError::corrupt(format!("token {id}"), "no such user"))?;
            let res = self.user_resource(&u.username, &u.agency, u.clearance, &u.compartments).await?;
            Some(self.must_manage(caller, "token_revoke", &res).await?)
        };
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        sqlx::query("UPDATE access_tokens SET revoked_ms = $1, revoked_by = $2 WHERE id = $3 AND revoked_ms IS NULL")
            .bind(now)
            .bind(&caller.principal.user)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        AuditLog::append_in(&mut tx, &self.record(caller, "token_revoke", "token", id, d.as_ref(), json!({"user": tok.username}), BTreeSet::new()))
            .await?;
        tx.commit().await?;
        tok.revoked_ms = Some(now);
        tok.revoked_by = Some(caller.principal.user.clone());
        Ok(tok)
    }

    /// Tokens of `username` (all users when `None`) that `caller` may manage, or their own.
    pub async fn list_tokens(&self, caller: &Caller, username: Option<&str>) -> Result<Vec<TokenInfo>> {
        let by_user = format!("SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE username = $1 ORDER BY created_ms, id");
        let all = format!("SELECT {TOKEN_COLUMNS} FROM access_tokens ORDER BY created_ms, id");
        let rows = match username {
            Some(u) => sqlx::query(&by_user).bind(u),
            None => sqlx::query(&all),
        }
        .fetch_all(self.store.pool())
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let (t, _) = token_from_row(r)?;
            let mine = t.username == caller.principal.user;
            let ok = mine || {
                match self.user(&t.username).await? {
                    Some(u) => {
                        let res = self.user_resource(&u.username, &u.agency, u.clearance, &u.compartments).await?;
                        self.decide(caller, &Action::ManageUsers, &res).allowed
                    }
                    None => false,
                }
            };
            if ok {
                out.push(t);
            }
        }
        Ok(out)
    }
}

/// `2026-03-01T12:00:00Z` for a millisecond timestamp.
pub fn fmt_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_verify_and_differ() {
        let a = hash_password_blocking("correct horse battery").unwrap();
        let b = hash_password_blocking("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "salted");
        assert!(verify_password_blocking("correct horse battery", &a));
        assert!(!verify_password_blocking("correct horse batterx", &a));
        assert!(!verify_password_blocking("x", "not a phc string"));
    }

    #[test]
    fn input_validation_names_the_field() {
        assert!(validate_username("odni.analyst").is_ok());
        for bad in ["ab", "Odni", ".x12", "a b c", &"x".repeat(65)] {
            let e = validate_username(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid username"), "{e}");
        }
        assert!(validate_password("short").unwrap_err().to_string().contains("at least 12"));
        assert!(validate_password("twelve chars\u{7}x").unwrap_err().to_string().contains("control"));
        assert_eq!(parse_roles("coordinator, planner").unwrap().len(), 2);
        assert!(parse_roles("coordinater").unwrap_err().to_string().contains("unknown role"));
        assert!(parse_roles("").unwrap_err().to_string().contains("at least one"));
        assert_eq!(parse_compartments("HVD,CT-NES").unwrap().len(), 2);
        assert!(parse_compartments("").unwrap().is_empty());
        assert!(parse_compartments("HVD,hvd").unwrap_err().to_string().contains("entry 2"));
        assert!(parse_scopes("read,write").is_ok());
        assert!(parse_scopes("read,delete").unwrap_err().to_string().contains("delete"));
    }
}
