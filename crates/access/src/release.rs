//! Release of records for legal proceedings.
//!
//! 1. **Request** ([`Access::request_release`]): a legal officer or coordinator
//!    names people, the field groups to release, a recipient (a court), a case
//!    and the downgraded marking. Cedar must allow `request_release` on every
//!    included part. The originals are snapshotted with a fresh 256-bit salt, so
//!    what is approved is exactly what is released.
//! 2. **Approve** ([`Access::approve_release`]): every originating agency of
//!    the included parts (capacity `originator`, through its own coordinator or
//!    legal officer) and a release authority (a legal officer). Cedar decides
//!    each approval with the requester and the earlier approvers in context:
//!    the requester cannot approve, nobody approves twice, an agency approves
//!    only for its own parts. Refusals are audited and change nothing.
//! 3. **Issue** (with the last approval, in the same transaction): a
//!    [`ReleaseDocument`] of derived records: the included field groups
//!    verbatim, the others replaced by redaction entries, each carrying
//!    `SHA-256(domain ‖ salt ‖ pointer ‖ canonical JSON of the withheld value)`,
//!    the whole original referred to by `original_sha256`, everything under the
//!    downgraded marking, the audit head at issue, and the document's own
//!    SHA-256. The salt stays in the store: the hashes commit to the original
//!    without letting anyone guess short withheld values.
//! 4. **Verify** ([`Access::verify_release`]): recompute every hash from the
//!    stored snapshot, check the included values equal the original's, the
//!    approvals, the audit entries of every step and the audit chain itself.
//!
//! Every step (including refused ones) is an audit entry on `release/<id>`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::audit::{AuditHead, AuditLog};
use crate::authz::Decision;
use crate::error::{AccessError, Result};
use crate::identity::fmt_ms;
use crate::marking::Marking;
use crate::people::{group_keys, GROUPS};
use crate::principal::{Action, Capacity, Label, Resource};
use crate::redact::{MarkedRecord, Redacted};
use crate::service::{Access, Caller};

pub const DOCUMENT_FORMAT: &str = "sallyport-release-v1";
const ORIGINAL_DOMAIN: &[u8] = b"sallyport-release-original-v1\0";
const REDACTION_DOMAIN: &[u8] = b"sallyport-release-redaction-v1\0";
/// Most people in one release.
pub const MAX_RECORDS: usize = 1000;

/// What a requester asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRequest {
    pub people: Vec<String>,
    /// Field groups to release (`custody`, `identity`, `medical`, `risk`, `intel_notes`).
    pub fields: BTreeSet<String>,
    /// The court (or other recipient).
    pub recipient: String,
    pub case_ref: String,
    pub purpose: String,
    /// The downgraded marking of the released records.
    pub marking: Marking,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseStatus {
    Pending,
    Issued,
    Withdrawn,
}

impl ReleaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Pending => "pending",
            ReleaseStatus::Issued => "issued",
            ReleaseStatus::Withdrawn => "withdrawn",
        }
    }
    fn parse(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(ReleaseStatus::Pending),
            "issued" => Ok(ReleaseStatus::Issued),
            "withdrawn" => Ok(ReleaseStatus::Withdrawn),
            _ => Err(AccessError::corrupt("release status", s)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub capacity: Capacity,
    /// The originating agency approved for, or the release authority's agency.
    pub agency: String,
    pub approver: String,
    pub at_ms: i64,
}

/// A release as stored (without the originals).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    pub id: String,
    pub requester: String,
    pub requester_agency: String,
    pub recipient: String,
    pub case_ref: String,
    pub purpose: String,
    pub marking: Marking,
    pub fields: BTreeSet<String>,
    /// Agencies whose approval as originator is needed.
    pub originators: BTreeSet<String>,
    pub status: ReleaseStatus,
    pub created_ms: i64,
    pub issued_ms: Option<i64>,
    pub people: Vec<String>,
    pub approvals: Vec<Approval>,
    pub document_sha256: Option<String>,
}

impl Release {
    /// Approvals still needed: `originator AGENCY` and/or `release_authority`.
    pub fn missing_approvals(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .originators
            .iter()
            .filter(|a| !self.approvals.iter().any(|p| p.capacity == Capacity::Originator && &p.agency == *a))
            .map(|a| format!("originator {a}"))
            .collect();
        if !self.approvals.iter().any(|p| p.capacity == Capacity::ReleaseAuthority) {
            out.push("release_authority".into());
        }
        out
    }
}

/// One withheld part of an original.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactionRef {
    /// JSON pointer of the withheld part in the original.
    pub pointer: String,
    /// Salted SHA-256 of the withheld value.
    pub sha256: String,
}

/// A released record derived from an original.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedRecord {
    pub kind: String,
    pub id: String,
    /// The downgraded marking (banner).
    pub marking: String,
    pub content: Value,
    pub redactions: Vec<RedactionRef>,
    /// Salted SHA-256 of the whole original.
    pub original_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    pub user: String,
    pub agency: String,
}

/// The document handed to the recipient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseDocument {
    pub format: String,
    pub release: String,
    /// Banner marking of the whole document.
    pub marking: String,
    pub recipient: String,
    pub case_ref: String,
    pub purpose: String,
    pub requested_by: Party,
    pub approvals: Vec<Approval>,
    pub issued_at: String,
    pub records: Vec<DerivedRecord>,
    /// The audit log's head when the release was approved (anchors the log).
    pub audit_head: AuditHead,
    /// SHA-256 of the canonical JSON of this document without this field.
    pub sha256: String,
}

/// Canonical JSON: object keys sorted, no whitespace (numbers and strings as serde_json prints them).
pub fn canonical(v: &Value) -> String {
    fn go(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                out.push('{');
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    go(&m[k], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    go(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut s = String::new();
    go(v, &mut s);
    s
}

fn salted(domain: &[u8], salt: &[u8], parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    h.update(domain);
    h.update(salt);
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

/// Commitment to a whole original.
pub fn original_sha256(salt: &[u8], original: &Value) -> String {
    salted(ORIGINAL_DOMAIN, salt, &[canonical(original).as_bytes()])
}

/// Commitment to one withheld part.
pub fn redaction_sha256(salt: &[u8], pointer: &str, value: &Value) -> String {
    salted(REDACTION_DOMAIN, salt, &[pointer.as_bytes(), canonical(value).as_bytes()])
}

/// Top-level JSON keys a set of field groups releases (`id` always).
pub fn released_keys(fields: &BTreeSet<String>) -> BTreeSet<String> {
    let mut keys: BTreeSet<String> = BTreeSet::from(["id".to_string()]);
    for f in fields {
        if f == "intel_notes" {
            keys.insert("intel_notes".into());
        } else {
            keys.extend(group_keys(f).iter().map(|k| k.to_string()));
        }
    }
    keys
}

/// Derive the released record from an original: included keys verbatim,
/// the rest replaced by salted commitments (one per top-level key).
pub fn derive(kind: &str, id: &str, original: &Value, fields: &BTreeSet<String>, marking: &Marking, salt: &[u8]) -> DerivedRecord {
    let keys = released_keys(fields);
    let mut content = Map::new();
    let mut redactions = Vec::new();
    if let Value::Object(m) = original {
        let mut names: Vec<&String> = m.keys().collect();
        names.sort();
        for k in names {
            if keys.contains(k) {
                content.insert(k.clone(), m[k].clone());
            } else {
                let pointer = format!("/{}", k.replace('~', "~0").replace('/', "~1"));
                redactions.push(RedactionRef { sha256: redaction_sha256(salt, &pointer, &m[k]), pointer });
            }
        }
    }
    // Released notes carry the downgraded marking, not their original one.
    if let Some(Value::Array(notes)) = content.get_mut("intel_notes") {
        for n in notes {
            if let Value::Object(o) = n {
                o.insert("marking".into(), Value::String(marking.portion()));
            }
        }
    }
    DerivedRecord {
        kind: kind.to_string(),
        id: id.to_string(),
        marking: marking.banner(),
        content: Value::Object(content),
        redactions,
        original_sha256: original_sha256(salt, original),
    }
}

impl ReleaseDocument {
    fn body_hash(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.remove("sha256");
        }
        hex::encode(Sha256::digest(canonical(&v).as_bytes()))
    }

    /// Parse a document strictly and check its own hash (what a recipient can check offline).
    pub fn parse(text: &str) -> Result<ReleaseDocument> {
        let doc: ReleaseDocument = serde_json::from_str(text).map_err(|e| {
            AccessError::invalid("release document", format!("line {} column {}: {e}", e.line(), e.column()))
        })?;
        if doc.format != DOCUMENT_FORMAT {
            return Err(AccessError::invalid("release document", format!("format {:?}, expected {DOCUMENT_FORMAT:?}", doc.format)));
        }
        Marking::parse(&doc.marking).map_err(|e| AccessError::invalid("release document marking", e.to_string()))?;
        let h = doc.body_hash();
        if h != doc.sha256 {
            return Err(AccessError::invalid(
                "release document",
                format!("its sha256 {} does not match its contents ({h}): the document was altered", doc.sha256),
            ));
        }
        Ok(doc)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// What a requester or approver sees of a release.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReleaseView {
    pub release: Release,
    /// Before issue: the derived content as the caller may see it; after: empty.
    pub preview: Vec<Redacted>,
    /// After issue, to whoever may read the downgraded marking.
    pub document: Option<ReleaseDocument>,
    pub missing_approvals: Vec<String>,
}

/// One check of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseVerification {
    pub release: String,
    pub ok: bool,
    pub checks: Vec<Check>,
}

/// A snapshot row: the original and its labels.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Labels {
    label: Label,
    parts: BTreeMap<String, (String, Label)>,
    legal_hold: bool,
}

fn validate_text(field: &str, s: &str, min: usize, max: usize) -> Result<()> {
    let n = s.trim().chars().count();
    if n < min || n > max {
        return Err(AccessError::invalid(field, format!("{n} characters; {min} to {max} are accepted")));
    }
    if s.chars().any(char::is_control) {
        return Err(AccessError::invalid(field, "control characters are not allowed"));
    }
    Ok(())
}

/// The labelled parts of a snapshot that a release includes: (field group, label).
fn included_parts(rec: &MarkedRecord, fields: &BTreeSet<String>) -> Vec<(String, Label)> {
    let mut out = Vec::new();
    if fields.contains("custody") || fields.is_empty() {
        out.push(("custody".to_string(), rec.label.clone()));
    }
    for (field, label) in rec.parts.values() {
        if fields.contains(field) {
            out.push((field.clone(), label.clone()));
        }
    }
    out
}

/// Who takes part in a release sees its metadata and a preview (content
/// still filtered by the policy, part by part): the requester, the approvers,
/// members of the originating agencies, and legal officers (release authorities).
fn may_see_pending(caller: &Caller, rel: &Release) -> bool {
    let p = &caller.principal;
    rel.requester == p.user
        || rel.approvals.iter().any(|a| a.approver == p.user)
        || rel.originators.contains(&p.agency)
        || p.roles.contains(&crate::principal::Role::LegalOfficer)
}

impl Access {
    fn release_resource(&self, r: &Release) -> Resource {
        let country = String::new();
        Resource {
            kind: "release".into(),
            id: r.id.clone(),
            field: "*".into(),
            label: Label::new(r.marking.clone(), r.requester_agency.clone(), country),
            legal_hold: false,
        }
    }

    /// Ask for a release. Refused (and audited) unless the policy lets the caller
    /// `request_release` every included part; nothing is stored then.
    pub async fn request_release(&self, caller: &Caller, req: &ReleaseRequest) -> Result<Release> {
        if req.people.is_empty() || req.people.len() > MAX_RECORDS {
            return Err(AccessError::invalid("people", format!("{} named; 1 to {MAX_RECORDS} per release", req.people.len())));
        }
        let mut seen = BTreeSet::new();
        for p in &req.people {
            p.parse::<sallyport_core::PersonId>().map_err(|e| AccessError::invalid("people", format!("{p:?}: {e}")))?;
            if !seen.insert(p.clone()) {
                return Err(AccessError::invalid("people", format!("{p} named twice")));
            }
        }
        if req.fields.is_empty() {
            return Err(AccessError::invalid("fields", format!("name at least one field group ({})", GROUPS.join(", "))));
        }
        for f in &req.fields {
            if !GROUPS.contains(&f.as_str()) {
                return Err(AccessError::invalid("fields", format!("unknown field group {f:?}; expected {}", GROUPS.join(", "))));
            }
        }
        validate_text("recipient", &req.recipient, 1, 200)?;
        validate_text("case reference", &req.case_ref, 1, 100)?;
        validate_text("purpose", &req.purpose, 0, 1000)?;
        req.marking.validate()?;

        let mut snapshots = Vec::with_capacity(req.people.len());
        let mut originators = BTreeSet::new();
        let mut decision: Option<Decision> = None;
        for p in &req.people {
            let Some((_, rec)) = self.marked_person(p).await? else {
                return Err(AccessError::NotFound(format!("no person {p} visible to {}", caller.principal.user)));
            };
            let mut filter = self.filter(caller);
            if !filter.decide("person", "*", &rec.label, rec.legal_hold).allowed {
                return Err(AccessError::NotFound(format!("no person {p} visible to {}", caller.principal.user)));
            }
            for (field, label) in included_parts(&rec, &req.fields) {
                let res = Resource { kind: "person".into(), id: p.clone(), field: field.clone(), label: label.clone(), legal_hold: rec.legal_hold };
                let d = self.decide(caller, &Action::RequestRelease, &res);
                if !d.allowed {
                    let detail = json!({"person": p, "field": field, "reasons": d.reasons});
                    let rec = self.record(caller, "release_request", "release", "-", Some(&d), detail, BTreeSet::from([p.clone()]));
                    self.audit.append(&rec).await?;
                    return Err(AccessError::denied(&caller.principal.user, "request_release", format!("person {p} ({field})"), &d));
                }
                originators.insert(label.originator.clone());
                decision.get_or_insert(d);
            }
            snapshots.push(rec);
        }
        let decision = decision.unwrap_or(Decision { allowed: true, policies: vec![], reasons: vec![] });
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        // Serialise id allocation with the audit log's lock.
        sqlx::query("UPDATE access_audit_state SET size = size WHERE id = 1").execute(&mut *tx).await?;
        let n: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM access_releases").fetch_one(&mut *tx).await?;
        let id = format!("REL-{:06}", n + 1);
        let fields: Vec<&str> = req.fields.iter().map(String::as_str).collect();
        sqlx::query(
            "INSERT INTO access_releases (id, requester, requester_agency, recipient, case_ref, purpose, target_marking, fields, originators, status, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10)",
        )
        .bind(&id)
        .bind(&caller.principal.user)
        .bind(&caller.principal.agency)
        .bind(req.recipient.trim())
        .bind(req.case_ref.trim())
        .bind(req.purpose.trim())
        .bind(req.marking.banner())
        .bind(fields.join(","))
        .bind(originators.iter().cloned().collect::<Vec<_>>().join(","))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for rec in &snapshots {
            let mut salt = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut salt);
            let labels = Labels { label: rec.label.clone(), parts: rec.parts.clone(), legal_hold: rec.legal_hold };
            sqlx::query("INSERT INTO access_release_records (release_id, kind, record, original, labels, salt) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&id)
                .bind(&rec.kind)
                .bind(&rec.id)
                .bind(canonical(&rec.value))
                .bind(serde_json::to_string(&labels).map_err(|e| AccessError::corrupt("labels", e))?)
                .bind(hex::encode(salt))
                .execute(&mut *tx)
                .await?;
        }
        let subjects: BTreeSet<String> = req.people.iter().cloned().collect();
        let detail = json!({
            "recipient": req.recipient.trim(), "case": req.case_ref.trim(), "fields": req.fields,
            "marking": req.marking.banner(), "originators": originators,
        });
        AuditLog::append_in(&mut tx, &self.record(caller, "release_request", "release", &id, Some(&decision), detail, subjects)).await?;
        tx.commit().await?;
        self.load_release(&id).await?.ok_or_else(|| AccessError::corrupt("release", "vanished after insert"))
    }

    /// A release as stored (no authorisation: crate-internal and for tests).
    pub async fn load_release(&self, id: &str) -> Result<Option<Release>> {
        let row = sqlx::query(
            "SELECT id, requester, requester_agency, recipient, case_ref, purpose, target_marking, fields, originators, status, created_ms, issued_ms, document_sha256 \
             FROM access_releases WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let bad = |why: String| AccessError::corrupt(format!("release {id}"), why);
        let marking: String = r.try_get(6)?;
        let fields: String = r.try_get(7)?;
        let originators: String = r.try_get(8)?;
        let status: String = r.try_get(9)?;
        let people: Vec<String> = sqlx::query_scalar("SELECT record FROM access_release_records WHERE release_id = $1 ORDER BY record")
            .bind(id)
            .fetch_all(self.store.pool())
            .await?;
        let approvals = sqlx::query("SELECT capacity, agency, approver, at_ms FROM access_release_approvals WHERE release_id = $1 ORDER BY at_ms, capacity")
            .bind(id)
            .fetch_all(self.store.pool())
            .await?
            .iter()
            .map(|a| {
                let cap: String = a.try_get(0)?;
                Ok(Approval {
                    capacity: Capacity::parse(&cap).map_err(bad)?,
                    agency: a.try_get(1)?,
                    approver: a.try_get(2)?,
                    at_ms: a.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Release {
            id: r.try_get(0)?,
            requester: r.try_get(1)?,
            requester_agency: r.try_get(2)?,
            recipient: r.try_get(3)?,
            case_ref: r.try_get(4)?,
            purpose: r.try_get(5)?,
            marking: Marking::parse(&marking).map_err(|e| bad(e.to_string()))?,
            fields: fields.split(',').map(str::to_string).collect(),
            originators: originators.split(',').map(str::to_string).collect(),
            status: ReleaseStatus::parse(&status)?,
            created_ms: r.try_get(10)?,
            issued_ms: r.try_get(11)?,
            people,
            approvals,
            document_sha256: r.try_get(12)?,
        }))
    }

    /// The snapshots of a release: (record, salt).
    async fn snapshots(&self, id: &str) -> Result<Vec<(MarkedRecord, Vec<u8>)>> {
        let rows = sqlx::query("SELECT kind, record, original, labels, salt FROM access_release_records WHERE release_id = $1 ORDER BY record")
            .bind(id)
            .fetch_all(self.store.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let rid: String = r.try_get(1)?;
                let bad = |why: String| AccessError::corrupt(format!("release {id} record {rid}"), why);
                let original: String = r.try_get(2)?;
                let labels: String = r.try_get(3)?;
                let salt: String = r.try_get(4)?;
                let value: Value = serde_json::from_str(&original).map_err(|e| bad(e.to_string()))?;
                let labels: Labels = serde_json::from_str(&labels).map_err(|e| bad(e.to_string()))?;
                let salt = hex::decode(salt).map_err(|e| bad(e.to_string()))?;
                Ok((
                    MarkedRecord { kind: r.try_get(0)?, id: rid.clone(), value, label: labels.label, parts: labels.parts, legal_hold: labels.legal_hold },
                    salt,
                ))
            })
            .collect()
    }

    /// Approve a release in `capacity`. With the last approval needed, the
    /// release is issued in the same transaction. Refusals are audited.
    pub async fn approve_release(&self, caller: &Caller, id: &str, capacity: Capacity) -> Result<Release> {
        let Some(rel) = self.load_release(id).await? else { return Err(AccessError::NotFound(format!("no release {id}"))) };
        if rel.status != ReleaseStatus::Pending {
            return Err(AccessError::Conflict(format!("release {id} is {}; only a pending release can be approved", rel.status.as_str())));
        }
        let agency = caller.principal.agency.clone();
        if capacity == Capacity::Originator && rel.approvals.iter().any(|a| a.capacity == capacity && a.agency == agency) {
            return Err(AccessError::Conflict(format!("release {id} is already approved for originator {agency}")));
        }
        if capacity == Capacity::ReleaseAuthority && rel.approvals.iter().any(|a| a.capacity == capacity) {
            return Err(AccessError::Conflict(format!("release {id} already has its release authority approval")));
        }
        let snaps = self.snapshots(id).await?;
        let action = Action::ApproveRelease {
            requester: rel.requester.clone(),
            capacity,
            other_approvers: rel.approvals.iter().map(|a| a.approver.clone()).collect(),
        };
        // The parts this approval answers for.
        let mut parts: Vec<(String, String, Label, bool)> = Vec::new();
        for (rec, _) in &snaps {
            for (field, label) in included_parts(rec, &rel.fields) {
                if capacity == Capacity::ReleaseAuthority || label.originator == agency {
                    parts.push((rec.id.clone(), field, label, rec.legal_hold));
                }
            }
        }
        let wrong_agency = parts.is_empty();
        if wrong_agency {
            // Not an originator of anything here: let the policy say no on the first part.
            if let Some((rec, _)) = snaps.first()
                && let Some((field, label)) = included_parts(rec, &rel.fields).into_iter().next()
            {
                parts.push((rec.id.clone(), field, label, rec.legal_hold));
            }
        }
        let mut decision: Option<Decision> = None;
        for (pid, field, label, hold) in &parts {
            let res = Resource { kind: "person".into(), id: pid.clone(), field: field.clone(), label: label.clone(), legal_hold: *hold };
            let d = self.decide(caller, &action, &res);
            if !d.allowed || wrong_agency {
                let mut reasons = d.reasons.clone();
                if wrong_agency {
                    reasons.push(format!(
                        "{agency} is not an originating agency of release {id} (originators: {})",
                        rel.originators.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
                let denied = Decision { allowed: false, policies: d.policies.clone(), reasons };
                let detail = json!({"capacity": capacity.as_str(), "person": pid, "field": field, "reasons": denied.reasons});
                let subjects: BTreeSet<String> = rel.people.iter().cloned().collect();
                self.audit.append(&self.record(caller, "release_approve", "release", id, Some(&denied), detail, subjects)).await?;
                return Err(AccessError::denied(&caller.principal.user, &format!("approve as {}", capacity.as_str()), format!("release {id}"), &denied));
            }
            decision.get_or_insert(d);
        }
        let decision = decision.ok_or_else(|| AccessError::corrupt(format!("release {id}"), "no records"))?;
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        sqlx::query("UPDATE access_audit_state SET size = size WHERE id = 1").execute(&mut *tx).await?;
        let status: String = sqlx::query_scalar("SELECT status FROM access_releases WHERE id = $1").bind(id).fetch_one(&mut *tx).await?;
        if status != "pending" {
            return Err(AccessError::Conflict(format!("release {id} changed meanwhile (now {status})")));
        }
        sqlx::query("INSERT INTO access_release_approvals (release_id, capacity, agency, approver, requester, at_ms, policies) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(id)
            .bind(capacity.as_str())
            .bind(&agency)
            .bind(&caller.principal.user)
            .bind(&rel.requester)
            .bind(now)
            .bind(decision.policies.join(","))
            .execute(&mut *tx)
            .await
            .map_err(|e| AccessError::Conflict(format!("approval of release {id} refused by the store: {e}")))?;
        let subjects: BTreeSet<String> = rel.people.iter().cloned().collect();
        let detail = json!({"capacity": capacity.as_str(), "for_agency": agency});
        let entry = AuditLog::append_in(&mut tx, &self.record(caller, "release_approve", "release", id, Some(&decision), detail, subjects.clone())).await?;
        let mut after = rel.clone();
        after.approvals.push(Approval { capacity, agency, approver: caller.principal.user.clone(), at_ms: now });
        if after.missing_approvals().is_empty() {
            let head = AuditHead { size: entry.seq + 1, hash: entry.hash.clone() };
            let doc = self.build_document(&after, &snaps, now, head);
            let text = doc.to_json();
            sqlx::query("UPDATE access_releases SET status = 'issued', issued_ms = $1, document = $2, document_sha256 = $3 WHERE id = $4")
                .bind(now)
                .bind(&text)
                .bind(&doc.sha256)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let detail = json!({"document_sha256": doc.sha256, "records": doc.records.len(), "marking": doc.marking, "recipient": doc.recipient});
            let issue = crate::audit::AuditRecord {
                action: "release_issue".into(),
                ..self.record(caller, "release_issue", "release", id, Some(&decision), detail, subjects)
            };
            AuditLog::append_in(&mut tx, &issue).await?;
        }
        tx.commit().await?;
        self.load_release(id).await?.ok_or_else(|| AccessError::corrupt("release", "vanished"))
    }

    fn build_document(&self, rel: &Release, snaps: &[(MarkedRecord, Vec<u8>)], now: i64, head: AuditHead) -> ReleaseDocument {
        let records = snaps.iter().map(|(rec, salt)| derive(&rec.kind, &rec.id, &rec.value, &rel.fields, &rel.marking, salt)).collect();
        let mut doc = ReleaseDocument {
            format: DOCUMENT_FORMAT.into(),
            release: rel.id.clone(),
            marking: rel.marking.banner(),
            recipient: rel.recipient.clone(),
            case_ref: rel.case_ref.clone(),
            purpose: rel.purpose.clone(),
            requested_by: Party { user: rel.requester.clone(), agency: rel.requester_agency.clone() },
            approvals: rel.approvals.clone(),
            issued_at: fmt_ms(now),
            records,
            audit_head: head,
            sha256: String::new(),
        };
        doc.sha256 = doc.body_hash();
        doc
    }

    /// Withdraw a pending release (its requester only).
    pub async fn withdraw_release(&self, caller: &Caller, id: &str) -> Result<()> {
        let Some(rel) = self.load_release(id).await? else { return Err(AccessError::NotFound(format!("no release {id}"))) };
        if rel.requester != caller.principal.user {
            return Err(AccessError::Denied {
                who: caller.principal.user.clone(),
                action: "withdraw".into(),
                target: format!("release {id}"),
                reasons: vec![format!("only the requester {} may withdraw it", rel.requester)],
                policies: vec![],
            });
        }
        if rel.status != ReleaseStatus::Pending {
            return Err(AccessError::Conflict(format!("release {id} is {}", rel.status.as_str())));
        }
        let mut tx = self.store.begin_write().await?;
        sqlx::query("UPDATE access_releases SET status = 'withdrawn' WHERE id = $1 AND status = 'pending'").bind(id).execute(&mut *tx).await?;
        let subjects: BTreeSet<String> = rel.people.iter().cloned().collect();
        AuditLog::append_in(&mut tx, &self.record(caller, "release_withdraw", "release", id, None, json!({}), subjects)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Show a release: it is visible to whoever may read its (downgraded)
    /// marking; before issue, the preview shows each caller only what they may
    /// read of the originals. Audited.
    pub async fn show_release(&self, caller: &Caller, id: &str) -> Result<ReleaseView> {
        let Some(rel) = self.load_release(id).await? else { return Err(AccessError::NotFound(format!("no release {id}"))) };
        let res = self.release_resource(&rel);
        let d = self.decide(caller, &Action::Read, &res);
        if !d.allowed && !may_see_pending(caller, &rel) {
            self.audit.append(&self.record(caller, "release_show", "release", id, Some(&d), json!({}), BTreeSet::new())).await?;
            return Err(AccessError::NotFound(format!("no release {id} visible to {}", caller.principal.user)));
        }
        let mut view = ReleaseView { missing_approvals: rel.missing_approvals(), release: rel.clone(), preview: vec![], document: None };
        let mut subjects = BTreeSet::new();
        match rel.status {
            ReleaseStatus::Issued if d.allowed => {
                let text: Option<String> =
                    sqlx::query_scalar("SELECT document FROM access_releases WHERE id = $1").bind(id).fetch_one(self.store.pool()).await?;
                let doc = ReleaseDocument::parse(text.as_deref().unwrap_or(""))
                    .map_err(|e| AccessError::corrupt(format!("release {id} document"), e))?;
                subjects.extend(doc.records.iter().map(|r| r.id.clone()));
                view.document = Some(doc);
            }
            _ => {
                // The preview: what the release would contain, filtered for this caller.
                let keys = released_keys(&rel.fields);
                let mut filter = self.filter(caller);
                for (mut rec, _) in self.snapshots(id).await? {
                    if let Value::Object(m) = &mut rec.value {
                        m.retain(|k, _| keys.contains(k));
                    }
                    if let Some(r) = filter.redact(&rec) {
                        subjects.insert(r.id.clone());
                        view.preview.push(r);
                    }
                }
                view.release.people.retain(|p| subjects.contains(p));
            }
        }
        let detail = json!({"status": rel.status.as_str(), "document": view.document.is_some(), "preview": view.preview.len()});
        self.audit.append(&self.record(caller, "release_show", "release", id, Some(&d), detail, subjects)).await?;
        Ok(view)
    }

    /// Releases the caller may see (same rule as [`Access::show_release`], without contents).
    pub async fn list_releases(&self, caller: &Caller) -> Result<Vec<Release>> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM access_releases ORDER BY id").fetch_all(self.store.pool()).await?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(rel) = self.load_release(&id).await? {
                let d = self.decide(caller, &Action::Read, &self.release_resource(&rel));
                if d.allowed || may_see_pending(caller, &rel) {
                    out.push(rel);
                }
            }
        }
        Ok(out)
    }

    /// Verify a released document (the stored one, or `document` — e.g. the copy
    /// a court holds) back to the originals. Needs `read_audit` on the release.
    pub async fn verify_release(&self, caller: &Caller, id: &str, document: Option<&str>) -> Result<ReleaseVerification> {
        let Some(rel) = self.load_release(id).await? else { return Err(AccessError::NotFound(format!("no release {id}"))) };
        let mut res = self.release_resource(&rel);
        // Verification reveals no content, only whether the hashes hold.
        res.label.marking = Marking::unclassified().into();
        let d = self.decide(caller, &Action::ReadAudit, &res);
        if !d.allowed {
            self.audit.append(&self.record(caller, "release_verify", "release", id, Some(&d), json!({}), BTreeSet::new())).await?;
            return Err(AccessError::denied(&caller.principal.user, "verify", format!("release {id}"), &d));
        }
        let mut checks = Vec::new();
        let mut check = |what: &str, ok: bool, detail: String| checks.push(Check { what: what.to_string(), ok, detail });
        let stored: Option<String> =
            sqlx::query_scalar("SELECT document FROM access_releases WHERE id = $1").bind(id).fetch_one(self.store.pool()).await?;
        let Some(stored) = stored else {
            return Err(AccessError::Conflict(format!(
                "release {id} is {}: nothing was released (missing: {})",
                rel.status.as_str(),
                rel.missing_approvals().join(", ")
            )));
        };
        let text = document.unwrap_or(&stored);
        let doc = match ReleaseDocument::parse(text) {
            Ok(doc) => {
                check("document hash", true, format!("sha256 {}", doc.sha256));
                doc
            }
            Err(e) => {
                check("document hash", false, e.to_string());
                return self.finish_verify(caller, &rel, checks, &d).await;
            }
        };
        check(
            "issued document",
            Some(&doc.sha256) == rel.document_sha256.as_ref() && doc.release == rel.id,
            format!("stored release {} has document sha256 {}", rel.id, rel.document_sha256.clone().unwrap_or_default()),
        );
        check("marking", doc.marking == rel.marking.banner(), format!("document {} / approved {}", doc.marking, rel.marking.banner()));
        let two = rel.approvals.iter().map(|a| &a.approver).collect::<BTreeSet<_>>().len() == rel.approvals.len();
        let no_self = rel.approvals.iter().all(|a| a.approver != rel.requester);
        check(
            "approvals",
            rel.missing_approvals().is_empty() && two && no_self && doc.approvals == rel.approvals,
            rel.approvals.iter().map(|a| format!("{} {} ({})", a.capacity.as_str(), a.approver, a.agency)).collect::<Vec<_>>().join("; "),
        );
        let snaps = self.snapshots(id).await?;
        let by_id: BTreeMap<&str, &(MarkedRecord, Vec<u8>)> = snaps.iter().map(|s| (s.0.id.as_str(), s)).collect();
        check(
            "records",
            doc.records.len() == snaps.len() && doc.records.iter().all(|r| by_id.contains_key(r.id.as_str())),
            format!("{} released, {} requested", doc.records.len(), snaps.len()),
        );
        let mut bad = Vec::new();
        for r in &doc.records {
            let Some((orig, salt)) = by_id.get(r.id.as_str()) else { continue };
            if r.original_sha256 != original_sha256(salt, &orig.value) {
                bad.push(format!("{}: original_sha256 does not match the original", r.id));
            }
            let expect = derive(&orig.kind, &orig.id, &orig.value, &rel.fields, &rel.marking, salt);
            if r.content != expect.content {
                bad.push(format!("{}: released content differs from the original", r.id));
            }
            if r.redactions != expect.redactions {
                bad.push(format!("{}: redactions do not hash to the original's withheld parts", r.id));
            }
            if r.marking != rel.marking.banner() {
                bad.push(format!("{}: marking {}", r.id, r.marking));
            }
        }
        check("derived records", bad.is_empty(), if bad.is_empty() { "content equal to the originals; redactions commit to them".into() } else { bad.join("; ") });
        let trail = self.audit.for_record("release", id).await?;
        let has = |a: &str| trail.iter().any(|e| e.record.action == a && e.record.allowed);
        let approvals_logged = trail.iter().filter(|e| e.record.action == "release_approve" && e.record.allowed).count();
        check(
            "audit trail",
            has("release_request") && has("release_issue") && approvals_logged == rel.approvals.len(),
            format!("{} entries for {id} (request, {approvals_logged} approvals, issue)", trail.len()),
        );
        match self.audit.verify_checkpoint(&doc.audit_head).await {
            Ok(()) => check("audit log", true, format!("chain verifies and contains the head {} recorded in the document", doc.audit_head)),
            Err(e) => check("audit log", false, e.to_string()),
        }
        self.finish_verify(caller, &rel, checks, &d).await
    }

    async fn finish_verify(&self, caller: &Caller, rel: &Release, checks: Vec<Check>, d: &Decision) -> Result<ReleaseVerification> {
        let ok = checks.iter().all(|c| c.ok);
        let failed: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.what.as_str()).collect();
        self.audit
            .append(&self.record(caller, "release_verify", "release", &rel.id, Some(d), json!({"ok": ok, "failed": failed}), BTreeSet::new()))
            .await?;
        Ok(ReleaseVerification { release: rel.id.clone(), ok, checks })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_is_stable() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"d":[1,"x"],"c":null}}"#).unwrap();
        assert_eq!(canonical(&a), r#"{"a":{"c":null,"d":[1,"x"]},"b":1}"#);
        let b: Value = serde_json::from_str(r#"{"a":{"c":null,"d":[1,"x"]},"b":1}"#).unwrap();
        assert_eq!(canonical(&a), canonical(&b));
    }

    #[test]
    fn derive_keeps_included_and_commits_to_the_rest() {
        let orig = json!({"id": "P-000001", "site": "S", "custodian": "SDF", "medical": {"fit_to_fly": true}, "intel_notes": [{"marking": "(S)", "text": "t"}]});
        let fields = BTreeSet::from(["custody".to_string()]);
        let m = Marking::parse("UNCLASSIFIED//REL TO IRQ").unwrap();
        let d = derive("person", "P-000001", &orig, &fields, &m, &[7u8; 32]);
        assert_eq!(d.content, json!({"id": "P-000001", "site": "S", "custodian": "SDF"}));
        let ptrs: Vec<&str> = d.redactions.iter().map(|r| r.pointer.as_str()).collect();
        assert_eq!(ptrs, ["/intel_notes", "/medical"]);
        assert_eq!(d.redactions[1].sha256, redaction_sha256(&[7u8; 32], "/medical", &json!({"fit_to_fly": true})));
        // Another salt gives other hashes: short withheld values cannot be guessed.
        let d2 = derive("person", "P-000001", &orig, &fields, &m, &[8u8; 32]);
        assert_ne!(d.original_sha256, d2.original_sha256);
        let with_notes = derive("person", "P-000001", &orig, &BTreeSet::from(["intel_notes".to_string()]), &m, &[7u8; 32]);
        assert_eq!(with_notes.content["intel_notes"][0]["marking"], json!("(U//REL TO IRQ)"));
    }
}
