//! People's data through the policy: markings, intelligence notes and legal
//! holds in the store, and the audited views that let data leave it.
//!
//! Every function here that returns a person's data runs it through
//! [`Filter`] for the caller and appends an audit entry (who, what, the
//! field groups shown and withheld, the deciding policies) *before* returning;
//! every change checks `write` (or `legal_hold`) with Cedar and commits with
//! its audit entry in one transaction.

use std::collections::{BTreeMap, BTreeSet};

use sallyport_core::{Person, PersonId};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::audit::{AuditEntry, AuditLog};
use crate::authz::Decision;
use crate::error::{AccessError, Result};
use crate::marking::{Level, Marking};
use crate::people::{self, Directory, GroupMarking, IntelNote, PeopleMarkings};
use crate::principal::{Action, Label, Resource};
use crate::redact::{Filter, MarkedRecord, Redacted};
use crate::service::{Access, Caller};

/// Field groups whose marking can be set per person (notes carry their own).
pub const MARKABLE: [&str; 4] = ["custody", "identity", "medical", "risk"];

/// Longest intelligence note accepted.
pub const MAX_NOTE_CHARS: usize = 4000;

/// A stored legal hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegalHold {
    pub person: String,
    pub reason: String,
    pub placed_ms: i64,
    pub placed_by: String,
}

/// What a person view showed and withheld (recorded in the audit log).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Shown {
    pub shown: BTreeSet<String>,
    pub withheld: BTreeSet<String>,
    pub policies: BTreeSet<String>,
}

fn person_id(id: &str) -> Result<PersonId> {
    id.parse::<PersonId>().map_err(|e| AccessError::invalid("person id", format!("{id:?}: {e}")))
}

/// Which groups of `rec` the filter shows or withholds, and the deciding policies.
pub(crate) fn explain(filter: &mut Filter<'_>, rec: &MarkedRecord) -> (Decision, Shown) {
    let whole = filter.decide(&rec.kind, "*", &rec.label, rec.legal_hold).clone();
    let mut s = Shown::default();
    s.policies.extend(whole.policies.iter().cloned());
    if !whole.allowed {
        return (whole, s);
    }
    s.shown.insert("custody".into());
    for (field, label) in rec.parts.values() {
        let d = filter.decide(&rec.kind, field, label, rec.legal_hold);
        if d.allowed {
            s.shown.insert(field.clone());
        } else {
            s.withheld.insert(field.clone());
            s.policies.extend(d.policies.iter().cloned());
        }
    }
    // A group partly shown (some notes visible, others not) is listed in both.
    (whole, s)
}

impl Access {
    async fn directory(&self) -> Result<Directory> {
        Ok(people::directory(&self.store.agencies().await?))
    }

    /// The markings in force for people: the defaults for the operation's
    /// agencies, stored per-person overrides (only those of `person`, if given) and legal holds.
    pub async fn people_markings(&self, person: Option<&str>) -> Result<PeopleMarkings> {
        let agencies = self.store.agencies().await?;
        let mut m = people::default_markings(&agencies);
        let rows = match person {
            Some(p) => sqlx::query("SELECT record, field, marking, originator FROM access_markings WHERE kind = 'person' AND record = $1").bind(p),
            None => sqlx::query("SELECT record, field, marking, originator FROM access_markings WHERE kind = 'person'"),
        }
        .fetch_all(self.store.pool())
        .await?;
        for r in rows {
            let record: String = r.try_get(0)?;
            let field: String = r.try_get(1)?;
            let text: String = r.try_get(2)?;
            let originator: Option<String> = r.try_get(3)?;
            let marking =
                Marking::parse(&text).map_err(|e| AccessError::corrupt(format!("marking of person {record} field {field}"), e))?;
            m.overrides.insert((record, field), GroupMarking { marking, originator });
        }
        let holds = match person {
            Some(p) => sqlx::query_scalar("SELECT record FROM access_legal_holds WHERE kind = 'person' AND record = $1").bind(p),
            None => sqlx::query_scalar("SELECT record FROM access_legal_holds WHERE kind = 'person'"),
        }
        .fetch_all(self.store.pool())
        .await?;
        m.legal_holds = holds.into_iter().collect();
        Ok(m)
    }

    /// Intelligence notes (of one person, or all), oldest first.
    pub async fn notes(&self, person: Option<&str>) -> Result<Vec<IntelNote>> {
        let rows = match person {
            Some(p) => sqlx::query("SELECT person, marking, originator, body, id FROM access_notes WHERE person = $1 ORDER BY id").bind(p),
            None => sqlx::query("SELECT person, marking, originator, body, id FROM access_notes ORDER BY person, id"),
        }
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get(4)?;
                let text: String = r.try_get(1)?;
                Ok(IntelNote {
                    person_id: r.try_get(0)?,
                    marking: Marking::parse(&text).map_err(|e| AccessError::corrupt(format!("intelligence note {id}"), e))?,
                    originator: r.try_get(2)?,
                    text: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// One person as a marked record (no authorisation: crate-internal).
    pub(crate) async fn marked_person(&self, id: &str) -> Result<Option<(Person, MarkedRecord)>> {
        let pid = person_id(id)?;
        let Some(person) = self.store.person(&pid).await? else { return Ok(None) };
        let markings = self.people_markings(Some(id)).await?;
        let notes = self.notes(Some(id)).await?;
        let dir = self.directory().await?;
        let refs: Vec<&IntelNote> = notes.iter().collect();
        let rec = people::marked_person(&person, &refs, &markings, &dir);
        Ok(Some((person, rec)))
    }

    /// Every person as a marked record.
    pub(crate) async fn marked_people(&self) -> Result<Vec<MarkedRecord>> {
        let people = self.store.people().await?;
        let markings = self.people_markings(None).await?;
        let notes = self.notes(None).await?;
        let agencies = self.store.agencies().await?;
        Ok(people::marked_people(&people, &notes, &markings, &agencies))
    }

    /// What `caller` may see of person `id`: `None` when the person does not
    /// exist or is hidden from the caller (the two answers are the same).
    /// The read is audited before anything is returned.
    pub async fn view_person(&self, caller: &Caller, id: &str) -> Result<Option<Redacted>> {
        let found = self.marked_person(id).await?;
        let subjects = BTreeSet::from([id.to_string()]);
        let Some((_, rec)) = found else {
            let rec = self.record(caller, "read", "person", id, None, json!({"found": false}), subjects);
            self.audit.append(&crate::audit::AuditRecord { allowed: false, ..rec }).await?;
            return Ok(None);
        };
        let mut filter = self.filter(caller);
        let (whole, shown) = explain(&mut filter, &rec);
        let out = filter.redact(&rec);
        let mut d = whole.clone();
        d.policies = shown.policies.iter().cloned().collect();
        let detail = json!({"shown": shown.shown, "withheld": shown.withheld});
        self.audit.append(&self.record(caller, "read", "person", id, Some(&d), detail, subjects)).await?;
        Ok(out)
    }

    /// The people `caller` may see (optionally at one site), each redacted.
    /// Hidden people are left out, so the length is the only count to report.
    pub async fn list_people(&self, caller: &Caller, site: Option<&str>) -> Result<Vec<Redacted>> {
        let records = self.marked_people().await?;
        let mut filter = self.filter(caller);
        let out: Vec<Redacted> = filter.redact_all_owned(
            records.into_iter().filter(|r| site.is_none_or(|s| r.value.get("site").and_then(|v| v.as_str()) == Some(s))),
        );
        let subjects: BTreeSet<String> = out.iter().map(|r| r.id.clone()).collect();
        let d = Decision { allowed: true, policies: vec![], reasons: vec![] };
        let detail = json!({"site": site, "shown": out.len(), "decisions": filter.evaluations});
        self.audit.append(&self.record(caller, "list", "person", site.unwrap_or("*"), Some(&d), detail, subjects)).await?;
        Ok(out)
    }

    /// Decide `action` on one part of a person for `caller`; a denial is audited and returned as an error.
    async fn must(&self, caller: &Caller, action: &Action, audit_action: &str, person: &str, field: &str, label: &Label, hold: bool) -> Result<Decision> {
        let res = Resource { kind: "person".into(), id: person.into(), field: field.into(), label: label.clone(), legal_hold: hold };
        let d = self.decide(caller, action, &res);
        if !d.allowed {
            let detail = json!({"field": field, "marking": label.marking.banner(), "reasons": d.reasons});
            let rec = self.record(caller, audit_action, "person", person, Some(&d), detail, BTreeSet::from([person.to_string()]));
            self.audit.append(&rec).await?;
            return Err(AccessError::denied(&caller.principal.user, action.name(), format!("person {person} ({field})"), &d));
        }
        Ok(d)
    }

    async fn visible_person(&self, caller: &Caller, id: &str, action: &Action, audit_action: &str) -> Result<MarkedRecord> {
        let Some((_, rec)) = self.marked_person(id).await? else {
            return Err(AccessError::NotFound(format!("no person {id} visible to {}", caller.principal.user)));
        };
        // Who may not even see the person is told the same as for a missing one.
        let read = Resource { kind: "person".into(), id: id.into(), field: "*".into(), label: rec.label.clone(), legal_hold: rec.legal_hold };
        if !self.decide(caller, &Action::Read, &read).allowed {
            self.must(caller, action, audit_action, id, "*", &rec.label, rec.legal_hold).await.err();
            return Err(AccessError::NotFound(format!("no person {id} visible to {}", caller.principal.user)));
        }
        Ok(rec)
    }

    /// Set the marking of one field group of a person. The caller must be
    /// allowed to write both under the current marking and under the new one.
    pub async fn set_marking(&self, caller: &Caller, id: &str, field: &str, marking: &Marking, originator: Option<&str>) -> Result<()> {
        if !MARKABLE.contains(&field) {
            return Err(AccessError::invalid("field", format!("{field:?}: markable field groups are {} (notes carry their own marking)", MARKABLE.join(", "))));
        }
        marking.validate()?;
        let dir = self.directory().await?;
        if let Some(o) = originator
            && !dir.contains_key(o)
        {
            return Err(AccessError::invalid("originator", format!("{o:?} is not an agency of the operation")));
        }
        let rec = self.visible_person(caller, id, &Action::Write, "mark").await?;
        let current = if field == "custody" {
            rec.label.clone()
        } else {
            rec.parts.values().find(|(f, _)| f == field).map(|(_, l)| l.clone()).unwrap_or_else(|| rec.label.clone())
        };
        self.must(caller, &Action::Write, "mark", id, field, &current, rec.legal_hold).await?;
        let custodian = rec.value.get("custodian").and_then(|v| v.as_str()).unwrap_or("-").to_string();
        let orig = originator.map(str::to_string).unwrap_or(custodian);
        let country = dir.get(&orig).map(|(c, _)| c.clone()).unwrap_or_else(|| "-".into());
        let new_label = Label::new(marking.clone(), orig, country);
        let d = self.must(caller, &Action::Write, "mark", id, field, &new_label, rec.legal_hold).await?;
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        sqlx::query("DELETE FROM access_markings WHERE kind = 'person' AND record = $1 AND field = $2").bind(id).bind(field).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO access_markings (kind, record, field, marking, originator, set_ms, set_by) VALUES ('person', $1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(field)
            .bind(marking.banner())
            .bind(originator.map(str::to_string))
            .bind(now)
            .bind(&caller.principal.user)
            .execute(&mut *tx)
            .await?;
        let detail = json!({"field": field, "from": current.marking.banner(), "to": marking.banner(), "originator": originator});
        AuditLog::append_in(&mut tx, &self.record(caller, "mark", "person", id, Some(&d), detail, BTreeSet::from([id.to_string()]))).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Add an intelligence note to a person, originated by the caller's agency.
    pub async fn add_note(&self, caller: &Caller, id: &str, marking: &Marking, text: &str) -> Result<IntelNote> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS {
            return Err(AccessError::invalid("note", format!("1 to {MAX_NOTE_CHARS} characters")));
        }
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(AccessError::invalid("note", "control characters other than newline are not allowed"));
        }
        marking.validate()?;
        let rec = self.visible_person(caller, id, &Action::Write, "note_add").await?;
        self.must(caller, &Action::Write, "note_add", id, "*", &rec.label, rec.legal_hold).await?;
        let label = Label::new(marking.clone(), caller.principal.agency.clone(), caller.principal.country.clone());
        let d = self.must(caller, &Action::Write, "note_add", id, "intel_notes", &label, rec.legal_hold).await?;
        let note = IntelNote { person_id: id.to_string(), marking: marking.clone(), originator: caller.principal.agency.clone(), text: text.to_string() };
        let mut tx = self.store.begin_write().await?;
        let next: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(MAX(id), 0) + 1 AS BIGINT) FROM access_notes").fetch_one(&mut *tx).await?;
        sqlx::query("INSERT INTO access_notes (id, person, marking, originator, body, created_ms, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(next)
            .bind(id)
            .bind(marking.banner())
            .bind(&note.originator)
            .bind(&note.text)
            .bind(self.now())
            .bind(&caller.principal.user)
            .execute(&mut *tx)
            .await?;
        let detail = json!({"note": next, "marking": marking.banner()});
        AuditLog::append_in(&mut tx, &self.record(caller, "note_add", "person", id, Some(&d), detail, BTreeSet::from([id.to_string()]))).await?;
        tx.commit().await?;
        Ok(note)
    }

    /// Write the synthetic intelligence notes ([`people::synthetic_notes`]) for
    /// every high- and critical-risk person, as the caller's agency (which must
    /// be the operation's intelligence agency). Demo data; refuses if notes exist.
    pub async fn synthesise_notes(&self, caller: &Caller) -> Result<usize> {
        let agencies = self.store.agencies().await?;
        let people = self.store.people().await?;
        let notes = people::synthetic_notes(&people, &agencies);
        if notes.is_empty() {
            return Ok(0);
        }
        if notes[0].originator != caller.principal.agency {
            return Err(AccessError::invalid("caller", format!("synthetic notes are authored by {}; sign in as one of its users", notes[0].originator)));
        }
        let n: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM access_notes").fetch_one(self.store.pool()).await?;
        if n > 0 {
            return Err(AccessError::Conflict(format!("{n} intelligence note(s) exist already")));
        }
        let mut decisions: BTreeMap<String, Decision> = BTreeMap::new();
        for note in &notes {
            let label = Label::new(note.marking.clone(), note.originator.clone(), caller.principal.country.clone());
            let key = note.marking.banner();
            if let std::collections::btree_map::Entry::Vacant(slot) = decisions.entry(key) {
                slot.insert(self.must(caller, &Action::Write, "note_add", &note.person_id, "intel_notes", &label, false).await?);
            }
        }
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        for (c, chunk) in notes.chunks(100).enumerate() {
            let sql = format!(
                "INSERT INTO access_notes (id, person, marking, originator, body, created_ms, created_by) VALUES {}",
                sallyport_store::values_placeholders(chunk.len(), 7)
            );
            let mut q = sqlx::query(&sql);
            for (i, note) in chunk.iter().enumerate() {
                let id = (c * 100 + i + 1) as i64;
                q = q.bind(id).bind(&note.person_id).bind(note.marking.banner()).bind(&note.originator).bind(&note.text).bind(now).bind(&caller.principal.user);
            }
            q.execute(&mut *tx).await?;
        }
        let d = decisions.into_values().next().unwrap_or(Decision { allowed: true, policies: vec![], reasons: vec![] });
        let subjects: BTreeSet<String> = notes.iter().map(|n| n.person_id.clone()).collect();
        AuditLog::append_in(&mut tx, &self.record(caller, "note_add", "person", "*", Some(&d), json!({"synthetic_notes": notes.len()}), subjects)).await?;
        tx.commit().await?;
        Ok(notes.len())
    }

    /// Place a legal hold on a person (a legal officer): the record can no longer be changed.
    pub async fn place_hold(&self, caller: &Caller, id: &str, reason: &str) -> Result<()> {
        if reason.trim().is_empty() || reason.chars().count() > 500 {
            return Err(AccessError::invalid("reason", "1 to 500 characters (the order or case the hold serves)"));
        }
        let rec = self.visible_person(caller, id, &Action::LegalHold, "hold_place").await?;
        if rec.legal_hold {
            return Err(AccessError::Conflict(format!("person {id} is already under legal hold")));
        }
        let d = self.must(caller, &Action::LegalHold, "hold_place", id, "*", &rec.label, false).await?;
        let mut tx = self.store.begin_write().await?;
        sqlx::query("INSERT INTO access_legal_holds (kind, record, reason, placed_ms, placed_by) VALUES ('person', $1, $2, $3, $4)")
            .bind(id)
            .bind(reason.trim())
            .bind(self.now())
            .bind(&caller.principal.user)
            .execute(&mut *tx)
            .await?;
        AuditLog::append_in(&mut tx, &self.record(caller, "hold_place", "person", id, Some(&d), json!({"reason": reason.trim()}), BTreeSet::from([id.to_string()]))).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lift a legal hold.
    pub async fn lift_hold(&self, caller: &Caller, id: &str) -> Result<()> {
        let rec = self.visible_person(caller, id, &Action::LegalHold, "hold_lift").await?;
        if !rec.legal_hold {
            return Err(AccessError::Conflict(format!("person {id} is not under legal hold")));
        }
        let d = self.must(caller, &Action::LegalHold, "hold_lift", id, "*", &rec.label, true).await?;
        let mut tx = self.store.begin_write().await?;
        sqlx::query("DELETE FROM access_legal_holds WHERE kind = 'person' AND record = $1").bind(id).execute(&mut *tx).await?;
        AuditLog::append_in(&mut tx, &self.record(caller, "hold_lift", "person", id, Some(&d), json!({}), BTreeSet::from([id.to_string()]))).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Legal holds in force.
    pub async fn holds(&self) -> Result<Vec<LegalHold>> {
        let rows = sqlx::query("SELECT record, reason, placed_ms, placed_by FROM access_legal_holds WHERE kind = 'person' ORDER BY record")
            .fetch_all(self.store.pool())
            .await?;
        rows.iter()
            .map(|r| Ok(LegalHold { person: r.try_get(0)?, reason: r.try_get(1)?, placed_ms: r.try_get(2)?, placed_by: r.try_get(3)? }))
            .collect()
    }

    /// The audit trail of person `id` (`sallyport audit --person`): needs
    /// `read_audit` under the person's own marking, and is itself audited.
    pub async fn person_audit(&self, caller: &Caller, id: &str) -> Result<Vec<AuditEntry>> {
        person_id(id)?;
        let label = match self.marked_person(id).await? {
            Some((_, rec)) => rec.label,
            // Nobody's record: probes of unknown ids are visible to any auditor.
            None => Label::new(Marking::new(Level::Unclassified), "-", "-"),
        };
        let res = Resource { kind: "person".into(), id: id.into(), field: "*".into(), label, legal_hold: false };
        let d = self.decide(caller, &Action::ReadAudit, &res);
        let subjects = BTreeSet::from([id.to_string()]);
        self.audit.append(&self.record(caller, "read_audit", "person", id, Some(&d), json!({}), subjects)).await?;
        if !d.allowed {
            // Denied by a marking rule: say no more than for a person who does not exist.
            if d.policies.is_empty() {
                return Err(AccessError::denied(&caller.principal.user, "read_audit", format!("person {id}"), &d));
            }
            return Err(AccessError::NotFound(format!("no audit trail of person {id} visible to {}", caller.principal.user)));
        }
        self.audit.for_person(id).await
    }
}
