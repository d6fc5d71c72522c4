//! One error type for the ledger; every message names what failed and where.

/// Everything that can go wrong in the ledger. Untrusted input (bundles,
/// device batches, heads, checkpoints) is rejected with one of these, never a
/// panic.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum LedgerError {
    /// Input could not be parsed: `what` names the field or record, `why` the rule.
    #[error("malformed {what}: {why}")]
    Malformed { what: String, why: String },
    /// A signature did not verify.
    #[error("bad signature: {0}")]
    Signature(String),
    /// A Merkle inclusion or consistency proof did not verify.
    #[error("proof failed: {0}")]
    Proof(String),
    /// A checkpoint did not meet the witness policy.
    #[error("checkpoint policy not met: {0}")]
    Policy(String),
    /// A device presented a head older than one it already showed (restored backup, replay).
    #[error(
        "device {device} rolled back: presented head at seq {presented} but the server already holds seq {held}"
    )]
    Rollback {
        device: String,
        presented: u64,
        held: u64,
    },
    /// A device presented an entry that differs from one already logged at the same seq (clone).
    #[error(
        "device {device} forked at seq {seq}: entry differs from the one already logged (cloned or restored device)"
    )]
    Fork { device: String, seq: u64 },
    /// The server's checkpoints are not consistent with an earlier one (forking server).
    #[error("server checkpoint inconsistent: {0}")]
    ServerFork(String),
    /// A semantic rule failed (unknown device, bad sequence, wrong origin…).
    #[error("{what}: {why}")]
    Invalid { what: String, why: String },
    /// Database failure (store feature).
    #[error("storage: {0}")]
    Storage(String),
}

impl LedgerError {
    pub fn malformed(what: impl Into<String>, why: impl Into<String>) -> Self {
        LedgerError::Malformed {
            what: what.into(),
            why: why.into(),
        }
    }
    pub fn invalid(what: impl Into<String>, why: impl Into<String>) -> Self {
        LedgerError::Invalid {
            what: what.into(),
            why: why.into(),
        }
    }
}

pub type Result<T, E = LedgerError> = std::result::Result<T, E>;
