//! 1:1 matching with Minutia Cylinder-Code (Cappelli, Ferrara, Maltoni, IEEE TPAMI 2010):
//! bit-based cylinders give local similarities; consolidation keeps the best candidate
//! pairs (each minutia in at most two), scores pairs of pairs with MCC's relaxation
//! compatibility ρ (distance, direction and radial-angle agreement), and takes the largest
//! group of mutually compatible pairs (one-to-one). The rigid transform fitted to each of
//! the best groups then aligns all minutiae, which are paired one-to-one within a distance
//! and direction tolerance. Score = (Σ local similarity in the best group) × (aligned
//! pairs) / (nA · nB), in [0, 1]. When both templates carry their print's ridge field
//! ([`Prepared::with_field`]), a second, independent score scales it: the agreement of
//! the two ridge-orientation fields over their overlap under that best alignment (counted
//! in proportion to the overlap's size up to `TRUST_CELLS`); where
//! that agreement is high (the alignment is trusted), the score is also normalised by the
//! minutiae inside the two prints' common foreground rather than by all of them; where it
//! is not, a nearly as good alignment of another top group that the fields do trust
//! replaces the best one (alternative alignment, `ALT_SHARE`). When both
//! also carry their candidate minutiae from before false-minutiae removal
//! ([`Prepared::with_support`]), the score is scaled by the squared share of the kept
//! minutiae in the common foreground that have a candidate minutia of the other print
//! nearby (raw support).
//!
//! A [`Prepared`] template holds one cylinder per minutia (16×16 cells × 6 direction
//! layers = 1536 bits, plus a 256-bit validity mask); cylinder similarity is computed with
//! popcounts. Scores are in [0, 1]; equal inputs give the same score in both argument orders
//! only up to the asymmetry of candidate selection.

use crate::extract::RidgeField;
use crate::template::Template;
use std::f32::consts::PI;

const R: f32 = 70.0;
const NS: usize = 16;
const ND: usize = 6;
const SIGMA_S: f32 = 28.0 / 3.0;
const SIGMA_D: f32 = 2.0 * PI / 9.0;
const MU_PSI: f32 = 0.01;
const OMEGA: f32 = 50.0;
const MIN_VC: f32 = 0.75;
const MIN_M: usize = 2;
const MIN_ME: f32 = 0.60;
const DELTA_THETA: f32 = PI / 2.0;
const WORDS: usize = NS * NS / 64; // validity words; per layer the same count
const MAX_USE: u8 = 2;
const MAX_CAND: usize = 128;
/// Consolidation: two candidate pairs are compatible when their segment lengths differ by at
/// most `max(RHO_D, RHO_REL · length)` (the relative term tolerates skin distortion, which
/// grows with distance; 8% measured best on FVC2002/2004 DB1_B), and both direction terms
/// by at most `RHO_A`.
const RHO_D: f32 = 5.0;
const RHO_REL: f32 = 0.08;
const RHO_A: f32 = PI / 12.0;
/// Alignment (after consolidation): the rigid transform fitted to each of the `TOP_GROUPS`
/// best consistent groups is applied to all of B's minutiae, and pairs closer than
/// `ALIGN_D + ALIGN_REL · (distance from the group's centre)` with directions within
/// `ALIGN_A` are matched one-to-one, nearest first (measured on FVC2002/2004 DB1_B).
const TOP_GROUPS: usize = 5;
const ALIGN_D: f32 = 6.0;
const ALIGN_REL: f32 = 0.05;
const ALIGN_A: f32 = PI / 9.0;
/// Alternative alignment (when both sides carry a [`RidgeField`]): where the ridge fields
/// do not trust the best alignment (agreement c at most `OVERLAP_TRUST`), the alignment of
/// another of the `TOP_GROUPS` groups replaces it if the fields trust it (c above
/// `OVERLAP_TRUST`, the highest such c) and its aligned sum is at least `ALT_SHARE` of the
/// best one; the score is then computed under it. This mends genuine pairs whose best
/// consolidated group is a coincidence (small overlaps, distortion) while a group nearly as
/// large aligns the prints correctly. Measured on FVC2002/2004 DB1_B (no held-out set):
/// shares 0.6–0.8 give the same four EERs (0.4: one FVC2004 pair worse); requiring more
/// than `OVERLAP_TRUST` of the alternative (0.875, 0.9) keeps the FVC2002 gain but loses
/// FVC2004's; `docs/benchmarks/bio.md`, 2026-12-02 (afternoon).
const ALT_SHARE: f32 = 0.6;
/// Second score (when both sides carry a [`RidgeField`]): the minutiae score is scaled by
/// `1 − ORI_WEIGHT + ORI_WEIGHT · clamp((c − ORI_FLOOR) / (1 − ORI_FLOOR), 0, 1) · e`
/// (e = the evidence factor of `TRUST_CELLS`), where c
/// is the mean cos 2Δ of the ridge orientations over the cells of A that B's field covers
/// after the best (or the alternative) alignment (0 without common cells). Measured on
/// FVC2002/2004 DB1_B: see `docs/benchmarks/bio.md`, 2026-12-01 late evening (weight 0.5)
/// and 2026-12-02 (0.3 with the overlap normalisation below).
const ORI_FLOOR: f32 = 0.7;
const ORI_WEIGHT: f32 = 0.3;
/// Overlap normalisation (when both sides carry a [`RidgeField`]): with the orientation
/// agreement c above `OVERLAP_TRUST`, the alignment is trusted, and the size-normalised
/// score S = G·M / (nA·nB) moves geometrically towards S_ov = G·M / (max(nA′, F)·max(nB′, F)),
/// nA′ = A's minutiae inside B's aligned foreground and nB′ = B's inside A's, F =
/// `OVERLAP_FLOOR`: S^(1−h) · S_ov^h, h = clamp((c − OVERLAP_TRUST) / (1 − OVERLAP_TRUST), 0, 1)
/// × the evidence factor of `TRUST_CELLS`.
/// A small but correctly aligned overlap is then not penalised for the minutiae outside
/// it; a misaligned (distorted) pair, whose overlap estimate means nothing, keeps S.
const OVERLAP_TRUST: f32 = 0.85;
const OVERLAP_FLOOR: f32 = 10.0;
/// Evidence behind the orientation agreement: c is a mean over the common field cells,
/// and over a small overlap two unrelated fields agree easily (smooth flows, c > 0.9 over
/// 20–60 cells is common between impostors). Both the trust h of the overlap
/// normalisation and the orientation factor's reward are therefore scaled by
/// `min(1, cells / TRUST_CELLS)` (cells of `FIELD_CELL` px, 100 cells ≈ 160 × 160 px):
/// an agreement over fewer cells counts only in proportion. Measured on FVC2002/2004
/// DB1_B (no held-out set): 80–110 cells give FVC2002 all-pairs EER 0.79–1.00% (1.07%
/// without), 120–200 lose it again; `docs/benchmarks/bio.md`, 2026-12-03.
const TRUST_CELLS: f32 = 100.0;
/// Raw support (when both sides also carry their candidate minutiae,
/// [`Prepared::with_support`]): under the best alignment, a true minutia of one print
/// should have some candidate minutia of the other nearby, even where the other's
/// false-minutiae removal dropped it (wet, dry or creased areas); coincidental matches
/// between impostors leave most of the overlap unsupported. The score is multiplied by
/// (hits / max(n, `SUPPORT_FLOOR`))^`SUPPORT_POWER`, n = the kept minutiae of either print
/// inside the other's aligned foreground, hits = those with a candidate minutia of the
/// other within `SUPPORT_D` px and `SUPPORT_A`; where the alignment is not trusted
/// (orientation agreement at most `OVERLAP_TRUST`, often a distorted genuine pair) the
/// radius grows by `SUPPORT_REL` of the distance from the aligned group's centre.
/// Measured on FVC2002/2004 DB1_B: `docs/benchmarks/bio.md`, 2026-12-02 (morning).
const SUPPORT_D: f32 = 10.0;
const SUPPORT_REL: f32 = 0.03;
const SUPPORT_A: f32 = PI / 6.0;
const SUPPORT_FLOOR: f32 = 10.0;
const SUPPORT_POWER: i32 = 2;

/// One minutia's cylinder.
#[derive(Clone, Debug)]
pub struct Cylinder {
    /// Index of the minutia in the template.
    pub minutia: u16,
    pub angle: f32,
    pub valid: [u64; WORDS],
    pub bits: [[u64; WORDS]; ND],
    /// popcount of `valid` (cells).
    pub n_valid: u16,
}

/// A template prepared for matching.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub x: Vec<f32>,
    pub y: Vec<f32>,
    pub a: Vec<f32>,
    pub cylinders: Vec<Cylinder>,
    /// The print's ridge-orientation field, when known (extracted from an image); enables
    /// the orientation score of [`compare`].
    pub field: Option<RidgeField>,
    /// The print's candidate minutiae before false-minutiae removal, when known
    /// ([`Prepared::with_support`]); with the fields, enables the raw-support factor of
    /// [`compare`].
    pub support: Option<Support>,
}

/// Candidate (raw) minutiae of a print, bucketed on a 16-pixel grid for the
/// raw-support factor of [`compare`].
#[derive(Clone, Debug)]
pub struct Support {
    w: usize,
    h: usize,
    /// Start of each cell's run in `pts` (`w·h + 1` entries).
    start: Vec<u32>,
    /// (x, y, direction) of the minutiae, cell by cell.
    pts: Vec<(f32, f32, f32)>,
}

const SUPPORT_CELL: f32 = 16.0;

impl Support {
    /// Buckets minutiae (any count; coordinates are those of the template).
    pub fn new(raw: &[crate::template::Minutia]) -> Self {
        let w = raw.iter().map(|m| m.x as usize).max().map_or(1, |x| x / SUPPORT_CELL as usize + 1);
        let h = raw.iter().map(|m| m.y as usize).max().map_or(1, |y| y / SUPPORT_CELL as usize + 1);
        let cell = |m: &crate::template::Minutia| (m.y as usize / SUPPORT_CELL as usize) * w + m.x as usize / SUPPORT_CELL as usize;
        let mut start = vec![0u32; w * h + 1];
        for m in raw {
            start[cell(m) + 1] += 1;
        }
        for k in 0..w * h {
            start[k + 1] += start[k];
        }
        let mut fill = start.clone();
        let mut pts = vec![(0.0, 0.0, 0.0); raw.len()];
        for m in raw {
            let c = cell(m);
            pts[fill[c] as usize] = (m.x as f32, m.y as f32, m.angle());
            fill[c] += 1;
        }
        Self { w, h, start, pts }
    }

    /// Whether a minutia lies within `r` px of (x, y) with its direction within
    /// `SUPPORT_A` of `a`.
    fn near(&self, x: f32, y: f32, a: f32, r: f32) -> bool {
        let range = |v: f32, n: usize| {
            let lo = ((v - r) / SUPPORT_CELL).floor().clamp(0.0, n as f32) as usize;
            let hi = ((v + r) / SUPPORT_CELL).floor();
            (lo, if hi < 0.0 { 0 } else { (hi as usize + 1).min(n) })
        };
        let ((x0, x1), (y0, y1)) = (range(x, self.w), range(y, self.h));
        for cy in y0..y1 {
            let row = cy * self.w;
            let run = self.start[row + x0] as usize..self.start[row + x1.max(x0)] as usize;
            for &(px, py, pa) in &self.pts[run] {
                let (dx, dy) = (px - x, py - y);
                if dx * dx + dy * dy <= r * r && dphi(pa, a).abs() <= SUPPORT_A {
                    return true;
                }
            }
        }
        false
    }
}

/// Angle difference normalised to [-π, π).
#[inline]
pub fn dphi(a: f32, b: f32) -> f32 {
    let d = (a - b).rem_euclid(2.0 * PI);
    if d >= PI { d - 2.0 * PI } else { d }
}


fn convex_hull(pts: &[(f32, f32)]) -> Vec<(f32, f32)> {
    let mut p: Vec<(f32, f32)> = pts.to_vec();
    p.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    p.dedup();
    if p.len() < 3 {
        return p;
    }
    let cross = |o: (f32, f32), a: (f32, f32), b: (f32, f32)| (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0);
    let mut h: Vec<(f32, f32)> = Vec::new();
    for pass in 0..2 {
        let start = h.len();
        let iter: Box<dyn Iterator<Item = &(f32, f32)>> = if pass == 0 { Box::new(p.iter()) } else { Box::new(p.iter().rev()) };
        for &q in iter {
            while h.len() >= start + 2 && cross(h[h.len() - 2], h[h.len() - 1], q) <= 0.0 {
                h.pop();
            }
            h.push(q);
        }
        h.pop();
    }
    h
}

/// Whether `q` lies inside the hull or within `OMEGA` of it.
fn near_hull(h: &[(f32, f32)], q: (f32, f32)) -> bool {
    near_hull_within(h, q, OMEGA)
}

fn near_hull_within(h: &[(f32, f32)], q: (f32, f32), omega: f32) -> bool {
    if h.len() < 3 {
        return h.iter().any(|p| (p.0 - q.0).hypot(p.1 - q.1) <= omega);
    }
    let mut inside = true;
    let mut best = f32::MAX;
    for i in 0..h.len() {
        let (a, b) = (h[i], h[(i + 1) % h.len()]);
        let (ex, ey) = (b.0 - a.0, b.1 - a.1);
        if ex * (q.1 - a.1) - ey * (q.0 - a.0) < 0.0 {
            inside = false;
        }
        let len2 = ex * ex + ey * ey;
        let t = if len2 > 0.0 { (((q.0 - a.0) * ex + (q.1 - a.1) * ey) / len2).clamp(0.0, 1.0) } else { 0.0 };
        best = best.min((a.0 + t * ex - q.0).hypot(a.1 + t * ey - q.1));
    }
    inside || best <= omega
}

impl Prepared {
    /// Builds the cylinders of a template. Invalid cylinders (too few valid cells or
    /// neighbours) are left out.
    pub fn new(t: &Template) -> Self {
        let x: Vec<f32> = t.minutiae.iter().map(|m| m.x as f32).collect();
        let y: Vec<f32> = t.minutiae.iter().map(|m| m.y as f32).collect();
        let a: Vec<f32> = t.minutiae.iter().map(|m| m.angle()).collect();
        let pts: Vec<(f32, f32)> = x.iter().zip(&y).map(|(&x, &y)| (x, y)).collect();
        let hull = convex_hull(&pts);
        let ds = 2.0 * R / NS as f32;
        let dd = 2.0 * PI / ND as f32;
        let gs_norm = 1.0 / (SIGMA_S * (2.0 * PI).sqrt());
        let gd_norm = dd / (SIGMA_D * (2.0 * PI).sqrt());
        let max_cells = (0..NS * NS)
            .filter(|&c| {
                let (i, j) = ((c % NS) as f32 - (NS as f32 - 1.0) / 2.0, (c / NS) as f32 - (NS as f32 - 1.0) / 2.0);
                (i * ds).hypot(j * ds) <= R
            })
            .count();
        let mut cylinders = Vec::new();
        for m in 0..x.len() {
            let (cs, sn) = (a[m].cos(), a[m].sin());
            let neigh: Vec<usize> = (0..x.len()).filter(|&t| t != m && (x[t] - x[m]).hypot(y[t] - y[m]) <= R + 3.0 * SIGMA_S).collect();
            if neigh.len() < MIN_M {
                continue;
            }
            // direction contribution of each neighbour to each of the ND layers
            let gd: Vec<[f32; ND]> = neigh
                .iter()
                .map(|&t| {
                    let dir = dphi(a[m], a[t]);
                    std::array::from_fn(|k| {
                        let d = dphi(-PI + (k as f32 + 0.5) * dd, dir);
                        gd_norm * (-d * d / (2.0 * SIGMA_D * SIGMA_D)).exp()
                    })
                })
                .collect();
            let mut cyl = Cylinder { minutia: m as u16, angle: a[m], valid: [0; WORDS], bits: [[0; WORDS]; ND], n_valid: 0 };
            for c in 0..NS * NS {
                let (i, j) = ((c % NS) as f32 - (NS as f32 - 1.0) / 2.0, (c / NS) as f32 - (NS as f32 - 1.0) / 2.0);
                let (li, lj) = (i * ds, j * ds);
                if li.hypot(lj) > R {
                    continue;
                }
                let px = x[m] + cs * li - sn * lj;
                let py = y[m] + sn * li + cs * lj;
                if !near_hull(&hull, (px, py)) {
                    continue;
                }
                cyl.valid[c / 64] |= 1 << (c % 64);
                cyl.n_valid += 1;
                let mut acc = [0f32; ND];
                for (ni, &t) in neigh.iter().enumerate() {
                    let d2 = (x[t] - px).powi(2) + (y[t] - py).powi(2);
                    if d2 > 9.0 * SIGMA_S * SIGMA_S {
                        continue;
                    }
                    let gs = gs_norm * (-d2 / (2.0 * SIGMA_S * SIGMA_S)).exp();
                    for (v, g) in acc.iter_mut().zip(&gd[ni]) {
                        *v += gs * g;
                    }
                }
                for (k, v) in acc.iter().enumerate() {
                    if *v >= MU_PSI {
                        cyl.bits[k][c / 64] |= 1 << (c % 64);
                    }
                }
            }
            if (cyl.n_valid as f32) >= MIN_VC * max_cells as f32 {
                cylinders.push(cyl);
            }
        }
        Self { x, y, a, cylinders, field: None, support: None }
    }

    /// As [`Prepared::new`], keeping the print's ridge field for the orientation score.
    pub fn with_field(t: &Template, field: Option<RidgeField>) -> Self {
        Self { field, ..Self::new(t) }
    }

    /// Keeps the print's candidate minutiae before false-minutiae removal
    /// ([`crate::extract::Stages::raw_minutiae`]) for the raw-support factor of [`compare`].
    pub fn with_support(self, raw: &[crate::template::Minutia]) -> Self {
        Self { support: Some(Support::new(raw)), ..self }
    }
}

/// A rigid transform taking B's coordinates onto A's: B's point p goes to
/// `ca + R(th) (p − cb)`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rigid {
    ca: (f32, f32),
    cb: (f32, f32),
    th: f32,
}

/// Mean cos 2Δ of the ridge orientations of `fa` and the aligned `fb` over the cells of
/// `fa` that `fb` covers, and the number of those cells; (0, 0) when none does.
fn orientation_agreement(fa: &RidgeField, fb: &RidgeField, t: Rigid) -> (f32, f32) {
    // doubled-angle unit vectors of the cell values: the sum of e^{2i(a − b)} over the
    // cells, turned by e^{−2iθ} once, gives Σ cos 2(a − b − θ)
    use std::sync::OnceLock;
    static UNIT: OnceLock<[(f32, f32); 181]> = OnceLock::new();
    let unit = UNIT.get_or_init(|| {
        std::array::from_fn(|v| {
            let a = 2.0 * (v as f32 - 1.0) * (PI / 180.0);
            (a.cos(), a.sin())
        })
    });
    // a field built by hand with the wrong number of cells counts as no field
    if fa.cells.len() != fa.w as usize * fa.h as usize || fb.cells.len() != fb.w as usize * fb.h as usize {
        return (0.0, 0.0);
    }
    let (c, s) = (t.th.cos(), t.th.sin());
    let cell = crate::extract::FIELD_CELL as f32;
    let (bw, bh) = (fb.w as usize, fb.h as usize);
    let (mut re, mut im, mut n) = (0.0f32, 0.0f32, 0u32);
    for cy in 0..fa.h as usize {
        let py = (cy as f32 + 0.5) * cell - t.ca.1;
        for cx in 0..fa.w as usize {
            let v = fa.cells[cy * fa.w as usize + cx];
            if v == 0 {
                continue;
            }
            let px = (cx as f32 + 0.5) * cell - t.ca.0;
            let (qx, qy) = (t.cb.0 + c * px + s * py, t.cb.1 - s * px + c * py);
            if !(qx >= 0.0 && qy >= 0.0) {
                continue;
            }
            let (jx, jy) = ((qx / cell) as usize, (qy / cell) as usize);
            if jx >= bw || jy >= bh {
                continue;
            }
            let w = fb.cells[jy * bw + jx];
            if w == 0 {
                continue;
            }
            let (ua, ub) = (unit[(v as usize).min(180)], unit[(w as usize).min(180)]);
            re += ua.0 * ub.0 + ua.1 * ub.1;
            im += ua.1 * ub.0 - ua.0 * ub.1;
            n += 1;
        }
    }
    if n == 0 {
        return (0.0, 0.0);
    }
    let (c2, s2) = ((2.0 * t.th).cos(), (2.0 * t.th).sin());
    ((re * c2 + im * s2) / n as f32, n as f32)
}

/// Similarity of two cylinders in [0, 1] (0 when directions differ by more than π/2 or
/// they overlap too little).
#[inline]
pub fn cylinder_similarity(p: &Cylinder, q: &Cylinder, max_cells: f32) -> f32 {
    if dphi(p.angle, q.angle).abs() > DELTA_THETA {
        return 0.0;
    }
    let mut common = [0u64; WORDS];
    let mut nc = 0;
    for w in 0..WORDS {
        common[w] = p.valid[w] & q.valid[w];
        nc += common[w].count_ones();
    }
    if (nc as f32) < MIN_ME * max_cells {
        return 0.0;
    }
    let (mut na, mut nb, mut nx) = (0u32, 0u32, 0u32);
    for k in 0..ND {
        for w in 0..WORDS {
            let (a, b) = (p.bits[k][w] & common[w], q.bits[k][w] & common[w]);
            na += a.count_ones();
            nb += b.count_ones();
            nx += (a ^ b).count_ones();
        }
    }
    let den = (na as f32).sqrt() + (nb as f32).sqrt();
    if den == 0.0 { 0.0 } else { 1.0 - (nx as f32).sqrt() / den }
}

const MAX_CELLS: f32 = 208.0; // cells of a 16×16 grid inside the radius (checked in tests)

/// Compares two prepared templates; score in [0, 1].
pub fn compare(a: &Prepared, b: &Prepared) -> f32 {
    let (na, nb) = (a.cylinders.len(), b.cylinders.len());
    if na < 2 || nb < 2 {
        return 0.0;
    }
    let mut pairs: Vec<(f32, u16, u16)> = Vec::with_capacity(na * nb / 2);
    for (i, p) in a.cylinders.iter().enumerate() {
        for (j, q) in b.cylinders.iter().enumerate() {
            let s = cylinder_similarity(p, q, MAX_CELLS);
            if s > 0.0 {
                pairs.push((s, i as u16, j as u16));
            }
        }
    }
    pairs.sort_unstable_by(|x, y| y.0.total_cmp(&x.0));
    let nr = na.min(nb);
    // candidate list: the best pairs by cylinder similarity, each minutia in at most
    // MAX_USE candidates
    let mut used_a = vec![0u8; na];
    let mut used_b = vec![0u8; nb];
    let mut cand: Vec<(f32, usize, usize)> = Vec::with_capacity(2 * nr);
    for &(s, i, j) in &pairs {
        let (i, j) = (i as usize, j as usize);
        if used_a[i] >= MAX_USE || used_b[j] >= MAX_USE {
            continue;
        }
        used_a[i] += 1;
        used_b[j] += 1;
        cand.push((s, a.cylinders[i].minutia as usize, b.cylinders[j].minutia as usize));
        if cand.len() == (2 * nr).min(MAX_CAND) {
            break;
        }
    }
    let n = cand.len();
    if n < 2 {
        return 0.0;
    }
    // compatibility of two candidate pairs: MCC's relaxation terms (distance, direction
    // and radial-angle differences) each below the midpoint of its sigmoid
    let mut compat = vec![0u128; n];
    for i in 0..n {
        let (ai, bi) = (cand[i].1, cand[i].2);
        for k in i + 1..n {
            let (ak, bk) = (cand[k].1, cand[k].2);
            if ai == ak || bi == bk {
                continue;
            }
            let (dxa, dya) = (a.x[ak] - a.x[ai], a.y[ak] - a.y[ai]);
            let (dxb, dyb) = (b.x[bk] - b.x[bi], b.y[bk] - b.y[bi]);
            let (la, lb) = (dxa.hypot(dya), dxb.hypot(dyb));
            if (la - lb).abs() > RHO_D.max(RHO_REL * 0.5 * (la + lb)) {
                continue;
            }
            if dphi(dphi(a.a[ai], a.a[ak]), dphi(b.a[bi], b.a[bk])).abs() > RHO_A {
                continue;
            }
            let ra = dphi(a.a[ai], dya.atan2(dxa));
            let rb = dphi(b.a[bi], dyb.atan2(dxb));
            if dphi(ra, rb).abs() > RHO_A {
                continue;
            }
            compat[i] |= 1 << k;
            compat[k] |= 1 << i;
        }
    }
    // consolidation: for each anchor, its compatible pairs that also agree with at least
    // half of that group, one-to-one; keep the groups with the largest similarity sums
    let mut groups: Vec<(f32, Vec<(usize, usize)>)> = Vec::with_capacity(n);
    for i in 0..n {
        let group = compat[i] | (1 << i);
        let size = group.count_ones();
        let (mut seen_a, mut seen_b) = (0u128, 0u128);
        let mut sum = 0.0;
        let mut members = Vec::new();
        let mut rest = group;
        while rest != 0 {
            let k = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            if k != i && (compat[k] & group).count_ones() * 2 < size - 1 {
                continue;
            }
            let (ma, mb) = (cand[k].1 as u32, cand[k].2 as u32);
            let (ba, bb) = (1u128 << (ma % 128), 1u128 << (mb % 128));
            if seen_a & ba == 0 && seen_b & bb == 0 {
                seen_a |= ba;
                seen_b |= bb;
                sum += cand[k].0;
                members.push((cand[k].1, cand[k].2));
            }
        }
        groups.push((sum, members));
    }
    groups.sort_unstable_by(|x, y| y.0.total_cmp(&x.0));
    let best = groups[0].0;
    let (fa, fb) = (a.x.len().max(1) as f32, b.x.len().max(1) as f32);
    // alignment: the rigid transform of each top group (least squares), then every minutia
    // pair within tolerance, one-to-one
    let nbm = b.x.len();
    let mut sim = vec![0f32; a.x.len() * nbm];
    for &(s, i, j) in &pairs {
        sim[a.cylinders[i as usize].minutia as usize * nbm + b.cylinders[j as usize].minutia as usize] = s;
    }
    let mut aligned: Vec<(f32, Rigid)> = Vec::with_capacity(TOP_GROUPS);
    for (_, members) in groups.iter().take(TOP_GROUPS) {
        if members.len() >= 2 {
            aligned.push(align_sum(a, b, members, &sim));
        }
    }
    let mut best_m = (0.0f32, None);
    for &(m, t) in &aligned {
        if m > best_m.0 {
            best_m = (m, Some(t));
        }
    }
    // score: (local similarity summed over the aligned pairs) × (that of the best group),
    // normalised by the template sizes, scaled by the orientation agreement when both
    // ridge fields are known
    let score = (best_m.0 * best / (fa * fb)).min(1.0);
    match (&a.field, &b.field, best_m.1) {
        (Some(field_a), Some(field_b), Some(t)) => {
            let (mut c, mut cells) = orientation_agreement(field_a, field_b, t);
            let (mut m, mut t) = (best_m.0, t);
            if c <= OVERLAP_TRUST {
                // the fields do not trust the best alignment: take, among the other top
                // groups' alignments that keep at least ALT_SHARE of its aligned sum, the
                // one the fields agree with best, when they trust it; groups with the same
                // members (found from different anchors) give the same transform, looked
                // at once
                let mut seen: Vec<Rigid> = Vec::with_capacity(aligned.len());
                seen.push(t);
                for &(m_k, t_k) in &aligned {
                    if m_k >= ALT_SHARE * best_m.0 && !seen.contains(&t_k) {
                        seen.push(t_k);
                        let (c_k, cells_k) = orientation_agreement(field_a, field_b, t_k);
                        if c_k > OVERLAP_TRUST && c_k > c {
                            (c, cells, m, t) = (c_k, cells_k, m_k, t_k);
                        }
                    }
                }
            }
            let score = (m * best / (fa * fb)).min(1.0);
            // c is 0 for fields whose cells do not match their sides (built by hand), so
            // `overlap_counts` only ever indexes well-formed fields
            // an agreement over a small overlap is weak evidence (TRUST_CELLS)
            let evidence = (cells / TRUST_CELLS).min(1.0);
            let h = ((c - OVERLAP_TRUST) / (1.0 - OVERLAP_TRUST)).clamp(0.0, 1.0) * evidence;
            let score = if h > 0.0 {
                let (nao, nbo) = overlap_counts(a, b, field_a, field_b, t);
                let s_ov = (m * best / (nao.max(OVERLAP_FLOOR) * nbo.max(OVERLAP_FLOOR))).min(1.0);
                score.powf(1.0 - h) * s_ov.powf(h)
            } else {
                score
            };
            let reward = ((c - ORI_FLOOR) / (1.0 - ORI_FLOOR)).clamp(0.0, 1.0) * evidence;
            let score = score * (1.0 - ORI_WEIGHT + ORI_WEIGHT * reward);
            match (&a.support, &b.support) {
                // c = 0 (no common cells, or malformed fields): nothing lies in the overlap
                (Some(ra), Some(rb)) if c != 0.0 => {
                    // an alignment the fields do not trust (h = 0) is often a distorted
                    // genuine pair: let the radius grow with the distance from the group
                    let rel = if h > 0.0 { 0.0 } else { SUPPORT_REL };
                    let (hits, n) = raw_support(a, b, field_a, field_b, ra, rb, t, rel);
                    score * (hits / n.max(SUPPORT_FLOOR)).powi(SUPPORT_POWER)
                }
                _ => score,
            }
        }
        _ => score,
    }
}

/// Raw support under `t` (B's frame onto A's): of A's minutiae inside B's aligned foreground
/// and B's inside A's (n), those with a candidate minutia of the other print within
/// `SUPPORT_D + rel · (distance from the aligned group's centre)` (hits).
#[allow(clippy::too_many_arguments)]
fn raw_support(a: &Prepared, b: &Prepared, fa: &RidgeField, fb: &RidgeField, ra: &Support, rb: &Support, t: Rigid, rel: f32) -> (f32, f32) {
    let (mut hits, mut n) = (0u32, 0u32);
    in_common(a, b, fa, fb, t, |m| {
        n += 1;
        let other = if m.of_a { rb } else { ra };
        hits += other.near(m.x, m.y, m.angle, SUPPORT_D + rel * m.from_centre) as u32;
    });
    (hits as f32, n as f32)
}

/// Minutiae of `a` inside `fb`'s foreground under `t` (B's frame onto A's), and of `b`
/// inside `fa`'s.
fn overlap_counts(a: &Prepared, b: &Prepared, fa: &RidgeField, fb: &RidgeField, t: Rigid) -> (f32, f32) {
    let (mut na, mut nb) = (0u32, 0u32);
    in_common(a, b, fa, fb, t, |m| if m.of_a { na += 1 } else { nb += 1 });
    (na as f32, nb as f32)
}

/// A minutia of one print mapped into the other's frame by [`in_common`].
struct Mapped {
    /// Whether it is one of A's (mapped into B's frame) rather than one of B's.
    of_a: bool,
    x: f32,
    y: f32,
    angle: f32,
    /// Distance from the aligned group's centre.
    from_centre: f32,
}

/// Visits every minutia of `a` inside `fb`'s foreground under `t` (B's frame onto A's),
/// mapped into B's frame, then every minutia of `b` inside `fa`'s, mapped into A's.
fn in_common(a: &Prepared, b: &Prepared, fa: &RidgeField, fb: &RidgeField, t: Rigid, mut visit: impl FnMut(Mapped)) {
    let (c, s) = (t.th.cos(), t.th.sin());
    for i in 0..a.x.len() {
        let (px, py) = (a.x[i] - t.ca.0, a.y[i] - t.ca.1);
        let (x, y) = (t.cb.0 + c * px + s * py, t.cb.1 - s * px + c * py);
        if fb.angle_at(x, y).is_some() {
            visit(Mapped { of_a: true, x, y, angle: a.a[i] - t.th, from_centre: px.hypot(py) });
        }
    }
    for j in 0..b.x.len() {
        let (qx, qy) = (b.x[j] - t.cb.0, b.y[j] - t.cb.1);
        let (x, y) = (t.ca.0 + c * qx - s * qy, t.ca.1 + s * qx + c * qy);
        if fa.angle_at(x, y).is_some() {
            visit(Mapped { of_a: false, x, y, angle: b.a[j] + t.th, from_centre: qx.hypot(qy) });
        }
    }
}

/// Local (cylinder) similarity summed over the minutiae matched one-to-one after aligning
/// `b` onto `a` with the least-squares rigid transform of `members` (pairs of minutia
/// indices, at least two); `sim` is the nA × nB similarity matrix (0 without a cylinder).
fn align_sum(a: &Prepared, b: &Prepared, members: &[(usize, usize)], sim: &[f32]) -> (f32, Rigid) {
    let n = members.len() as f32;
    let (mut cax, mut cay, mut cbx, mut cby) = (0.0, 0.0, 0.0, 0.0);
    for &(i, j) in members {
        cax += a.x[i];
        cay += a.y[i];
        cbx += b.x[j];
        cby += b.y[j];
    }
    let (cax, cay, cbx, cby) = (cax / n, cay / n, cbx / n, cby / n);
    let (mut sxx, mut sxy, mut dc, mut ds) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    for &(i, j) in members {
        let (ax, ay) = (a.x[i] - cax, a.y[i] - cay);
        let (bx, by) = (b.x[j] - cbx, b.y[j] - cby);
        sxx += bx * ax + by * ay;
        sxy += bx * ay - by * ax;
        let d = dphi(a.a[i], b.a[j]);
        dc += d.cos();
        ds += d.sin();
    }
    // rotation from the positions; from the directions when the points nearly coincide
    let th = if sxx.abs() + sxy.abs() > 1e-3 { sxy.atan2(sxx) } else { ds.atan2(dc) };
    let (c, s) = (th.cos(), th.sin());
    let mut near: Vec<(f32, u16, u16)> = Vec::new();
    for j in 0..b.x.len() {
        let (bx, by) = (b.x[j] - cbx, b.y[j] - cby);
        let (px, py) = (cax + c * bx - s * by, cay + s * bx + c * by);
        let pa = b.a[j] + th;
        let tol = ALIGN_D + ALIGN_REL * bx.hypot(by);
        for i in 0..a.x.len() {
            let (dx, dy) = (a.x[i] - px, a.y[i] - py);
            if dx.abs() > tol || dy.abs() > tol {
                continue;
            }
            let d = dx.hypot(dy);
            if d <= tol && dphi(a.a[i], pa).abs() <= ALIGN_A {
                near.push((d / tol, i as u16, j as u16));
            }
        }
    }
    near.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
    let (mut ua, mut ub) = (vec![false; a.x.len()], vec![false; b.x.len()]);
    let mut m = 0.0;
    for (_, i, j) in near {
        let (i, j) = (i as usize, j as usize);
        if !ua[i] && !ub[j] {
            ua[i] = true;
            ub[j] = true;
            m += sim[i * b.x.len() + j];
        }
    }
    (m, Rigid { ca: (cax, cay), cb: (cbx, cby), th })
}

/// Convenience: prepares and compares two templates.
pub fn compare_templates(a: &Template, b: &Template) -> f32 {
    compare(&Prepared::new(a), &Prepared::new(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Minutia, MinutiaKind};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The bucketed look-up answers as a scan over every minutia does, for queries inside,
    /// at the edges of and outside the grid.
    #[test]
    fn support_lookup_equals_the_full_scan() {
        let mut r = ChaCha8Rng::seed_from_u64(11);
        for _ in 0..20 {
            let raw: Vec<Minutia> = (0..r.gen_range(0..60))
                .map(|_| Minutia::new(r.gen_range(0..200), r.gen_range(0..150), r.gen_range(0.0..7.0), MinutiaKind::Ending, 50))
                .collect();
            let s = Support::new(&raw);
            for _ in 0..400 {
                let (x, y, a) = (r.gen_range(-30.0..240.0f32), r.gen_range(-30.0..190.0f32), r.gen_range(0.0..7.0f32));
                let scan = raw.iter().any(|m| {
                    (m.x as f32 - x).powi(2) + (m.y as f32 - y).powi(2) <= SUPPORT_D * SUPPORT_D && dphi(m.angle(), a).abs() <= SUPPORT_A
                });
                assert_eq!(s.near(x, y, a, SUPPORT_D), scan, "({x}, {y}, {a}) among {}", raw.len());
            }
        }
    }
}
