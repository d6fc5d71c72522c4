//! RFC 6962 Merkle tree over tlog's stored-hash layout (via `tlog_tiles`).
//!
//! A tree of *n* leaves is persisted as its "stored hashes": every leaf hash
//! and every complete-subtree hash, in the dense order of
//! [`tlog_tiles::stored_hash_index`] (about two hashes per leaf). Appending a
//! leaf reads at most log₂ n earlier hashes; a root, inclusion or consistency
//! proof reads O(log n) of them. [`MemTree`] keeps them in a `Vec`; the store
//! backend keeps them in a table and uses [`needed_indexes`] to fetch exactly
//! what a computation reads in one query.

use std::cell::RefCell;
use std::collections::HashMap;

use tlog_tiles::{Hash, HashReader};

use crate::Hash32;
use crate::error::{LedgerError, Result};

/// Most hashes a proof for a tree of ≤ 2^63 leaves can need.
pub const MAX_PROOF_LEN: usize = 64;

/// In-memory stored hashes.
#[derive(Debug, Clone, Default)]
pub struct MemTree {
    hashes: Vec<Hash>,
    size: u64,
}

struct VecReader<'a>(&'a [Hash]);
impl HashReader for VecReader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> std::result::Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.0
                    .get(i as usize)
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

/// A reader over a map of already-fetched hashes.
pub struct MapReader<'a>(pub &'a HashMap<u64, Hash32>);
impl HashReader for MapReader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> std::result::Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|i| {
                self.0
                    .get(i)
                    .map(|h| Hash(*h))
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

/// Records which stored-hash indexes a computation reads (answers zeros).
#[derive(Default)]
pub struct RecordingReader(pub RefCell<Vec<u64>>);
impl HashReader for RecordingReader {
    fn read_hashes(&self, indexes: &[u64]) -> std::result::Result<Vec<Hash>, tlog_tiles::Error> {
        self.0.borrow_mut().extend_from_slice(indexes);
        Ok(vec![Hash::default(); indexes.len()])
    }
}

fn tl(e: tlog_tiles::Error) -> LedgerError {
    LedgerError::Proof(e.to_string())
}

/// What a proof or root computation needs: the stored-hash indexes read by
/// `f` (they depend only on sizes and positions, not on hash values).
pub fn needed_indexes(
    f: impl FnOnce(&RecordingReader) -> std::result::Result<(), tlog_tiles::Error>,
) -> Vec<u64> {
    let r = RecordingReader::default();
    let _ = f(&r);
    let mut v = r.0.into_inner();
    v.sort_unstable();
    v.dedup();
    v
}

/// The stored hashes to write when appending leaves `start..start+leaf_hashes.len()`,
/// as `(stored index, hash)` pairs, given `old` = a reader over the existing tree.
/// Reads from `old` only the ≤ log₂ n frontier hashes.
pub fn append_hashes<R: HashReader>(
    start: u64,
    leaf_hashes: &[Hash32],
    old: &R,
) -> Result<Vec<(u64, Hash32)>> {
    let base = tlog_tiles::stored_hash_index(0, start);
    let mut new: Vec<Hash> = Vec::with_capacity(leaf_hashes.len() * 2 + 64);
    struct Both<'a, R: HashReader> {
        old: &'a R,
        base: u64,
        new: &'a [Hash],
    }
    impl<R: HashReader> HashReader for Both<'_, R> {
        fn read_hashes(
            &self,
            indexes: &[u64],
        ) -> std::result::Result<Vec<Hash>, tlog_tiles::Error> {
            let mut out = Vec::with_capacity(indexes.len());
            for &i in indexes {
                if i >= self.base {
                    out.push(
                        *self
                            .new
                            .get((i - self.base) as usize)
                            .ok_or(tlog_tiles::Error::IndexesNotInTree)?,
                    );
                } else {
                    out.push(self.old.read_hashes(&[i])?[0]);
                }
            }
            Ok(out)
        }
    }
    for (k, lh) in leaf_hashes.iter().enumerate() {
        let n = start + k as u64;
        let hs = {
            let r = Both {
                old,
                base,
                new: &new,
            };
            tlog_tiles::stored_hashes_for_record_hash(n, Hash(*lh), &r).map_err(tl)?
        };
        new.extend(hs);
    }
    Ok(new
        .into_iter()
        .enumerate()
        .map(|(i, h)| (base + i as u64, h.0))
        .collect())
}

/// The old stored-hash indexes an append of `count` leaves at `start` reads.
pub fn append_frontier(start: u64, count: u64) -> Vec<u64> {
    let base = tlog_tiles::stored_hash_index(0, start);
    let mut need = Vec::new();
    for n in start..start + count {
        let m = (n + 1).trailing_zeros() as u8;
        for i in 0..m {
            let idx = tlog_tiles::stored_hash_index(i, (n >> i) - 1);
            if idx < base {
                need.push(idx);
            }
        }
    }
    need.sort_unstable();
    need.dedup();
    need
}

pub fn root_with<R: HashReader>(size: u64, r: &R) -> Result<Hash32> {
    tlog_tiles::tree_hash(size, r).map(|h| h.0).map_err(tl)
}
pub fn inclusion_with<R: HashReader>(index: u64, size: u64, r: &R) -> Result<Vec<Hash32>> {
    if index >= size {
        return Err(LedgerError::invalid(
            "inclusion proof",
            format!("leaf {index} is not in a tree of size {size}"),
        ));
    }
    tlog_tiles::prove_record(size, index, r)
        .map(|p| p.into_iter().map(|h| h.0).collect())
        .map_err(tl)
}
pub fn consistency_with<R: HashReader>(old: u64, new: u64, r: &R) -> Result<Vec<Hash32>> {
    if old == 0 || old == new {
        return Ok(vec![]);
    }
    if old > new {
        return Err(LedgerError::invalid(
            "consistency proof",
            format!("old size {old} exceeds new size {new}"),
        ));
    }
    tlog_tiles::prove_tree(new, old, r)
        .map(|p| p.into_iter().map(|h| h.0).collect())
        .map_err(tl)
}

impl MemTree {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    /// Append one leaf (its RFC 6962 leaf hash); returns its index.
    pub fn push_hash(&mut self, leaf: Hash32) -> u64 {
        let n = self.size;
        // Reads only hashes already present: cannot fail.
        let hs = tlog_tiles::stored_hashes_for_record_hash(n, Hash(leaf), &VecReader(&self.hashes))
            .unwrap_or_default();
        self.hashes.extend(hs);
        self.size += 1;
        n
    }
    pub fn push(&mut self, leaf_data: &[u8]) -> u64 {
        self.push_hash(crate::leaf_hash(leaf_data))
    }
    pub fn root(&self) -> Hash32 {
        self.root_at(self.size).unwrap_or(tlog_tiles::EMPTY_HASH.0)
    }
    pub fn root_at(&self, size: u64) -> Result<Hash32> {
        if size > self.size {
            return Err(LedgerError::invalid(
                "root",
                format!("size {size} beyond tree size {}", self.size),
            ));
        }
        root_with(size, &VecReader(&self.hashes))
    }
    pub fn inclusion(&self, index: u64, size: u64) -> Result<Vec<Hash32>> {
        if size > self.size {
            return Err(LedgerError::invalid(
                "inclusion proof",
                format!("size {size} beyond tree size {}", self.size),
            ));
        }
        inclusion_with(index, size, &VecReader(&self.hashes))
    }
    pub fn consistency(&self, old: u64, new: u64) -> Result<Vec<Hash32>> {
        if new > self.size {
            return Err(LedgerError::invalid(
                "consistency proof",
                format!("size {new} beyond tree size {}", self.size),
            ));
        }
        consistency_with(old, new, &VecReader(&self.hashes))
    }
}

/// Check that `proof` shows leaf `index` with `leaf` hash is in the tree of `size` with `root`.
pub fn verify_inclusion(
    leaf: &Hash32,
    index: u64,
    size: u64,
    proof: &[Hash32],
    root: &Hash32,
) -> Result<()> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(LedgerError::Proof(format!(
            "inclusion proof for leaf {index} has {} hashes (max {MAX_PROOF_LEN})",
            proof.len()
        )));
    }
    if index >= size {
        return Err(LedgerError::Proof(format!(
            "leaf index {index} is outside the tree of size {size}"
        )));
    }
    let p: Vec<Hash> = proof.iter().map(|h| Hash(*h)).collect();
    tlog_tiles::check_record(&p, size, Hash(*root), index, Hash(*leaf)).map_err(|_| {
        LedgerError::Proof(format!(
            "leaf {index} is not included in the tree of size {size} with the given root"
        ))
    })
}

/// Check that the tree (`new_size`, `new_root`) extends (`old_size`, `old_root`).
pub fn verify_consistency(
    old_size: u64,
    old_root: &Hash32,
    new_size: u64,
    new_root: &Hash32,
    proof: &[Hash32],
) -> Result<()> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(LedgerError::Proof(format!(
            "consistency proof has {} hashes (max {MAX_PROOF_LEN})",
            proof.len()
        )));
    }
    if old_size > new_size {
        return Err(LedgerError::Proof(format!(
            "tree shrank from {old_size} to {new_size}"
        )));
    }
    if old_size == new_size {
        return if old_root == new_root && proof.is_empty() {
            Ok(())
        } else {
            Err(LedgerError::Proof(format!(
                "two different roots for tree size {new_size}"
            )))
        };
    }
    if old_size == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(LedgerError::Proof(
                "non-empty proof from the empty tree".into(),
            ))
        };
    }
    let p: Vec<Hash> = proof.iter().map(|h| Hash(*h)).collect();
    tlog_tiles::check_tree(&p, new_size, Hash(*new_root), old_size, Hash(*old_root)).map_err(|_| {
        LedgerError::Proof(format!(
            "tree of size {new_size} is not an extension of the tree of size {old_size}"
        ))
    })
}
