//! 1:N identification over an in-memory gallery of people (up to ten fingers each),
//! score fusion, and deduplication of a whole enrolled population.
//!
//! Search is two-stage: a minutia-pair index (every pair of minutiae 20–150 px apart,
//! keyed by quantised length and the two directions relative to the segment, which are
//! rotation- and translation-invariant) votes for candidate fingers; the best
//! `shortlist` fingers are then scored with the full MCC matcher ([`crate::mcc`]).
//! The index is kept per finger position, so a search restricted to one position walks
//! only that position's postings. The shortlist loses recall only when a mate gets fewer
//! votes than `shortlist` impostors; [`Gallery::identify_exhaustive`] scores every finger
//! for comparison.
//!
//! Deduplication ([`Gallery::dedup`]) shortlists *people*, not fingers: the index
//! similarity of every query finger is summed per candidate person, so a true duplicate,
//! similar on every finger, outranks people who share minutiae with one finger only; a
//! pair is scored when either person has the other on its shortlist.
//!
//! What a finger carries decides how it is scored: a finger built from a
//! [`Sample`] ([`Gallery::from_samples`]) that was extracted from an image keeps its
//! ridge field and its candidate minutiae (raw support), so a comparison with a probe
//! that has them too scores exactly as `bio eval` does; fingers from minutiae records
//! (ISO 19794-2, SPFT) carry neither and are scored on minutiae alone. The index and
//! shortlist use the minutiae only, whatever the finger carries.

use crate::mcc::{compare, Prepared};
use crate::sample::Sample;
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

/// The pair index of the fingers at one position.
struct Slot {
    position: u8,
    /// Gallery indices of this position's fingers, ascending (local index → gallery index).
    fingers: Vec<u32>,
    /// Postings in compressed rows: the local indices of the fingers having key `k` are
    /// `entries[offsets[k]..offsets[k + 1]]`.
    offsets: Vec<u32>,
    entries: Vec<u32>,
    /// Number of distinct keys of each local finger (normalises votes).
    key_counts: Vec<u32>,
}

impl Slot {
    /// Adds one vote per shared key to `votes` (one counter per local finger, zeroed here).
    fn vote(&self, probe_keys: &[u32], votes: &mut Vec<u16>) {
        votes.clear();
        votes.resize(self.fingers.len(), 0);
        for &k in probe_keys {
            let k = k as usize;
            for &f in &self.entries[self.offsets[k] as usize..self.offsets[k + 1] as usize] {
                votes[f as usize] = votes[f as usize].saturating_add(1);
            }
        }
    }
}

/// People and their fingers, with the pair index.
pub struct Gallery {
    pub fingers: Vec<Finger>,
    /// One index per finger position present, by ascending position.
    slots: Vec<Slot>,
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
            let bin = |a: f32| {
                (((a - seg).rem_euclid(2.0 * PI) / (2.0 * PI) * A_BINS as f32) as usize)
                    .min(A_BINS - 1)
            };
            let fd = (d - D_MIN) / D_BIN;
            let db = (fd as usize).min(D_BINS - 1);
            let od = if fd - db as f32 > 0.5 {
                db + 1
            } else {
                db.wrapping_sub(1)
            };
            let (bi, bj) = (bin(p.a[i]), bin(p.a[j] + PI));
            // order the pair canonically so (i, j) and (j, i) give one key
            let (lo, hi) = (bi.min(bj), bi.max(bj));
            let variants = if soft { 2 } else { 1 };
            for &dbin in [db, od].iter().take(variants) {
                if dbin < D_BINS {
                    out.push(((dbin * A_BINS + lo) * A_BINS + hi) as u32);
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
        Self::from_samples(entries.into_iter().map(|(p, n, t)| (p, n, Sample::from_template(t))).collect())
    }

    /// As [`Gallery::new`], each finger prepared from its sample with whatever it carries
    /// (ridge field, candidate minutiae; [`Sample::prepared`]).
    pub fn from_samples(entries: Vec<(u32, u8, Sample)>) -> Self {
        let fingers: Vec<Finger> = entries
            .into_par_iter()
            .map(|(person, position, s)| Finger {
                person,
                position,
                prepared: s.prepared(),
            })
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
        let mut positions: Vec<u8> = fingers.iter().map(|f| f.position).collect();
        positions.sort_unstable();
        positions.dedup();
        let slots = positions
            .into_par_iter()
            .map(|position| {
                let members: Vec<u32> = (0..fingers.len() as u32)
                    .filter(|&i| fingers[i as usize].position == position)
                    .collect();
                let mut offsets = vec![0u32; KEYS + 1];
                for &g in &members {
                    for &k in &keys[g as usize] {
                        offsets[k as usize + 1] += 1;
                    }
                }
                for k in 0..KEYS {
                    offsets[k + 1] += offsets[k];
                }
                let mut fill = offsets.clone();
                let mut entries = vec![0u32; offsets[KEYS] as usize];
                for (local, &g) in members.iter().enumerate() {
                    for &k in &keys[g as usize] {
                        entries[fill[k as usize] as usize] = local as u32;
                        fill[k as usize] += 1;
                    }
                }
                let key_counts = members
                    .iter()
                    .map(|&g| keys[g as usize].len() as u32)
                    .collect();
                Slot {
                    position,
                    fingers: members,
                    offsets,
                    entries,
                    key_counts,
                }
            })
            .collect();
        Self { fingers, slots }
    }

    /// The index slots a search at `position` walks (all of them for `None`).
    fn slots_for(&self, position: Option<u8>) -> impl Iterator<Item = &Slot> {
        self.slots
            .iter()
            .filter(move |s| position.is_none_or(|p| p == s.position))
    }

    /// Indices of the `k` fingers with the highest votes² / keys (votes normalised so
    /// fingers with many minutiae are not favoured).
    fn shortlist(&self, probe: &Prepared, position: Option<u8>, k: usize) -> Vec<usize> {
        let mut keys = Vec::new();
        pair_keys(probe, true, &mut keys);
        let mut votes = Vec::new();
        let mut ranked: Vec<(f32, usize)> = Vec::new();
        for slot in self.slots_for(position) {
            slot.vote(&keys, &mut votes);
            for (local, &v) in votes.iter().enumerate() {
                if v > 0 {
                    ranked.push((
                        v as f32 * v as f32 / slot.key_counts[local].max(1) as f32,
                        slot.fingers[local] as usize,
                    ));
                }
            }
        }
        if ranked.len() > k && k > 0 {
            ranked.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
        }
        ranked.truncate(k);
        ranked.into_iter().map(|(_, i)| i).collect()
    }

    /// Ranked candidates for one probe finger: index shortlist of `shortlist` fingers,
    /// MCC-scored, best finger score per person, top `k` people.
    pub fn identify(
        &self,
        probe: &Prepared,
        position: Option<u8>,
        shortlist: usize,
        k: usize,
    ) -> Vec<Candidate> {
        let idx = self.shortlist(probe, position, shortlist);
        let scored: Vec<(u32, f32)> = idx
            .par_iter()
            .map(|&i| {
                (
                    self.fingers[i].person,
                    compare(probe, &self.fingers[i].prepared),
                )
            })
            .collect();
        rank(scored, k)
    }

    /// As [`Gallery::identify`] but scoring every finger (no index).
    pub fn identify_exhaustive(
        &self,
        probe: &Prepared,
        position: Option<u8>,
        k: usize,
    ) -> Vec<Candidate> {
        let scored: Vec<(u32, f32)> = self
            .fingers
            .par_iter()
            .filter(|f| position.is_none_or(|p| p == f.position))
            .map(|f| (f.person, compare(probe, &f.prepared)))
            .collect();
        rank(scored, k)
    }

    /// Stage 1 of [`Gallery::dedup`], the pre-filter: for every person (ascending id),
    /// the `shortlist` other people with the highest index similarity, best first, with
    /// that similarity. Each finger of the person at one of `query_positions` votes in the
    /// index of its own position; a gallery finger's similarity is votes² / (its keys ·
    /// the probe's keys) (a squared cosine, in [0, 1]), summed per person over the query
    /// fingers, so a duplicate, similar on every finger, outranks people who share
    /// minutiae with one finger only.
    pub fn dedup_shortlists(
        &self,
        query_positions: &[u8],
        shortlist: usize,
    ) -> Vec<(u32, Vec<(u32, f32)>)> {
        let people = People::new(self);
        self.person_shortlists(&people, query_positions, shortlist)
            .into_iter()
            .enumerate()
            .map(|(p, l)| {
                (
                    people.ids[p],
                    l.into_iter()
                        .map(|(q, s)| (people.ids[q as usize], s))
                        .collect(),
                )
            })
            .collect()
    }

    /// [`Gallery::dedup_shortlists`] on dense person numbers.
    fn person_shortlists(
        &self,
        people: &People,
        query_positions: &[u8],
        shortlist: usize,
    ) -> Vec<Vec<(u32, f32)>> {
        let n = people.ids.len();
        let slot_of = |position: u8| self.slots.iter().find(|s| s.position == position);
        (0..n)
            .into_par_iter()
            .map_init(
                || (vec![0f32; n], Vec::new(), Vec::new()),
                |(sum, keys, votes), p| {
                    sum.iter_mut().for_each(|s| *s = 0.0);
                    for &fi in &people.fingers[p] {
                        let f = &self.fingers[fi];
                        if !query_positions.contains(&f.position) {
                            continue;
                        }
                        let Some(slot) = slot_of(f.position) else {
                            continue;
                        };
                        pair_keys(&f.prepared, true, keys);
                        if keys.is_empty() {
                            continue;
                        }
                        slot.vote(keys, votes);
                        let nk = keys.len() as f32;
                        for (local, &v) in votes.iter().enumerate() {
                            if v > 0 {
                                let v = v as f32;
                                sum[people.of_finger[slot.fingers[local] as usize] as usize] +=
                                    v * v / (nk * slot.key_counts[local].max(1) as f32);
                            }
                        }
                    }
                    sum[p] = 0.0;
                    let mut ranked: Vec<(u32, f32)> = sum
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| **s > 0.0)
                        .map(|(q, &s)| (q as u32, s))
                        .collect();
                    if ranked.len() > shortlist && shortlist > 0 {
                        ranked.select_nth_unstable_by(shortlist - 1, |a, b| b.1.total_cmp(&a.1));
                    }
                    ranked.truncate(shortlist);
                    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                    ranked
                },
            )
            .collect()
    }

    /// Finds people enrolled twice.
    ///
    /// 1. Pre-filter: every person's `shortlist` candidates from
    ///    [`Gallery::dedup_shortlists`] (index votes of the fingers at `query_positions`,
    ///    summed per candidate person).
    /// 2. Every pair in which either person is a candidate of the other (so the search is
    ///    symmetric: it does not matter which of the two has the lower id) is compared
    ///    finger by finger on every shared position and fused with [`fuse`].
    ///
    /// Pairs with a fused score of at least `threshold` are returned, best first, each
    /// pair once (lower id first).
    pub fn dedup(
        &self,
        query_positions: &[u8],
        shortlist: usize,
        threshold: f32,
    ) -> Vec<(u32, u32, f32)> {
        let people = People::new(self);
        let mut pairs: Vec<(u32, u32)> = self
            .person_shortlists(&people, query_positions, shortlist)
            .into_iter()
            .enumerate()
            .flat_map(|(p, l)| {
                l.into_iter()
                    .map(move |(q, _)| (q.min(p as u32), q.max(p as u32)))
            })
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        let mut found: Vec<(u32, u32, f32)> = pairs
            .par_iter()
            .filter_map(|&(p, q)| {
                let (fp, fq) = (&people.fingers[p as usize], &people.fingers[q as usize]);
                let scores: Vec<f32> = fp
                    .iter()
                    .filter_map(|&a| {
                        let fa = &self.fingers[a];
                        fq.iter()
                            .find(|&&b| self.fingers[b].position == fa.position)
                            .map(|&b| compare(&fa.prepared, &self.fingers[b].prepared))
                    })
                    .collect();
                let s = fuse(&scores);
                (s >= threshold).then_some((people.ids[p as usize], people.ids[q as usize], s))
            })
            .collect();
        found.sort_by(|a, b| b.2.total_cmp(&a.2).then((a.0, a.1).cmp(&(b.0, b.1))));
        found
    }
}

/// The people of a gallery under dense numbers `0..ids.len()` (ascending id).
struct People {
    ids: Vec<u32>,
    /// Dense person number of each gallery finger.
    of_finger: Vec<u32>,
    /// Gallery indices of each person's fingers.
    fingers: Vec<Vec<usize>>,
}

impl People {
    fn new(g: &Gallery) -> Self {
        let mut ids: Vec<u32> = g.fingers.iter().map(|f| f.person).collect();
        ids.sort_unstable();
        ids.dedup();
        let of_finger: Vec<u32> = g
            .fingers
            .iter()
            .map(|f| ids.binary_search(&f.person).unwrap_or(0) as u32)
            .collect();
        let mut fingers = vec![Vec::new(); ids.len()];
        for (i, &p) in of_finger.iter().enumerate() {
            fingers[p as usize].push(i);
        }
        Self {
            ids,
            of_finger,
            fingers,
        }
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
    let mut out: Vec<Candidate> = best
        .into_iter()
        .map(|(person, score)| Candidate { person, score })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.person.cmp(&b.person)));
    out.truncate(k);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{perturb, Perturbation};
    use crate::template::{Minutia, MinutiaKind};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A random finger: 45 minutiae spread over a 300 px square.
    fn random_finger(r: &mut ChaCha8Rng) -> Template {
        let minutiae = (0..45)
            .map(|_| {
                let kind = if r.gen_bool(0.5) {
                    MinutiaKind::Ending
                } else {
                    MinutiaKind::Bifurcation
                };
                Minutia::new(
                    r.gen_range(50..350),
                    r.gen_range(50..350),
                    r.gen_range(0.0..2.0 * PI),
                    kind,
                    60,
                )
            })
            .collect();
        Template {
            width: 400,
            height: 400,
            ppi: 500,
            quality: 60,
            minutiae,
        }
    }

    fn person(id: u32, r: &mut ChaCha8Rng) -> Vec<(u32, u8, Template)> {
        (1..=10).map(|pos| (id, pos, random_finger(r))).collect()
    }

    /// Person 0 is enrolled again as person 1 (a new impression of every finger). For
    /// every finger position three other people carry an exact copy of person 0's finger
    /// there (as synthetic fingers recombined from shared real templates do) and random
    /// fingers elsewhere; twenty more people are random.
    fn crowded() -> Vec<(u32, u8, Template)> {
        let mut r = ChaCha8Rng::seed_from_u64(7);
        let original = person(0, &mut r);
        let mut entries: Vec<(u32, u8, Template)> = original
            .iter()
            .map(|(_, pos, t)| (1, *pos, perturb(t, Perturbation::IMPRESSION, &mut r)))
            .collect();
        let mut id = 2;
        for (_, pos, t) in &original {
            for _ in 0..3 {
                let mut decoy = person(id, &mut r);
                decoy[*pos as usize - 1].2 = t.clone();
                entries.extend(decoy);
                id += 1;
            }
        }
        for _ in 0..20 {
            entries.extend(person(id, &mut r));
            id += 1;
        }
        entries.extend(original);
        entries
    }

    /// Shortlisting fingers one query finger at a time, and only from the lower id, lost
    /// this duplicate: each of person 0's fingers has its own copy and three exact copies
    /// ahead of the duplicate's impression, which fill a shortlist of four; person 1's
    /// searches find person 0 but had a higher id. Summing the index votes per person,
    /// from both sides, ranks the duplicate first.
    #[test]
    fn dedup_finds_a_duplicate_whose_fingers_are_crowded_by_partial_copies() {
        let g = Gallery::new(crowded());
        let all: Vec<u8> = (1..=10).collect();
        let found = g.dedup(&all, 4, 0.0);
        let pair = found
            .iter()
            .find(|f| (f.0, f.1) == (0, 1))
            .expect("the planted duplicate is found");
        assert_eq!(
            (found[0].0, found[0].1),
            (0, 1),
            "the duplicate scores highest: {:?}",
            &found[..3.min(found.len())]
        );
        let second = found
            .iter()
            .find(|f| (f.0, f.1) != (0, 1))
            .map_or(0.0, |f| f.2);
        assert!(
            pair.2 > 2.0 * second,
            "duplicate {} vs the best other pair {second}",
            pair.2
        );
    }

    #[test]
    fn dedup_prefilter_ranks_the_duplicate_first_from_both_sides() {
        let g = Gallery::new(crowded());
        let all: Vec<u8> = (1..=10).collect();
        let lists = g.dedup_shortlists(&all, 5);
        let of = |p: u32| {
            &lists
                .iter()
                .find(|l| l.0 == p)
                .expect("every person has a list")
                .1
        };
        assert_eq!(of(0).first().map(|c| c.0), Some(1), "{:?}", of(0));
        assert_eq!(of(1).first().map(|c| c.0), Some(0), "{:?}", of(1));
        assert!(
            of(0).iter().all(|c| c.0 != 0),
            "a person is not its own candidate"
        );
        assert!(of(0).windows(2).all(|w| w[0].1 >= w[1].1), "best first");
        // with only the fingers at positions 1 and 2 the duplicate still leads
        let two = g.dedup_shortlists(&[1, 2], 3);
        assert_eq!(
            two.iter()
                .find(|l| l.0 == 1)
                .and_then(|l| l.1.first())
                .map(|c| c.0),
            Some(0)
        );
    }

    #[test]
    fn identify_finds_the_mate_at_its_position_only() {
        let mut r = ChaCha8Rng::seed_from_u64(11);
        let mut entries = Vec::new();
        for id in 0..30 {
            entries.extend(person(id, &mut r));
        }
        let probe_t = perturb(&entries[5 * 10 + 3].2, Perturbation::IMPRESSION, &mut r); // person 5, position 4
        let g = Gallery::new(entries);
        let probe = Prepared::new(&probe_t);
        let hit = g.identify(&probe, Some(4), 20, 3);
        assert_eq!(hit.first().map(|c| c.person), Some(5), "{hit:?}");
        assert_eq!(
            g.identify(&probe, None, 20, 1).first().map(|c| c.person),
            Some(5)
        );
        assert_eq!(
            g.identify_exhaustive(&probe, Some(4), 1)
                .first()
                .map(|c| c.person),
            Some(5)
        );
        // at another position the mate's finger is not searched
        let elsewhere = g.identify(&probe, Some(7), 300, 300);
        let best_elsewhere = elsewhere.iter().map(|c| c.score).fold(0.0, f32::max);
        assert!(
            hit[0].score > 3.0 * best_elsewhere,
            "{} vs {best_elsewhere}",
            hit[0].score
        );
        assert_eq!(
            g.shortlist(&probe, Some(7), 1000)
                .iter()
                .filter(|&&i| g.fingers[i].position != 7)
                .count(),
            0
        );
    }
}
