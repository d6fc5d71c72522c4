//! 1:N identification over an in-memory gallery of people (up to ten fingers each),
//! score fusion, and deduplication of a whole enrolled population.
//!
//! Search is two-stage: a minutia-pair index (every pair of minutiae 20–150 px apart,
//! keyed by quantised length and the two directions relative to the segment, which are
//! rotation- and translation-invariant) votes for candidate fingers; the best
//! `shortlist` fingers are then scored with the full MCC matcher ([`crate::mcc`]).
//! The shortlist loses recall only when a mate gets fewer votes than `shortlist` impostors;
//! [`Gallery::identify_exhaustive`] scores every finger for comparison.

use crate::mcc::{Prepared, compare};
use crate::template::Template;
use rayon::prelude::*;
use std::f32::consts::PI;

const D_MIN: f32 = 20.0;
const D_MAX: f32 = 150.0;
const D_BIN: f32 = 8.0;
const A_BINS: usize = 12;
const D_BINS: usize = ((D_MAX - D_MIN) / D_BIN) as usize + 1;
const KEYS: usize = D_BINS * A_BINS * A_BINS;

/// One enrolled finger.
pub struct Finger {
    pub person: u32,
    /// Finger position 1–10 (ISO/ANSI numbering), 0 when unknown.
    pub position: u8,
    pub prepared: Prepared,
}

/// A candidate in a ranked list.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Candidate {
    pub person: u32,
    pub score: f32,
}

/// People and their fingers, with the pair index.
pub struct Gallery {
    pub fingers: Vec<Finger>,
    /// postings[key] = finger indices having a pair with that key.
    postings: Vec<Vec<u32>>,
    /// Number of distinct keys of each finger (normalises votes).
    key_counts: Vec<u32>,
}

/// Keys of a template's minutia pairs; `soft` (probes) adds the nearest neighbouring
/// length bin.
fn pair_keys(p: &Prepared, soft: bool, out: &mut Vec<u32>) {
    out.clear();
    let n = p.x.len();
    for i in 0..n {
        for j in i + 1..n {
            let (dx, dy) = (p.x[j] - p.x[i], p.y[j] - p.y[i]);
            let d = dx.hypot(dy);
            if !(D_MIN..D_MAX).contains(&d) {
                continue;
            }
            let seg = dy.atan2(dx);
            let frac = |a: f32| (a - seg).rem_euclid(2.0 * PI) / (2.0 * PI) * A_BINS as f32;
            // (bin, nearest other bin) of the length and of both directions
            let near = |f: f32, bins: usize| {
                let b = (f as usize).min(bins - 1);
                let o = if f - b as f32 > 0.5 { (b + 1) % bins } else { (b + bins - 1) % bins };
                [b, o]
            };
            let fd = (d - D_MIN) / D_BIN;
            let db = (fd as usize).min(D_BINS - 1);
            let od = if fd - db as f32 > 0.5 { db + 1 } else { db.wrapping_sub(1) };
            let (fi, fj) = (frac(p.a[i]), frac(p.a[j] + PI));
            let variants = if soft { 2 } else { 1 };
            for &dbin in [db, od].iter().take(variants) {
                if dbin >= D_BINS {
                    continue;
                }
                for &bi in near(fi, A_BINS).iter().take(1) {
                    for &bj in near(fj, A_BINS).iter().take(1) {
                        // order the pair canonically so (i, j) and (j, i) give one key
                        let (lo, hi) = (bi.min(bj), bi.max(bj));
                        out.push(((dbin * A_BINS + lo) * A_BINS + hi) as u32);
                    }
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
}

impl Gallery {
    /// Builds a gallery (prepares cylinders and the index in parallel).
    pub fn new(entries: Vec<(u32, u8, Template)>) -> Self {
        let fingers: Vec<Finger> = entries
            .into_par_iter()
            .map(|(person, position, t)| Finger { person, position, prepared: Prepared::new(&t) })
            .collect();
        Self::from_prepared(fingers)
    }

    /// Builds the index over already prepared fingers.
    pub fn from_prepared(fingers: Vec<Finger>) -> Self {
        let keys: Vec<Vec<u32>> = fingers
            .par_iter()
            .map(|f| {
                let mut k = Vec::new();
                pair_keys(&f.prepared, false, &mut k);
                k
            })
            .collect();
        let mut postings = vec![Vec::new(); KEYS];
        for (fi, ks) in keys.iter().enumerate() {
            for &k in ks {
                postings[k as usize].push(fi as u32);
            }
        }
        let key_counts = keys.iter().map(|k| k.len() as u32).collect();
        Self { fingers, postings, key_counts }
    }

    /// Votes of the pair index for every finger (restricted to `position` when given).
    fn votes(&self, probe: &Prepared, position: Option<u8>) -> Vec<u16> {
        let mut keys = Vec::new();
        pair_keys(probe, true, &mut keys);
        let mut votes = vec![0u16; self.fingers.len()];
        for &k in &keys {
            for &f in &self.postings[k as usize] {
                votes[f as usize] = votes[f as usize].saturating_add(1);
            }
        }
        if let Some(p) = position {
            for (v, f) in votes.iter_mut().zip(&self.fingers) {
                if f.position != p {
                    *v = 0;
                }
            }
        }
        votes
    }

    /// Indices of the `k` fingers with the highest votes² / keys (votes normalised so
    /// fingers with many minutiae are not favoured).
    fn shortlist(&self, probe: &Prepared, position: Option<u8>, k: usize) -> Vec<usize> {
        let votes = self.votes(probe, position);
        let rank: Vec<f32> = votes.iter().zip(&self.key_counts).map(|(&v, &n)| (v as f32) * (v as f32) / n.max(1) as f32).collect();
        let mut idx: Vec<usize> = (0..votes.len()).filter(|&i| votes[i] > 0).collect();
        if idx.len() > k {
            idx.select_nth_unstable_by(k - 1, |&a, &b| rank[b].total_cmp(&rank[a]));
            idx.truncate(k);
        }
        idx
    }

    /// Ranked candidates for one probe finger: index shortlist of `shortlist` fingers,
    /// MCC-scored, best finger score per person, top `k` people.
    pub fn identify(&self, probe: &Prepared, position: Option<u8>, shortlist: usize, k: usize) -> Vec<Candidate> {
        let idx = self.shortlist(probe, position, shortlist);
        let scored: Vec<(u32, f32)> = idx.par_iter().map(|&i| (self.fingers[i].person, compare(probe, &self.fingers[i].prepared))).collect();
        rank(scored, k)
    }

    /// As [`Gallery::identify`] but scoring every finger (no index).
    pub fn identify_exhaustive(&self, probe: &Prepared, position: Option<u8>, k: usize) -> Vec<Candidate> {
        let scored: Vec<(u32, f32)> = self
            .fingers
            .par_iter()
            .filter(|f| position.is_none_or(|p| p == f.position))
            .map(|f| (f.person, compare(probe, &f.prepared)))
            .collect();
        rank(scored, k)
    }

    /// The fingers of one person, indexed by position.
    fn person_fingers(&self) -> std::collections::HashMap<u32, Vec<usize>> {
        let mut m: std::collections::HashMap<u32, Vec<usize>> = std::collections::HashMap::new();
        for (i, f) in self.fingers.iter().enumerate() {
            m.entry(f.person).or_default().push(i);
        }
        m
    }

    /// Finds people enrolled twice: every person's fingers at `query_positions` search the
    /// index (`shortlist` fingers each); each other person so found is compared finger by
    /// finger on every shared position and fused with [`fuse`]. Pairs with a fused score of
    /// at least `threshold` are returned, best first, each pair once (lower id first).
    pub fn dedup(&self, query_positions: &[u8], shortlist: usize, threshold: f32) -> Vec<(u32, u32, f32)> {
        let people = self.person_fingers();
        let mut ids: Vec<u32> = people.keys().copied().collect();
        ids.sort_unstable();
        let mut found: Vec<(u32, u32, f32)> = ids
            .par_iter()
            .flat_map_iter(|&p| {
                let mine = &people[&p];
                let mut others: Vec<u32> = Vec::new();
                for &fi in mine {
                    let f = &self.fingers[fi];
                    if !query_positions.contains(&f.position) {
                        continue;
                    }
                    for c in self.shortlist(&f.prepared, Some(f.position), shortlist) {
                        let q = self.fingers[c].person;
                        if q > p {
                            others.push(q);
                        }
                    }
                }
                others.sort_unstable();
                others.dedup();
                others
                    .into_iter()
                    .filter_map(|q| {
                        let scores: Vec<f32> = mine
                            .iter()
                            .filter_map(|&a| {
                                let fa = &self.fingers[a];
                                people[&q].iter().find(|&&b| self.fingers[b].position == fa.position).map(|&b| compare(&fa.prepared, &self.fingers[b].prepared))
                            })
                            .collect();
                        let s = fuse(&scores);
                        (s >= threshold).then_some((p, q, s))
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        found.sort_by(|a, b| b.2.total_cmp(&a.2));
        found
    }
}

/// Fuses the finger scores of two people: the mean of the scores after dropping the lowest
/// third (so a few damaged or missing-quality fingers do not sink a true mate), or 0 for
/// none.
pub fn fuse(scores: &[f32]) -> f32 {
    if scores.is_empty() {
        return 0.0;
    }
    let mut s = scores.to_vec();
    s.sort_by(|a, b| b.total_cmp(a));
    let keep = (s.len() * 2).div_ceil(3).max(1);
    s[..keep].iter().sum::<f32>() / keep as f32
}

fn rank(scored: Vec<(u32, f32)>, k: usize) -> Vec<Candidate> {
    let mut best: std::collections::HashMap<u32, f32> = std::collections::HashMap::new();
    for (p, s) in scored {
        let e = best.entry(p).or_insert(0.0);
        *e = e.max(s);
    }
    let mut out: Vec<Candidate> = best.into_iter().map(|(person, score)| Candidate { person, score }).collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.person.cmp(&b.person)));
    out.truncate(k);
    out
}
