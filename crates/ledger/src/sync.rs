//! Transport-independent sync: `DeviceBatch → ingest → IngestReceipt`.
//!
//! A batch is a run of a device's entries (with openings) ending at a signed
//! head. Ingest is idempotent and resumable: entries the server already holds
//! are compared byte for byte (a difference is a [`LedgerError::Fork`]) and
//! acknowledged again; a head older than the one held is a
//! [`LedgerError::Rollback`]; a gap names the seq to resume from. The receipt
//! carries a signed checkpoint, a consistency proof from the size the device
//! last saw, and an inclusion proof per acknowledged leaf.
//!
//! [`validate_batch`] is the shared pure check; [`MemLedger`] is an in-memory
//! server (tests, demos); `store::CentralLog` is the persistent one.

use std::collections::{BTreeMap, HashMap};

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::error::{LedgerError, Result};
use crate::event::{CustodyEvent, HandoverStatement, commitment};
use crate::ids::{DeviceId, NamedKey};
use crate::leaf::{Leaf, SignedHead};
use crate::reconcile::{DeviceIncident, LoggedEvent};
use crate::tree::MemTree;
use crate::{Hash32, note};

/// Most entries accepted in one batch.
pub const MAX_BATCH: usize = 100_000;

mod hexbytes {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// One entry in a batch: the leaf and its opening.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchEntry {
    #[serde(with = "hexbytes")]
    pub leaf: Vec<u8>,
    #[serde(with = "crate::hex32")]
    pub salt: Hash32,
    #[serde(with = "hexbytes")]
    pub event: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceBatch {
    pub device: DeviceId,
    pub entries: Vec<BatchEntry>,
    /// Signed head at the last entry of the batch.
    pub head: SignedHead,
    /// Tree size of the last checkpoint the device accepted (0 = none).
    pub known_size: u64,
}

impl DeviceBatch {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
    pub fn from_json(s: &str) -> Result<Self> {
        serde_json::from_str(s).map_err(|e| LedgerError::malformed("device batch", e.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeafReceipt {
    pub seq: u64,
    pub index: u64,
    #[serde(with = "crate::hexvec32")]
    pub proof: Vec<Hash32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestReceipt {
    pub device: DeviceId,
    /// Every seq up to this one is in the log.
    pub accepted_through: u64,
    /// How many of the batch's entries were new (the rest were already logged).
    pub newly_logged: u64,
    pub leaves: Vec<LeafReceipt>,
    /// Signed checkpoint covering all of them.
    pub checkpoint: String,
    pub consistency_from: u64,
    #[serde(with = "crate::hexvec32")]
    pub consistency: Vec<Hash32>,
}

impl IngestReceipt {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
    pub fn from_json(s: &str) -> Result<Self> {
        serde_json::from_str(s).map_err(|e| LedgerError::malformed("receipt", e.to_string()))
    }
}

/// What the server holds about one device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceState {
    pub last_seq: u64,
    pub last_head: Hash32,
}

/// A checked new entry, ready to append.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub leaf: Leaf,
    pub leaf_bytes: Vec<u8>,
    pub leaf_hash: Hash32,
    pub salt: Hash32,
    pub event_bytes: Vec<u8>,
    pub event: CustodyEvent,
}

#[derive(Debug, Clone)]
pub struct ValidBatch {
    pub device: DeviceId,
    /// Seqs already in the log (identical), to acknowledge again.
    pub already: Vec<u64>,
    pub new: Vec<NewEntry>,
    pub head: SignedHead,
}

/// Check a batch against the device's key, its state on the server and the
/// leaf hashes the server holds for any overlapping seqs (`held`: seq → leaf
/// hash, for seqs ≤ `state.last_seq` present in the batch). `keys` resolves
/// countersigning devices of hand-overs.
pub fn validate_batch(
    batch: &DeviceBatch,
    key: &VerifyingKey,
    state: &DeviceState,
    held: &HashMap<u64, Hash32>,
    keys: &dyn Fn(&DeviceId) -> Option<VerifyingKey>,
) -> Result<ValidBatch> {
    let dev = &batch.device;
    if batch.entries.len() > MAX_BATCH {
        return Err(LedgerError::invalid(
            "device batch",
            format!(
                "{} entries exceeds the limit {MAX_BATCH}",
                batch.entries.len()
            ),
        ));
    }
    if batch.head.device != *dev {
        return Err(LedgerError::invalid(
            "device batch",
            format!("head is for device {}, batch for {dev}", batch.head.device),
        ));
    }
    batch.head.verify(key)?;
    if batch.head.seq < state.last_seq {
        return Err(LedgerError::Rollback {
            device: dev.to_string(),
            presented: batch.head.seq,
            held: state.last_seq,
        });
    }
    let mut already = Vec::new();
    let mut new = Vec::new();
    let mut expect_seq: Option<u64> = None;
    let mut prev_hash = state.last_head;
    for (i, e) in batch.entries.iter().enumerate() {
        let at = |why: String| LedgerError::invalid(format!("device batch {dev} entry {i}"), why);
        let leaf = Leaf::decode(&e.leaf).map_err(|err| at(err.to_string()))?;
        if leaf.device != *dev {
            return Err(at(format!("leaf is from device {}", leaf.device)));
        }
        if let Some(s) = expect_seq
            && leaf.seq != s
        {
            return Err(at(format!(
                "seq {} where {s} was expected (entries must be consecutive)",
                leaf.seq
            )));
        }
        expect_seq = Some(leaf.seq + 1);
        leaf.verify(key)?;
        let lh = leaf.hash();
        if leaf.seq <= state.last_seq {
            match held.get(&leaf.seq) {
                Some(h) if *h == lh => {
                    already.push(leaf.seq);
                    continue;
                }
                Some(_) => {
                    return Err(LedgerError::Fork {
                        device: dev.to_string(),
                        seq: leaf.seq,
                    });
                }
                None => {
                    return Err(LedgerError::Storage(format!(
                        "leaf hash of {dev}#{} not supplied",
                        leaf.seq
                    )));
                }
            }
        }
        if leaf.seq != state.last_seq + 1 + new.len() as u64 {
            return Err(at(format!(
                "seq {} leaves a gap: resume from seq {}",
                leaf.seq,
                state.last_seq + 1
            )));
        }
        if leaf.prev != prev_hash {
            return Err(if new.is_empty() && state.last_seq > 0 {
                LedgerError::Fork {
                    device: dev.to_string(),
                    seq: leaf.seq,
                }
            } else {
                at(format!(
                    "seq {} does not link to the previous entry",
                    leaf.seq
                ))
            });
        }
        if commitment(&e.salt, &e.event) != leaf.commitment {
            return Err(at(format!(
                "opening of seq {} does not match its commitment",
                leaf.seq
            )));
        }
        let event =
            CustodyEvent::decode(&e.event).map_err(|err| at(format!("seq {}: {err}", leaf.seq)))?;
        if let Some((st, rdev, sig)) = HandoverStatement::of(&event) {
            let rk = keys(rdev)
                .ok_or_else(|| at(format!("hand-over countersigned by unknown device {rdev}")))?;
            st.verify(&rk, sig).map_err(|err| at(err.to_string()))?;
        }
        prev_hash = lh;
        new.push(NewEntry {
            leaf_bytes: e.leaf.clone(),
            leaf,
            leaf_hash: lh,
            salt: e.salt,
            event_bytes: e.event.clone(),
            event,
        });
    }
    let end_seq = state.last_seq + new.len() as u64;
    let what = format!("device batch {dev}");
    if batch.head.seq != end_seq {
        return Err(LedgerError::invalid(
            what,
            format!(
                "head claims seq {} but the entries end at seq {end_seq}",
                batch.head.seq
            ),
        ));
    }
    if batch.head.head != prev_hash {
        return Err(if new.is_empty() {
            LedgerError::Fork {
                device: dev.to_string(),
                seq: end_seq,
            }
        } else {
            LedgerError::invalid(what, "head hash does not match the last entry")
        });
    }
    Ok(ValidBatch {
        device: dev.clone(),
        already,
        new,
        head: batch.head.clone(),
    })
}

/// In-memory central log: the reference server for tests and simulations.
#[derive(Debug, Clone)]
pub struct MemLedger {
    pub log_key: NamedKey,
    tree: MemTree,
    leaves: Vec<Vec<u8>>,
    openings: Vec<(Hash32, Vec<u8>)>,
    index_of: HashMap<(DeviceId, u64), u64>,
    devices: BTreeMap<DeviceId, (VerifyingKey, DeviceState)>,
    pub incidents: Vec<DeviceIncident>,
}

impl MemLedger {
    pub fn new(log_key: NamedKey) -> Self {
        MemLedger {
            log_key,
            tree: MemTree::new(),
            leaves: vec![],
            openings: vec![],
            index_of: HashMap::new(),
            devices: BTreeMap::new(),
            incidents: vec![],
        }
    }
    pub fn register_device(&mut self, id: DeviceId, key: VerifyingKey) {
        self.devices
            .entry(id)
            .or_insert((key, DeviceState::default()));
    }
    pub fn device_keys(&self) -> BTreeMap<DeviceId, VerifyingKey> {
        self.devices
            .iter()
            .map(|(d, (k, _))| (d.clone(), *k))
            .collect()
    }
    pub fn size(&self) -> u64 {
        self.tree.size()
    }
    pub fn tree(&self) -> &MemTree {
        &self.tree
    }
    pub fn leaf(&self, index: u64) -> Option<&[u8]> {
        self.leaves.get(index as usize).map(|v| v.as_slice())
    }
    pub fn opening(&self, index: u64) -> Option<(&Hash32, &[u8])> {
        self.openings
            .get(index as usize)
            .map(|(s, e)| (s, e.as_slice()))
    }
    pub fn checkpoint(&self) -> Result<String> {
        note::sign_checkpoint(&self.log_key, self.tree.size(), &self.tree.root())
    }

    /// Ingest a batch. Rollbacks and forks are recorded as incidents and returned as errors.
    pub fn ingest(&mut self, batch: &DeviceBatch) -> Result<IngestReceipt> {
        let (key, state) = self.devices.get(&batch.device).cloned().ok_or_else(|| {
            LedgerError::invalid("device batch", format!("unknown device {}", batch.device))
        })?;
        let held: HashMap<u64, Hash32> = batch
            .entries
            .iter()
            .filter_map(|e| Leaf::decode(&e.leaf).ok())
            .filter(|l| l.device == batch.device && l.seq <= state.last_seq)
            .filter_map(|l| {
                self.index_of
                    .get(&(batch.device.clone(), l.seq))
                    .map(|&i| (l.seq, crate::leaf_hash(&self.leaves[i as usize])))
            })
            .collect();
        let keys = self.device_keys();
        let v = match validate_batch(batch, &key, &state, &held, &|d| keys.get(d).copied()) {
            Ok(v) => v,
            Err(e) => {
                if let Some(inc) = DeviceIncident::from_error(&e, self.tree.size()) {
                    self.incidents.push(inc);
                }
                return Err(e);
            }
        };
        let n_new = v.new.len() as u64;
        for e in &v.new {
            let idx = self.tree.push_hash(e.leaf_hash);
            self.leaves.push(e.leaf_bytes.clone());
            self.openings.push((e.salt, e.event_bytes.clone()));
            self.index_of.insert((v.device.clone(), e.leaf.seq), idx);
        }
        if let Some(last) = v.new.last() {
            self.devices.insert(
                v.device.clone(),
                (
                    key,
                    DeviceState {
                        last_seq: last.leaf.seq,
                        last_head: last.leaf_hash,
                    },
                ),
            );
        }
        let size = self.tree.size();
        let mut leaves = Vec::new();
        for seq in v
            .already
            .iter()
            .copied()
            .chain(v.new.iter().map(|e| e.leaf.seq))
        {
            let index = self.index_of[&(v.device.clone(), seq)];
            leaves.push(LeafReceipt {
                seq,
                index,
                proof: self.tree.inclusion(index, size)?,
            });
        }
        let from = batch.known_size.min(size);
        Ok(IngestReceipt {
            device: v.device.clone(),
            accepted_through: v.head.seq,
            newly_logged: n_new,
            leaves,
            checkpoint: self.checkpoint()?,
            consistency_from: from,
            consistency: self.tree.consistency(from, size)?,
        })
    }

    /// Every logged event, opened, in log order.
    pub fn events(&self) -> Result<Vec<LoggedEvent>> {
        self.leaves
            .iter()
            .zip(&self.openings)
            .enumerate()
            .map(|(i, (l, (_, ev)))| {
                let leaf = Leaf::decode(l)?;
                Ok(LoggedEvent {
                    index: i as u64,
                    device: leaf.device,
                    seq: leaf.seq,
                    event: CustodyEvent::decode(ev)?,
                })
            })
            .collect()
    }
}
