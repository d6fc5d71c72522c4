//! Evidence bundles: one file a court can verify offline.
//!
//! A bundle holds the events of one or more people (leaf, salt, canonical
//! event), one inclusion proof per event against a witnessed checkpoint, the
//! device keys, the witness policy, and the log's signed *export statement*
//! listing exactly which leaves (index and hash, in order) and which device
//! keys the bundle contains — so a dropped, added or reordered event or a
//! swapped key is detected, not just a modified one. Proof hashes shared by
//! several events are stored once.
//!
//! Binary layout (all integers big-endian or LEB128 `var`), parsed strictly
//! by [`Bundle::decode`] with bounds on every length:
//! ```text
//! "SPEVB1\n"
//! u32 len | policy JSON        u32 len | checkpoint note
//! u16 n   | n × (u8 len | device id | pubkey[32])
//! u32 n   | n × hash[32]                        (proof node table)
//! u32 n   | n × (u64 index | u16 len | leaf | salt[32] | u32 len | event
//!                | u8 k | k × var node-ref)
//! sig[64]                                       (export statement, log key)
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use ed25519_dalek::{Signature, Signer as _, Verifier as _, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{LedgerError, Result};
use crate::event::{CustodyEvent, HandoverStatement, commitment};
use crate::ids::{DeviceId, NamedKey};
use crate::leaf::Leaf;
use crate::note::{Checkpoint, WitnessPolicy};
use crate::{Hash32, leaf_hash, tree};

const MAGIC: &[u8] = b"SPEVB1\n";
/// Largest bundle accepted (64 MiB).
pub const MAX_BUNDLE_BYTES: usize = 64 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleEvent {
    pub index: u64,
    pub leaf: Vec<u8>,
    pub salt: Hash32,
    pub event: Vec<u8>,
    /// References into [`Bundle::nodes`], leaf to root.
    pub proof: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub policy: WitnessPolicy,
    pub checkpoint: String,
    pub device_keys: Vec<(DeviceId, [u8; 32])>,
    pub nodes: Vec<Hash32>,
    pub events: Vec<BundleEvent>,
    pub statement_sig: [u8; 64],
}

/// One event to put in a bundle, with its inclusion proof.
#[derive(Debug, Clone)]
pub struct ExportItem {
    pub index: u64,
    pub leaf: Vec<u8>,
    pub salt: Hash32,
    pub event: Vec<u8>,
    pub proof: Vec<Hash32>,
}

fn statement(
    policy: &WitnessPolicy,
    checkpoint: &str,
    events: &[(u64, Hash32)],
    keys: &[(DeviceId, [u8; 32])],
) -> Vec<u8> {
    let mut m = b"sallyport/export/v1\n".to_vec();
    m.extend_from_slice(&Sha256::digest(
        serde_json::to_vec(policy).unwrap_or_default(),
    ));
    m.extend_from_slice(&Sha256::digest(checkpoint.as_bytes()));
    m.extend_from_slice(&(events.len() as u64).to_be_bytes());
    for (i, h) in events {
        m.extend_from_slice(&i.to_be_bytes());
        m.extend_from_slice(h);
    }
    m.extend_from_slice(&(keys.len() as u64).to_be_bytes());
    for (d, k) in keys {
        m.push(d.as_str().len() as u8);
        m.extend_from_slice(d.as_str().as_bytes());
        m.extend_from_slice(k);
    }
    m
}

impl Bundle {
    /// Assemble and sign a bundle. `items` in any order; they are sorted by index.
    pub fn build(
        log_key: &NamedKey,
        policy: WitnessPolicy,
        checkpoint: String,
        mut items: Vec<ExportItem>,
        device_keys: &BTreeMap<DeviceId, VerifyingKey>,
    ) -> Result<Bundle> {
        items.sort_by_key(|i| i.index);
        items.dedup_by_key(|i| i.index);
        // Keys of the recording devices and of hand-over countersigners.
        let mut need: BTreeMap<DeviceId, [u8; 32]> = BTreeMap::new();
        for it in &items {
            let leaf = Leaf::decode(&it.leaf)?;
            let mut devs = vec![leaf.device.clone()];
            if let Ok(ev) = CustodyEvent::decode(&it.event)
                && let Some((_, r, _)) = HandoverStatement::of(&ev)
            {
                devs.push(r.clone());
            }
            for d in devs {
                let k = device_keys.get(&d).ok_or_else(|| {
                    LedgerError::invalid("export", format!("no key for device {d}"))
                })?;
                need.insert(d, k.to_bytes());
            }
        }
        let keys: Vec<(DeviceId, [u8; 32])> = need.into_iter().collect();
        let mut nodes = Vec::new();
        let mut node_ix: HashMap<Hash32, u32> = HashMap::new();
        let mut events = Vec::with_capacity(items.len());
        for it in items {
            let proof = it
                .proof
                .iter()
                .map(|h| {
                    *node_ix.entry(*h).or_insert_with(|| {
                        nodes.push(*h);
                        (nodes.len() - 1) as u32
                    })
                })
                .collect();
            events.push(BundleEvent {
                index: it.index,
                leaf: it.leaf,
                salt: it.salt,
                event: it.event,
                proof,
            });
        }
        let listed: Vec<(u64, Hash32)> = events
            .iter()
            .map(|e| (e.index, leaf_hash(&e.leaf)))
            .collect();
        let statement_sig = log_key
            .key
            .sign(&statement(&policy, &checkpoint, &listed, &keys))
            .to_bytes();
        Ok(Bundle {
            policy,
            checkpoint,
            device_keys: keys,
            nodes,
            events,
            statement_sig,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        let policy = serde_json::to_vec(&self.policy).unwrap_or_default();
        b.extend_from_slice(&(policy.len() as u32).to_be_bytes());
        b.extend_from_slice(&policy);
        b.extend_from_slice(&(self.checkpoint.len() as u32).to_be_bytes());
        b.extend_from_slice(self.checkpoint.as_bytes());
        b.extend_from_slice(&(self.device_keys.len() as u16).to_be_bytes());
        for (d, k) in &self.device_keys {
            b.push(d.as_str().len() as u8);
            b.extend_from_slice(d.as_str().as_bytes());
            b.extend_from_slice(k);
        }
        b.extend_from_slice(&(self.nodes.len() as u32).to_be_bytes());
        for n in &self.nodes {
            b.extend_from_slice(n);
        }
        b.extend_from_slice(&(self.events.len() as u32).to_be_bytes());
        for e in &self.events {
            b.extend_from_slice(&e.index.to_be_bytes());
            b.extend_from_slice(&(e.leaf.len() as u16).to_be_bytes());
            b.extend_from_slice(&e.leaf);
            b.extend_from_slice(&e.salt);
            b.extend_from_slice(&(e.event.len() as u32).to_be_bytes());
            b.extend_from_slice(&e.event);
            b.push(e.proof.len() as u8);
            for r in &e.proof {
                let mut v = *r;
                loop {
                    let byte = (v & 0x7f) as u8;
                    v >>= 7;
                    if v == 0 {
                        b.push(byte);
                        break;
                    }
                    b.push(byte | 0x80);
                }
            }
        }
        b.extend_from_slice(&self.statement_sig);
        b
    }

    /// Strict parse of untrusted bytes.
    pub fn decode(bytes: &[u8]) -> Result<Bundle> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(LedgerError::malformed(
                "bundle",
                format!("{} bytes exceeds the limit", bytes.len()),
            ));
        }
        let mut r = Reader { b: bytes, p: 0 };
        if r.take(MAGIC.len(), "magic")? != MAGIC {
            return Err(LedgerError::malformed(
                "bundle",
                "not a Sallyport evidence bundle (bad magic)",
            ));
        }
        let n = r.u32("policy length")? as usize;
        let raw_policy = r.take(n, "policy")?;
        let policy: WitnessPolicy = serde_json::from_slice(raw_policy)
            .map_err(|e| LedgerError::malformed("bundle policy", e.to_string()))?;
        if serde_json::to_vec(&policy).unwrap_or_default() != raw_policy {
            return Err(LedgerError::malformed(
                "bundle policy",
                "not in canonical encoding",
            ));
        }
        let n = r.u32("checkpoint length")? as usize;
        let checkpoint = std::str::from_utf8(r.take(n, "checkpoint")?)
            .map_err(|_| LedgerError::malformed("bundle checkpoint", "not UTF-8"))?
            .to_string();
        let nk = r.u16("device key count")? as usize;
        let mut device_keys = Vec::with_capacity(nk.min(1024));
        for i in 0..nk {
            let l = r.u8("device id length")? as usize;
            let id = std::str::from_utf8(r.take(l, "device id")?).map_err(|_| {
                LedgerError::malformed(format!("bundle device key {i}"), "id not UTF-8")
            })?;
            let id = DeviceId::new(id)?;
            let k: [u8; 32] = r
                .take(32, "device key")?
                .try_into()
                .map_err(|_| LedgerError::malformed("bundle", "key"))?;
            device_keys.push((id, k));
        }
        let nn = r.u32("node count")? as usize;
        if nn > r.remaining() / 32 {
            return Err(LedgerError::malformed(
                "bundle",
                format!("node count {nn} exceeds the data"),
            ));
        }
        let mut nodes = Vec::with_capacity(nn);
        for _ in 0..nn {
            nodes.push(
                r.take(32, "proof node")?
                    .try_into()
                    .map_err(|_| LedgerError::malformed("bundle", "node"))?,
            );
        }
        let ne = r.u32("event count")? as usize;
        if ne > r.remaining() / 50 {
            return Err(LedgerError::malformed(
                "bundle",
                format!("event count {ne} exceeds the data"),
            ));
        }
        let mut events = Vec::with_capacity(ne);
        for i in 0..ne {
            let what = |s: &str| format!("event {i} {s}");
            let index = r.u64(&what("index"))?;
            let l = r.u16(&what("leaf length"))? as usize;
            let leaf = r.take(l, &what("leaf"))?.to_vec();
            let salt: Hash32 = r
                .take(32, &what("salt"))?
                .try_into()
                .map_err(|_| LedgerError::malformed("bundle", "salt"))?;
            let l = r.u32(&what("event length"))? as usize;
            let event = r.take(l, &what("event"))?.to_vec();
            let k = r.u8(&what("proof length"))? as usize;
            if k > tree::MAX_PROOF_LEN {
                return Err(LedgerError::malformed("bundle", what("proof is too long")));
            }
            let mut proof = Vec::with_capacity(k);
            for _ in 0..k {
                proof.push(r.var(&what("proof node reference"))?);
            }
            events.push(BundleEvent {
                index,
                leaf,
                salt,
                event,
                proof,
            });
        }
        let statement_sig: [u8; 64] = r
            .take(64, "export statement signature")?
            .try_into()
            .map_err(|_| LedgerError::malformed("bundle", "sig"))?;
        if r.remaining() != 0 {
            return Err(LedgerError::malformed(
                "bundle",
                format!("{} trailing bytes after the end", r.remaining()),
            ));
        }
        Ok(Bundle {
            policy,
            checkpoint,
            device_keys,
            nodes,
            events,
            statement_sig,
        })
    }

    /// Verify everything, offline. `trusted_policy`, if given, replaces the
    /// policy carried in the bundle (pin the log and witness keys).
    pub fn verify(&self, trusted_policy: Option<&WitnessPolicy>) -> Result<VerifiedBundle> {
        let policy = trusted_policy.unwrap_or(&self.policy);
        if let Some(tp) = trusted_policy
            && tp.log != self.policy.log
        {
            return Err(LedgerError::Policy(
                "the bundle names a different log key than the trusted policy".into(),
            ));
        }
        let cp = policy.verify(&self.checkpoint)?;
        let (_, log_key) = crate::note::parse_log_vkey(&policy.log)?;
        let listed: Vec<(u64, Hash32)> = self
            .events
            .iter()
            .map(|e| (e.index, leaf_hash(&e.leaf)))
            .collect();
        let sig = Signature::from_bytes(&self.statement_sig);
        log_key.verify(&statement(&self.policy, &self.checkpoint, &listed, &self.device_keys), &sig).map_err(|_| {
            LedgerError::Signature(
                "export statement does not verify: the set, order or content of events or device keys differs from what the log exported (dropped, added, reordered or altered event, or swapped key)"
                    .into(),
            )
        })?;
        let mut keys: HashMap<&DeviceId, VerifyingKey> = HashMap::new();
        for (d, k) in &self.device_keys {
            let vk = VerifyingKey::from_bytes(k).map_err(|_| {
                LedgerError::malformed(format!("device key {d}"), "not an Ed25519 point")
            })?;
            if keys.insert(d, vk).is_some() {
                return Err(LedgerError::malformed(
                    "bundle device keys",
                    format!("device {d} listed twice"),
                ));
            }
        }
        let mut timeline = Vec::with_capacity(self.events.len());
        let mut last_index: Option<u64> = None;
        for (i, e) in self.events.iter().enumerate() {
            let at = format!("event {i} (leaf {})", e.index);
            if last_index.is_some_and(|l| e.index <= l) {
                return Err(LedgerError::invalid(
                    &at,
                    "events are not in strictly increasing log order (reordered or duplicated)",
                ));
            }
            last_index = Some(e.index);
            let leaf =
                Leaf::decode(&e.leaf).map_err(|err| LedgerError::invalid(&at, err.to_string()))?;
            let key = keys.get(&leaf.device).ok_or_else(|| {
                LedgerError::invalid(&at, format!("no key for device {}", leaf.device))
            })?;
            leaf.verify(key)
                .map_err(|err| LedgerError::invalid(&at, err.to_string()))?;
            if commitment(&e.salt, &e.event) != leaf.commitment {
                return Err(LedgerError::invalid(
                    &at,
                    "event content does not match the commitment in its leaf (altered event or salt)",
                ));
            }
            let event = CustodyEvent::decode(&e.event)
                .map_err(|err| LedgerError::invalid(&at, err.to_string()))?;
            if let Some((st, rdev, rsig)) = HandoverStatement::of(&event) {
                let rk = keys.get(rdev).ok_or_else(|| {
                    LedgerError::invalid(&at, format!("no key for countersigning device {rdev}"))
                })?;
                st.verify(rk, rsig)
                    .map_err(|err| LedgerError::invalid(&at, err.to_string()))?;
            }
            let proof: Vec<Hash32> = e
                .proof
                .iter()
                .map(|&r| {
                    self.nodes.get(r as usize).copied().ok_or_else(|| {
                        LedgerError::invalid(
                            &at,
                            format!("proof references node {r}, which is not in the bundle"),
                        )
                    })
                })
                .collect::<Result<_>>()?;
            tree::verify_inclusion(&leaf_hash(&e.leaf), e.index, cp.size, &proof, &cp.root)
                .map_err(|err| LedgerError::invalid(&at, err.to_string()))?;
            timeline.push(TimelineEntry {
                index: e.index,
                device: leaf.device,
                seq: leaf.seq,
                event,
            });
        }
        let mut sorted = timeline.clone();
        sorted.sort_by_key(|t| (t.event.claimed_time_ms, t.index));
        Ok(VerifiedBundle {
            checkpoint: cp,
            timeline: sorted,
        })
    }
}

struct Reader<'a> {
    b: &'a [u8],
    p: usize,
}
impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.b.len() - self.p
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(LedgerError::malformed(
                "bundle",
                format!(
                    "truncated reading {what} at byte {} (need {n}, have {})",
                    self.p,
                    self.remaining()
                ),
            ));
        }
        let s = &self.b[self.p..self.p + n];
        self.p += n;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_be_bytes(
            self.take(2, what)?.try_into().unwrap_or_default(),
        ))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_be_bytes(
            self.take(4, what)?.try_into().unwrap_or_default(),
        ))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_be_bytes(
            self.take(8, what)?.try_into().unwrap_or_default(),
        ))
    }
    fn var(&mut self, what: &str) -> Result<u32> {
        let mut v: u32 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.u8(what)?;
            if shift == 28 && b > 0x0f {
                return Err(LedgerError::malformed(
                    "bundle",
                    format!("{what} overflows"),
                ));
            }
            v |= ((b & 0x7f) as u32) << shift;
            if b & 0x80 == 0 {
                if b == 0 && shift > 0 {
                    return Err(LedgerError::malformed(
                        "bundle",
                        format!("{what} is not minimally encoded"),
                    ));
                }
                return Ok(v);
            }
        }
        Err(LedgerError::malformed(
            "bundle",
            format!("{what} overflows"),
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    pub index: u64,
    pub device: DeviceId,
    pub seq: u64,
    pub event: CustodyEvent,
}

/// The result of a successful verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedBundle {
    pub checkpoint: Checkpoint,
    /// Events in claimed-time order.
    pub timeline: Vec<TimelineEntry>,
}

impl VerifiedBundle {
    /// Human-readable custody timeline.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let cp = &self.checkpoint;
        let _ = writeln!(
            s,
            "VERIFIED: {} event(s) in log {:?} at tree size {}",
            self.timeline.len(),
            cp.origin,
            cp.size
        );
        let _ = writeln!(s, "  root {}", hex::encode(cp.root));
        let _ = writeln!(
            s,
            "  witnessed by: {}",
            if cp.witnesses.is_empty() {
                "(none)".into()
            } else {
                cp.witnesses.join(", ")
            }
        );
        let mut person = None;
        for t in &self.timeline {
            if person != Some(&t.event.person) {
                let _ = writeln!(s, "\nCustody timeline of {}:", t.event.person);
                person = Some(&t.event.person);
            }
            let when = chrono::DateTime::from_timestamp_millis(t.event.claimed_time_ms)
                .map(|d| d.format("%Y-%m-%d %H:%M:%SZ").to_string())
                .unwrap_or_else(|| t.event.claimed_time_ms.to_string());
            let _ = writeln!(
                s,
                "  {when}  {}  [device {} #{}, leaf {}]",
                t.event.kind.describe(),
                t.device,
                t.seq,
                t.index
            );
        }
        s
    }
}
