//! Matcher laboratory (diagnostics and sweeps, not part of the library): scores the
//! minutiae-only templates `quick_eval` leaves in the temp folder (run it first) and the
//! published ISO templates with a re-implementation of the `mcc` matcher whose parameters
//! and scoring rule can be varied, both protocols, so that matcher ideas are swept in one
//! process without rebuilding. `lib` is the library's `compare` (minutiae only) and `base`
//! the re-implementation with the library's parameters: the two columns must agree.
//!
//! `LAB=variant[:key=value…],…`, variants: `base`; `lssr` (MCC LSS-R score); `ov`
//! (aligned pairs² / minutiae inside the other's aligned hull); `fuse` (mean of `base` and
//! `lssr`); `q` (quality-weighted template sizes: `t0`, `k2`, floor `k`); `ori` (gate by the
//! orientation agreement at the minutiae, radius `r`); `of` / `ofm` (gate / mix by the
//! agreement of the images' orientation fields, floor `t0`, power `k2`, weight `k`;
//! needs `LAB_ORI=1`, `LAB_STRIDE=2` for the library's 16-px cells, `LAB_NOCOH=1` without
//! coherence weights; `ofa` as `ofm`, the alignment also chosen by the agreement); `ovm` (normalisation by the minutiae expected in the masks'
//! overlap, mixed by `t0`, floor `k`, orientation gate `og`/`ow`); `sym`/`symmax`/`symmin`
//! (both argument orders). Keys for every variant: `tg` groups aligned, `ad`/`ar`/`aa`
//! alignment tolerances, `h` Hough alignment hypotheses (`hn`, `ha`, `ht`). Cylinder
//! parameters with `CP=1` and `CP_R`, `CP_SS`, `CP_SD`, `CP_MU`, `CP_OM`, `CP_VC`.
//! `LAB_WORST=1` prints the 25 lowest genuine and 10 highest impostor all-pairs scores
//! with their group size, aligned pairs, overlap counts and agreements.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target-bio cargo run --release -p sallyport-biometrics --example quick_eval
//! LAB_ORI=1 LAB=base,ofm:t0=0.7:k=0.5 LAB_STRIDE=2 LAB_NOCOH=1 cargo run --release -p sallyport-biometrics --example match_lab
//! ```

use sallyport_biometrics::eval::{enrol_all, pairs, scan, Metrics, Protocol};
use sallyport_biometrics::mcc::{compare, cylinder_similarity, dphi, Cylinder, Prepared};
use sallyport_biometrics::template::Template;
use std::f32::consts::PI;
use std::path::PathBuf;

#[derive(Clone, Debug)]
struct P {
    rho_d: f32,
    rho_rel: f32,
    rho_a: f32,
    top_groups: usize,
    align_d: f32,
    align_rel: f32,
    align_a: f32,
    /// score mode
    mode: u8,
    k: f32,
    oa_r: f32,
    hough: usize,
    hough_n: f32,
    hough_a: f32,
    hough_t: f32,
    t0: f32,
    k2: f32,
}

impl Default for P {
    fn default() -> Self {
        Self {
            rho_d: 5.0,
            rho_rel: 0.08,
            rho_a: PI / 12.0,
            top_groups: 5,
            align_d: 6.0,
            align_rel: 0.05,
            align_a: PI / 9.0,
            mode: 0,
            k: 0.0,
            oa_r: 30.0,
            hough: 0,
            hough_n: 3.0,
            hough_a: 0.35,
            hough_t: 20.0,
            t0: 0.0,
            k2: 1.0,
        }
    }
}

struct Detail {
    score: f32,
    best: f32,
    group_n: usize,
    aligned_sum: f32,
    aligned_n: usize,
    na: usize,
    nb: usize,
    /// minutiae of A inside B's aligned hull, and of B inside A's hull
    ov_a: usize,
    ov_b: usize,
    lssr: f32,
    /// orientation agreement in the aligned overlap (mean cos 2Δ), and its sample count
    oa: f32,
    oa_n: usize,
    /// best transform B → A: (centre of A, centre of B, rotation)
    tf: (f32, f32, f32, f32, f32),
}

/// Orientation field and mask of one image (8-px blocks), for the orientation score.
struct Ori {
    angle: Vec<f32>,
    coh: Vec<f32>,
    mask: Vec<u8>,
    w: usize,
    h: usize,
    bs: f32,
}

/// Mean cos 2Δ of the ridge orientation over A's foreground blocks that B's aligned mask
/// covers (weighted by both coherences), and the number of such blocks.
fn ori_sim(oa: &Ori, ob: &Ori, tf: (f32, f32, f32, f32, f32)) -> (f32, usize) {
    let (cax, cay, cbx, cby, th) = tf;
    let (c, s) = (th.cos(), th.sin());
    let (mut acc, mut wsum, mut n) = (0.0f32, 0.0f32, 0usize);
    for by in 0..oa.h {
        for bx in 0..oa.w {
            let i = by * oa.w + bx;
            if oa.mask[i] == 0 {
                continue;
            }
            let (px, py) = (
                (bx as f32 + 0.5) * oa.bs - cax,
                (by as f32 + 0.5) * oa.bs - cay,
            );
            // inverse rotation
            let (qx, qy) = (cbx + c * px + s * py, cby - s * px + c * py);
            if qx < 0.0 || qy < 0.0 {
                continue;
            }
            let (jx, jy) = ((qx / ob.bs) as usize, (qy / ob.bs) as usize);
            if jx >= ob.w || jy >= ob.h || ob.mask[jy * ob.w + jx] == 0 {
                continue;
            }
            let j = jy * ob.w + jx;
            let d = oa.angle[i] - (ob.angle[j] + th);
            let w = if std::env::var_os("LAB_NOCOH").is_some() {
                1.0
            } else {
                oa.coh[i] * ob.coh[j]
            };
            acc += w * (2.0 * d).cos();
            wsum += w;
            n += 1;
        }
    }
    (if wsum > 0.0 { acc / wsum } else { 0.0 }, n)
}

fn hull(pts: &[(f32, f32)]) -> Vec<(f32, f32)> {
    let mut p: Vec<(f32, f32)> = pts.to_vec();
    p.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    p.dedup();
    if p.len() < 3 {
        return p;
    }
    let cross = |o: (f32, f32), a: (f32, f32), b: (f32, f32)| {
        (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
    };
    let mut h: Vec<(f32, f32)> = Vec::new();
    for pass in 0..2 {
        let start = h.len();
        let it: Vec<&(f32, f32)> = if pass == 0 {
            p.iter().collect()
        } else {
            p.iter().rev().collect()
        };
        for &q in it {
            while h.len() >= start + 2 && cross(h[h.len() - 2], h[h.len() - 1], q) <= 0.0 {
                h.pop();
            }
            h.push(q);
        }
        h.pop();
    }
    h
}

fn inside(h: &[(f32, f32)], q: (f32, f32), margin: f32) -> bool {
    if h.len() < 3 {
        return false;
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
        let t = if len2 > 0.0 {
            (((q.0 - a.0) * ex + (q.1 - a.1) * ey) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        best = best.min((a.0 + t * ex - q.0).hypot(a.1 + t * ey - q.1));
    }
    inside || best <= margin
}

fn z(v: f32, mu: f32, tau: f32) -> f32 {
    1.0 / (1.0 + (-tau * (v - mu)).exp())
}

/// MCC LSS-R on the cylinder pairs.
fn lssr(a: &Prepared, b: &Prepared, pairs: &[(f32, u16, u16)]) -> f32 {
    let (na, nb) = (a.cylinders.len(), b.cylinders.len());
    let nr = na.min(nb).min(pairs.len());
    if nr < 2 {
        return 0.0;
    }
    let zp = z(na.min(nb) as f32, 20.0, 0.4);
    let np = (4.0 + (zp * 8.0).round()) as usize;
    let c: Vec<(f32, usize, usize)> = pairs[..nr]
        .iter()
        .map(|&(s, i, j)| {
            (
                s,
                a.cylinders[i as usize].minutia as usize,
                b.cylinders[j as usize].minutia as usize,
            )
        })
        .collect();
    let n = c.len();
    let mut rho = vec![0f32; n * n];
    for i in 0..n {
        for k in 0..n {
            if i == k {
                continue;
            }
            let (ai, bi, ak, bk) = (c[i].1, c[i].2, c[k].1, c[k].2);
            let (dxa, dya) = (a.x[ak] - a.x[ai], a.y[ak] - a.y[ai]);
            let (dxb, dyb) = (b.x[bk] - b.x[bi], b.y[bk] - b.y[bi]);
            let d1 = (dxa.hypot(dya) - dxb.hypot(dyb)).abs();
            let d2 = dphi(dphi(a.a[ai], a.a[ak]), dphi(b.a[bi], b.a[bk])).abs();
            let ra = dphi(a.a[ai], dya.atan2(dxa));
            let rb = dphi(b.a[bi], dyb.atan2(dxb));
            let d3 = dphi(ra, rb).abs();
            rho[i * n + k] = z(d1, 5.0, -1.6) * z(d2, PI / 12.0, -30.0) * z(d3, PI / 12.0, -30.0);
        }
    }
    let l0: Vec<f32> = c.iter().map(|x| x.0).collect();
    let mut l = l0.clone();
    for _ in 0..5 {
        let mut nl = vec![0f32; n];
        for i in 0..n {
            let mut s = 0.0;
            for k in 0..n {
                s += rho[i * n + k] * l[k];
            }
            nl[i] = 0.5 * l[i] + 0.5 * s / (n - 1) as f32;
        }
        l = nl;
    }
    let mut eff: Vec<(f32, usize)> = (0..n).map(|i| (l[i] / l0[i].max(1e-6), i)).collect();
    eff.sort_by(|x, y| y.0.total_cmp(&x.0));
    let np = np.min(n);
    eff[..np].iter().map(|&(_, i)| l[i]).sum::<f32>() / np as f32
}

fn compare_lab(
    a: &Prepared,
    b: &Prepared,
    p: &P,
    qa: &[f32],
    qb: &[f32],
    ori: Option<(&Ori, &Ori)>,
) -> Detail {
    let mut d = Detail {
        score: 0.0,
        best: 0.0,
        group_n: 0,
        aligned_sum: 0.0,
        aligned_n: 0,
        na: a.x.len(),
        nb: b.x.len(),
        ov_a: 0,
        ov_b: 0,
        lssr: 0.0,
        oa: 0.0,
        oa_n: 0,
        tf: (0.0, 0.0, 0.0, 0.0, 0.0),
    };
    let (na, nb) = (a.cylinders.len(), b.cylinders.len());
    if na < 2 || nb < 2 {
        return d;
    }
    let mut pairs: Vec<(f32, u16, u16)> = Vec::new();
    for (i, pc) in a.cylinders.iter().enumerate() {
        for (j, q) in b.cylinders.iter().enumerate() {
            let s = cylinder_similarity(pc, q, 208.0);
            if s > 0.0 {
                pairs.push((s, i as u16, j as u16));
            }
        }
    }
    pairs.sort_unstable_by(|x, y| y.0.total_cmp(&x.0));
    d.lssr = lssr(a, b, &pairs);
    let nr = na.min(nb);
    let mut used_a = vec![0u8; na];
    let mut used_b = vec![0u8; nb];
    let mut cand: Vec<(f32, usize, usize)> = Vec::new();
    for &(s, i, j) in &pairs {
        let (i, j) = (i as usize, j as usize);
        if used_a[i] >= 2 || used_b[j] >= 2 {
            continue;
        }
        used_a[i] += 1;
        used_b[j] += 1;
        cand.push((
            s,
            a.cylinders[i].minutia as usize,
            b.cylinders[j].minutia as usize,
        ));
        if cand.len() == (2 * nr).min(128) {
            break;
        }
    }
    let n = cand.len();
    if n < 2 {
        return d;
    }
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
            if (la - lb).abs() > p.rho_d.max(p.rho_rel * 0.5 * (la + lb)) {
                continue;
            }
            if dphi(dphi(a.a[ai], a.a[ak]), dphi(b.a[bi], b.a[bk])).abs() > p.rho_a {
                continue;
            }
            let ra = dphi(a.a[ai], dya.atan2(dxa));
            let rb = dphi(b.a[bi], dyb.atan2(dxb));
            if dphi(ra, rb).abs() > p.rho_a {
                continue;
            }
            compat[i] |= 1 << k;
            compat[k] |= 1 << i;
        }
    }
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
    d.best = groups[0].0;
    d.group_n = groups[0].1.len();
    let nbm = b.x.len();
    let mut sim = vec![0f32; a.x.len() * nbm];
    for &(s, i, j) in &pairs {
        sim[a.cylinders[i as usize].minutia as usize * nbm
            + b.cylinders[j as usize].minutia as usize] = s;
    }
    let mut best_m = (0.0f32, 0usize, (0.0, 0.0, 0.0, 0.0, 0.0));
    let key = |r: &(f32, usize, (f32, f32, f32, f32, f32))| match ori {
        Some((oa, ob)) if p.mode == 9 => {
            let g = ((ori_sim(oa, ob, r.2).0 - p.t0) / (1.0 - p.t0)).clamp(0.0, 1.0);
            r.0 * (1.0 - p.k + p.k * g)
        }
        _ => r.0,
    };
    for (_, members) in groups.iter().take(p.top_groups) {
        if members.len() >= 2 {
            let r = align(a, b, members, &sim, p);
            if key(&r) > key(&best_m) {
                best_m = r;
            }
        }
    }
    if p.hough > 0 {
        use std::collections::HashMap;
        let mut acc: HashMap<(i32, i32, i32), (f32, Vec<(f32, usize, usize)>)> = HashMap::new();
        let lim = (p.hough_n as usize * nr).min(pairs.len());
        for &(sv, i, j) in &pairs[..lim] {
            let (ia, jb) = (
                a.cylinders[i as usize].minutia as usize,
                b.cylinders[j as usize].minutia as usize,
            );
            let th = dphi(a.a[ia], b.a[jb]);
            let (c, s) = (th.cos(), th.sin());
            let tx = a.x[ia] - (c * b.x[jb] - s * b.y[jb]);
            let ty = a.y[ia] - (s * b.x[jb] + c * b.y[jb]);
            let kb = ((th + PI) / p.hough_a).floor() as i32;
            let (kx, ky) = (
                (tx / p.hough_t).floor() as i32,
                (ty / p.hough_t).floor() as i32,
            );
            for (ox, oy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                for ob in [0, 1] {
                    let e = acc
                        .entry((kb + ob, kx + ox, ky + oy))
                        .or_insert((0.0, Vec::new()));
                    e.0 += sv;
                    e.1.push((sv, ia, jb));
                }
            }
        }
        let mut bins: Vec<(f32, Vec<(f32, usize, usize)>)> = acc.into_values().collect();
        bins.sort_by(|x, y| y.0.total_cmp(&x.0));
        for (_, mem) in bins.iter_mut().take(p.hough) {
            mem.sort_by(|x, y| y.0.total_cmp(&x.0));
            let (mut ua, mut ub) = (vec![false; a.x.len()], vec![false; b.x.len()]);
            let mut members = Vec::new();
            for &(_, i, j) in mem.iter() {
                if !ua[i] && !ub[j] {
                    ua[i] = true;
                    ub[j] = true;
                    members.push((i, j));
                }
            }
            if members.len() >= 2 {
                let r = align(a, b, &members, &sim, p);
                if key(&r) > key(&best_m) {
                    best_m = r;
                }
            }
        }
    }
    d.aligned_sum = best_m.0;
    d.tf = best_m.2;
    d.aligned_n = best_m.1;
    // overlap: A's minutiae inside B's aligned hull and B's inside A's
    let (cax, cay, cbx, cby, th) = best_m.2;
    let (c, s) = (th.cos(), th.sin());
    let bt: Vec<(f32, f32)> = (0..b.x.len())
        .map(|j| {
            let (bx, by) = (b.x[j] - cbx, b.y[j] - cby);
            (cax + c * bx - s * by, cay + s * bx + c * by)
        })
        .collect();
    let ap: Vec<(f32, f32)> = (0..a.x.len()).map(|i| (a.x[i], a.y[i])).collect();
    let (ha, hb) = (hull(&ap), hull(&bt));
    d.ov_a = ap.iter().filter(|&&q| inside(&hb, q, p.k)).count();
    d.ov_b = bt.iter().filter(|&&q| inside(&ha, q, p.k)).count();
    // orientation agreement: at every minutia of either template, the other's orientation
    // interpolated from its minutiae within r (doubled angles, Gaussian weights)
    let ba: Vec<f32> = (0..b.x.len()).map(|j| b.a[j] + th).collect();
    let r = p.oa_r;
    let mut acc = 0.0f32;
    let mut cnt = 0usize;
    for (pts_p, ang_p, pts_q, ang_q) in [(&ap, &a.a, &bt, &ba), (&bt, &ba, &ap, &a.a)] {
        for (k, &(x, y)) in pts_p.iter().enumerate() {
            let (mut sc, mut ss, mut sw) = (0.0f32, 0.0f32, 0.0f32);
            for (l, &(qx, qy)) in pts_q.iter().enumerate() {
                let d2 = (qx - x).powi(2) + (qy - y).powi(2);
                if d2 > r * r {
                    continue;
                }
                let w = (-d2 / (0.5 * r * r)).exp();
                sc += w * (2.0 * ang_q[l]).cos();
                ss += w * (2.0 * ang_q[l]).sin();
                sw += w;
            }
            if sw <= 0.0 {
                continue;
            }
            let est = ss.atan2(sc);
            acc += (2.0 * ang_p[k] - est).cos();
            cnt += 1;
        }
    }
    d.oa = if cnt > 0 { acc / cnt as f32 } else { 0.0 };
    d.oa_n = cnt;
    let (fa, fb) = (a.x.len().max(1) as f32, b.x.len().max(1) as f32);
    d.score = match p.mode {
        0 | 6 | 7 | 8 | 9 => (d.aligned_sum * d.best / (fa * fb)).min(1.0),
        5 => {
            let w = |q: f32| ((q - p.t0) / (p.k2 - p.t0)).clamp(p.k, 1.0);
            let wa: f32 = qa.iter().map(|&q| w(q)).sum();
            let wb: f32 = qb.iter().map(|&q| w(q)).sum();
            (d.aligned_sum * d.best / (wa.max(1.0) * wb.max(1.0))).min(1.0)
        }
        1 => d.lssr,
        2 => {
            let oa = (d.ov_a as f32).max(12.0);
            let ob = (d.ov_b as f32).max(12.0);
            (d.aligned_sum * d.aligned_sum / (oa * ob)).min(1.0)
        }
        4 => {
            (d.aligned_sum * d.best / (fa * fb)).min(1.0)
                * ((d.oa - p.t0) / (1.0 - p.t0)).clamp(0.0, 1.0).powf(p.k2)
        }
        3 => (d.aligned_sum * d.best / (fa * fb)).min(1.0).sqrt() * 0.5 + 0.5 * d.lssr,
        _ => 0.0,
    };
    d
}

fn align(
    a: &Prepared,
    b: &Prepared,
    members: &[(usize, usize)],
    sim: &[f32],
    p: &P,
) -> (f32, usize, (f32, f32, f32, f32, f32)) {
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
    let th = if sxx.abs() + sxy.abs() > 1e-3 {
        sxy.atan2(sxx)
    } else {
        ds.atan2(dc)
    };
    let (c, s) = (th.cos(), th.sin());
    let mut near: Vec<(f32, u16, u16)> = Vec::new();
    for j in 0..b.x.len() {
        let (bx, by) = (b.x[j] - cbx, b.y[j] - cby);
        let (px, py) = (cax + c * bx - s * by, cay + s * bx + c * by);
        let pa = b.a[j] + th;
        let tol = p.align_d + p.align_rel * bx.hypot(by);
        for i in 0..a.x.len() {
            let (dx, dy) = (a.x[i] - px, a.y[i] - py);
            let d = dx.hypot(dy);
            if d <= tol && dphi(a.a[i], pa).abs() <= p.align_a {
                near.push((d / tol, i as u16, j as u16));
            }
        }
    }
    near.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
    let (mut ua, mut ub) = (vec![false; a.x.len()], vec![false; b.x.len()]);
    let (mut m, mut cnt) = (0.0, 0);
    for (_, i, j) in near {
        let (i, j) = (i as usize, j as usize);
        if !ua[i] && !ub[j] {
            ua[i] = true;
            ub[j] = true;
            m += sim[i * b.x.len() + j];
            cnt += 1;
        }
    }
    (m, cnt, (cax, cay, cbx, cby, th))
}

#[derive(Clone, Copy, Debug)]
struct CP {
    r: f32,
    sigma_s: f32,
    sigma_d: f32,
    mu: f32,
    omega: f32,
    min_vc: f32,
}

fn prepare(t: &Template, cp: &CP) -> Prepared {
    const NS: usize = 16;
    const ND: usize = 6;
    let x: Vec<f32> = t.minutiae.iter().map(|m| m.x as f32).collect();
    let y: Vec<f32> = t.minutiae.iter().map(|m| m.y as f32).collect();
    let a: Vec<f32> = t.minutiae.iter().map(|m| m.angle()).collect();
    let pts: Vec<(f32, f32)> = x.iter().zip(&y).map(|(&x, &y)| (x, y)).collect();
    let h = hull(&pts);
    let r = cp.r;
    let ds = 2.0 * r / NS as f32;
    let dd = 2.0 * PI / ND as f32;
    let gs_norm = 1.0 / (cp.sigma_s * (2.0 * PI).sqrt());
    let gd_norm = dd / (cp.sigma_d * (2.0 * PI).sqrt());
    let max_cells = 208.0;
    let mut cylinders = Vec::new();
    for m in 0..x.len() {
        let (cs, sn) = (a[m].cos(), a[m].sin());
        let neigh: Vec<usize> = (0..x.len())
            .filter(|&t| t != m && (x[t] - x[m]).hypot(y[t] - y[m]) <= r + 3.0 * cp.sigma_s)
            .collect();
        if neigh.len() < 2 {
            continue;
        }
        let gd: Vec<[f32; ND]> = neigh
            .iter()
            .map(|&t| {
                let dir = dphi(a[m], a[t]);
                std::array::from_fn(|k| {
                    let d = dphi(-PI + (k as f32 + 0.5) * dd, dir);
                    gd_norm * (-d * d / (2.0 * cp.sigma_d * cp.sigma_d)).exp()
                })
            })
            .collect();
        let mut cyl = Cylinder {
            minutia: m as u16,
            angle: a[m],
            valid: [0; 4],
            bits: [[0; 4]; ND],
            n_valid: 0,
        };
        for c in 0..NS * NS {
            let (i, j) = (
                (c % NS) as f32 - (NS as f32 - 1.0) / 2.0,
                (c / NS) as f32 - (NS as f32 - 1.0) / 2.0,
            );
            let (li, lj) = (i * ds, j * ds);
            if li.hypot(lj) > r {
                continue;
            }
            let px = x[m] + cs * li - sn * lj;
            let py = y[m] + sn * li + cs * lj;
            let ok = if h.len() < 3 {
                h.iter().any(|p| (p.0 - px).hypot(p.1 - py) <= cp.omega)
            } else {
                inside(&h, (px, py), cp.omega)
            };
            if !ok {
                continue;
            }
            cyl.valid[c / 64] |= 1 << (c % 64);
            cyl.n_valid += 1;
            let mut acc = [0f32; ND];
            for (ni, &t) in neigh.iter().enumerate() {
                let d2 = (x[t] - px).powi(2) + (y[t] - py).powi(2);
                if d2 > 9.0 * cp.sigma_s * cp.sigma_s {
                    continue;
                }
                let gs = gs_norm * (-d2 / (2.0 * cp.sigma_s * cp.sigma_s)).exp();
                for (v, g) in acc.iter_mut().zip(&gd[ni]) {
                    *v += gs * g;
                }
            }
            for (k, v) in acc.iter().enumerate() {
                if *v >= cp.mu {
                    cyl.bits[k][c / 64] |= 1 << (c % 64);
                }
            }
        }
        if (cyl.n_valid as f32) >= cp.min_vc * max_cells {
            cylinders.push(cyl);
        }
    }
    Prepared {
        x,
        y,
        a,
        cylinders,
        field: None,
    }
}

fn main() {
    let shared =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/fingerprints");
    let tmp = std::env::temp_dir().join("bio-quick-eval");
    let sets: Vec<(&str, PathBuf)> = vec![
        ("FVC2002", tmp.join("FVC2002-DB1_B")),
        ("FVC2004", tmp.join("FVC2004-DB1_B")),
        ("ISO2002", shared.join("templates-iso19794-2/FVC2002/DB1_B")),
        ("ISO2004", shared.join("templates-iso19794-2/FVC2004/DB1_B")),
    ];
    let variants: Vec<(String, P)> = {
        let spec = std::env::var("LAB").unwrap_or_else(|_| "lib,base,lssr,ov,fuse".into());
        spec.split(',')
            .map(|full| {
                let mut p = P::default();
                let mut it = full.split(':');
                let v = it.next().unwrap();
                match v {
                    "lib" | "base" => {}
                    "lssr" => p.mode = 1,
                    "ov" => p.mode = 2,
                    "fuse" => p.mode = 3,
                    "ori" => p.mode = 4,
                    "q" => p.mode = 5,
                    "of" => p.mode = 6,
                    "ofm" => p.mode = 7,
                    "ofa" => p.mode = 9,
                    "ovm" => {
                        p.mode = 8;
                        p.oa_r = 0.0;
                        p.hough_t = 0.0;
                        p.t0 = 0.5;
                        p.k = 10.0;
                    }
                    _ => {}
                }
                for kv in it {
                    let (k, val) = kv.split_once('=').unwrap();
                    let val: f32 = val.parse().unwrap();
                    match k {
                        "t0" => p.t0 = val,
                        "k2" => p.k2 = val,
                        "r" => p.oa_r = val,
                        "k" => p.k = val,
                        "mode" => p.mode = val as u8,
                        "ad" => p.align_d = val,
                        "aa" => p.align_a = val.to_radians(),
                        "ar" => p.align_rel = val,
                        "tg" => p.top_groups = val as usize,
                        "h" => p.hough = val as usize,
                        "hn" => p.hough_n = val,
                        "ha" => p.hough_a = val.to_radians(),
                        "ht" => p.hough_t = val,
                        "og" => p.hough_t = val,
                        "ow" => p.oa_r = val,
                        _ => panic!("{k}"),
                    }
                }
                (full.to_string(), p)
            })
            .collect()
    };
    let worst = std::env::var_os("LAB_WORST").is_some();
    for (name, dir) in &sets {
        let samples = scan(dir).unwrap();
        let t = enrol_all(&samples);
        let env = |k: &str, d: f32| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        let cp = CP {
            r: env("CP_R", 70.0),
            sigma_s: env("CP_SS", 28.0 / 3.0),
            sigma_d: env("CP_SD", 2.0 * PI / 9.0),
            mu: env("CP_MU", 0.01),
            omega: env("CP_OM", 50.0),
            min_vc: env("CP_VC", 0.75),
        };
        let prep: Vec<Option<Prepared>> = t
            .iter()
            .map(|t| {
                t.as_ref().map(|t| {
                    if std::env::var_os("CP").is_some() {
                        prepare(t, &cp)
                    } else {
                        Prepared::new(t)
                    }
                })
            })
            .collect();
        let oris: Vec<Option<Ori>> = {
            let img_dir = match *name {
                "FVC2002" => Some(shared.join("FVC2002/DB1_B")),
                "FVC2004" => Some(shared.join("FVC2004/DB1_B")),
                _ => None,
            };
            samples
                .iter()
                .map(|smp| {
                    let d = img_dir.as_ref()?;
                    if std::env::var_os("LAB_ORI").is_none() {
                        return None;
                    }
                    let stem = smp.path.file_stem().unwrap().to_string_lossy().to_string();
                    let img =
                        sallyport_biometrics::image::load(&d.join(format!("{stem}.tif")), 500)
                            .ok()?;
                    let st = sallyport_biometrics::extract::extract_stages(&img).ok()?;
                    let stride: usize = std::env::var("LAB_STRIDE")
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(1);
                    if stride == 1 {
                        return Some(Ori {
                            angle: st.orientation.angle.v.clone(),
                            coh: st.orientation.coherence.v.clone(),
                            mask: st.mask.v.clone(),
                            w: st.mask.w,
                            h: st.mask.h,
                            bs: 8.0,
                        });
                    }
                    let (w, h) = (st.mask.w / stride, st.mask.h / stride);
                    let mut o = Ori {
                        angle: vec![0.0; w * h],
                        coh: vec![1.0; w * h],
                        mask: vec![0; w * h],
                        w,
                        h,
                        bs: 8.0 * stride as f32,
                    };
                    for y in 0..h {
                        for x in 0..w {
                            // centre block of the cell: majority-free, take the block at the cell's centre
                            let (sx, sy) = (x * stride + stride / 2, y * stride + stride / 2);
                            let i = sy.min(st.mask.h - 1) * st.mask.w + sx.min(st.mask.w - 1);
                            o.angle[y * w + x] = st.orientation.angle.v[i];
                            o.mask[y * w + x] = st.mask.v[i];
                            o.coh[y * w + x] = st.orientation.coherence.v[i];
                        }
                    }
                    Some(o)
                })
                .collect()
        };
        let fuse = |sc: f32, d: &Detail, i: usize, j: usize, p: &P| -> (f32, f32, usize) {
            match (&oris[i], &oris[j]) {
                (Some(oi), Some(oj)) if p.mode >= 6 && p.mode <= 9 => {
                    let (os, n) = ori_sim(oi, oj, d.tf);
                    let g0 = if p.mode == 8 { p.hough_t } else { p.t0 };
                    let g = ((os - g0) / (1.0 - g0)).clamp(0.0, 1.0).powf(p.k2);
                    if p.mode == 6 {
                        (sc * g, os, n)
                    } else if p.mode == 7 || p.mode == 9 {
                        (sc * (1.0 - p.k) + p.k * sc * g, os, n)
                    } else {
                        let area_a = oi.mask.iter().filter(|&&v| v != 0).count().max(1) as f32;
                        let area_b = oj.mask.iter().filter(|&&v| v != 0).count().max(1) as f32;
                        let ea = (d.na as f32 * n as f32 / area_a).max(p.k);
                        let eb = (d.nb as f32 * n as f32 / area_b).max(p.k);
                        let ov = (d.aligned_sum * d.best / (ea * eb)).min(1.0);
                        (sc.powf(1.0 - p.t0) * ov.powf(p.t0) * g.powf(p.oa_r), os, n)
                    }
                }
                _ => (sc, 0.0, 0),
            }
        };
        let qual: Vec<Vec<f32>> = t
            .iter()
            .map(|t| {
                t.as_ref().map_or(vec![], |t| {
                    t.minutiae.iter().map(|m| m.quality as f32).collect()
                })
            })
            .collect();
        if std::env::var_os("LAB_Q").is_some() {
            let mut all: Vec<f32> = qual.iter().flatten().copied().collect();
            all.sort_by(|a, b| a.total_cmp(b));
            println!(
                "{name} quality deciles {:?}",
                (0..=10)
                    .map(|k| all[(k * (all.len() - 1)) / 10])
                    .collect::<Vec<_>>()
            );
        }
        let stem = |i: usize| {
            samples[i]
                .path
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .to_string()
        };
        let mut line = format!("{name:8}");
        for (vn, p) in &variants {
            let sc = |&(i, j): &(usize, usize)| -> f32 {
                match (&prep[i], &prep[j]) {
                    (Some(x), Some(y)) => {
                        if vn == "lib" {
                            compare(x, y)
                        } else if vn.starts_with("sym") {
                            let s1 = compare_lab(
                                x,
                                y,
                                p,
                                &qual[i],
                                &qual[j],
                                oris[i].as_ref().zip(oris[j].as_ref()),
                            )
                            .score;
                            let s2 = compare_lab(
                                y,
                                x,
                                p,
                                &qual[j],
                                &qual[i],
                                oris[j].as_ref().zip(oris[i].as_ref()),
                            )
                            .score;
                            if vn.starts_with("symmax") {
                                s1.max(s2)
                            } else if vn.starts_with("symmin") {
                                s1.min(s2)
                            } else {
                                0.5 * (s1 + s2)
                            }
                        } else {
                            let d = compare_lab(
                                x,
                                y,
                                p,
                                &qual[i],
                                &qual[j],
                                oris[i].as_ref().zip(oris[j].as_ref()),
                            );
                            fuse(d.score, &d, i, j, p).0
                        }
                    }
                    _ => 0.0,
                }
            };
            for proto in [Protocol::Fvc, Protocol::AllPairs] {
                let (g, im) = pairs(&samples, proto);
                let gs: Vec<f32> = g.iter().map(sc).collect();
                let is: Vec<f32> = im.iter().map(sc).collect();
                let m = Metrics::new(&gs, &is);
                line += &format!(" {vn}:{:.2}", m.eer);
                if worst && proto == Protocol::AllPairs && vn != "lib" {
                    let thr = {
                        let mut s = is.clone();
                        s.sort_by(|a, b| b.total_cmp(a));
                        s[(s.len() / 100).max(1) - 1]
                    };
                    let mut gi: Vec<usize> = (0..g.len()).collect();
                    gi.sort_by(|&x, &y| gs[x].total_cmp(&gs[y]));
                    println!("{name} {vn}: FMR1% threshold {thr:.4}");
                    let show = |(i, j): (usize, usize), kind: &str| {
                        let dd = compare_lab(
                            prep[i].as_ref().unwrap(),
                            prep[j].as_ref().unwrap(),
                            p,
                            &qual[i],
                            &qual[j],
                            oris[i].as_ref().zip(oris[j].as_ref()),
                        );
                        let (fs, os, on) = fuse(dd.score, &dd, i, j, p);
                        println!("    fused {fs:.4} ori {os:.3} over {on} blocks");
                        println!(
                            "  {kind} {}-{} score {:.4} nA {} nB {} group {} best {:.2} aligned {} ({:.2}) ovA {} ovB {} lssr {:.3} oa {:.3} ({})",
                            stem(i), stem(j), dd.score, dd.na, dd.nb, dd.group_n, dd.best, dd.aligned_n, dd.aligned_sum, dd.ov_a, dd.ov_b, dd.lssr, dd.oa, dd.oa_n
                        );
                    };
                    for &k in gi.iter().take(25) {
                        show(g[k], "gen");
                    }
                    let mut ii: Vec<usize> = (0..im.len()).collect();
                    ii.sort_by(|&x, &y| is[y].total_cmp(&is[x]));
                    for &k in ii.iter().take(10) {
                        show(im[k], "imp");
                    }
                }
            }
        }
        println!("{line}");
    }
}
