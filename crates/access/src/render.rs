//! Text renderings of what the policy let through (the CLI prints these).
//!
//! They print only what is in a [`Redacted`] value or a release document:
//! anything withheld was removed before, so nothing here can leak it. The
//! property tests check the rendered text, not just the values.

use std::fmt::Write as _;

use serde_json::Value;

use crate::identity::fmt_ms;
use crate::redact::Redacted;
use crate::release::{ReleaseDocument, ReleaseView};

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Array(a) if a.is_empty() => "-".into(),
        Value::Array(a) => a.iter().map(scalar).collect::<Vec<_>>().join(", "),
        Value::Object(m) => m.iter().map(|(k, v)| format!("{k}={}", scalar(v))).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

/// Key order of a person view (unknown keys follow, alphabetically).
const ORDER: [&str; 10] =
    ["id", "custodian", "site", "category", "legal_status", "identity", "medical", "risk", "separation_groups", "intel_notes"];

/// A person as the reader may see them, one line per field, portion marks on the left.
pub fn person_text(r: &Redacted) -> String {
    let mut out = String::new();
    let rec_mark = r.markings.get("").cloned().unwrap_or_default();
    let _ = writeln!(out, "{} {}  {}", r.kind, r.id, rec_mark);
    let Value::Object(m) = &r.value else { return out };
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort_by_key(|k| (ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()), k.to_string()));
    for k in keys {
        if k == "id" {
            continue;
        }
        let mark = r.markings.get(&format!("/{k}")).unwrap_or(&rec_mark);
        match (k.as_str(), &m[k]) {
            ("intel_notes", Value::Array(notes)) => {
                for (i, n) in notes.iter().enumerate() {
                    let mark = r.markings.get(&format!("/intel_notes/{i}")).cloned().unwrap_or_default();
                    let originator = n.get("originator").map(scalar).unwrap_or_default();
                    let text = n.get("text").map(scalar).unwrap_or_default();
                    let _ = writeln!(out, "  {mark:<28} intel note [{originator}] {text}");
                }
            }
            (_, v) => {
                let _ = writeln!(out, "  {mark:<28} {k:<18} {}", scalar(v));
            }
        }
    }
    out
}

/// One line per person: id, custody, and how many field groups are visible.
pub fn person_line(r: &Redacted) -> String {
    let g = |k: &str| r.value.get(k).map(scalar).unwrap_or_else(|| "-".into());
    let notes = r.value.get("intel_notes").and_then(|v| v.as_array()).map_or(0, Vec::len);
    format!(
        "{:<10} {:<10} {:<10} {:<12} {:<16} {:<6} {}",
        r.id,
        g("custodian"),
        g("site"),
        g("category"),
        g("legal_status"),
        g("risk"),
        if notes > 0 { format!("{notes} note(s)") } else { String::new() }
    )
}

/// A release document for print.
pub fn document_text(doc: &ReleaseDocument) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", doc.marking);
    let _ = writeln!(out, "Release {} for {} (case {})", doc.release, doc.recipient, doc.case_ref);
    let _ = writeln!(out, "Requested by {} ({}); issued {}", doc.requested_by.user, doc.requested_by.agency, doc.issued_at);
    for a in &doc.approvals {
        let _ = writeln!(out, "Approved as {:<18} by {} ({}) at {}", a.capacity.as_str(), a.approver, a.agency, fmt_ms(a.at_ms));
    }
    for r in &doc.records {
        let _ = writeln!(out, "\n{} {}  ({})  original sha256 {}", r.kind, r.id, r.marking, r.original_sha256);
        if let Value::Object(m) = &r.content {
            for (k, v) in m {
                if k == "intel_notes" {
                    for n in v.as_array().into_iter().flatten() {
                        let _ = writeln!(out, "  intel note [{}] {}", n.get("originator").map(scalar).unwrap_or_default(), n.get("text").map(scalar).unwrap_or_default());
                    }
                } else if k != "id" {
                    let _ = writeln!(out, "  {k:<18} {}", scalar(v));
                }
            }
        }
        for x in &r.redactions {
            let _ = writeln!(out, "  [REDACTED {}] sha256 {}", x.pointer, x.sha256);
        }
    }
    let _ = writeln!(out, "\naudit head {}  document sha256 {}", doc.audit_head, doc.sha256);
    let _ = writeln!(out, "{}", doc.marking);
    out
}

/// A release as its participants see it.
pub fn release_text(v: &ReleaseView) -> String {
    let r = &v.release;
    let mut out = String::new();
    let _ = writeln!(out, "Release {}  [{}]  {}", r.id, r.status.as_str(), r.marking);
    let _ = writeln!(out, "  recipient   {}", r.recipient);
    let _ = writeln!(out, "  case        {}", r.case_ref);
    if !r.purpose.is_empty() {
        let _ = writeln!(out, "  purpose     {}", r.purpose);
    }
    let _ = writeln!(out, "  requested   by {} ({}) at {}", r.requester, r.requester_agency, fmt_ms(r.created_ms));
    let _ = writeln!(out, "  fields      {}", r.fields.iter().cloned().collect::<Vec<_>>().join(", "));
    let _ = writeln!(out, "  people      {}", r.people.join(", "));
    let _ = writeln!(out, "  originators {}", r.originators.iter().cloned().collect::<Vec<_>>().join(", "));
    for a in &r.approvals {
        let _ = writeln!(out, "  approved    as {} by {} ({}) at {}", a.capacity.as_str(), a.approver, a.agency, fmt_ms(a.at_ms));
    }
    if !v.missing_approvals.is_empty() && r.status == crate::release::ReleaseStatus::Pending {
        let _ = writeln!(out, "  waiting for {}", v.missing_approvals.join(", "));
    }
    if let Some(doc) = &v.document {
        let _ = writeln!(out);
        out.push_str(&document_text(doc));
    } else if !v.preview.is_empty() {
        let _ = writeln!(out, "\nPreview (original markings; what you may see of it):");
        for p in &v.preview {
            out.push_str(&person_text(p));
        }
    }
    out
}
