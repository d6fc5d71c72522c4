//! Log leaves and device heads.
//!
//! A leaf is one device-log entry: `device, seq, prev, commitment`, signed by
//! the device. `prev` is the RFC 6962 leaf hash of the device's previous
//! entry (zeros for seq 1), so each device's entries form a hash chain and a
//! signed head at seq *n* commits to everything the device recorded up to *n*.
//!
//! Binary layout (big-endian), exactly [`Leaf::encode`]:
//! `"SPL1" | u8 len | device | u64 seq | prev[32] | commitment[32] | sig[64]`,
//! where `sig` is Ed25519 over `"sallyport/leaf/v1\n"` and everything before it.

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::error::{LedgerError, Result};
use crate::ids::DeviceId;
use crate::{Hash32, leaf_hash};

const MAGIC: &[u8; 4] = b"SPL1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub device: DeviceId,
    pub seq: u64,
    pub prev: Hash32,
    pub commitment: Hash32,
    pub sig: [u8; 64],
}

impl Leaf {
    fn body(device: &DeviceId, seq: u64, prev: &Hash32, commitment: &Hash32) -> Vec<u8> {
        let d = device.as_str().as_bytes();
        let mut b = Vec::with_capacity(4 + 1 + d.len() + 8 + 64 + 64);
        b.extend_from_slice(MAGIC);
        b.push(d.len() as u8);
        b.extend_from_slice(d);
        b.extend_from_slice(&seq.to_be_bytes());
        b.extend_from_slice(prev);
        b.extend_from_slice(commitment);
        b
    }
    fn signed_message(body: &[u8]) -> Vec<u8> {
        let mut m = b"sallyport/leaf/v1\n".to_vec();
        m.extend_from_slice(body);
        m
    }

    pub fn sign(
        key: &SigningKey,
        device: DeviceId,
        seq: u64,
        prev: Hash32,
        commitment: Hash32,
    ) -> Leaf {
        let body = Self::body(&device, seq, &prev, &commitment);
        let sig = key.sign(&Self::signed_message(&body)).to_bytes();
        Leaf {
            device,
            seq,
            prev,
            commitment,
            sig,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut b = Self::body(&self.device, self.seq, &self.prev, &self.commitment);
        b.extend_from_slice(&self.sig);
        b
    }

    /// Strict parse: exact length, valid device id, seq ≥ 1.
    pub fn decode(bytes: &[u8]) -> Result<Leaf> {
        let bad = |why: &str| LedgerError::malformed("leaf", why.to_string());
        if bytes.len() < 5 || &bytes[..4] != MAGIC {
            return Err(bad("does not start with SPL1"));
        }
        let dl = bytes[4] as usize;
        if bytes.len() != 5 + dl + 8 + 32 + 32 + 64 {
            return Err(bad(&format!(
                "length {} does not match device-id length {dl}",
                bytes.len()
            )));
        }
        let device =
            std::str::from_utf8(&bytes[5..5 + dl]).map_err(|_| bad("device id is not UTF-8"))?;
        let device = DeviceId::new(device)?;
        let mut p = 5 + dl;
        let seq = u64::from_be_bytes(bytes[p..p + 8].try_into().map_err(|_| bad("seq"))?);
        p += 8;
        if seq == 0 {
            return Err(bad("seq must start at 1"));
        }
        let prev: Hash32 = bytes[p..p + 32].try_into().map_err(|_| bad("prev"))?;
        p += 32;
        let commitment: Hash32 = bytes[p..p + 32].try_into().map_err(|_| bad("commitment"))?;
        p += 32;
        let sig: [u8; 64] = bytes[p..p + 64].try_into().map_err(|_| bad("sig"))?;
        Ok(Leaf {
            device,
            seq,
            prev,
            commitment,
            sig,
        })
    }

    pub fn verify(&self, key: &VerifyingKey) -> Result<()> {
        let body = Self::body(&self.device, self.seq, &self.prev, &self.commitment);
        key.verify(
            &Self::signed_message(&body),
            &Signature::from_bytes(&self.sig),
        )
        .map_err(|_| {
            LedgerError::Signature(format!(
                "leaf {}#{} is not signed by that device's key",
                self.device, self.seq
            ))
        })
    }

    /// RFC 6962 leaf hash of the encoded leaf.
    pub fn hash(&self) -> Hash32 {
        leaf_hash(&self.encode())
    }
}

/// A device's signed statement "my log has `seq` entries and the last one has leaf hash `head`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedHead {
    pub device: DeviceId,
    pub seq: u64,
    #[serde(with = "crate::hex32")]
    pub head: Hash32,
    #[serde(with = "crate::hex64")]
    pub sig: [u8; 64],
}

impl SignedHead {
    fn message(device: &DeviceId, seq: u64, head: &Hash32) -> Vec<u8> {
        let mut m = b"sallyport/head/v1\n".to_vec();
        m.push(device.as_str().len() as u8);
        m.extend_from_slice(device.as_str().as_bytes());
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(head);
        m
    }
    pub fn sign(key: &SigningKey, device: DeviceId, seq: u64, head: Hash32) -> Self {
        let sig = key.sign(&Self::message(&device, seq, &head)).to_bytes();
        SignedHead {
            device,
            seq,
            head,
            sig,
        }
    }
    pub fn verify(&self, key: &VerifyingKey) -> Result<()> {
        key.verify(
            &Self::message(&self.device, self.seq, &self.head),
            &Signature::from_bytes(&self.sig),
        )
        .map_err(|_| {
            LedgerError::Signature(format!(
                "head of device {} at seq {} does not verify",
                self.device, self.seq
            ))
        })
    }
    pub(crate) fn bytes(&self) -> Vec<u8> {
        let mut m = Self::message(&self.device, self.seq, &self.head);
        m.extend_from_slice(&self.sig);
        m
    }
}

/// Hand-over head exchange: device A's signed head, countersigned by device B
/// (who saw it at the hand-over). Either side can later prove what the other
/// had recorded by then. Travels as a JSON file or as a QR-sized text line
/// ([`HeadExchange::to_text`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadExchange {
    pub head: SignedHead,
    pub countersigner: DeviceId,
    #[serde(with = "crate::hex64")]
    pub countersig: [u8; 64],
    /// Claimed time of the exchange, unix ms.
    pub claimed_time_ms: i64,
}

impl HeadExchange {
    fn message(head: &SignedHead, by: &DeviceId, t: i64) -> Vec<u8> {
        let mut m = b"sallyport/head-cosign/v1\n".to_vec();
        m.extend(head.bytes());
        m.push(by.as_str().len() as u8);
        m.extend_from_slice(by.as_str().as_bytes());
        m.extend_from_slice(&t.to_be_bytes());
        m
    }
    /// Device `by` countersigns `head` (after checking it with the other device's key).
    pub fn countersign(
        head: SignedHead,
        head_key: &VerifyingKey,
        by: &DeviceId,
        key: &SigningKey,
        claimed_time_ms: i64,
    ) -> Result<Self> {
        head.verify(head_key)?;
        let countersig = key
            .sign(&Self::message(&head, by, claimed_time_ms))
            .to_bytes();
        Ok(HeadExchange {
            head,
            countersigner: by.clone(),
            countersig,
            claimed_time_ms,
        })
    }
    pub fn verify(&self, head_key: &VerifyingKey, countersigner_key: &VerifyingKey) -> Result<()> {
        self.head.verify(head_key)?;
        countersigner_key
            .verify(
                &Self::message(&self.head, &self.countersigner, self.claimed_time_ms),
                &Signature::from_bytes(&self.countersig),
            )
            .map_err(|_| {
                LedgerError::Signature(format!(
                    "countersignature by {} on head of {} does not verify",
                    self.countersigner, self.head.device
                ))
            })
    }
    /// Compact text form for a QR code: `SPHX1:` + base64url(JSON).
    pub fn to_text(&self) -> String {
        use base64::Engine as _;
        format!(
            "SPHX1:{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(self).unwrap_or_default())
        )
    }
    pub fn from_text(s: &str) -> Result<Self> {
        use base64::Engine as _;
        let body = s
            .trim()
            .strip_prefix("SPHX1:")
            .ok_or_else(|| LedgerError::malformed("head exchange", "missing SPHX1: prefix"))?;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|e| LedgerError::malformed("head exchange", format!("base64: {e}")))?;
        serde_json::from_slice(&raw)
            .map_err(|e| LedgerError::malformed("head exchange", e.to_string()))
    }
}
