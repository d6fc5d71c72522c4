//! Checkpoints (C2SP `tlog-checkpoint`) as signed notes (C2SP `signed-note`),
//! witness cosignatures (C2SP `tlog-cosignature`, `cosignature/v1`) and the
//! witness policy a verifier applies.
//!
//! Parsing, Ed25519 note signatures and key ids come from the `signed_note`
//! and `tlog_tiles` crates; the cosignature/v1 signer and verifier (algorithm
//! byte 0x04, signed message `"cosignature/v1\ntime T\n" + checkpoint`,
//! signature = 8-byte big-endian T ‖ Ed25519 sig) are implemented here
//! because `signed_note` 0.2 does not provide them.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use signed_note::{Note, VerifierList};

use crate::Hash32;
use crate::error::{LedgerError, Result};
use crate::ids::NamedKey;

const ALG_ED25519: u8 = 0x01;
const ALG_COSIG_V1: u8 = 0x04;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn key_id(name: &str, alg: u8, key: &VerifyingKey) -> u32 {
    let mut k = vec![alg];
    k.extend_from_slice(key.as_bytes());
    signed_note::key_id(name, &k)
}

/// Encoded verifier key `name+hexid+base64(alg‖pubkey)`.
fn vkey(name: &str, alg: u8, key: &VerifyingKey) -> String {
    let mut k = vec![alg];
    k.extend_from_slice(key.as_bytes());
    format!("{name}+{:08x}+{}", key_id(name, alg, key), B64.encode(k))
}

fn parse_vkey(s: &str) -> Result<(String, u32, u8, VerifyingKey)> {
    let bad = |why: &str| LedgerError::malformed("verifier key", format!("{s:?}: {why}"));
    let mut parts = s.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected name+id+key"));
    };
    if !signed_note::is_key_name_valid(name) {
        return Err(bad("invalid key name"));
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| bad("key id is not 8 hex digits"))?;
    let raw = B64.decode(key).map_err(|_| bad("key is not base64"))?;
    if raw.len() != 33 {
        return Err(bad("key must be 1 algorithm byte + 32 bytes"));
    }
    let vk = VerifyingKey::from_bytes(raw[1..].try_into().map_err(|_| bad("key length"))?)
        .map_err(|_| bad("not an Ed25519 point"))?;
    if key_id(name, raw[0], &vk) != id {
        return Err(bad("key id does not match the key"));
    }
    Ok((name.to_string(), id, raw[0], vk))
}

/// Verifier key of a log (Ed25519 note signatures, algorithm 0x01).
pub fn log_vkey(key: &NamedKey) -> String {
    vkey(&key.name, ALG_ED25519, &key.public())
}
/// Verifier key of a witness (cosignature/v1, algorithm 0x04).
pub fn witness_vkey(key: &NamedKey) -> String {
    vkey(&key.name, ALG_COSIG_V1, &key.public())
}

struct Ed25519NoteSigner<'a>(&'a NamedKey);
impl signed_note::Signer for Ed25519NoteSigner<'_> {
    fn name(&self) -> &str {
        &self.0.name
    }
    fn key_id(&self) -> u32 {
        key_id(&self.0.name, ALG_ED25519, &self.0.public())
    }
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(self.0.key.sign(msg).to_bytes().to_vec())
    }
}

struct Ed25519NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}
impl signed_note::Verifier for Ed25519NoteVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        Signature::from_slice(sig).is_ok_and(|s| self.key.verify(msg, &s).is_ok())
    }
}

fn cosig_message(time: u64, checkpoint: &[u8]) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {time}\n").into_bytes();
    m.extend_from_slice(checkpoint);
    m
}

struct CosigSigner<'a> {
    key: &'a SigningKey,
    name: &'a str,
    id: u32,
    time: u64,
}
impl signed_note::Signer for CosigSigner<'_> {
    fn name(&self) -> &str {
        self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        let mut out = self.time.to_be_bytes().to_vec();
        out.extend_from_slice(&self.key.sign(&cosig_message(self.time, msg)).to_bytes());
        Ok(out)
    }
}

struct CosigVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}
impl signed_note::Verifier for CosigVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        if sig.len() != 72 {
            return false;
        }
        let time = u64::from_be_bytes(sig[..8].try_into().unwrap_or_default());
        Signature::from_slice(&sig[8..])
            .is_ok_and(|s| self.key.verify(&cosig_message(time, msg), &s).is_ok())
    }
}

/// The checkpoint body (`origin\nsize\nbase64(root)\n`).
pub fn checkpoint_body(origin: &str, size: u64, root: &Hash32) -> Result<Vec<u8>> {
    tlog_tiles::Checkpoint::new(origin, size, tlog_tiles::Hash(*root), "")
        .map(|c| c.to_bytes())
        .map_err(|_| {
            LedgerError::malformed("checkpoint", format!("origin {origin:?} is not valid"))
        })
}

/// Sign a checkpoint for the log whose origin is `log.name`; returns the signed note text.
pub fn sign_checkpoint(log: &NamedKey, size: u64, root: &Hash32) -> Result<String> {
    let body = checkpoint_body(&log.name, size, root)?;
    let mut note =
        Note::new(&body, &[]).map_err(|e| LedgerError::malformed("checkpoint", e.to_string()))?;
    note.add_sigs(&[&Ed25519NoteSigner(log)])
        .map_err(|e| LedgerError::malformed("checkpoint", e.to_string()))?;
    String::from_utf8(note.to_bytes())
        .map_err(|_| LedgerError::malformed("checkpoint", "not UTF-8"))
}

/// A checkpoint whose log signature has been verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    #[serde(with = "crate::hex32")]
    pub root: Hash32,
    /// Names of the witnesses whose cosignatures verified.
    pub witnesses: Vec<String>,
    /// The signed note, verbatim.
    pub note: String,
}

/// How many witnesses (from a known set) must have cosigned a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessPolicy {
    /// The log's verifier key (`origin+id+key`).
    pub log: String,
    /// Known witnesses' cosignature verifier keys.
    pub witnesses: Vec<String>,
    /// Minimum number of distinct known witnesses that must cosign.
    pub threshold: usize,
}

impl WitnessPolicy {
    /// Parse and verify a signed checkpoint against this policy.
    pub fn verify(&self, note_text: &str) -> Result<Checkpoint> {
        let (origin, _, alg, log_key) = parse_vkey(&self.log)?;
        if alg != ALG_ED25519 {
            return Err(LedgerError::Policy(
                "the log key is not an Ed25519 note key".into(),
            ));
        }
        let mut list: Vec<Box<dyn signed_note::Verifier>> = vec![Box::new(Ed25519NoteVerifier {
            id: key_id(&origin, ALG_ED25519, &log_key),
            name: origin.clone(),
            key: log_key,
        })];
        let mut witness_names = BTreeSet::new();
        for w in &self.witnesses {
            let (name, id, alg, key) = parse_vkey(w)?;
            if alg != ALG_COSIG_V1 {
                return Err(LedgerError::Policy(format!(
                    "witness key {name} is not a cosignature/v1 key"
                )));
            }
            witness_names.insert(name.clone());
            list.push(Box::new(CosigVerifier { name, id, key }));
        }
        if self.threshold > witness_names.len() {
            return Err(LedgerError::Policy(format!(
                "threshold {} exceeds the {} known witnesses",
                self.threshold,
                witness_names.len()
            )));
        }
        let note = Note::from_bytes(note_text.as_bytes())
            .map_err(|e| LedgerError::malformed("checkpoint note", e.to_string()))?;
        let (verified, _unknown) = note.verify(&VerifierList::new(list)).map_err(|e| match e {
            signed_note::NoteError::InvalidSignature { name, id } => {
                LedgerError::Signature(format!("checkpoint signature by {name} (key {id:08x}) does not verify: the checkpoint was altered or forged"))
            }
            signed_note::NoteError::UnverifiedNote => {
                LedgerError::Signature("checkpoint carries no signature by any known key (forged or wrong log key)".into())
            }
            other => LedgerError::malformed("checkpoint note", other.to_string()),
        })?;
        if !verified.iter().any(|s| s.name() == origin) {
            return Err(LedgerError::Signature(format!(
                "checkpoint is not signed by the log {origin}"
            )));
        }
        let cp = tlog_tiles::Checkpoint::from_bytes(note.text())
            .map_err(|_| LedgerError::malformed("checkpoint", "body is not a tlog checkpoint"))?;
        if cp.origin() != origin {
            return Err(LedgerError::Policy(format!(
                "checkpoint origin {:?} is not the log {origin:?}",
                cp.origin()
            )));
        }
        let witnesses: Vec<String> = verified
            .iter()
            .filter(|s| s.name() != origin && witness_names.contains(s.name()))
            .map(|s| s.name().to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if witnesses.len() < self.threshold {
            return Err(LedgerError::Policy(format!(
                "checkpoint has {} valid witness cosignature(s) ({}) but the policy requires {}",
                witnesses.len(),
                witnesses.join(", "),
                self.threshold
            )));
        }
        Ok(Checkpoint {
            origin,
            size: cp.size(),
            root: cp.hash().0,
            witnesses,
            note: note_text.to_string(),
        })
    }
}

/// Verify only the log's signature on a checkpoint (no witness requirement).
pub fn verify_log_signature(log_vkey: &str, note_text: &str) -> Result<Checkpoint> {
    WitnessPolicy {
        log: log_vkey.to_string(),
        witnesses: vec![],
        threshold: 0,
    }
    .verify(note_text)
}

/// A witness: cosigns a log's checkpoints only if each is consistent with the
/// last one it cosigned for that log.
#[derive(Debug, Clone)]
pub struct Witness {
    pub key: NamedKey,
    /// Last cosigned (size, root) per log origin.
    pub seen: BTreeMap<String, (u64, Hash32)>,
}

impl Witness {
    pub fn new(key: NamedKey) -> Self {
        Witness {
            key,
            seen: BTreeMap::new(),
        }
    }
    pub fn vkey(&self) -> String {
        witness_vkey(&self.key)
    }
    /// Check `note_text` (signed by `log_vkey`) extends what this witness saw
    /// (`proof` = consistency proof from the witness's last size) and return
    /// the note with this witness's cosignature appended. `time` is unix
    /// seconds, supplied by the caller.
    pub fn cosign(
        &mut self,
        log_vkey: &str,
        note_text: &str,
        proof: &[Hash32],
        time: u64,
    ) -> Result<String> {
        let cp = verify_log_signature(log_vkey, note_text)?;
        if let Some((old_size, old_root)) = self.seen.get(&cp.origin) {
            crate::tree::verify_consistency(*old_size, old_root, cp.size, &cp.root, proof)
                .map_err(|e| {
                    LedgerError::ServerFork(format!(
                        "witness {} refuses to cosign {} at size {}: {e}",
                        self.key.name, cp.origin, cp.size
                    ))
                })?;
        }
        let mut note = Note::from_bytes(note_text.as_bytes())
            .map_err(|e| LedgerError::malformed("checkpoint note", e.to_string()))?;
        let signer = CosigSigner {
            key: &self.key.key,
            name: &self.key.name,
            id: key_id(&self.key.name, ALG_COSIG_V1, &self.key.public()),
            time,
        };
        note.add_sigs(&[&signer])
            .map_err(|e| LedgerError::malformed("checkpoint note", e.to_string()))?;
        self.seen.insert(cp.origin, (cp.size, cp.root));
        String::from_utf8(note.to_bytes())
            .map_err(|_| LedgerError::malformed("checkpoint", "not UTF-8"))
    }
}

/// Merge the signature lines of several copies of the same checkpoint (each
/// cosigned by a different witness) into one note.
pub fn merge_cosignatures(notes: &[String]) -> Result<String> {
    let first = notes
        .first()
        .ok_or_else(|| LedgerError::invalid("merge cosignatures", "no notes"))?;
    let base = Note::from_bytes(first.as_bytes())
        .map_err(|e| LedgerError::malformed("checkpoint note", e.to_string()))?;
    let mut lines: Vec<String> = Vec::new();
    for n in notes {
        let note = Note::from_bytes(n.as_bytes())
            .map_err(|e| LedgerError::malformed("checkpoint note", e.to_string()))?;
        if note.text() != base.text() {
            return Err(LedgerError::invalid(
                "merge cosignatures",
                "notes are for different checkpoints",
            ));
        }
        let s = String::from_utf8_lossy(&note.to_bytes()[note.text().len() + 1..]).to_string();
        for l in s.lines() {
            if !lines.iter().any(|x| x == l) {
                lines.push(l.to_string());
            }
        }
    }
    let mut out = String::from_utf8_lossy(base.text()).to_string();
    out.push('\n');
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    Ok(out)
}

/// Parse a log verifier key into (origin, Ed25519 key).
pub fn parse_log_vkey(s: &str) -> Result<(String, VerifyingKey)> {
    let (name, _, alg, key) = parse_vkey(s)?;
    if alg != ALG_ED25519 {
        return Err(LedgerError::Policy(format!(
            "log key {name} is not an Ed25519 note key"
        )));
    }
    Ok((name, key))
}

/// Parse a witness (cosignature/v1) verifier key into (name, Ed25519 key).
pub fn parse_witness_vkey(s: &str) -> Result<(String, VerifyingKey)> {
    let (name, _, alg, key) = parse_vkey(s)?;
    if alg != ALG_COSIG_V1 {
        return Err(LedgerError::Policy(format!(
            "witness key {name} is not a cosignature/v1 key"
        )));
    }
    Ok((name, key))
}

/// Verify that any signed note (not only a checkpoint) carries a valid
/// Ed25519 signature by the key `vkey`; returns the note text.
pub fn verify_note(vkey: &str, note_text: &str) -> Result<String> {
    let (name, id, alg, key) = parse_vkey(vkey)?;
    if alg != ALG_ED25519 {
        return Err(LedgerError::Policy(format!(
            "{name} is not an Ed25519 note key"
        )));
    }
    let note = Note::from_bytes(note_text.as_bytes())
        .map_err(|e| LedgerError::malformed("note", e.to_string()))?;
    note.verify(&VerifierList::new(vec![Box::new(Ed25519NoteVerifier {
        name,
        id,
        key,
    })]))
    .map_err(|e| LedgerError::Signature(format!("note: {e}")))?;
    Ok(String::from_utf8_lossy(note.text()).to_string())
}
