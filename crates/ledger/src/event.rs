//! Typed custody events and their deterministic canonical encoding.
//!
//! An event's canonical form is the compact JSON that serde writes for these
//! types (fixed field order, no maps, no floats: scores are per-mille
//! integers). [`CustodyEvent::decode`] accepts only bytes that re-encode to
//! themselves, so one event has exactly one encoding. Events never enter the
//! Merkle tree in the clear: a leaf holds a salted commitment
//! ([`commitment`]); the event bytes and salt are its *opening*.

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sallyport_core::{AgencyId, PersonId, SiteId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Hash32;
use crate::error::{LedgerError, Result};
use crate::ids::DeviceId;

/// Largest canonical event accepted.
pub const MAX_EVENT_BYTES: usize = 16 * 1024;

/// A reference to an event by the device that recorded it and its sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRef {
    pub device: DeviceId,
    pub seq: u64,
}

impl std::fmt::Display for EventRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.device, self.seq)
    }
}

/// What happened. One variant per custody step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventKind {
    /// `custodian` took the person into custody at `site`.
    TakenIntoCustody {
        custodian: AgencyId,
        site: SiteId,
    },
    /// Biometric record enrolled: only its SHA-256, never the images.
    Enrolled {
        biometric_sha256: String,
    },
    /// 1:1 verification against the enrolled record.
    IdentityVerified {
        score_milli: u32,
        threshold_milli: u32,
    },
    /// Custody passed from `from` to `to`; `receiver_sig` is the receiving
    /// device's Ed25519 signature over the [`HandoverStatement`] (hex); the
    /// recording device signs the leaf, so both sides have signed.
    HandedOver {
        handover_id: String,
        from: AgencyId,
        to: AgencyId,
        site: SiteId,
        receiver_device: DeviceId,
        receiver_sig: String,
    },
    Boarded {
        sortie: String,
        site: SiteId,
    },
    Departed {
        sortie: String,
        site: SiteId,
    },
    Arrived {
        sortie: String,
        site: SiteId,
    },
    PlacedInHolding {
        site: SiteId,
        area: String,
    },
    Medical {
        note: String,
    },
    Incident {
        note: String,
    },
    Released {
        authority: String,
    },
    Died {
        note: String,
    },
    /// Supersedes event `corrects` (which stays in the log); resolves the
    /// listed open discrepancies. `replacement`, if any, is applied instead.
    Correction {
        corrects: Option<EventRef>,
        reason: String,
        resolves: Vec<String>,
        replacement: Option<Box<EventKind>>,
    },
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::TakenIntoCustody { .. } => "taken_into_custody",
            EventKind::Enrolled { .. } => "enrolled",
            EventKind::IdentityVerified { .. } => "identity_verified",
            EventKind::HandedOver { .. } => "handed_over",
            EventKind::Boarded { .. } => "boarded",
            EventKind::Departed { .. } => "departed",
            EventKind::Arrived { .. } => "arrived",
            EventKind::PlacedInHolding { .. } => "placed_in_holding",
            EventKind::Medical { .. } => "medical",
            EventKind::Incident { .. } => "incident",
            EventKind::Released { .. } => "released",
            EventKind::Died { .. } => "died",
            EventKind::Correction { .. } => "correction",
        }
    }

    /// One human-readable line.
    pub fn describe(&self) -> String {
        match self {
            EventKind::TakenIntoCustody { custodian, site } => {
                format!("taken into custody by {custodian} at {site}")
            }
            EventKind::Enrolled { biometric_sha256 } => {
                format!(
                    "biometrics enrolled (record sha256 {}…)",
                    &biometric_sha256[..biometric_sha256.len().min(16)]
                )
            }
            EventKind::IdentityVerified {
                score_milli,
                threshold_milli,
            } => format!(
                "identity verified 1:1, score {score_milli}‰ vs threshold {threshold_milli}‰ ({})",
                if score_milli >= threshold_milli {
                    "match"
                } else {
                    "NO MATCH"
                }
            ),
            EventKind::HandedOver {
                handover_id,
                from,
                to,
                site,
                receiver_device,
                ..
            } => {
                format!(
                    "handed over {from} → {to} at {site} (hand-over {handover_id}, countersigned by device {receiver_device})"
                )
            }
            EventKind::Boarded { sortie, site } => format!("boarded sortie {sortie} at {site}"),
            EventKind::Departed { sortie, site } => {
                format!("departed on sortie {sortie} from {site}")
            }
            EventKind::Arrived { sortie, site } => format!("arrived on sortie {sortie} at {site}"),
            EventKind::PlacedInHolding { site, area } => {
                format!("placed in holding at {site}, area {area}")
            }
            EventKind::Medical { note } => format!("medical: {note}"),
            EventKind::Incident { note } => format!("incident: {note}"),
            EventKind::Released { authority } => format!("released by {authority}"),
            EventKind::Died { note } => format!("died: {note}"),
            EventKind::Correction {
                corrects,
                reason,
                resolves,
                replacement,
            } => {
                let mut s = String::from("correction");
                if let Some(r) = corrects {
                    s.push_str(&format!(" of {r}"));
                }
                s.push_str(&format!(": {reason}"));
                if !resolves.is_empty() {
                    s.push_str(&format!(" (resolves {})", resolves.join(", ")));
                }
                if let Some(k) = replacement {
                    s.push_str(&format!("; now: {}", k.describe()));
                }
                s
            }
        }
    }

    fn check(&self) -> Result<()> {
        match self {
            EventKind::Enrolled { biometric_sha256 }
                if (biometric_sha256.len() != 64
                    || !biometric_sha256
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())) =>
            {
                return Err(LedgerError::malformed(
                    "enrolled.biometric_sha256",
                    "must be 64 lower-case hex digits",
                ));
            }
            EventKind::HandedOver {
                receiver_sig,
                from,
                to,
                ..
            } => {
                if receiver_sig.len() != 128 || hex::decode(receiver_sig).is_err() {
                    return Err(LedgerError::malformed(
                        "handed_over.receiver_sig",
                        "must be 128 hex digits",
                    ));
                }
                if from == to {
                    return Err(LedgerError::malformed(
                        "handed_over",
                        "from and to are the same custodian",
                    ));
                }
            }
            EventKind::Correction {
                replacement: Some(k),
                ..
            } => {
                if matches!(**k, EventKind::Correction { .. }) {
                    return Err(LedgerError::malformed(
                        "correction.replacement",
                        "may not itself be a correction",
                    ));
                }
                k.check()?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// One custody event about one person. Device and sequence number live in
/// the leaf that commits to it ([`crate::leaf::Leaf`]); the claimed time is
/// supplied by the caller, never read from a clock here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodyEvent {
    pub person: PersonId,
    /// Claimed time, unix milliseconds UTC, as stated by the recording device.
    pub claimed_time_ms: i64,
    pub kind: EventKind,
}

impl CustodyEvent {
    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising these types cannot fail (no maps with non-string keys, no floats).
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parse canonical bytes; anything that does not re-encode identically is rejected.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(LedgerError::malformed(
                "event",
                format!(
                    "{} bytes exceeds the {MAX_EVENT_BYTES}-byte limit",
                    bytes.len()
                ),
            ));
        }
        let ev: CustodyEvent = serde_json::from_slice(bytes)
            .map_err(|e| LedgerError::malformed("event", e.to_string()))?;
        if ev.encode() != bytes {
            return Err(LedgerError::malformed("event", "not in canonical encoding"));
        }
        ev.kind.check()?;
        Ok(ev)
    }

    pub fn validate(&self) -> Result<()> {
        self.kind.check()
    }
}

/// Salted commitment to an event's canonical bytes:
/// `SHA-256("sallyport/commit/v1\n" || salt || bytes)`.
pub fn commitment(salt: &Hash32, event_bytes: &[u8]) -> Hash32 {
    let mut h = Sha256::new();
    h.update(b"sallyport/commit/v1\n");
    h.update(salt);
    h.update(event_bytes);
    h.finalize().into()
}

/// What the receiving side of a hand-over signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverStatement {
    pub handover_id: String,
    pub person: PersonId,
    pub from: AgencyId,
    pub to: AgencyId,
    pub site: SiteId,
    pub claimed_time_ms: i64,
}

impl HandoverStatement {
    fn message(&self) -> Vec<u8> {
        let mut m = b"sallyport/handover/v1\n".to_vec();
        m.extend(serde_json::to_vec(self).unwrap_or_default());
        m
    }
    /// The receiving device signs; returns the hex signature for [`EventKind::HandedOver`].
    pub fn sign(&self, key: &SigningKey) -> String {
        hex::encode(key.sign(&self.message()).to_bytes())
    }
    pub fn verify(&self, key: &VerifyingKey, sig_hex: &str) -> Result<()> {
        let raw = hex::decode(sig_hex)
            .map_err(|_| LedgerError::malformed("hand-over signature", "not hex"))?;
        let sig = Signature::from_slice(&raw)
            .map_err(|_| LedgerError::malformed("hand-over signature", "not 64 bytes"))?;
        key.verify(&self.message(), &sig).map_err(|_| {
            LedgerError::Signature(format!(
                "hand-over {} countersignature does not verify",
                self.handover_id
            ))
        })
    }
    /// The statement a [`EventKind::HandedOver`] event claims was countersigned.
    pub fn of(ev: &CustodyEvent) -> Option<(HandoverStatement, &DeviceId, &str)> {
        match &ev.kind {
            EventKind::HandedOver {
                handover_id,
                from,
                to,
                site,
                receiver_device,
                receiver_sig,
            } => Some((
                HandoverStatement {
                    handover_id: handover_id.clone(),
                    person: ev.person.clone(),
                    from: from.clone(),
                    to: to.clone(),
                    site: site.clone(),
                    claimed_time_ms: ev.claimed_time_ms,
                },
                receiver_device,
                receiver_sig.as_str(),
            )),
            _ => None,
        }
    }
}
