//! Custody ledger: an RFC 6962 Merkle log of custody events, signed and
//! witnessed checkpoints, offline field devices, reconciliation and evidence
//! bundles a court can verify offline.
//!
//! Codemap (pure part first; everything under `store` needs a database):
//! - [`event`]: typed [`CustodyEvent`]s, canonical encoding, salted commitments.
//! - [`ids`]: [`DeviceId`], seed-derivable keys ([`NamedKey`], [`DeviceKey`]).
//! - [`leaf`]: log leaves (signed, hash-linked device-log entries), signed
//!   device heads and countersigned hand-over head exchanges.
//! - [`tree`]: RFC 6962 tree over tlog stored hashes (`tlog_tiles`), proofs.
//! - [`note`]: C2SP checkpoints / signed notes, witness cosignatures, policy.
//! - [`device`]: a field device's log (record offline, export batches, check receipts).
//! - [`sync`]: transport-independent `DeviceBatch → ingest → IngestReceipt`,
//!   and the in-memory server [`sync::MemLedger`].
//! - [`reconcile`]: custody state per person, headcounts, discrepancies.
//! - [`bundle`]: evidence bundle format, export and offline verification.
//! - `store` (feature `store`, on by default): the central log and device
//!   journal persisted in SQLite/PostgreSQL.
//!
//! Invariants:
//! - Nothing is ever edited: a correction is a new event referring to the old.
//! - Leaves hold only commitments; personal payloads live in openings.
//! - Each device's entries form a hash chain; the server accepts a device's
//!   new head only if it extends the last one it holds (no rollback, no fork).
//! - Every input from outside (bundle, batch, head, note) is parsed strictly
//!   and rejected with a [`LedgerError`] naming what failed; nothing panics.
//! - No clock and no global RNG inside: times and seeds come from the caller.

pub mod bundle;
pub mod device;
pub mod error;
pub mod event;
pub mod ids;
pub mod leaf;
pub mod note;
pub mod reconcile;
#[cfg(feature = "store")]
pub mod store;
pub mod sync;
pub mod tree;

pub use ed25519_dalek::VerifyingKey;
pub use error::{LedgerError, Result};
pub use event::{CustodyEvent, EventKind, EventRef, HandoverStatement};
pub use ids::{DeviceId, DeviceKey, KeyFile, NamedKey};
pub use leaf::{HeadExchange, Leaf, SignedHead};
pub use note::{Checkpoint, Witness, WitnessPolicy};

/// A SHA-256 digest.
pub type Hash32 = [u8; 32];

/// RFC 6962 leaf hash: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash32 {
    tlog_tiles::record_hash(data).0
}

/// RFC 6962 interior node hash: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    tlog_tiles::node_hash(tlog_tiles::Hash(*left), tlog_tiles::Hash(*right)).0
}

pub(crate) mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let v = hex::decode(&s).map_err(serde::de::Error::custom)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("expected 32 bytes of hex"))
    }
}

pub(crate) mod hex64 {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(h: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let s = String::deserialize(d)?;
        let v = hex::decode(&s).map_err(serde::de::Error::custom)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("expected 64 bytes of hex"))
    }
}

pub(crate) mod hexvec32 {
    use serde::{Deserialize, Deserializer, Serializer, ser::SerializeSeq};
    pub fn serialize<S: Serializer>(v: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for h in v {
            seq.serialize_element(&hex::encode(h))?;
        }
        seq.end()
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| {
                let b = hex::decode(s).map_err(serde::de::Error::custom)?;
                b.try_into()
                    .map_err(|_| serde::de::Error::custom("expected 32 bytes of hex"))
            })
            .collect()
    }
}
