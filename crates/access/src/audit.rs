//! The access audit log: a SHA-256 hash chain in the store.
//!
//! Every read and write of a person's data, every sign-in, token, user,
//! marking, hold and release step is one [`AuditEntry`]: who (user, agency,
//! credential), what (action, record, the people concerned), when, and the
//! policy decision (allowed, deciding `@id`s, SHA-256 of the policy in force).
//!
//! Entry `n` has `hash = SHA-256("sallyport-access-audit-v1\0" ‖ hash(n-1) ‖
//! fields…)` with every field length-prefixed (unambiguous), the subjects
//! sorted; entry 0 chains from 32 zero bytes. [`AuditLog::verify`] recomputes
//! the chain from the stored fields and compares it with the stored hashes and
//! the head in `access_audit_state`; [`AuditLog::verify_checkpoint`] checks that
//! a head published earlier (printed by `sallyport audit checkpoint`, embedded
//! in every release document) is still a prefix of the log, which also catches
//! a rewrite of the whole chain. The tables are append-only by trigger as well.
//!
//! Appends take the write lock by updating the state row first, so entries
//! are numbered without gaps on both backends, and can join the caller's
//! transaction ([`AuditLog::append_in`]) so that a change and its audit entry
//! commit together or not at all.

use std::collections::BTreeSet;

use sallyport_store::{Store, values_placeholders};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Any, Row, Transaction};

use crate::error::{AccessError, Result};

const DOMAIN: &[u8] = b"sallyport-access-audit-v1\0";
const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What to record (the log adds sequence number and hashes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub at_ms: i64,
    /// Username, or `-` for the system / first-administrator bootstrap.
    pub actor: String,
    pub agency: String,
    /// `password`, `session`, `token:<id>`, `bootstrap`.
    pub via: String,
    /// What was done: `read`, `list`, `write`, `login`, `release_request`, …
    pub action: String,
    /// The record kind (`person`, `release`, `user`, `token`, `policy`, `audit`).
    pub kind: String,
    pub record: String,
    pub allowed: bool,
    /// `@id`s of the deciding policies.
    pub policies: Vec<String>,
    /// SHA-256 of the schema and policies that decided (empty when no decision was needed).
    pub policy_sha256: String,
    /// JSON details (fields shown and withheld, reasons, counts).
    pub detail: String,
    /// The people this entry concerns.
    pub subjects: BTreeSet<String>,
}

/// One stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: u64,
    #[serde(flatten)]
    pub record: AuditRecord,
    pub prev_hash: String,
    pub hash: String,
}

/// Size and head hash of the log: publish it to make later tampering evident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AuditHead {
    pub size: u64,
    pub hash: String,
}

impl std::fmt::Display for AuditHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.size, self.hash)
    }
}

impl std::str::FromStr for AuditHead {
    type Err = AccessError;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || AccessError::invalid("audit checkpoint", format!("{s:?} is not SIZE:SHA256HEX (as printed by `sallyport audit checkpoint`)"));
        let (n, h) = s.trim().split_once(':').ok_or_else(bad)?;
        let size = n.parse::<u64>().map_err(|_| bad())?;
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            return Err(bad());
        }
        Ok(AuditHead { size, hash: h.to_string() })
    }
}

fn lp(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

/// The chained hash of an entry.
pub fn entry_hash(prev_hash: &str, seq: u64, r: &AuditRecord) -> String {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    lp(&mut h, prev_hash.as_bytes());
    h.update(seq.to_be_bytes());
    h.update(r.at_ms.to_be_bytes());
    for f in [&r.actor, &r.agency, &r.via, &r.action, &r.kind, &r.record] {
        lp(&mut h, f.as_bytes());
    }
    h.update([u8::from(r.allowed)]);
    h.update((r.policies.len() as u64).to_be_bytes());
    for p in &r.policies {
        lp(&mut h, p.as_bytes());
    }
    lp(&mut h, r.policy_sha256.as_bytes());
    lp(&mut h, r.detail.as_bytes());
    h.update((r.subjects.len() as u64).to_be_bytes());
    for s in &r.subjects {
        lp(&mut h, s.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The outcome of a full verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditVerification {
    pub head: AuditHead,
    /// Entries whose subjects were re-read and checked.
    pub entries: u64,
}

/// The audit log over a store.
#[derive(Debug, Clone)]
pub struct AuditLog {
    store: Store,
}

const COLUMNS: &str = "seq, at_ms, actor, agency, via, action, kind, record, allowed, policies, policy_sha256, detail, subjects, prev_hash, hash";

fn split_list(s: &str) -> Vec<String> {
    if s.is_empty() { vec![] } else { s.split(',').map(str::to_string).collect() }
}

fn entry_from_row(r: &sqlx::any::AnyRow) -> Result<(AuditEntry, i64)> {
    let seq: i64 = r.try_get("seq")?;
    let allowed: i64 = r.try_get("allowed")?;
    let policies: String = r.try_get("policies")?;
    let nsub: i64 = r.try_get("subjects")?;
    let e = AuditEntry {
        seq: u64::try_from(seq).map_err(|_| AccessError::corrupt("audit log", format!("negative seq {seq}")))?,
        record: AuditRecord {
            at_ms: r.try_get("at_ms")?,
            actor: r.try_get("actor")?,
            agency: r.try_get("agency")?,
            via: r.try_get("via")?,
            action: r.try_get("action")?,
            kind: r.try_get("kind")?,
            record: r.try_get("record")?,
            allowed: allowed != 0,
            policies: split_list(&policies),
            policy_sha256: r.try_get("policy_sha256")?,
            detail: r.try_get("detail")?,
            subjects: BTreeSet::new(),
        },
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    };
    Ok((e, nsub))
}

impl AuditLog {
    pub fn new(store: Store) -> Self {
        AuditLog { store }
    }

    /// Append one entry in its own transaction.
    pub async fn append(&self, rec: &AuditRecord) -> Result<AuditEntry> {
        let mut tx = self.store.begin_write().await?;
        let e = Self::append_in(&mut tx, rec).await?;
        tx.commit().await?;
        Ok(e)
    }

    /// Append inside the caller's transaction (the entry commits with the change it records).
    pub async fn append_in(tx: &mut Transaction<'static, Any>, rec: &AuditRecord) -> Result<AuditEntry> {
        for p in &rec.policies {
            if p.contains(',') {
                return Err(AccessError::invalid("audit policies", format!("policy id {p:?} contains ','")));
            }
        }
        // Take the write lock first (row lock on PostgreSQL, database lock on SQLite).
        sqlx::query("UPDATE access_audit_state SET size = size WHERE id = 1").execute(&mut **tx).await?;
        let row = sqlx::query("SELECT size, head FROM access_audit_state WHERE id = 1").fetch_one(&mut **tx).await?;
        let size: i64 = row.try_get(0)?;
        let prev: String = row.try_get(1)?;
        let seq = u64::try_from(size).map_err(|_| AccessError::corrupt("audit state", "negative size"))?;
        let hash = entry_hash(&prev, seq, rec);
        sqlx::query(&format!(
            "INSERT INTO access_audit ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)"
        ))
        .bind(size)
        .bind(rec.at_ms)
        .bind(&rec.actor)
        .bind(&rec.agency)
        .bind(&rec.via)
        .bind(&rec.action)
        .bind(&rec.kind)
        .bind(&rec.record)
        .bind(i64::from(rec.allowed))
        .bind(rec.policies.join(","))
        .bind(&rec.policy_sha256)
        .bind(&rec.detail)
        .bind(rec.subjects.len() as i64)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
        let subjects: Vec<&String> = rec.subjects.iter().collect();
        for chunk in subjects.chunks(400) {
            let sql = format!("INSERT INTO access_audit_subjects (seq, person) VALUES {}", values_placeholders(chunk.len(), 2));
            let mut q = sqlx::query(&sql);
            for p in chunk {
                q = q.bind(size).bind(p.as_str());
            }
            q.execute(&mut **tx).await?;
        }
        sqlx::query("UPDATE access_audit_state SET size = $1, head = $2 WHERE id = 1")
            .bind(size + 1)
            .bind(&hash)
            .execute(&mut **tx)
            .await?;
        Ok(AuditEntry { seq, record: rec.clone(), prev_hash: prev, hash })
    }

    /// The current size and head.
    pub async fn head(&self) -> Result<AuditHead> {
        let row = sqlx::query("SELECT size, head FROM access_audit_state WHERE id = 1").fetch_one(self.store.pool()).await?;
        let size: i64 = row.try_get(0)?;
        Ok(AuditHead { size: size.max(0) as u64, hash: row.try_get(1)? })
    }

    async fn subjects_of(&self, seqs: &[i64]) -> Result<Vec<(i64, String)>> {
        let mut out = Vec::new();
        for chunk in seqs.chunks(500) {
            let ph: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!("SELECT seq, person FROM access_audit_subjects WHERE seq IN ({}) ORDER BY seq, person", ph.join(","));
            let mut q = sqlx::query(&sql);
            for s in chunk {
                q = q.bind(*s);
            }
            for r in q.fetch_all(self.store.pool()).await? {
                out.push((r.try_get(0)?, r.try_get(1)?));
            }
        }
        Ok(out)
    }

    /// Entries with their subjects; `every` also reads subjects of entries that
    /// recorded none (verification: a subject slipped in later must show).
    async fn with_subjects_of(&self, rows: Vec<sqlx::any::AnyRow>, every: bool) -> Result<Vec<AuditEntry>> {
        let mut entries = Vec::with_capacity(rows.len());
        let mut seqs = Vec::new();
        for r in &rows {
            let (e, n) = entry_from_row(r)?;
            if n > 0 || every {
                seqs.push(e.seq as i64);
            }
            entries.push(e);
        }
        let subjects = self.subjects_of(&seqs).await?;
        let mut i = 0;
        for e in &mut entries {
            while i < subjects.len() && subjects[i].0 < e.seq as i64 {
                i += 1;
            }
            while i < subjects.len() && subjects[i].0 == e.seq as i64 {
                e.record.subjects.insert(subjects[i].1.clone());
                i += 1;
            }
        }
        Ok(entries)
    }

    async fn with_subjects(&self, rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<AuditEntry>> {
        self.with_subjects_of(rows, false).await
    }

    /// Every entry concerning `person`, oldest first (not authorised: the caller checks).
    pub async fn for_person(&self, person: &str) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM access_audit WHERE seq IN (SELECT seq FROM access_audit_subjects WHERE person = $1) ORDER BY seq"
        ))
        .bind(person)
        .fetch_all(self.store.pool())
        .await?;
        self.with_subjects(rows).await
    }

    /// Every entry about one record (a release, a user, a token), oldest first.
    pub async fn for_record(&self, kind: &str, record: &str) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM access_audit WHERE kind = $1 AND record = $2 ORDER BY seq"))
            .bind(kind)
            .bind(record)
            .fetch_all(self.store.pool())
            .await?;
        self.with_subjects(rows).await
    }

    /// The last `n` entries, oldest first.
    pub async fn tail(&self, n: u64) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM access_audit WHERE seq >= $1 ORDER BY seq"))
            .bind((self.head().await?.size.saturating_sub(n)) as i64)
            .fetch_all(self.store.pool())
            .await?;
        self.with_subjects(rows).await
    }

    /// Recompute the whole chain; any edited, inserted, deleted or reordered
    /// entry or subject, or a state row that disagrees, is an error naming the entry.
    pub async fn verify(&self) -> Result<AuditVerification> {
        let state = self.head().await?;
        let mut prev = ZERO.to_string();
        let mut next: u64 = 0;
        let page = 2000i64;
        loop {
            let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM access_audit WHERE seq >= $1 ORDER BY seq LIMIT $2"))
                .bind(next as i64)
                .bind(page)
                .fetch_all(self.store.pool())
                .await?;
            if rows.is_empty() {
                break;
            }
            let n = rows.len();
            let counts: Vec<i64> = rows.iter().map(|r| r.try_get::<i64, _>("subjects")).collect::<Result<_, _>>()?;
            let entries = self.with_subjects_of(rows, true).await?;
            for (e, count) in entries.iter().zip(counts) {
                let bad = |why: String| AccessError::corrupt(format!("audit entry {}", e.seq), why);
                if e.seq != next {
                    return Err(AccessError::corrupt(format!("audit entry {next}"), format!("missing (next stored entry is {})", e.seq)));
                }
                if e.prev_hash != prev {
                    return Err(bad(format!("prev_hash {} does not match the hash of entry {} ({prev})", e.prev_hash, next.wrapping_sub(1))));
                }
                if e.record.subjects.len() as i64 != count {
                    return Err(bad(format!("{count} subjects recorded, {} stored", e.record.subjects.len())));
                }
                let h = entry_hash(&prev, e.seq, &e.record);
                if h != e.hash {
                    return Err(bad(format!("contents do not match its hash (stored {}, recomputed {h}): edited after it was written", e.hash)));
                }
                prev = h;
                next += 1;
            }
            if (n as i64) < page {
                break;
            }
        }
        // Subjects pointing at no entry (inserted afterwards).
        let orphans: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM access_audit_subjects WHERE seq >= $1")
            .bind(next as i64)
            .fetch_one(self.store.pool())
            .await?;
        if orphans > 0 {
            return Err(AccessError::corrupt("audit subjects", format!("{orphans} subject row(s) beyond the last entry {next}")));
        }
        if state.size != next || state.hash != prev {
            return Err(AccessError::corrupt(
                "audit state",
                format!("head says {} but the entries chain to {next}:{prev} (entries removed or appended outside the log)", state),
            ));
        }
        Ok(AuditVerification { head: state, entries: next })
    }

    /// Check that `cp`, a head published earlier, is a prefix of the log as stored now.
    pub async fn verify_checkpoint(&self, cp: &AuditHead) -> Result<()> {
        let v = self.verify().await?;
        if cp.size > v.head.size {
            return Err(AccessError::corrupt(
                "audit log",
                format!("checkpoint {cp} is beyond the stored log of {} entries (entries were removed)", v.head.size),
            ));
        }
        if cp.size == 0 {
            return if cp.hash == ZERO {
                Ok(())
            } else {
                Err(AccessError::corrupt("audit log", format!("checkpoint {cp}: an empty log has the zero head")))
            };
        }
        let h: String = sqlx::query_scalar("SELECT hash FROM access_audit WHERE seq = $1")
            .bind(cp.size as i64 - 1)
            .fetch_one(self.store.pool())
            .await?;
        if h != cp.hash {
            return Err(AccessError::corrupt(
                "audit log",
                format!("entry {} now hashes to {h}, not {} as published: the log was rewritten", cp.size - 1, cp.hash),
            ));
        }
        Ok(())
    }
}
