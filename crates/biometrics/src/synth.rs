//! SYNTHETIC templates for 1:N and deduplication benchmarks, derived from real templates.
//!
//! A synthetic finger is the recombination of two real templates cut along a random line
//! through their centres (so it is not a copy of any real finger), then perturbed. A
//! synthetic impression of a finger applies [`perturb`]: rotation, translation, smooth
//! elastic distortion, jitter, dropped and spurious minutiae. Everything is seeded.

use crate::template::{Minutia, MinutiaKind, Template};
use rand::Rng;
use std::f32::consts::PI;

/// How strongly [`perturb`] changes a template.
#[derive(Clone, Copy, Debug)]
pub struct Perturbation {
    pub max_rotation: f32,
    pub max_translation: f32,
    /// Peak displacement of the elastic field, pixels.
    pub elastic: f32,
    pub drop: f32,
    pub spurious: f32,
}

impl Perturbation {
    /// A second impression of the same finger: ±20°, ±25 px, 6 px elastic, 20% dropped,
    /// 10% spurious.
    pub const IMPRESSION: Self = Self {
        max_rotation: 20.0 * PI / 180.0,
        max_translation: 25.0,
        elastic: 6.0,
        drop: 0.2,
        spurious: 0.1,
    };
}

fn centroid(t: &Template) -> (f32, f32) {
    let n = t.minutiae.len().max(1) as f32;
    (
        t.minutiae.iter().map(|m| m.x as f32).sum::<f32>() / n,
        t.minutiae.iter().map(|m| m.y as f32).sum::<f32>() / n,
    )
}

/// A new impression of `t`.
pub fn perturb<R: Rng>(t: &Template, p: Perturbation, rng: &mut R) -> Template {
    let (cx, cy) = centroid(t);
    let rot = rng.gen_range(-p.max_rotation..=p.max_rotation);
    let (tx, ty) = (
        rng.gen_range(-p.max_translation..=p.max_translation),
        rng.gen_range(-p.max_translation..=p.max_translation),
    );
    // elastic field: three Gaussian bumps of random displacement
    let bumps: Vec<(f32, f32, f32, f32)> = (0..3)
        .map(|_| {
            (
                cx + rng.gen_range(-100.0..100.0),
                cy + rng.gen_range(-100.0..100.0),
                rng.gen_range(-p.elastic..=p.elastic),
                rng.gen_range(-p.elastic..=p.elastic),
            )
        })
        .collect();
    let (w, h) = (t.width as f32, t.height as f32);
    let place = |x: f32, y: f32, a: f32, kind, q, out: &mut Vec<Minutia>| {
        let (dx, dy) = (x - cx, y - cy);
        let (mut nx, mut ny) = (
            cx + dx * rot.cos() - dy * rot.sin() + tx,
            cy + dx * rot.sin() + dy * rot.cos() + ty,
        );
        for &(bx, by, ex, ey) in &bumps {
            let g = (-((x - bx).powi(2) + (y - by).powi(2)) / (2.0 * 60.0f32.powi(2))).exp();
            nx += g * ex;
            ny += g * ey;
        }
        if nx >= 0.0 && ny >= 0.0 && nx < w && ny < h {
            out.push(Minutia::new(nx as u16, ny as u16, a + rot, kind, q));
        }
    };
    let mut out = Vec::new();
    for m in &t.minutiae {
        if rng.gen_bool(p.drop as f64) {
            continue;
        }
        let jx = m.x as f32 + rng.gen_range(-1.5..1.5);
        let jy = m.y as f32 + rng.gen_range(-1.5..1.5);
        let ja = m.angle() + rng.gen_range(-0.08..0.08);
        place(jx, jy, ja, m.kind, m.quality, &mut out);
    }
    let spurious = (t.minutiae.len() as f32 * p.spurious).round() as usize;
    for _ in 0..spurious {
        let Some(near) = t.minutiae.get(rng.gen_range(0..t.minutiae.len().max(1))) else {
            break;
        };
        let x = near.x as f32 + rng.gen_range(-40.0..40.0);
        let y = near.y as f32 + rng.gen_range(-40.0..40.0);
        let kind = if rng.gen_bool(0.5) {
            MinutiaKind::Ending
        } else {
            MinutiaKind::Bifurcation
        };
        place(x, y, rng.gen_range(0.0..2.0 * PI), kind, 30, &mut out);
    }
    Template {
        width: t.width,
        height: t.height,
        ppi: t.ppi,
        quality: t.quality,
        minutiae: out,
    }
}

/// A new synthetic finger recombined from two real templates (see the module docs).
pub fn finger<R: Rng>(a: &Template, b: &Template, rng: &mut R) -> Template {
    let (ax, ay) = centroid(a);
    let (bx, by) = centroid(b);
    let cut = rng.gen_range(0.0..PI);
    let (nx, ny) = (cut.cos(), cut.sin());
    let mut minutiae: Vec<Minutia> = a
        .minutiae
        .iter()
        .filter(|m| (m.x as f32 - ax) * nx + (m.y as f32 - ay) * ny < 0.0)
        .copied()
        .collect();
    for m in &b.minutiae {
        let (dx, dy) = (m.x as f32 - bx, m.y as f32 - by);
        if dx * nx + dy * ny >= 0.0 {
            let (x, y) = (ax + dx, ay + dy);
            if x >= 0.0 && y >= 0.0 && x < a.width as f32 && y < a.height as f32 {
                minutiae.push(Minutia {
                    x: x as u16,
                    y: y as u16,
                    ..*m
                });
            }
        }
    }
    let mixed = Template {
        width: a.width,
        height: a.height,
        ppi: a.ppi,
        quality: a.quality.min(b.quality),
        minutiae,
    };
    perturb(
        &mixed,
        Perturbation {
            max_rotation: PI,
            ..Perturbation::IMPRESSION
        },
        rng,
    )
}

/// A SYNTHETIC population for deduplication benches: `people` people (ids `0..people`)
/// with ten fingers each (positions 1–10, every finger a [`finger`] of two random `real`
/// templates), plus `dups` planted duplicates: person `d · people / dups` enrolled again
/// under id `people + d`, every finger a further [`Perturbation::IMPRESSION`] of the
/// original. Seeded (the same arguments give the same population).
pub fn population(real: &[Template], people: usize, dups: usize) -> Population {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rayon::prelude::*;
    let mut entries: Vec<(u32, u8, Template)> = (0..people as u32)
        .into_par_iter()
        .flat_map_iter(|p| {
            let mut r = ChaCha8Rng::seed_from_u64(10_000_000 + p as u64);
            (1..=10u8)
                .map(move |pos| {
                    let (a, b) = (r.gen_range(0..real.len()), r.gen_range(0..real.len()));
                    (p, pos, finger(&real[a], &real[b], &mut r))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut planted = Vec::new();
    for d in 0..dups {
        let orig = (d * people / dups) as u32;
        let alias = (people + d) as u32;
        let mut r = ChaCha8Rng::seed_from_u64(20_000_000 + d as u64);
        let copies: Vec<(u32, u8, Template)> = entries
            .iter()
            .filter(|e| e.0 == orig)
            .map(|e| (alias, e.1, perturb(&e.2, Perturbation::IMPRESSION, &mut r)))
            .collect();
        entries.extend(copies);
        planted.push((orig, alias));
    }
    Population { entries, planted }
}

/// What [`population`] builds.
pub struct Population {
    /// `(person, position, template)`, as [`crate::gallery::Gallery::new`] takes them.
    pub entries: Vec<(u32, u8, Template)>,
    /// `(original, alias)` of every planted duplicate.
    pub planted: Vec<(u32, u32)>,
}
