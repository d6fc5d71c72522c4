//! Persistence (feature `store`): the central log in the Store (SQLite or
//! PostgreSQL) and a field device's journal (its own SQLite file).
//!
//! Appends run in one transaction per batch: take the write lock on
//! `ledger_state`, read the ≤ log₂ n frontier hashes, multi-row insert leaves,
//! stored hashes and openings, advance the size. Proofs read exactly the
//! O(log n) stored hashes they need in one query.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use sallyport_core::PersonId;
use sallyport_store::Store;
use sqlx::Row;

use crate::bundle::{Bundle, ExportItem};
use crate::device::{FieldLog, Record, SeenCheckpoint};
use crate::error::{LedgerError, Result};
use crate::event::CustodyEvent;
use crate::ids::{DeviceId, DeviceKey, NamedKey};
use crate::leaf::Leaf;
use crate::note::{self, WitnessPolicy};
use crate::reconcile::{DeviceIncident, LoggedEvent, Manifest, Reconciliation, reconcile};
use crate::sync::{DeviceBatch, DeviceState, IngestReceipt, LeafReceipt, validate_batch};
use crate::tree::{self, MapReader};
use crate::{Hash32, leaf_hash};

fn db(e: impl std::fmt::Display) -> LedgerError {
    LedgerError::Storage(e.to_string())
}


/// One leaf to append, with its opening.
#[derive(Debug, Clone)]
pub struct AppendLeaf {
    pub device: DeviceId,
    pub seq: u64,
    pub leaf: Vec<u8>,
    pub leaf_hash: Hash32,
    pub person: String,
    pub salt: Hash32,
    pub event: Vec<u8>,
}

/// The central custody log over a [`Store`].
#[derive(Clone)]
pub struct CentralLog {
    store: Store,
    log_key: NamedKey,
    write: Arc<tokio::sync::Mutex<()>>,
}

async fn fetch_hashes<'e, E>(ex: E, idx: &[u64]) -> Result<HashMap<u64, Hash32>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any> + Copy,
{
    let mut out = HashMap::with_capacity(idx.len());
    for chunk in idx.chunks(1000) {
        if chunk.is_empty() {
            continue;
        }
        let ph: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT idx, hash FROM ledger_hashes WHERE idx IN ({})",
            ph.join(",")
        );
        let mut q = sqlx::query(&sql);
        for &i in chunk {
            q = q.bind(i as i64);
        }
        for row in q.fetch_all(ex).await.map_err(db)? {
            let i: i64 = row.try_get(0).map_err(db)?;
            let h: Vec<u8> = row.try_get(1).map_err(db)?;
            let h: Hash32 = h
                .try_into()
                .map_err(|_| LedgerError::Storage(format!("stored hash {i} is not 32 bytes")))?;
            out.insert(i as u64, h);
        }
    }
    if out.len() != idx.len() {
        return Err(LedgerError::Storage(format!(
            "{} of {} stored hashes missing",
            idx.len() - out.len(),
            idx.len()
        )));
    }
    Ok(out)
}

impl CentralLog {
    /// The log whose origin is `log_key.name`.
    pub fn new(store: Store, log_key: NamedKey) -> Self {
        CentralLog {
            store,
            log_key,
            write: Arc::new(tokio::sync::Mutex::new(())),
        }
    }
    pub fn store(&self) -> &Store {
        &self.store
    }
    pub fn log_key(&self) -> &NamedKey {
        &self.log_key
    }
    pub fn log_vkey(&self) -> String {
        note::log_vkey(&self.log_key)
    }

    pub async fn size(&self) -> Result<u64> {
        let s: i64 = sqlx::query_scalar("SELECT size FROM ledger_state WHERE id = 1")
            .fetch_one(self.store.pool())
            .await
            .map_err(db)?;
        Ok(s as u64)
    }

    pub async fn register_device(&self, id: &DeviceId, key: &VerifyingKey) -> Result<()> {
        let existing: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT pubkey FROM ledger_devices WHERE device = $1")
                .bind(id.as_str())
                .fetch_optional(self.store.pool())
                .await
                .map_err(db)?;
        match existing {
            Some(k) if k == key.as_bytes() => Ok(()),
            Some(_) => Err(LedgerError::invalid(
                "register device",
                format!("{id} is already registered with a different key"),
            )),
            None => {
                sqlx::query("INSERT INTO ledger_devices (device, pubkey, last_seq, last_head) VALUES ($1, $2, 0, $3)")
                    .bind(id.as_str())
                    .bind(key.as_bytes().to_vec())
                    .bind(vec![0u8; 32])
                    .execute(self.store.pool())
                    .await
                    .map_err(db)?;
                Ok(())
            }
        }
    }

    pub async fn device_keys(&self) -> Result<BTreeMap<DeviceId, VerifyingKey>> {
        let rows = sqlx::query("SELECT device, pubkey FROM ledger_devices")
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
        let mut out = BTreeMap::new();
        for r in rows {
            let d: String = r.try_get(0).map_err(db)?;
            let k: Vec<u8> = r.try_get(1).map_err(db)?;
            let k: [u8; 32] = k
                .try_into()
                .map_err(|_| LedgerError::Storage(format!("key of {d} corrupt")))?;
            out.insert(DeviceId::new(d)?, VerifyingKey::from_bytes(&k).map_err(db)?);
        }
        Ok(out)
    }

    async fn device_state(&self, id: &DeviceId) -> Result<Option<(VerifyingKey, DeviceState)>> {
        let row =
            sqlx::query("SELECT pubkey, last_seq, last_head FROM ledger_devices WHERE device = $1")
                .bind(id.as_str())
                .fetch_optional(self.store.pool())
                .await
                .map_err(db)?;
        let Some(r) = row else { return Ok(None) };
        let k: Vec<u8> = r.try_get(0).map_err(db)?;
        let s: i64 = r.try_get(1).map_err(db)?;
        let h: Vec<u8> = r.try_get(2).map_err(db)?;
        let k: [u8; 32] = k
            .try_into()
            .map_err(|_| LedgerError::Storage("device key corrupt".into()))?;
        let h: Hash32 = h
            .try_into()
            .map_err(|_| LedgerError::Storage("device head corrupt".into()))?;
        Ok(Some((
            VerifyingKey::from_bytes(&k).map_err(db)?,
            DeviceState {
                last_seq: s as u64,
                last_head: h,
            },
        )))
    }

    /// Append leaves durably in one transaction; returns the index of the first.
    /// `device_update` = (device, previous last_seq, new last_seq, new head) is
    /// applied in the same transaction (optimistic check on the previous seq).
    pub async fn append(
        &self,
        leaves: &[AppendLeaf],
        device_update: Option<(&DeviceId, u64, u64, Hash32)>,
    ) -> Result<u64> {
        let _g = self.write.lock().await;
        let mut tx = self.store.begin_write().await.map_err(db)?;
        sqlx::query("UPDATE ledger_state SET size = size WHERE id = 1")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let start: i64 = sqlx::query_scalar("SELECT size FROM ledger_state WHERE id = 1")
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        let start = start as u64;
        if leaves.is_empty() {
            tx.rollback().await.map_err(db)?;
            return Ok(start);
        }
        let frontier = tree::append_frontier(start, leaves.len() as u64);
        let old = {
            let mut out = HashMap::new();
            for chunk in frontier.chunks(1000) {
                let ph: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "SELECT idx, hash FROM ledger_hashes WHERE idx IN ({})",
                    ph.join(",")
                );
                let mut q = sqlx::query(&sql);
                for &i in chunk {
                    q = q.bind(i as i64);
                }
                for row in q.fetch_all(&mut *tx).await.map_err(db)? {
                    let i: i64 = row.try_get(0).map_err(db)?;
                    let h: Vec<u8> = row.try_get(1).map_err(db)?;
                    out.insert(
                        i as u64,
                        h.try_into()
                            .map_err(|_| LedgerError::Storage("stored hash corrupt".into()))?,
                    );
                }
            }
            out
        };
        let lh: Vec<Hash32> = leaves.iter().map(|l| l.leaf_hash).collect();
        let hashes = tree::append_hashes(start, &lh, &MapReader(&old))?;

        // Wide statements in the backend's cheapest placeholder style (see `Backend::values`).
        let backend = self.store.backend();
        let rows_per = backend.rows_per_statement(4);
        for (c, chunk) in leaves.chunks(rows_per).enumerate() {
            let sql = format!(
                "INSERT INTO ledger_leaves (idx, device, seq, leaf) VALUES {}",
                backend.values(chunk.len(), 4)
            );
            let mut q = sqlx::query(&sql);
            for (k, l) in chunk.iter().enumerate() {
                q = q
                    .bind((start + (c * rows_per + k) as u64) as i64)
                    .bind(l.device.as_str())
                    .bind(l.seq as i64)
                    .bind(l.leaf.clone());
            }
            q.execute(&mut *tx).await.map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => LedgerError::invalid(
                    "append",
                    "a (device, seq) in this batch is already logged",
                ),
                _ => db(e),
            })?;
            let sql = format!(
                "INSERT INTO ledger_openings (idx, person, salt, event) VALUES {}",
                backend.values(chunk.len(), 4)
            );
            let mut q = sqlx::query(&sql);
            for (k, l) in chunk.iter().enumerate() {
                q = q
                    .bind((start + (c * rows_per + k) as u64) as i64)
                    .bind(l.person.as_str())
                    .bind(l.salt.to_vec())
                    .bind(l.event.clone());
            }
            q.execute(&mut *tx).await.map_err(db)?;
        }
        for chunk in hashes.chunks(backend.rows_per_statement(2)) {
            let sql = format!(
                "INSERT INTO ledger_hashes (idx, hash) VALUES {}",
                backend.values(chunk.len(), 2)
            );
            let mut q = sqlx::query(&sql);
            for (i, h) in chunk {
                q = q.bind(*i as i64).bind(h.to_vec());
            }
            q.execute(&mut *tx).await.map_err(db)?;
        }
        if let Some((dev, prev_seq, new_seq, head)) = device_update {
            let r = sqlx::query("UPDATE ledger_devices SET last_seq = $1, last_head = $2 WHERE device = $3 AND last_seq = $4")
                .bind(new_seq as i64)
                .bind(head.to_vec())
                .bind(dev.as_str())
                .bind(prev_seq as i64)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            if r.rows_affected() != 1 {
                return Err(LedgerError::invalid(
                    "append",
                    format!("device {dev} advanced concurrently; retry the batch"),
                ));
            }
        }
        sqlx::query("UPDATE ledger_state SET size = $1 WHERE id = 1")
            .bind((start + leaves.len() as u64) as i64)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(start)
    }

    async fn read_for<F>(&self, f: F) -> Result<HashMap<u64, Hash32>>
    where
        F: FnOnce(&tree::RecordingReader) -> std::result::Result<(), tlog_tiles::Error>,
    {
        let need = tree::needed_indexes(f);
        fetch_hashes(self.store.pool(), &need).await
    }

    pub async fn root(&self, size: u64) -> Result<Hash32> {
        let m = self
            .read_for(|r| tlog_tiles::tree_hash(size, r).map(|_| ()))
            .await?;
        tree::root_with(size, &MapReader(&m))
    }
    pub async fn inclusion(&self, index: u64, size: u64) -> Result<Vec<Hash32>> {
        if index >= size {
            return Err(LedgerError::invalid(
                "inclusion proof",
                format!("leaf {index} is not in a tree of size {size}"),
            ));
        }
        let m = self
            .read_for(|r| tlog_tiles::prove_record(size, index, r).map(|_| ()))
            .await?;
        tree::inclusion_with(index, size, &MapReader(&m))
    }
    pub async fn consistency(&self, old: u64, new: u64) -> Result<Vec<Hash32>> {
        if old == 0 || old >= new {
            return tree::consistency_with(old, new, &MapReader(&HashMap::new()));
        }
        let m = self
            .read_for(|r| tlog_tiles::prove_tree(new, old, r).map(|_| ()))
            .await?;
        tree::consistency_with(old, new, &MapReader(&m))
    }
    /// Many inclusion proofs against one size, with one round of reads.
    pub async fn inclusions(&self, indexes: &[u64], size: u64) -> Result<Vec<Vec<Hash32>>> {
        let m = self
            .read_for(|r| {
                for &i in indexes {
                    if i < size {
                        tlog_tiles::prove_record(size, i, r)?;
                    }
                }
                Ok(())
            })
            .await?;
        indexes
            .iter()
            .map(|&i| tree::inclusion_with(i, size, &MapReader(&m)))
            .collect()
    }

    /// Sign a checkpoint for the current tree and store it (or return the
    /// stored one if the tree has not grown).
    pub async fn checkpoint(&self) -> Result<String> {
        let size = self.size().await?;
        if let Some((s, note)) = self.latest_checkpoint().await?
            && s == size {
            return Ok(note); // keep the cosignatures already gathered for this size
        }
        let root = self.root(size).await?;
        let note = note::sign_checkpoint(&self.log_key, size, &root)?;
        self.store_checkpoint(size, &note).await?;
        Ok(note)
    }
    /// Store a (possibly cosigned) checkpoint note, replacing the one of the same size.
    pub async fn store_checkpoint(&self, size: u64, note: &str) -> Result<()> {
        let cp = note::verify_log_signature(&self.log_vkey(), note)?;
        if cp.size != size {
            return Err(LedgerError::invalid("checkpoint", "size mismatch"));
        }
        let mut tx = self.store.begin_write().await.map_err(db)?;
        sqlx::query("DELETE FROM ledger_checkpoints WHERE size = $1")
            .bind(size as i64)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("INSERT INTO ledger_checkpoints (size, note) VALUES ($1, $2)")
            .bind(size as i64)
            .bind(note)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }
    /// The newest stored checkpoint (with whatever cosignatures were added).
    pub async fn latest_checkpoint(&self) -> Result<Option<(u64, String)>> {
        let row =
            sqlx::query("SELECT size, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
                .fetch_optional(self.store.pool())
                .await
                .map_err(db)?;
        Ok(match row {
            Some(r) => Some((
                r.try_get::<i64, _>(0).map_err(db)? as u64,
                r.try_get(1).map_err(db)?,
            )),
            None => None,
        })
    }
    /// Have `witnesses` cosign the newest checkpoint (each checks consistency
    /// with what it saw) and store the merged note. `time` = unix seconds.
    pub async fn witness(
        &self,
        witnesses: &mut [crate::note::Witness],
        time: u64,
    ) -> Result<String> {
        let (size, note_text) = match self.latest_checkpoint().await? {
            Some(x) => x,
            None => {
                self.checkpoint().await?;
                self.latest_checkpoint()
                    .await?
                    .ok_or_else(|| LedgerError::Storage("no checkpoint".into()))?
            }
        };
        let mut notes = vec![];
        for w in witnesses.iter_mut() {
            let from = w.seen.get(&self.log_key.name).map_or(0, |s| s.0);
            let proof = self.consistency(from, size).await?;
            notes.push(w.cosign(&self.log_vkey(), &note_text, &proof, time)?);
        }
        let merged = if notes.is_empty() {
            note_text
        } else {
            note::merge_cosignatures(&notes)?
        };
        self.store_checkpoint(size, &merged).await?;
        Ok(merged)
    }

    async fn record_incident(&self, inc: &DeviceIncident) -> Result<()> {
        sqlx::query(
            "INSERT INTO ledger_incidents (device, kind, detail, at_size) VALUES ($1, $2, $3, $4)",
        )
        .bind(inc.device.as_str())
        .bind(inc.kind.as_str())
        .bind(inc.detail.as_str())
        .bind(inc.at_size as i64)
        .execute(self.store.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    pub async fn incidents(&self) -> Result<Vec<DeviceIncident>> {
        let rows =
            sqlx::query("SELECT device, kind, detail, at_size FROM ledger_incidents ORDER BY id")
                .fetch_all(self.store.pool())
                .await
                .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(DeviceIncident {
                    device: DeviceId::new(r.try_get::<String, _>(0).map_err(db)?)?,
                    kind: r.try_get(1).map_err(db)?,
                    detail: r.try_get(2).map_err(db)?,
                    at_size: r.try_get::<i64, _>(3).map_err(db)? as u64,
                })
            })
            .collect()
    }

    /// Server side of sync: check the batch, append its new entries, return receipts.
    pub async fn ingest(&self, batch: &DeviceBatch) -> Result<IngestReceipt> {
        let (key, state) = self.device_state(&batch.device).await?.ok_or_else(|| {
            LedgerError::invalid("device batch", format!("unknown device {}", batch.device))
        })?;
        let overlap: Vec<u64> = batch
            .entries
            .iter()
            .filter_map(|e| Leaf::decode(&e.leaf).ok())
            .filter(|l| l.device == batch.device && l.seq <= state.last_seq)
            .map(|l| l.seq)
            .collect();
        let mut held = HashMap::new();
        if let (Some(lo), Some(hi)) = (overlap.iter().min(), overlap.iter().max()) {
            let rows = sqlx::query(
                "SELECT seq, leaf FROM ledger_leaves WHERE device = $1 AND seq >= $2 AND seq <= $3",
            )
            .bind(batch.device.as_str())
            .bind(*lo as i64)
            .bind(*hi as i64)
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
            for r in rows {
                let s: i64 = r.try_get(0).map_err(db)?;
                let l: Vec<u8> = r.try_get(1).map_err(db)?;
                held.insert(s as u64, leaf_hash(&l));
            }
        }
        let keys = self.device_keys().await?;
        let v = match validate_batch(batch, &key, &state, &held, &|d| keys.get(d).copied()) {
            Ok(v) => v,
            Err(e) => {
                if let Some(inc) = DeviceIncident::from_error(&e, self.size().await?) {
                    self.record_incident(&inc).await?;
                }
                return Err(e);
            }
        };
        let rows: Vec<AppendLeaf> = v
            .new
            .iter()
            .map(|e| AppendLeaf {
                device: v.device.clone(),
                seq: e.leaf.seq,
                leaf: e.leaf_bytes.clone(),
                leaf_hash: e.leaf_hash,
                person: e.event.person.to_string(),
                salt: e.salt,
                event: e.event_bytes.clone(),
            })
            .collect();
        if let Some(last) = v.new.last() {
            self.append(
                &rows,
                Some((&v.device, state.last_seq, last.leaf.seq, last.leaf_hash)),
            )
            .await?;
        }
        let note = self.checkpoint().await?;
        let cp = note::verify_log_signature(&self.log_vkey(), &note)?;
        let seqs: Vec<u64> = v
            .already
            .iter()
            .copied()
            .chain(v.new.iter().map(|e| e.leaf.seq))
            .collect();
        let mut idx_of = HashMap::new();
        if let (Some(lo), Some(hi)) = (seqs.iter().min(), seqs.iter().max()) {
            let rows = sqlx::query(
                "SELECT seq, idx FROM ledger_leaves WHERE device = $1 AND seq >= $2 AND seq <= $3",
            )
            .bind(v.device.as_str())
            .bind(*lo as i64)
            .bind(*hi as i64)
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
            for r in rows {
                idx_of.insert(
                    r.try_get::<i64, _>(0).map_err(db)? as u64,
                    r.try_get::<i64, _>(1).map_err(db)? as u64,
                );
            }
        }
        let indexes: Vec<u64> = seqs
            .iter()
            .map(|s| {
                idx_of.get(s).copied().ok_or_else(|| {
                    LedgerError::Storage(format!("{}#{s} not found after append", v.device))
                })
            })
            .collect::<Result<_>>()?;
        let proofs = self.inclusions(&indexes, cp.size).await?;
        let from = batch.known_size.min(cp.size);
        Ok(IngestReceipt {
            device: v.device.clone(),
            accepted_through: v.head.seq,
            newly_logged: v.new.len() as u64,
            leaves: seqs
                .iter()
                .zip(indexes)
                .zip(proofs)
                .map(|((&seq, index), proof)| LeafReceipt { seq, index, proof })
                .collect(),
            checkpoint: note,
            consistency_from: from,
            consistency: self.consistency(from, cp.size).await?,
        })
    }

    /// Every event, opened, in log order.
    pub async fn events(&self) -> Result<Vec<LoggedEvent>> {
        let rows = sqlx::query("SELECT l.idx, l.leaf, o.event FROM ledger_leaves l JOIN ledger_openings o ON o.idx = l.idx ORDER BY l.idx")
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let idx: i64 = r.try_get(0).map_err(db)?;
                let leaf = Leaf::decode(&r.try_get::<Vec<u8>, _>(1).map_err(db)?)?;
                let event = CustodyEvent::decode(&r.try_get::<Vec<u8>, _>(2).map_err(db)?)?;
                Ok(LoggedEvent {
                    index: idx as u64,
                    device: leaf.device,
                    seq: leaf.seq,
                    event,
                })
            })
            .collect()
    }

    pub async fn reconcile(&self, manifests: &[Manifest]) -> Result<Reconciliation> {
        Ok(reconcile(
            &self.events().await?,
            manifests,
            &self.incidents().await?,
        ))
    }

    /// An evidence bundle with every event about `people`, proved against the
    /// newest stored checkpoint (sign + cosign one first).
    pub async fn export_bundle(
        &self,
        people: &[PersonId],
        policy: WitnessPolicy,
    ) -> Result<Bundle> {
        let (size, note_text) = self
            .latest_checkpoint()
            .await?
            .ok_or_else(|| LedgerError::invalid("export", "no checkpoint yet"))?;
        let mut items = Vec::new();
        for p in people {
            let rows = sqlx::query("SELECT l.idx, l.leaf, o.salt, o.event FROM ledger_openings o JOIN ledger_leaves l ON l.idx = o.idx WHERE o.person = $1 AND o.idx < $2 ORDER BY o.idx")
                .bind(p.as_str())
                .bind(size as i64)
                .fetch_all(self.store.pool())
                .await
                .map_err(db)?;
            for r in rows {
                let salt: Vec<u8> = r.try_get(2).map_err(db)?;
                items.push(ExportItem {
                    index: r.try_get::<i64, _>(0).map_err(db)? as u64,
                    leaf: r.try_get(1).map_err(db)?,
                    salt: salt
                        .try_into()
                        .map_err(|_| LedgerError::Storage("salt corrupt".into()))?,
                    event: r.try_get(3).map_err(db)?,
                    proof: vec![],
                });
            }
        }
        if items.is_empty() {
            return Err(LedgerError::invalid(
                "export",
                "no logged events for the requested people at the latest checkpoint",
            ));
        }
        let idx: Vec<u64> = items.iter().map(|i| i.index).collect();
        for (it, p) in items.iter_mut().zip(self.inclusions(&idx, size).await?) {
            it.proof = p;
        }
        Bundle::build(
            &self.log_key,
            policy,
            note_text,
            items,
            &self.device_keys().await?,
        )
    }

    /// Full audit: recompute every stored hash from the leaves and compare, and
    /// check the stored checkpoints' roots. O(n); for tests and `ledger verify`.
    pub async fn verify_tree(&self) -> Result<u64> {
        let size = self.size().await?;
        let leaves: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT leaf FROM ledger_leaves ORDER BY idx")
                .fetch_all(self.store.pool())
                .await
                .map_err(db)?;
        if leaves.len() as u64 != size {
            return Err(LedgerError::Storage(format!(
                "size says {size} leaves but {} are stored",
                leaves.len()
            )));
        }
        let mut mem = tree::MemTree::new();
        for l in &leaves {
            mem.push(l);
        }
        let stored: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT hash FROM ledger_hashes ORDER BY idx")
                .fetch_all(self.store.pool())
                .await
                .map_err(db)?;
        let expect = tlog_tiles::stored_hash_count(size);
        if stored.len() as u64 != expect {
            return Err(LedgerError::Storage(format!(
                "{} stored hashes, expected {expect}",
                stored.len()
            )));
        }
        if size > 0 && self.root(size).await? != mem.root() {
            return Err(LedgerError::Storage(
                "stored hashes do not match the leaves".into(),
            ));
        }
        let cps = sqlx::query("SELECT size, note FROM ledger_checkpoints")
            .fetch_all(self.store.pool())
            .await
            .map_err(db)?;
        for r in cps {
            let s: i64 = r.try_get(0).map_err(db)?;
            let n: String = r.try_get(1).map_err(db)?;
            let cp = note::verify_log_signature(&self.log_vkey(), &n)?;
            if cp.size != s as u64 || mem.root_at(cp.size)? != cp.root {
                return Err(LedgerError::Storage(format!(
                    "checkpoint at size {s} does not match the tree"
                )));
            }
        }
        Ok(size)
    }
}

/// A field device's journal: a [`FieldLog`] persisted in its own SQLite file.
pub struct Journal {
    store: Store,
    pub log: FieldLog,
}

impl Journal {
    /// Create a journal for `key` at `url` (sqlite://PATH), or open the existing one.
    pub async fn open_or_create(url: &str, key: Option<DeviceKey>) -> Result<Journal> {
        let store = Store::open(url).await.map_err(db)?;
        let row = sqlx::query("SELECT device, sign_key, salt_key, synced_through, checkpoint FROM ledger_journal_meta WHERE id = 1")
            .fetch_optional(store.pool())
            .await
            .map_err(db)?;
        let (key, synced, cp) = match row {
            Some(r) => {
                let dev = DeviceId::new(r.try_get::<String, _>(0).map_err(db)?)?;
                let sk: Vec<u8> = r.try_get(1).map_err(db)?;
                let salt: Vec<u8> = r.try_get(2).map_err(db)?;
                let synced: i64 = r.try_get(3).map_err(db)?;
                let cp: Option<String> = r.try_get(4).map_err(db)?;
                let k = DeviceKey::from_parts(
                    dev,
                    &sk.try_into()
                        .map_err(|_| LedgerError::Storage("device key corrupt".into()))?,
                    &salt
                        .try_into()
                        .map_err(|_| LedgerError::Storage("salt key corrupt".into()))?,
                );
                if let Some(given) = &key
                    && (given.id != k.id || given.public() != k.public()) {
                    return Err(LedgerError::invalid(
                        "journal",
                        format!("already belongs to device {}", k.id),
                    ));
                }
                let cp = match cp {
                    Some(s) => Some(serde_json::from_str::<SeenCheckpoint>(&s).map_err(db)?),
                    None => None,
                };
                (k, synced as u64, cp)
            }
            None => {
                let k = key.ok_or_else(|| {
                    LedgerError::invalid("journal", "not initialised (run `sallyport field init`)")
                })?;
                let (sk, salt) = k.secret_parts();
                sqlx::query("INSERT INTO ledger_journal_meta (id, device, sign_key, salt_key, synced_through, checkpoint) VALUES (1, $1, $2, $3, 0, NULL)")
                    .bind(k.id.as_str())
                    .bind(sk.to_vec())
                    .bind(salt.to_vec())
                    .execute(store.pool())
                    .await
                    .map_err(db)?;
                (k, 0, None)
            }
        };
        let rows = sqlx::query("SELECT leaf, salt, event FROM ledger_journal ORDER BY seq")
            .fetch_all(store.pool())
            .await
            .map_err(db)?;
        let mut recs = Vec::with_capacity(rows.len());
        for r in rows {
            let salt: Vec<u8> = r.try_get(1).map_err(db)?;
            recs.push(Record {
                leaf: Leaf::decode(&r.try_get::<Vec<u8>, _>(0).map_err(db)?)?,
                salt: salt
                    .try_into()
                    .map_err(|_| LedgerError::Storage("salt corrupt".into()))?,
                event: r.try_get(2).map_err(db)?,
            });
        }
        let log = FieldLog::restore(key, recs, synced, cp)?;
        Ok(Journal { store, log })
    }

    /// Record and durably persist an event (acknowledge only after this returns).
    pub async fn record(&mut self, ev: &CustodyEvent) -> Result<Record> {
        let rec = self.log.record(ev)?.clone();
        let r = sqlx::query(
            "INSERT INTO ledger_journal (seq, leaf, salt, event) VALUES ($1, $2, $3, $4)",
        )
        .bind(rec.leaf.seq as i64)
        .bind(rec.leaf.encode())
        .bind(rec.salt.to_vec())
        .bind(rec.event.clone())
        .execute(self.store.pool())
        .await;
        if let Err(e) = r {
            self.log.truncate(rec.leaf.seq - 1);
            return Err(db(e));
        }
        Ok(rec)
    }

    /// Check a receipt and persist the new sync position.
    pub async fn apply_receipt(&mut self, receipt: &IngestReceipt, log_vkey: &str) -> Result<()> {
        self.log.apply_receipt(receipt, log_vkey)?;
        let cp = self
            .log
            .checkpoint
            .as_ref()
            .map(|c| serde_json::to_string(c).unwrap_or_default());
        sqlx::query(
            "UPDATE ledger_journal_meta SET synced_through = $1, checkpoint = $2 WHERE id = 1",
        )
        .bind(self.log.synced_through as i64)
        .bind(cp)
        .execute(self.store.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    /// Keep a countersigned head exchange received at a hand-over.
    pub async fn keep_exchange(&self, payload: &str) -> Result<()> {
        sqlx::query("INSERT INTO ledger_journal_exchanges (payload) VALUES ($1)")
            .bind(payload)
            .execute(self.store.pool())
            .await
            .map_err(db)?;
        Ok(())
    }
    pub async fn exchanges(&self) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT payload FROM ledger_journal_exchanges ORDER BY id")
            .fetch_all(self.store.pool())
            .await
            .map_err(db)
    }
}
