//! A field device's own log: record events offline, sign heads, export sync
//! batches, and check the server's receipts (catches a forking server).
//!
//! [`FieldLog`] is pure and in memory; the `store` feature persists it in a
//! SQLite journal ([`crate::store::journal`]).

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::error::{LedgerError, Result};
use crate::event::{CustodyEvent, HandoverStatement, commitment};
use crate::ids::DeviceKey;
use crate::leaf::{HeadExchange, Leaf, SignedHead};
use crate::sync::{BatchEntry, DeviceBatch, IngestReceipt};
use crate::{Hash32, note, tree};

/// One recorded event with its opening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub leaf: Leaf,
    pub salt: Hash32,
    pub event: Vec<u8>,
}

impl Record {
    pub fn entry(&self) -> BatchEntry {
        BatchEntry {
            leaf: self.leaf.encode(),
            salt: self.salt,
            event: self.event.clone(),
        }
    }
}

/// The server checkpoint a device last accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenCheckpoint {
    pub size: u64,
    #[serde(with = "crate::hex32")]
    pub root: Hash32,
    pub note: String,
}

#[derive(Debug, Clone)]
pub struct FieldLog {
    pub key: DeviceKey,
    records: Vec<Record>,
    /// Highest seq the server has acknowledged with a verified receipt.
    pub synced_through: u64,
    pub checkpoint: Option<SeenCheckpoint>,
}

impl FieldLog {
    pub fn new(key: DeviceKey) -> Self {
        FieldLog {
            key,
            records: Vec::new(),
            synced_through: 0,
            checkpoint: None,
        }
    }
    /// Rebuild from persisted records (checks the chain).
    pub fn restore(
        key: DeviceKey,
        records: Vec<Record>,
        synced_through: u64,
        checkpoint: Option<SeenCheckpoint>,
    ) -> Result<Self> {
        let mut prev = [0u8; 32];
        for (i, r) in records.iter().enumerate() {
            if r.leaf.seq != i as u64 + 1 || r.leaf.prev != prev || r.leaf.device != key.id {
                return Err(LedgerError::invalid(
                    "device journal",
                    format!("entry {} breaks the device chain", i + 1),
                ));
            }
            prev = r.leaf.hash();
        }
        Ok(FieldLog {
            key,
            records,
            synced_through,
            checkpoint,
        })
    }
    pub fn records(&self) -> &[Record] {
        &self.records
    }
    pub fn seq(&self) -> u64 {
        self.records.len() as u64
    }
    fn last_hash(&self) -> Hash32 {
        self.records
            .last()
            .map(|r| r.leaf.hash())
            .unwrap_or([0; 32])
    }

    /// Record an event offline; returns the new record (persist it before acknowledging).
    pub fn record(&mut self, event: &CustodyEvent) -> Result<&Record> {
        event.validate()?;
        let seq = self.seq() + 1;
        let bytes = event.encode();
        let salt = self.key.salt(seq);
        let leaf = Leaf::sign(
            &self.key.key,
            self.key.id.clone(),
            seq,
            self.last_hash(),
            commitment(&salt, &bytes),
        );
        self.records.push(Record {
            leaf,
            salt,
            event: bytes,
        });
        Ok(self.records.last().expect("just pushed"))
    }

    /// Sign a hand-over statement as the *receiving* device.
    pub fn countersign_handover(&self, st: &HandoverStatement) -> String {
        st.sign(&self.key.key)
    }

    /// The signed head over everything recorded so far.
    pub fn head(&self) -> SignedHead {
        SignedHead::sign(
            &self.key.key,
            self.key.id.clone(),
            self.seq(),
            self.last_hash(),
        )
    }

    /// Countersign another device's head at a hand-over (verifies it first).
    pub fn countersign_head(
        &self,
        other: SignedHead,
        other_key: &VerifyingKey,
        claimed_time_ms: i64,
    ) -> Result<HeadExchange> {
        HeadExchange::countersign(
            other,
            other_key,
            &self.key.id,
            &self.key.key,
            claimed_time_ms,
        )
    }

    /// Everything not yet acknowledged, up to `max` entries, with the head at its end.
    pub fn export_batch(&self, max: usize) -> DeviceBatch {
        let from = self.synced_through as usize;
        let to = (from + max).min(self.records.len());
        let entries: Vec<BatchEntry> = self.records[from..to].iter().map(Record::entry).collect();
        let head_hash = if to == 0 {
            [0; 32]
        } else {
            self.records[to - 1].leaf.hash()
        };
        DeviceBatch {
            device: self.key.id.clone(),
            entries,
            head: SignedHead::sign(&self.key.key, self.key.id.clone(), to as u64, head_hash),
            known_size: self.checkpoint.as_ref().map_or(0, |c| c.size),
        }
    }

    /// Check a receipt: the checkpoint is signed by the log, consistent with the
    /// last one this device accepted, and includes every acknowledged leaf.
    /// Only then advance `synced_through`.
    pub fn apply_receipt(&mut self, receipt: &IngestReceipt, log_vkey: &str) -> Result<()> {
        if receipt.device != self.key.id {
            return Err(LedgerError::invalid(
                "receipt",
                format!("is for device {}, not {}", receipt.device, self.key.id),
            ));
        }
        let cp = note::verify_log_signature(log_vkey, &receipt.checkpoint)?;
        if let Some(old) = &self.checkpoint {
            if receipt.consistency_from != old.size {
                return Err(LedgerError::ServerFork(format!(
                    "receipt proves consistency from size {} but this device last saw size {}",
                    receipt.consistency_from, old.size
                )));
            }
            tree::verify_consistency(old.size, &old.root, cp.size, &cp.root, &receipt.consistency)
                .map_err(|e| LedgerError::ServerFork(format!("new checkpoint (size {}) does not extend the one this device saw (size {}): {e}", cp.size, old.size)))?;
        }
        if receipt.accepted_through > self.seq() {
            return Err(LedgerError::invalid(
                "receipt",
                format!(
                    "acknowledges seq {} beyond this device's {}",
                    receipt.accepted_through,
                    self.seq()
                ),
            ));
        }
        let mut covered = self.synced_through;
        for r in &receipt.leaves {
            let rec = r
                .seq
                .checked_sub(1)
                .and_then(|i| self.records.get(i as usize))
                .ok_or_else(|| {
                    LedgerError::invalid("receipt", format!("names unknown seq {}", r.seq))
                })?;
            tree::verify_inclusion(&rec.leaf.hash(), r.index, cp.size, &r.proof, &cp.root)
                .map_err(|e| {
                    LedgerError::Proof(format!("receipt for {}#{}: {e}", self.key.id, r.seq))
                })?;
            if r.seq == covered + 1 {
                covered = r.seq;
            }
        }
        if covered < receipt.accepted_through {
            return Err(LedgerError::invalid(
                "receipt",
                format!(
                    "claims seq {} but proves inclusion only through {covered}",
                    receipt.accepted_through
                ),
            ));
        }
        self.synced_through = self.synced_through.max(receipt.accepted_through);
        self.checkpoint = Some(SeenCheckpoint {
            size: cp.size,
            root: cp.root,
            note: cp.note,
        });
        Ok(())
    }

    /// Simulate data loss: forget everything after `seq` (as a restored backup would).
    pub fn truncate(&mut self, seq: u64) {
        self.records.truncate(seq as usize);
        self.synced_through = self.synced_through.min(seq);
    }
}
