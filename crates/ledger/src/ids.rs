//! Device identifiers and key material (derivable from a seed for demos).

use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Hash32;
use crate::error::{LedgerError, Result};

/// A field device (laptop, tablet) that records custody events. Same token
/// rules as the core ids: 1–64 ASCII letters, digits and `- _ . :`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceId(String);

impl DeviceId {
    pub fn new(s: impl Into<String>) -> Result<Self> {
        let s = s.into();
        if s.is_empty() || s.len() > 64 {
            return Err(LedgerError::malformed(
                "device id",
                format!("must be 1–64 characters, got {}", s.len()),
            ));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
        {
            return Err(LedgerError::malformed(
                "device id",
                format!("may contain only ASCII letters, digits and - _ . : (found {c:?})"),
            ));
        }
        Ok(DeviceId(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for DeviceId {
    type Error = LedgerError;
    fn try_from(s: String) -> Result<Self> {
        Self::new(s)
    }
}
impl From<DeviceId> for String {
    fn from(d: DeviceId) -> String {
        d.0
    }
}
impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::str::FromStr for DeviceId {
    type Err = LedgerError;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

fn derive(label: &str, seed: &[u8], name: &str) -> Hash32 {
    let mut h = Sha256::new();
    h.update(b"sallyport/key/v1\n");
    h.update(label.as_bytes());
    h.update([0]);
    h.update(name.as_bytes());
    h.update([0]);
    h.update(seed);
    h.finalize().into()
}

/// An Ed25519 signing key with a name (log origin, witness name or device id).
#[derive(Clone)]
pub struct NamedKey {
    pub name: String,
    pub key: SigningKey,
}

impl std::fmt::Debug for NamedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NamedKey({}, {})",
            self.name,
            hex::encode(self.key.verifying_key().as_bytes())
        )
    }
}

impl NamedKey {
    /// Deterministic key for demos and tests: the same seed and name give the same key.
    pub fn from_seed(name: &str, seed: &[u8]) -> Self {
        NamedKey {
            name: name.to_string(),
            key: SigningKey::from_bytes(&derive("sign", seed, name)),
        }
    }
    /// A fresh key from a cryptographic RNG (`OsRng` in production).
    pub fn generate<R: RngCore + CryptoRng>(name: &str, rng: &mut R) -> Self {
        NamedKey {
            name: name.to_string(),
            key: SigningKey::generate(rng),
        }
    }
    pub fn public(&self) -> VerifyingKey {
        self.key.verifying_key()
    }
    /// The 32-byte secret, to persist the key (keep the file private).
    pub fn secret_bytes(&self) -> Hash32 {
        self.key.to_bytes()
    }
    pub fn from_secret(name: &str, secret: &Hash32) -> Self {
        NamedKey {
            name: name.to_string(),
            key: SigningKey::from_bytes(secret),
        }
    }
}

/// A field device's identity: signing key plus a salt key from which each
/// event's commitment salt is derived (so openings are reproducible).
#[derive(Clone)]
pub struct DeviceKey {
    pub id: DeviceId,
    pub key: SigningKey,
    salt_key: Hash32,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DeviceKey({}, {})",
            self.id,
            hex::encode(self.key.verifying_key().as_bytes())
        )
    }
}

impl DeviceKey {
    pub fn from_seed(id: DeviceId, seed: &[u8]) -> Self {
        let key = SigningKey::from_bytes(&derive("device-sign", seed, id.as_str()));
        let salt_key = derive("device-salt", seed, id.as_str());
        DeviceKey { id, key, salt_key }
    }
    /// A fresh device key from the OS RNG.
    pub fn random(id: DeviceId) -> Self {
        Self::generate(id, &mut rand::rngs::OsRng)
    }
    pub fn generate<R: RngCore + CryptoRng>(id: DeviceId, rng: &mut R) -> Self {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Self::from_seed(id, &seed)
    }
    /// Persistable secret: (signing key, salt key).
    pub fn secret_parts(&self) -> (Hash32, Hash32) {
        (self.key.to_bytes(), self.salt_key)
    }
    pub fn from_parts(id: DeviceId, sign: &Hash32, salt_key: &Hash32) -> Self {
        DeviceKey {
            id,
            key: SigningKey::from_bytes(sign),
            salt_key: *salt_key,
        }
    }
    pub fn public(&self) -> VerifyingKey {
        self.key.verifying_key()
    }
    /// The commitment salt for the event at `seq`.
    pub fn salt(&self, seq: u64) -> Hash32 {
        let mut h = Sha256::new();
        h.update(b"sallyport/salt/v1\n");
        h.update(self.salt_key);
        h.update(seq.to_be_bytes());
        h.finalize().into()
    }
}

/// Hex of a public key.
pub fn public_hex(k: &VerifyingKey) -> String {
    hex::encode(k.as_bytes())
}

/// Parse a hex Ed25519 public key.
pub fn parse_public_hex(s: &str) -> Result<VerifyingKey> {
    let raw = hex::decode(s.trim()).map_err(|_| LedgerError::malformed("public key", "not hex"))?;
    let raw: [u8; 32] = raw
        .try_into()
        .map_err(|_| LedgerError::malformed("public key", "must be 32 bytes"))?;
    VerifyingKey::from_bytes(&raw)
        .map_err(|_| LedgerError::malformed("public key", "not an Ed25519 point"))
}

/// The log's key material as kept by the server operator (a private file):
/// the log key, the witnesses' keys (in a real deployment each witness keeps
/// its own) and the witness threshold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyFile {
    pub origin: String,
    pub log_secret: String,
    pub witnesses: Vec<(String, String)>,
    pub threshold: usize,
}

impl KeyFile {
    /// Deterministic from a seed (demos), else random from the OS.
    pub fn create(origin: &str, witnesses: &[&str], threshold: usize, seed: Option<&[u8]>) -> Self {
        let mk = |name: &str| match seed {
            Some(s) => NamedKey::from_seed(name, s),
            None => NamedKey::generate(name, &mut rand::rngs::OsRng),
        };
        let log = mk(origin);
        let ws = witnesses
            .iter()
            .map(|w| (w.to_string(), hex::encode(mk(w).secret_bytes())))
            .collect();
        KeyFile {
            origin: origin.into(),
            log_secret: hex::encode(log.secret_bytes()),
            witnesses: ws,
            threshold,
        }
    }
    fn secret(s: &str) -> Result<Hash32> {
        hex::decode(s)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| LedgerError::malformed("key file", "secret is not 32 bytes of hex"))
    }
    pub fn log_key(&self) -> Result<NamedKey> {
        Ok(NamedKey::from_secret(
            &self.origin,
            &Self::secret(&self.log_secret)?,
        ))
    }
    pub fn witness_keys(&self) -> Result<Vec<NamedKey>> {
        self.witnesses
            .iter()
            .map(|(n, s)| Ok(NamedKey::from_secret(n, &Self::secret(s)?)))
            .collect()
    }
    pub fn policy(&self) -> Result<crate::WitnessPolicy> {
        Ok(crate::WitnessPolicy {
            log: crate::note::log_vkey(&self.log_key()?),
            witnesses: self
                .witness_keys()?
                .iter()
                .map(crate::note::witness_vkey)
                .collect(),
            threshold: self.threshold,
        })
    }
}
