//! Minutiae extraction, one stage per function so each can be tested and inspected:
//! [`normalize`] → [`segment`] → [`orientation`] → [`frequency`] → [`enhance`] →
//! [`binarize`] → [`thin`] → [`detect`] → [`filter`] → quality. [`extract`] runs them all;
//! [`extract_stages`] also returns every intermediate for `bio extract --debug`.

use crate::image::GrayImage;
use crate::template::{Minutia, MinutiaKind, Template};
use crate::Error;
use std::f32::consts::PI;

/// Block side (pixels) of the orientation, frequency and mask grids.
pub const BLOCK: usize = 8;

/// A dense f32 field, row-major.
#[derive(Clone, Debug)]
pub struct Field {
    pub w: usize,
    pub h: usize,
    pub v: Vec<f32>,
}

impl Field {
    fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            v: vec![0.0; w * h],
        }
    }
    #[inline]
    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.v[y * self.w + x]
    }
}

/// A binary image/grid, row-major, 0 or 1.
#[derive(Clone, Debug)]
pub struct Bits {
    pub w: usize,
    pub h: usize,
    pub v: Vec<u8>,
}

impl Bits {
    fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            v: vec![0; w * h],
        }
    }
    #[inline]
    pub fn at(&self, x: usize, y: usize) -> bool {
        self.v[y * self.w + x] != 0
    }
    #[inline]
    fn get_i(&self, x: isize, y: isize) -> bool {
        x >= 0
            && y >= 0
            && (x as usize) < self.w
            && (y as usize) < self.h
            && self.at(x as usize, y as usize)
    }
    pub fn count(&self) -> usize {
        self.v.iter().filter(|&&b| b != 0).count()
    }
}

/// Block orientation field: ridge direction in [0, π) and coherence in [0, 1] per block.
#[derive(Clone, Debug)]
pub struct Orientation {
    pub angle: Field,
    pub coherence: Field,
}

/// Every intermediate of one extraction.
pub struct Stages {
    pub normalized: Field,
    pub mask: Bits,
    pub orientation: Orientation,
    pub period: Field,
    pub enhanced: Field,
    pub binary: Bits,
    pub skeleton: Bits,
    pub raw_minutiae: Vec<Minutia>,
    pub template: Template,
}

/// Extracts a template from an image (rescaled to 500 ppi first when needed).
pub fn extract(img: &GrayImage) -> Result<Template, Error> {
    extract_stages(img).map(|s| s.template)
}

/// [`extract`], keeping the print's ridge field too (for the matcher's orientation score,
/// [`crate::mcc::Prepared::with_field`]).
pub fn extract_with_field(img: &GrayImage) -> Result<(Template, RidgeField), Error> {
    let s = extract_stages(img)?;
    let field = RidgeField::from_stages(&s);
    Ok((s.template, field))
}

/// Runs the whole pipeline, keeping every stage's output.
pub fn extract_stages(img: &GrayImage) -> Result<Stages, Error> {
    let img = img.to_working_resolution()?;
    let (w, h) = (img.width as usize, img.height as usize);
    let grads = Gradients::new(&img);
    let normalized = normalize(&img);
    let orientation = orientation(&grads);
    let mask = segment(&img, &grads, &orientation);
    let fg_blocks = mask.count();
    if fg_blocks < 64 {
        return Err(Error::NoFingerprint(format!(
            "only {fg_blocks} foreground blocks of {}: no ridge pattern found",
            mask.v.len()
        )));
    }
    let period = frequency(&normalized, &orientation, &mask);
    let enhanced = enhance(&normalized, &orientation, &period, &mask);
    let binary = binarize(&enhanced, &mask);
    let skeleton = thin(&binary);
    let raw_minutiae = detect(&skeleton, &orientation);
    let kept = filter(&raw_minutiae, &skeleton, &mask, &period);
    let image_quality = image_quality(&orientation, &mask);
    let template = Template {
        width: w as u16,
        height: h as u16,
        ppi: 500,
        quality: image_quality,
        minutiae: kept,
    };
    Ok(Stages {
        normalized,
        mask,
        orientation,
        period,
        enhanced,
        binary,
        skeleton,
        raw_minutiae,
        template,
    })
}

/// Sobel gradients of the image (f32, borders zero).
struct Gradients {
    w: usize,
    h: usize,
    gx: Vec<f32>,
    gy: Vec<f32>,
}

impl Gradients {
    fn new(img: &GrayImage) -> Self {
        let (w, h) = (img.width as usize, img.height as usize);
        let p = &img.pixels;
        let mut gx = vec![0.0; w * h];
        let mut gy = vec![0.0; w * h];
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                let a = |dx: isize, dy: isize| {
                    p[(y as isize + dy) as usize * w + (x as isize + dx) as usize] as f32
                };
                gx[y * w + x] =
                    (a(1, -1) + 2.0 * a(1, 0) + a(1, 1)) - (a(-1, -1) + 2.0 * a(-1, 0) + a(-1, 1));
                gy[y * w + x] =
                    (a(-1, 1) + 2.0 * a(0, 1) + a(1, 1)) - (a(-1, -1) + 2.0 * a(0, -1) + a(1, -1));
            }
        }
        Self { w, h, gx, gy }
    }
}

/// Sums of `f(x, y)` over blocks of `BLOCK` pixels; grid size ceil(w/B) × ceil(h/B).
fn block_sums(w: usize, h: usize, f: impl Fn(usize) -> f32) -> Field {
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let mut out = Field::new(bw, bh);
    for y in 0..h {
        for x in 0..w {
            out.v[(y / BLOCK) * bw + x / BLOCK] += f(y * w + x);
        }
    }
    out
}

/// Three [`block_sums`] in one pass (each block's sums in the same order).
fn block_sums3(w: usize, h: usize, f: impl Fn(usize) -> [f32; 3]) -> [Field; 3] {
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let mut out = [Field::new(bw, bh), Field::new(bw, bh), Field::new(bw, bh)];
    for y in 0..h {
        let row = (y / BLOCK) * bw;
        for x in 0..w {
            let v = f(y * w + x);
            for (o, v) in out.iter_mut().zip(v) {
                o.v[row + x / BLOCK] += v;
            }
        }
    }
    out
}

/// Box-filters a block grid with radius `r` (mean over the window clipped to the grid).
fn box_blur(f: &Field, r: usize) -> Field {
    let mut out = Field::new(f.w, f.h);
    for y in 0..f.h {
        for x in 0..f.w {
            let (y0, y1) = (y.saturating_sub(r), (y + r).min(f.h - 1));
            let (x0, x1) = (x.saturating_sub(r), (x + r).min(f.w - 1));
            let mut s = 0.0;
            for yy in y0..=y1 {
                for xx in x0..=x1 {
                    s += f.at(xx, yy);
                }
            }
            out.v[y * f.w + x] = s / ((y1 - y0 + 1) * (x1 - x0 + 1)) as f32;
        }
    }
    out
}

/// Stage 1, normalisation: local contrast equalisation, ridges positive.
/// Each pixel becomes (local mean − value) / local deviation over a 17×17 window.
pub fn normalize(img: &GrayImage) -> Field {
    let (w, h) = (img.width as usize, img.height as usize);
    let p = &img.pixels;
    let r = 8usize;
    // window sums of value and value² in integers (exact, so the result does not depend on
    // the order of summation): column sums over the window's rows, slid down the image,
    // and per row their prefix sums across
    let (mut c1, mut c2) = (vec![0u32; w], vec![0u64; w]);
    let (mut p1, mut p2) = (vec![0u64; w + 1], vec![0u64; w + 1]);
    let (mut top, mut bottom) = (0usize, 0usize); // rows top..bottom are in the column sums
    let mut out = Field::new(w, h);
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        while bottom < y1 {
            for (x, &v) in p[bottom * w..(bottom + 1) * w].iter().enumerate() {
                c1[x] += v as u32;
                c2[x] += (v as u32 * v as u32) as u64;
            }
            bottom += 1;
        }
        while top < y0 {
            for (x, &v) in p[top * w..(top + 1) * w].iter().enumerate() {
                c1[x] -= v as u32;
                c2[x] -= (v as u32 * v as u32) as u64;
            }
            top += 1;
        }
        for x in 0..w {
            p1[x + 1] = p1[x] + c1[x] as u64;
            p2[x + 1] = p2[x] + c2[x];
        }
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let n = ((y1 - y0) * (x1 - x0)) as f64;
            let m = (p1[x1] - p1[x0]) as f64 / n;
            let var = ((p2[x1] - p2[x0]) as f64 / n - m * m).max(0.0);
            let sd = var.sqrt().max(8.0);
            out.v[y * w + x] = ((m - p[y * w + x] as f64) / sd) as f32;
        }
    }
    out
}

/// Stage 3, block orientation field from averaged squared gradients (window 3×3 blocks),
/// smoothed as doubled-angle vectors. Angles are ridge directions in [0, π), image axes
/// (x right, y down).
fn orientation(g: &Gradients) -> Orientation {
    let [gxx, gyy, gxy] = block_sums3(g.w, g.h, |i| {
        let (x, y) = (g.gx[i], g.gy[i]);
        [x * x, y * y, x * y]
    });
    let (gxx, gyy, gxy) = (box_blur(&gxx, 1), box_blur(&gyy, 1), box_blur(&gxy, 1));
    let (bw, bh) = (gxx.w, gxx.h);
    let mut c = Field::new(bw, bh);
    let mut s = Field::new(bw, bh);
    let mut coherence = Field::new(bw, bh);
    for i in 0..bw * bh {
        let (a, b, d) = (gxx.v[i], gyy.v[i], gxy.v[i]);
        // gradient doubled angle; ridge = gradient + π/2 → doubled angle + π (negate vector)
        c.v[i] = -(a - b);
        s.v[i] = -(2.0 * d);
        let tot = a + b;
        coherence.v[i] = if tot > 1e-6 {
            ((a - b).powi(2) + 4.0 * d * d).sqrt() / tot
        } else {
            0.0
        };
    }
    let (c, s) = (box_blur(&box_blur(&c, 1), 1), box_blur(&box_blur(&s, 1), 1));
    let mut angle = Field::new(bw, bh);
    for i in 0..bw * bh {
        let mut a = 0.5 * s.v[i].atan2(c.v[i]);
        if a < 0.0 {
            a += PI;
        }
        angle.v[i] = a;
    }
    Orientation { angle, coherence }
}

/// Public wrapper of stage 3 for an image (used by tests and tools).
pub fn orientation_field(img: &GrayImage) -> Orientation {
    orientation(&Gradients::new(img))
}

/// Stage 2, segmentation: a block is foreground when its gradient energy is high and its
/// ridges coherent; then closing, hole filling and keeping the largest component.
fn segment(img: &GrayImage, g: &Gradients, o: &Orientation) -> Bits {
    let energy = block_sums(g.w, g.h, |i| (g.gx[i] * g.gx[i] + g.gy[i] * g.gy[i]).sqrt());
    let energy = box_blur(&energy, 1);
    let mean = block_sums(g.w, g.h, |i| img.pixels[i] as f32);
    let (bw, bh) = (energy.w, energy.h);
    let mut sorted: Vec<f32> = energy.v.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let p95 = sorted[(sorted.len() * 95) / 100];
    let thr = (0.2 * p95).max(BLOCK as f32 * BLOCK as f32 * 20.0);
    let coh = box_blur(&o.coherence, 1);
    let mut m = Bits::new(bw, bh);
    for i in 0..bw * bh {
        let avg = mean.v[i] / (BLOCK * BLOCK) as f32;
        m.v[i] = (energy.v[i] > thr && coh.v[i] > 0.1 && avg < 250.0) as u8;
    }
    let m = erode(&dilate(&m, 2), 2);
    let m = fill_holes(&m);
    let m = largest_component(&m);
    erode(&dilate(&m, 1), 1)
}

fn dilate(m: &Bits, r: isize) -> Bits {
    morph(m, r, true)
}
fn erode(m: &Bits, r: isize) -> Bits {
    morph(m, r, false)
}
fn morph(m: &Bits, r: isize, dil: bool) -> Bits {
    let mut out = Bits::new(m.w, m.h);
    for y in 0..m.h as isize {
        for x in 0..m.w as isize {
            let mut v = !dil;
            'w: for dy in -r..=r {
                for dx in -r..=r {
                    let b = m.get_i(x + dx, y + dy);
                    if dil && b {
                        v = true;
                        break 'w;
                    }
                    if !dil && !b {
                        v = false;
                        break 'w;
                    }
                }
            }
            out.v[y as usize * m.w + x as usize] = v as u8;
        }
    }
    out
}

/// Flood-fills background from the grid border; everything not reached is foreground.
fn fill_holes(m: &Bits) -> Bits {
    let mut outside = vec![false; m.v.len()];
    let mut stack = Vec::new();
    for y in 0..m.h {
        for x in 0..m.w {
            if (x == 0 || y == 0 || x == m.w - 1 || y == m.h - 1) && !m.at(x, y) {
                outside[y * m.w + x] = true;
                stack.push((x, y));
            }
        }
    }
    while let Some((x, y)) = stack.pop() {
        for (dx, dy) in [(-1isize, 0isize), (1, 0), (0, -1), (0, 1)] {
            let (nx, ny) = (x as isize + dx, y as isize + dy);
            if nx < 0 || ny < 0 || nx >= m.w as isize || ny >= m.h as isize {
                continue;
            }
            let i = ny as usize * m.w + nx as usize;
            if !outside[i] && m.v[i] == 0 {
                outside[i] = true;
                stack.push((nx as usize, ny as usize));
            }
        }
    }
    Bits {
        w: m.w,
        h: m.h,
        v: outside.iter().map(|&o| (!o) as u8).collect(),
    }
}

fn largest_component(m: &Bits) -> Bits {
    let mut label = vec![0u32; m.v.len()];
    let mut best = (0usize, 0u32);
    let mut next = 0u32;
    for start in 0..m.v.len() {
        if m.v[start] == 0 || label[start] != 0 {
            continue;
        }
        next += 1;
        let mut size = 0;
        let mut stack = vec![start];
        label[start] = next;
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y) = ((i % m.w) as isize, (i / m.w) as isize);
            for (dx, dy) in [(-1isize, 0isize), (1, 0), (0, -1), (0, 1)] {
                if m.get_i(x + dx, y + dy) {
                    let j = (y + dy) as usize * m.w + (x + dx) as usize;
                    if label[j] == 0 {
                        label[j] = next;
                        stack.push(j);
                    }
                }
            }
        }
        if size > best.0 {
            best = (size, next);
        }
    }
    Bits {
        w: m.w,
        h: m.h,
        v: label
            .iter()
            .map(|&l| (l == best.1 && l != 0) as u8)
            .collect(),
    }
}

/// Doubled-angle unit vectors (cos 2θ, sin 2θ) of an orientation field, for [`pixel_angle_cs`].
fn doubled(o: &Field) -> (Field, Field) {
    let (mut c, mut s) = (Field::new(o.w, o.h), Field::new(o.w, o.h));
    for i in 0..o.v.len() {
        let (sn, cs) = (2.0 * o.v[i]).sin_cos();
        c.v[i] = cs;
        s.v[i] = sn;
    }
    (c, s)
}

/// [`pixel_angle`] from precomputed doubled-angle vectors (same result, fewer sines).
fn pixel_angle_cs(dc: &Field, ds: &Field, x: usize, y: usize) -> f32 {
    bilinear_angle(dc.w, dc.h, x, y, |xx, yy| (dc.at(xx, yy), ds.at(xx, yy)))
}

/// Bilinear interpolation of the orientation field at pixel (x, y), via doubled angles.
fn pixel_angle(o: &Field, x: usize, y: usize) -> f32 {
    bilinear_angle(o.w, o.h, x, y, |xx, yy| {
        let a = 2.0 * o.at(xx, yy);
        (a.cos(), a.sin())
    })
}

/// The orientation at pixel (x, y) of a `w`×`h` block field whose doubled-angle vector
/// (cos 2θ, sin 2θ) at block (bx, by) is `cs(bx, by)`: bilinear in the vectors, in [0, π).
fn bilinear_angle(
    w: usize,
    h: usize,
    x: usize,
    y: usize,
    cs: impl Fn(usize, usize) -> (f32, f32),
) -> f32 {
    let fx = ((x as f32 + 0.5) / BLOCK as f32 - 0.5).clamp(0.0, (w - 1) as f32);
    let fy = ((y as f32 + 0.5) / BLOCK as f32 - 0.5).clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (fx as usize, fy as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
    let mut c = 0.0;
    let mut s = 0.0;
    for (xx, yy, wgt) in [
        (x0, y0, (1.0 - tx) * (1.0 - ty)),
        (x1, y0, tx * (1.0 - ty)),
        (x0, y1, (1.0 - tx) * ty),
        (x1, y1, tx * ty),
    ] {
        let (vc, vs) = cs(xx, yy);
        c += wgt * vc;
        s += wgt * vs;
    }
    let mut a = 0.5 * s.atan2(c);
    if a < 0.0 {
        a += PI;
    }
    a
}

/// Stage 4, ridge frequency: per foreground block, the mean distance between peaks of the
/// signature taken across the ridges (a 33×15 window); invalid blocks take the average of
/// valid neighbours. Returns the ridge period in pixels per block.
fn frequency(n: &Field, o: &Orientation, mask: &Bits) -> Field {
    let (bw, bh) = (mask.w, mask.h);
    let mut period = Field::new(bw, bh);
    let mut valid = vec![false; bw * bh];
    let mut sig = [0f32; 33];
    for by in 0..bh {
        for bx in 0..bw {
            if !mask.at(bx, by) {
                continue;
            }
            let th = o.angle.at(bx, by);
            let (cx, cy) = (
                (bx * BLOCK + BLOCK / 2) as f32,
                (by * BLOCK + BLOCK / 2) as f32,
            );
            let (rx, ry) = (th.cos(), th.sin()); // along ridge
            let (nx, ny) = (-ry, rx); // across
                                      // every sample lies within 16 + 7 px of the centre: away from the image edge
                                      // the bounds tests can be skipped (same samples, same order of summation)
            let inside =
                cx >= 25.0 && cy >= 25.0 && cx + 25.0 < n.w as f32 && cy + 25.0 < n.h as f32;
            if inside {
                // the 33 sums side by side (independent additions), each still in the
                // order t = −7..7
                let ux: [f32; 33] = std::array::from_fn(|k| cx + (k as f32 - 16.0) * nx);
                let uy: [f32; 33] = std::array::from_fn(|k| cy + (k as f32 - 16.0) * ny);
                let mut acc = [0f32; 33];
                for t in -7..=7 {
                    let t = t as f32;
                    let (tx, ty) = (t * rx, t * ry);
                    for k in 0..33 {
                        let (x, y) = (ux[k] + tx + 0.5, uy[k] + ty + 0.5);
                        // 0 < x, y < 2³¹ here, where `as i32` truncates as `as usize` does
                        acc[k] += n.v[y as i32 as usize * n.w + x as i32 as usize];
                    }
                }
                for (s, a) in sig.iter_mut().zip(acc) {
                    *s = a / 15.0;
                }
            }
            for (k, s) in sig.iter_mut().enumerate() {
                if inside {
                    break;
                }
                let u = k as f32 - 16.0;
                let (ux, uy) = (cx + u * nx, cy + u * ny);
                let mut acc = 0.0;
                let mut cnt = 0;
                for t in -7..=7 {
                    let t = t as f32;
                    // nearest pixel: floor(v + 0.5), the same as rounding for v ≥ −0.5
                    // and cheaper than `round`
                    let x = ux + t * rx + 0.5;
                    let y = uy + t * ry + 0.5;
                    if x >= 0.0 && y >= 0.0 && (x as usize) < n.w && (y as usize) < n.h {
                        acc += n.at(x as usize, y as usize);
                        cnt += 1;
                    }
                }
                *s = if cnt > 0 { acc / cnt as f32 } else { 0.0 };
            }
            let peaks: Vec<usize> = (1..32)
                .filter(|&k| sig[k] > sig[k - 1] && sig[k] >= sig[k + 1] && sig[k] > 0.0)
                .collect();
            if peaks.len() >= 2 {
                let p = (peaks[peaks.len() - 1] - peaks[0]) as f32 / (peaks.len() - 1) as f32;
                if (5.0..=15.0).contains(&p) {
                    period.v[by * bw + bx] = p;
                    valid[by * bw + bx] = true;
                }
            }
        }
    }
    let mut vals: Vec<f32> = (0..bw * bh)
        .filter(|&i| valid[i])
        .map(|i| period.v[i])
        .collect();
    vals.sort_by(|a, b| a.total_cmp(b));
    let median = if vals.is_empty() {
        9.0
    } else {
        vals[vals.len() / 2]
    };
    for i in 0..bw * bh {
        if !valid[i] {
            period.v[i] = median;
        }
    }
    // smooth only over valid estimates, falling back to the median
    let mut out = Field::new(bw, bh);
    for by in 0..bh {
        for bx in 0..bw {
            let (mut s, mut c) = (0.0, 0.0);
            for yy in by.saturating_sub(2)..=(by + 2).min(bh - 1) {
                for xx in bx.saturating_sub(2)..=(bx + 2).min(bw - 1) {
                    if valid[yy * bw + xx] {
                        s += period.at(xx, yy);
                        c += 1.0;
                    }
                }
            }
            out.v[by * bw + bx] = if c >= 3.0 { s / c } else { median };
        }
    }
    out
}

const GABOR_R: usize = 7;
const GABOR_ANGLES: usize = 16;
const GABOR_MIN_PERIOD: usize = 5;
const GABOR_MAX_PERIOD: usize = 15;

/// Bank of zero-mean Gabor kernels indexed by (angle bin, period).
fn gabor_bank() -> Vec<Vec<f32>> {
    let side = 2 * GABOR_R + 1;
    let mut bank = Vec::new();
    for a in 0..GABOR_ANGLES {
        let th = a as f32 * PI / GABOR_ANGLES as f32;
        let (c, s) = (th.cos(), th.sin());
        for p in GABOR_MIN_PERIOD..=GABOR_MAX_PERIOD {
            let p = p as f32;
            let sa = 0.45 * p; // across ridges
            let sl = 4.5f32; // along ridges
            let mut k = vec![0f32; side * side];
            for y in 0..side {
                for x in 0..side {
                    let (dx, dy) = (x as f32 - GABOR_R as f32, y as f32 - GABOR_R as f32);
                    let along = dx * c + dy * s;
                    let across = -dx * s + dy * c;
                    k[y * side + x] =
                        (-0.5 * (along * along / (sl * sl) + across * across / (sa * sa))).exp()
                            * (2.0 * PI * across / p).cos();
                }
            }
            let mean = k.iter().sum::<f32>() / k.len() as f32;
            let norm: f32 = k.iter().map(|v| (v - mean).abs()).sum();
            for v in &mut k {
                *v = (*v - mean) / norm;
            }
            bank.push(k);
        }
    }
    bank
}

/// Stage 5, contextual enhancement: each foreground pixel is filtered with the Gabor
/// kernel tuned to its local orientation and ridge period.
fn enhance(n: &Field, o: &Orientation, period: &Field, mask: &Bits) -> Field {
    use std::sync::OnceLock;
    static BANK: OnceLock<Vec<Vec<f32>>> = OnceLock::new();
    let bank = BANK.get_or_init(gabor_bank);
    let side = 2 * GABOR_R + 1;
    let np = GABOR_MAX_PERIOD - GABOR_MIN_PERIOD + 1;
    // kernels with rows padded to LANES columns (zeros), so each row is one fixed-size
    // multiply-add the compiler vectorises
    const LANES: usize = 16;
    static BANK16: OnceLock<Vec<[[f32; LANES]; 2 * GABOR_R + 1]>> = OnceLock::new();
    let bank16 = BANK16.get_or_init(|| {
        bank.iter()
            .map(|k| {
                std::array::from_fn(|ky| {
                    std::array::from_fn(|kx| if kx < side { k[ky * side + kx] } else { 0.0 })
                })
            })
            .collect()
    });
    // zero-padded copy so the inner loop has no bounds logic
    let pw = n.w + 2 * GABOR_R + (LANES - side);
    let mut pad = vec![0f32; pw * (n.h + 2 * GABOR_R)];
    for y in 0..n.h {
        pad[(y + GABOR_R) * pw + GABOR_R..(y + GABOR_R) * pw + GABOR_R + n.w]
            .copy_from_slice(&n.v[y * n.w..(y + 1) * n.w]);
    }
    let mut out = Field::new(n.w, n.h);
    let (dc, ds) = doubled(&o.angle);
    // The kernel's angle bin of each block's own orientation, when it lies at least 0.01
    // of a bin inside the bin. A pixel whose four interpolation blocks (see
    // `bilinear_angle`) share such a bin takes it without the interpolation: a positive
    // combination of doubled-angle vectors inside one bin's arc (under π wide) stays
    // inside it, by far more than the rounding of the interpolation.
    let bin = |th: f32| ((th / PI * GABOR_ANGLES as f32).round() as usize) % GABOR_ANGLES;
    let (bw, bh) = (o.angle.w, o.angle.h);
    let block_bin: Vec<Option<usize>> = o
        .angle
        .v
        .iter()
        .map(|&a| {
            let f = a / PI * GABOR_ANGLES as f32;
            ((f - f.round()).abs() < 0.49).then(|| bin(a))
        })
        .collect();
    let corners = |p: usize, n: usize| {
        let f = ((p as f32 + 0.5) / BLOCK as f32 - 0.5).clamp(0.0, (n - 1) as f32);
        (f as usize, (f as usize + 1).min(n - 1))
    };
    let cols: Vec<(usize, usize)> = (0..n.w).map(|x| corners(x, bw)).collect();
    let rows: Vec<(usize, usize)> = (0..n.h).map(|y| corners(y, bh)).collect();
    for y in 0..n.h {
        for x in 0..n.w {
            let (bx, by) = ((x / BLOCK).min(mask.w - 1), (y / BLOCK).min(mask.h - 1));
            if !mask.at(bx, by) {
                continue;
            }
            let ((x0, x1), (y0, y1)) = (cols[x], rows[y]);
            let b = block_bin[y0 * bw + x0];
            let ai = match b {
                Some(v)
                    if b == block_bin[y0 * bw + x1]
                        && b == block_bin[y1 * bw + x0]
                        && b == block_bin[y1 * bw + x1] =>
                {
                    v
                }
                _ => bin(pixel_angle_cs(&dc, &ds, x, y)),
            };
            let pi = (period.at(bx, by).round() as usize).clamp(GABOR_MIN_PERIOD, GABOR_MAX_PERIOD)
                - GABOR_MIN_PERIOD;
            let k = &bank16[ai * np + pi];
            let mut acc = [0f32; LANES];
            for (ky, kr) in k.iter().enumerate() {
                let row: &[f32; LANES] = pad[(y + ky) * pw + x..(y + ky) * pw + x + LANES]
                    .try_into()
                    .expect("padded row");
                for c in 0..LANES {
                    acc[c] += row[c] * kr[c];
                }
            }
            out.v[y * n.w + x] = acc.iter().sum();
        }
    }
    out
}

/// Stage 6, binarisation: ridge where the enhanced response is positive, inside the mask.
fn binarize(e: &Field, mask: &Bits) -> Bits {
    let mut b = Bits::new(e.w, e.h);
    for y in 0..e.h {
        for x in 0..e.w {
            let (bx, by) = ((x / BLOCK).min(mask.w - 1), (y / BLOCK).min(mask.h - 1));
            b.v[y * e.w + x] = (mask.at(bx, by) && e.at(x, y) > 0.0) as u8;
        }
    }
    b
}

/// The 8 neighbours of (x, y) clockwise from north: N, NE, E, SE, S, SW, W, NW.
const NB: [(isize, isize); 8] = [
    (0, -1),
    (1, -1),
    (1, 0),
    (1, 1),
    (0, 1),
    (-1, 1),
    (-1, 0),
    (-1, -1),
];

fn neighbours(b: &Bits, x: usize, y: usize) -> [bool; 8] {
    if x > 0 && y > 0 && x + 1 < b.w && y + 1 < b.h {
        let (w, v) = (b.w, &b.v);
        let i = y * w + x;
        return [
            v[i - w] != 0,
            v[i - w + 1] != 0,
            v[i + 1] != 0,
            v[i + w + 1] != 0,
            v[i + w] != 0,
            v[i + w - 1] != 0,
            v[i - 1] != 0,
            v[i - w - 1] != 0,
        ];
    }
    let mut n = [false; 8];
    for (i, (dx, dy)) in NB.iter().enumerate() {
        n[i] = b.get_i(x as isize + dx, y as isize + dy);
    }
    n
}

fn crossing(n: &[bool; 8]) -> usize {
    (0..8).filter(|&i| n[i] != n[(i + 1) % 8]).count() / 2
}

/// The neighbourhood of (x, y) as a code: bit k is neighbour k of [`NB`].
#[inline]
fn neighbour_code(b: &Bits, x: usize, y: usize) -> u8 {
    if x > 0 && y > 0 && x + 1 < b.w && y + 1 < b.h {
        let (w, v) = (b.w, &b.v);
        let i = y * w + x;
        let bit = |j: usize, k: u32| ((v[j] != 0) as u8) << k;
        return bit(i - w, 0)
            | bit(i - w + 1, 1)
            | bit(i + 1, 2)
            | bit(i + w + 1, 3)
            | bit(i + w, 4)
            | bit(i + w - 1, 5)
            | bit(i - 1, 6)
            | bit(i - w - 1, 7);
    }
    let n = neighbours(b, x, y);
    (0..8).fold(0, |c, k| c | ((n[k] as u8) << k))
}

/// The neighbours a [`neighbour_code`] stands for.
fn unpack(code: u8) -> [bool; 8] {
    std::array::from_fn(|k| code >> k & 1 != 0)
}

/// Thinning decisions by neighbourhood code: `[pass 0, pass 1, staircase corner]`.
fn thin_tables() -> &'static [[bool; 256]; 3] {
    use std::sync::OnceLock;
    static T: OnceLock<[[bool; 256]; 3]> = OnceLock::new();
    T.get_or_init(|| {
        let decide = |c: usize| {
            let n = unpack(c as u8);
            // Zhang–Suen: 2–6 set neighbours, one 0→1 transition around, and neither of
            // the pass's two triples all set
            let bcount = n.iter().filter(|&&v| v).count();
            let (p2, p4, p6, p8) = (n[0], n[2], n[4], n[6]);
            let deletable = (2..=6).contains(&bcount) && crossing(&n) == 1;
            // staircase corner: only two 4-neighbours at a right angle (plus the diagonal
            // between them)
            let corner = [0usize, 2, 4, 6].iter().any(|&k| {
                let (a, d, e) = (k, (k + 1) % 8, (k + 2) % 8);
                n[a] && n[e] && !(0..8).filter(|&i| i != a && i != d && i != e).any(|i| n[i])
            });
            [
                deletable && !(p4 && p6 && (p2 || p8)),
                deletable && !(p2 && p8 && (p4 || p6)),
                corner,
            ]
        };
        let d: [[bool; 3]; 256] = std::array::from_fn(decide);
        let t: [[bool; 256]; 3] = std::array::from_fn(|k| std::array::from_fn(|c| d[c][k]));
        t
    })
}

/// Stage 7, thinning (Zhang–Suen, then removal of staircase corners) to an 8-connected
/// skeleton one pixel wide. Each pixel's decision is a table look-up of its
/// neighbourhood code ([`thin_tables`]).
pub fn thin(b: &Bits) -> Bits {
    let mut s = b.clone();
    let tables = thin_tables();
    // A pixel's decision depends on its neighbourhood only, so after the first pass of
    // each kind only the set pixels next to a deletion (since that kind's last pass) can
    // be deleted: `pending[k]` holds them, `queued[k]` marks them. Same deletions as
    // examining every set pixel in every pass.
    let live: Vec<usize> = (0..s.v.len()).filter(|&i| s.v[i] != 0).collect();
    let mut queued = [vec![true; s.v.len()], vec![true; s.v.len()]];
    let mut pending = [live.clone(), live];
    let mut del = Vec::new();
    loop {
        let mut changed = false;
        for k in 0..2 {
            del.clear();
            for &i in &pending[k] {
                queued[k][i] = false;
                if s.v[i] != 0 && tables[k][neighbour_code(&s, i % s.w, i / s.w) as usize] {
                    del.push(i);
                }
            }
            pending[k].clear();
            changed |= !del.is_empty();
            for &i in &del {
                s.v[i] = 0;
            }
            for &i in &del {
                let (x, y) = ((i % s.w) as isize, (i / s.w) as isize);
                for (dx, dy) in NB {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= s.w as isize || ny >= s.h as isize {
                        continue;
                    }
                    let j = ny as usize * s.w + nx as usize;
                    if s.v[j] == 0 {
                        continue;
                    }
                    for q in 0..2 {
                        if !queued[q][j] {
                            queued[q][j] = true;
                            pending[q].push(j);
                        }
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    // staircase corners, removed in raster order (each decision sees the earlier ones)
    for y in 0..s.h {
        for x in 0..s.w {
            if s.at(x, y) && tables[2][neighbour_code(&s, x, y) as usize] {
                s.v[y * s.w + x] = 0;
            }
        }
    }
    s
}

/// Follows a skeleton branch from `start` through `first`, up to `max` steps or until a
/// pixel that is not a plain ridge pixel. Returns the path (excluding `start`).
fn trace(
    s: &Bits,
    start: (usize, usize),
    first: (usize, usize),
    max: usize,
) -> Vec<(usize, usize)> {
    let mut path = vec![first];
    let mut prev = start;
    let mut cur = first;
    while path.len() < max {
        let n = neighbours(s, cur.0, cur.1);
        if crossing(&n) != 2 {
            break;
        }
        // next: an unvisited neighbour not adjacent to where we came from, 4-neighbours first
        let mut next = None;
        for pref in [true, false] {
            for (i, (dx, dy)) in NB.iter().enumerate() {
                if !n[i] || (i % 2 == 0) != pref {
                    continue;
                }
                let c = (
                    (cur.0 as isize + dx) as usize,
                    (cur.1 as isize + dy) as usize,
                );
                let recent = c == prev || path.iter().rev().take(3).any(|&p| p == c) || c == start;
                let near_prev = (c.0 as isize - prev.0 as isize).abs() <= 1
                    && (c.1 as isize - prev.1 as isize).abs() <= 1;
                if !recent && !near_prev {
                    next = Some(c);
                    break;
                }
            }
            if next.is_some() {
                break;
            }
        }
        let Some(nx) = next else { break };
        prev = cur;
        cur = nx;
        path.push(cur);
    }
    path
}

/// First pixel of each branch leaving (x, y): one per run of set neighbours.
fn branches(s: &Bits, x: usize, y: usize) -> Vec<(usize, usize)> {
    let n = neighbours(s, x, y);
    let mut out = Vec::new();
    for i in 0..8 {
        if n[i] && !n[(i + 7) % 8] {
            // start of a run; prefer a 4-neighbour inside the run
            let mut pick = i;
            let mut j = i;
            while n[j] {
                if j % 2 == 0 {
                    pick = j;
                    break;
                }
                j = (j + 1) % 8;
                if j == i {
                    break;
                }
            }
            out.push((
                (x as isize + NB[pick].0) as usize,
                (y as isize + NB[pick].1) as usize,
            ));
        }
    }
    out
}

fn angle_to(from: (usize, usize), to: (usize, usize)) -> f32 {
    let a = (to.1 as f32 - from.1 as f32).atan2(to.0 as f32 - from.0 as f32);
    a.rem_euclid(2.0 * PI)
}

fn ang_diff(a: f32, b: f32) -> f32 {
    let d = (a - b).rem_euclid(2.0 * PI);
    if d > PI {
        2.0 * PI - d
    } else {
        d
    }
}

const TRACE_DIR: usize = 10;
/// A minutia is on the border (and removed) when a point this far from it lies outside the
/// foreground mask. 6 px (under one mask block) measured best on FVC2002/2004 DB1_B (10 px
/// lost true minutiae near the mask edge; 2 px kept false ones at the print's edge).
const BORDER_R: f32 = 6.0;

/// The skeleton trace gives a minutia's direction to within ±15° or so; the smoothed ridge
/// orientation is more precise but has no sense. Take the orientation, turned to the sense
/// of the trace, when the two agree within 75° (elsewhere, e.g. near cores, the trace).
/// Measured on FVC2002 / FVC2004 DB1_B (FVC protocol, all-pairs EER): 30° 4.37 / 4.23,
/// 15.46 / 10.35%; 60° 4.37 / 3.57, 13.27 / 10.00%; 75° 4.37 / 3.29, 11.63 / 8.57%; 90°
/// (always the orientation) 4.37 / 3.57, 12.92 / 8.93%.
fn refine_direction(traced: f32, ridge: f32) -> f32 {
    let cands = [ridge, ridge + PI];
    let best = if ang_diff(cands[0], traced) <= ang_diff(cands[1], traced) {
        cands[0]
    } else {
        cands[1]
    };
    if ang_diff(best, traced) <= PI * 5.0 / 12.0 {
        best
    } else {
        traced
    }
}

/// Stage 8, detection by crossing number: 1 = ridge ending, 3 = bifurcation. An ending
/// points away from its ridge; a bifurcation points along its stem (so a ridge ending that
/// becomes a bifurcation in another impression keeps its direction).
fn detect(s: &Bits, o: &Orientation) -> Vec<Minutia> {
    let mut out = Vec::new();
    for y in 1..s.h.saturating_sub(1) {
        for x in 1..s.w.saturating_sub(1) {
            if !s.at(x, y) {
                continue;
            }
            let n = neighbours(s, x, y);
            let cn = crossing(&n);
            let (kind, dir) = match cn {
                1 => {
                    let br = branches(s, x, y);
                    let Some(&f) = br.first() else { continue };
                    let p = trace(s, (x, y), f, TRACE_DIR);
                    (
                        MinutiaKind::Ending,
                        angle_to((x, y), *p.last().unwrap_or(&f)) + PI,
                    )
                }
                3 => {
                    let br = branches(s, x, y);
                    if br.len() != 3 {
                        continue;
                    }
                    let a: Vec<f32> = br
                        .iter()
                        .map(|&f| {
                            angle_to((x, y), *trace(s, (x, y), f, TRACE_DIR).last().unwrap_or(&f))
                        })
                        .collect();
                    // stem: the branch farthest from the other two
                    let score =
                        |i: usize| ang_diff(a[i], a[(i + 1) % 3]) + ang_diff(a[i], a[(i + 2) % 3]);
                    let stem = (0..3)
                        .max_by(|&i, &j| score(i).total_cmp(&score(j)))
                        .unwrap_or(0);
                    (MinutiaKind::Bifurcation, a[stem])
                }
                _ => continue,
            };
            let (bx, by) = (
                (x / BLOCK).min(o.coherence.w - 1),
                (y / BLOCK).min(o.coherence.h - 1),
            );
            let q = (o.coherence.at(bx, by).clamp(0.0, 1.0) * 100.0).round() as u8;
            let dir = refine_direction(dir, pixel_angle(&o.angle, x, y));
            out.push(Minutia::new(x as u16, y as u16, dir, kind, q));
        }
    }
    out
}

/// Raw-minutiae density limit of [`filter`]: 4 or more raw minutiae within 16 px (about two
/// ridge periods) mark a noisy area. Measured on FVC2002/2004 DB1_B: all-pairs EER 4.31 →
/// 4.23% and 11.04 → 10.35%; a 20 px radius or a limit of 3 was worse.
const DENSE_R: f32 = 16.0;
const DENSE_K: usize = 4;

/// Stage 9, false-minutiae removal: border minutiae (see [`BORDER_R`]), short ridges (ending reaching an
/// ending), spurs (ending reaching a bifurcation), bridges and holes (bifurcation reaching
/// a bifurcation), clusters closer than 6 px, then minutiae in dense areas (see
/// [`DENSE_K`]). Keeps at most 100, best quality first.
fn filter(raw: &[Minutia], s: &Bits, mask: &Bits, period: &Field) -> Vec<Minutia> {
    let mut drop = vec![false; raw.len()];
    let idx = |x: usize, y: usize| {
        raw.iter()
            .position(|m| m.x as usize == x && m.y as usize == y)
    };
    for (i, m) in raw.iter().enumerate() {
        let (x, y) = (m.x as usize, m.y as usize);
        // border: every point on a 10 px circle must be foreground
        let border = (0..16).any(|k| {
            let a = k as f32 * PI / 8.0;
            let (px, py) = (x as f32 + BORDER_R * a.cos(), y as f32 + BORDER_R * a.sin());
            if px < 0.0 || py < 0.0 {
                return true;
            }
            let (bx, by) = (px as usize / BLOCK, py as usize / BLOCK);
            bx >= mask.w || by >= mask.h || !mask.at(bx, by)
        });
        if border {
            drop[i] = true;
        }
        let (bx, by) = ((x / BLOCK).min(period.w - 1), (y / BLOCK).min(period.h - 1));
        let reach = (1.8 * period.at(bx, by)).round() as usize;
        for f in branches(s, x, y) {
            let p = trace(s, (x, y), f, reach);
            let Some(&end) = p.last() else { continue };
            if p.len() >= reach {
                continue;
            }
            let ncn = crossing(&neighbours(s, end.0, end.1));
            if ncn == 1 || ncn >= 3 {
                drop[i] = true;
                if let Some(j) = idx(end.0, end.1) {
                    drop[j] = true;
                }
            }
        }
    }
    for i in 0..raw.len() {
        for j in i + 1..raw.len() {
            let (dx, dy) = (
                raw[i].x as f32 - raw[j].x as f32,
                raw[i].y as f32 - raw[j].y as f32,
            );
            if dx * dx + dy * dy < 36.0 {
                drop[i] = true;
                drop[j] = true;
            }
        }
    }
    // density: a minutia with DENSE_K or more raw minutiae within DENSE_R lies in a noisy
    // area (crease, scar, smudge, the flexion crease of a rolled-down print)
    for i in 0..raw.len() {
        let (xi, yi) = (raw[i].x as f32, raw[i].y as f32);
        let near = raw
            .iter()
            .enumerate()
            .filter(|&(j, o)| {
                j != i && (o.x as f32 - xi).powi(2) + (o.y as f32 - yi).powi(2) < DENSE_R * DENSE_R
            })
            .count();
        if near >= DENSE_K {
            drop[i] = true;
        }
    }
    let mut kept: Vec<Minutia> = raw
        .iter()
        .zip(&drop)
        .filter(|(_, d)| !**d)
        .map(|(m, _)| *m)
        .collect();
    kept.sort_by_key(|m| std::cmp::Reverse(m.quality));
    kept.truncate(100);
    kept.sort_by_key(|m| (m.y, m.x));
    kept
}

/// Image quality 0–100: mean ridge coherence over the foreground, scaled down when the
/// foreground is small (under 120 blocks, about 2 cm²).
fn image_quality(o: &Orientation, mask: &Bits) -> u8 {
    let fg: Vec<f32> = (0..mask.v.len())
        .filter(|&i| mask.v[i] != 0)
        .map(|i| o.coherence.v[i])
        .collect();
    if fg.is_empty() {
        return 0;
    }
    let mean = fg.iter().sum::<f32>() / fg.len() as f32;
    let area = (fg.len() as f32 / 120.0).min(1.0);
    (100.0 * mean * area).round().clamp(0.0, 100.0) as u8
}

/// Side (pixels) of one cell of a [`RidgeField`]: two orientation blocks.
pub const FIELD_CELL: usize = 2 * BLOCK;
/// Largest [`RidgeField`] side in cells (a 4000-pixel image side, the accepted maximum).
const FIELD_MAX_SIDE: usize = 4000 / FIELD_CELL + 1;

/// A coarse ridge-orientation field of a print, kept next to its template for the
/// matcher's second score ([`crate::mcc::Prepared::with_field`]): one byte per
/// [`FIELD_CELL`]-pixel cell, row-major, 0 = background, `1 + k` = ridge direction
/// k° (k in 0..180, x right, y down). Bytes: `"SPRF"`, version 1, width and height in
/// cells (`u16` little-endian), then the cells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RidgeField {
    pub w: u16,
    pub h: u16,
    pub cells: Vec<u8>,
}

impl RidgeField {
    /// Samples the orientation field at the centre of every cell (the block at each
    /// cell's centre; background where that block is outside the mask).
    pub fn from_stages(s: &Stages) -> Self {
        let (bw, bh) = (s.mask.w, s.mask.h);
        let (w, h) = (
            bw.div_ceil(2).min(FIELD_MAX_SIDE),
            bh.div_ceil(2).min(FIELD_MAX_SIDE),
        );
        let mut cells = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let (bx, by) = ((2 * x + 1).min(bw - 1), (2 * y + 1).min(bh - 1));
                if s.mask.at(bx, by) {
                    let deg = (s.orientation.angle.at(bx, by).rem_euclid(PI) / PI * 180.0).round()
                        as u32
                        % 180;
                    cells[y * w + x] = 1 + deg as u8;
                }
            }
        }
        Self {
            w: w as u16,
            h: h as u16,
            cells,
        }
    }

    /// Ridge direction (radians, [0, π)) of the cell holding pixel (x, y), `None` on the
    /// background or outside.
    #[inline]
    pub fn angle_at(&self, x: f32, y: f32) -> Option<f32> {
        if !(x >= 0.0 && y >= 0.0) {
            return None;
        }
        let (cx, cy) = (
            (x / FIELD_CELL as f32) as usize,
            (y / FIELD_CELL as f32) as usize,
        );
        if cx >= self.w as usize || cy >= self.h as usize {
            return None;
        }
        match self.cells[cy * self.w as usize + cx] {
            0 => None,
            v => Some((v - 1) as f32 * (PI / 180.0)),
        }
    }

    /// Serialises to the `SPRF` v1 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(9 + self.cells.len());
        b.extend_from_slice(b"SPRF");
        b.push(1);
        b.extend_from_slice(&self.w.to_le_bytes());
        b.extend_from_slice(&self.h.to_le_bytes());
        b.extend_from_slice(&self.cells);
        b
    }

    /// Parses `SPRF` v1 bytes (untrusted): wrong magic or version, sides over the limit,
    /// a length that does not match the sides, or a cell value over 180 is an error at
    /// its byte offset.
    pub fn from_bytes(b: &[u8]) -> Result<Self, Error> {
        let err = |offset: usize, what: String| Error::Template { offset, what };
        if b.len() < 9 || &b[..4] != b"SPRF" {
            return Err(err(0, "not an SPRF ridge field (magic or length)".into()));
        }
        if b[4] != 1 {
            return Err(err(4, format!("SPRF version {} (only 1 is known)", b[4])));
        }
        let w = u16::from_le_bytes([b[5], b[6]]);
        let h = u16::from_le_bytes([b[7], b[8]]);
        if w as usize > FIELD_MAX_SIDE || h as usize > FIELD_MAX_SIDE {
            return Err(err(
                5,
                format!("SPRF field {w}x{h} cells exceeds {FIELD_MAX_SIDE} per side"),
            ));
        }
        let n = w as usize * h as usize;
        if b.len() != 9 + n {
            return Err(err(
                9,
                format!(
                    "SPRF field {w}x{h} needs {n} cell bytes, found {}",
                    b.len() - 9
                ),
            ));
        }
        if let Some(k) = b[9..].iter().position(|&v| v > 180) {
            return Err(err(9 + k, format!("SPRF cell value {} over 180", b[9 + k])));
        }
        Ok(Self {
            w,
            h,
            cells: b[9..].to_vec(),
        })
    }
}

impl Stages {
    /// Writes one PNG per stage into `dir` (created if missing) and returns their paths:
    /// normalised image, mask, orientation lines, ridge period, Gabor response, binary,
    /// skeleton, and minutiae (red = kept, blue = removed as false).
    pub fn write_debug(&self, dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, Error> {
        use image::{Rgb, RgbImage};
        let io =
            |e: std::io::Error| Error::Image(format!("cannot write into {}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(io)?;
        let (w, h) = (self.normalized.w, self.normalized.h);
        let mut written = Vec::new();
        let mut save_grey = |name: &str, f: &dyn Fn(usize, usize) -> u8| -> Result<(), Error> {
            let img = image::GrayImage::from_fn(w as u32, h as u32, |x, y| {
                image::Luma([f(x as usize, y as usize)])
            });
            let p = dir.join(name);
            img.save(&p)
                .map_err(|e| Error::Image(format!("cannot write {}: {e}", p.display())))?;
            written.push(p);
            Ok(())
        };
        let blk = |x: usize, y: usize| {
            (
                (x / BLOCK).min(self.mask.w - 1),
                (y / BLOCK).min(self.mask.h - 1),
            )
        };
        save_grey("1_normalized.png", &|x, y| {
            (128.0 - 40.0 * self.normalized.at(x, y)).clamp(0.0, 255.0) as u8
        })?;
        save_grey("2_mask.png", &|x, y| {
            let (bx, by) = blk(x, y);
            if self.mask.at(bx, by) {
                255
            } else {
                0
            }
        })?;
        save_grey("3_orientation.png", &|x, y| {
            let (bx, by) = (x / 16 * 2, y / 16 * 2);
            if bx >= self.mask.w || by >= self.mask.h || !self.mask.at(bx, by) {
                return 96;
            }
            let th = self.orientation.angle.at(bx, by);
            let (cx, cy) = ((x / 16 * 16 + 8) as f32, (y / 16 * 16 + 8) as f32);
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let off = (-dx * th.sin() + dy * th.cos()).abs();
            if off < 0.8 && dx.hypot(dy) < 7.0 {
                0
            } else {
                255
            }
        })?;
        save_grey("4_period.png", &|x, y| {
            let (bx, by) = blk(x, y);
            ((self.period.at(bx, by) - 5.0) * 25.5).clamp(0.0, 255.0) as u8
        })?;
        save_grey("5_enhanced.png", &|x, y| {
            (128.0 - 60.0 * self.enhanced.at(x, y)).clamp(0.0, 255.0) as u8
        })?;
        save_grey("6_binary.png", &|x, y| {
            if self.binary.at(x, y) {
                0
            } else {
                255
            }
        })?;
        save_grey("7_skeleton.png", &|x, y| {
            if self.skeleton.at(x, y) {
                0
            } else {
                255
            }
        })?;
        let mut rgb = RgbImage::from_fn(w as u32, h as u32, |x, y| {
            if self.skeleton.at(x as usize, y as usize) {
                Rgb([150, 150, 150])
            } else {
                Rgb([255, 255, 255])
            }
        });
        let mut mark = |m: &Minutia, c: Rgb<u8>| {
            let a = m.angle();
            for r in -4i32..=4 {
                for s in -4i32..=4 {
                    let edge = r.abs() == 4 || s.abs() == 4;
                    let round = (r * r + s * s - 16).abs() <= 4;
                    let on = match m.kind {
                        MinutiaKind::Ending => round,
                        MinutiaKind::Bifurcation => edge,
                    };
                    let (px, py) = (m.x as i32 + r, m.y as i32 + s);
                    if on && px >= 0 && py >= 0 && (px as usize) < w && (py as usize) < h {
                        rgb.put_pixel(px as u32, py as u32, c);
                    }
                }
            }
            for t in 0..12 {
                let (px, py) = (
                    m.x as f32 + t as f32 * a.cos(),
                    m.y as f32 + t as f32 * a.sin(),
                );
                if px >= 0.0 && py >= 0.0 && (px as usize) < w && (py as usize) < h {
                    rgb.put_pixel(px as u32, py as u32, c);
                }
            }
        };
        for m in &self.raw_minutiae {
            if !self.template.minutiae.contains(m) {
                mark(m, Rgb([40, 90, 220]));
            }
        }
        for m in &self.template.minutiae {
            mark(m, Rgb([220, 30, 30]));
        }
        let p = dir.join("8_minutiae.png");
        rgb.save(&p)
            .map_err(|e| Error::Image(format!("cannot write {}: {e}", p.display())))?;
        written.push(p);
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Zhang–Suen examining every set pixel in every pass, the decisions written out.
    fn thin_reference(b: &Bits) -> Bits {
        let mut s = b.clone();
        loop {
            let mut changed = false;
            for pass in 0..2 {
                let mut del = Vec::new();
                for y in 0..s.h {
                    for x in 0..s.w {
                        if !s.at(x, y) {
                            continue;
                        }
                        let n = neighbours(&s, x, y);
                        let bcount = n.iter().filter(|&&v| v).count();
                        if !(2..=6).contains(&bcount) || crossing(&n) != 1 {
                            continue;
                        }
                        let (p2, p4, p6, p8) = (n[0], n[2], n[4], n[6]);
                        let ok = if pass == 0 {
                            !(p4 && p6 && (p2 || p8))
                        } else {
                            !(p2 && p8 && (p4 || p6))
                        };
                        if ok {
                            del.push(y * s.w + x);
                        }
                    }
                }
                changed |= !del.is_empty();
                for i in del {
                    s.v[i] = 0;
                }
            }
            if !changed {
                break;
            }
        }
        for y in 0..s.h {
            for x in 0..s.w {
                if !s.at(x, y) {
                    continue;
                }
                let n = neighbours(&s, x, y);
                for k in [0usize, 2, 4, 6] {
                    let (a, d, c) = (k, (k + 1) % 8, (k + 2) % 8);
                    let others = (0..8).filter(|&i| i != a && i != d && i != c).any(|i| n[i]);
                    if n[a] && n[c] && !others {
                        s.v[y * s.w + x] = 0;
                        break;
                    }
                }
            }
        }
        s
    }

    /// Random blobs and stripes, touching the image border.
    fn random_binary(r: &mut ChaCha8Rng, w: usize, h: usize) -> Bits {
        let mut b = Bits::new(w, h);
        let (a, p) = (r.gen_range(0.0..PI), r.gen_range(5.0..12.0f32));
        for y in 0..h {
            for x in 0..w {
                let u = x as f32 * a.cos() + y as f32 * a.sin();
                let stripe = (2.0 * PI * u / p).cos() > r.gen_range(-0.3..0.3);
                b.v[y * w + x] = (stripe || r.gen_bool(0.03)) as u8;
            }
        }
        b
    }

    #[test]
    fn thinning_by_tables_and_pending_pixels_equals_the_full_scan() {
        let mut r = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..20 {
            let (w, h) = (r.gen_range(3..90), r.gen_range(3..90));
            let b = random_binary(&mut r, w, h);
            let fast = thin(&b);
            assert_eq!(fast.v, thin_reference(&b).v, "{w}x{h}");
            assert!(fast.count() < b.count(), "thinning removed pixels");
        }
    }

    /// The integral-image normalisation the sliding window replaced.
    fn normalize_reference(img: &GrayImage) -> Field {
        let (w, h) = (img.width as usize, img.height as usize);
        let mut s1 = vec![0f64; (w + 1) * (h + 1)];
        let mut s2 = vec![0f64; (w + 1) * (h + 1)];
        for y in 0..h {
            let (mut r1, mut r2) = (0f64, 0f64);
            for x in 0..w {
                let v = img.pixels[y * w + x] as f64;
                r1 += v;
                r2 += v * v;
                s1[(y + 1) * (w + 1) + x + 1] = s1[y * (w + 1) + x + 1] + r1;
                s2[(y + 1) * (w + 1) + x + 1] = s2[y * (w + 1) + x + 1] + r2;
            }
        }
        let r = 8usize;
        let mut out = Field::new(w, h);
        for y in 0..h {
            let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
            for x in 0..w {
                let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
                let n = ((y1 - y0) * (x1 - x0)) as f64;
                let rect = |s: &[f64]| {
                    s[y1 * (w + 1) + x1] - s[y0 * (w + 1) + x1] - s[y1 * (w + 1) + x0]
                        + s[y0 * (w + 1) + x0]
                };
                let m = rect(&s1) / n;
                let var = (rect(&s2) / n - m * m).max(0.0);
                out.v[y * w + x] =
                    ((m - img.pixels[y * w + x] as f64) / var.sqrt().max(8.0)) as f32;
            }
        }
        out
    }

    #[test]
    fn sliding_window_normalisation_is_bit_identical() {
        let mut r = ChaCha8Rng::seed_from_u64(5);
        for (w, h) in [(1, 1), (5, 40), (64, 64), (101, 37)] {
            let pixels: Vec<u8> = (0..w * h).map(|_| r.gen_range(0..=255)).collect();
            let img = GrayImage {
                width: w as u32,
                height: h as u32,
                ppi: 500,
                pixels,
            };
            let (a, b) = (normalize(&img), normalize_reference(&img));
            assert!(
                a.v.iter()
                    .zip(&b.v)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{w}x{h}"
            );
        }
    }

    #[test]
    fn ridge_field_bytes_round_trip_and_refuse_malformed_input() {
        let f = RidgeField {
            w: 3,
            h: 2,
            cells: vec![0, 1, 90, 180, 0, 45],
        };
        let b = f.to_bytes();
        assert_eq!(RidgeField::from_bytes(&b).unwrap(), f);
        assert!(
            (f.angle_at(2.5 * FIELD_CELL as f32, 0.0).unwrap() - 89f32.to_radians()).abs() < 1e-6
        );
        assert_eq!(f.angle_at(1.5 * FIELD_CELL as f32, 0.0), Some(0.0));
        assert_eq!(f.angle_at(0.0, 0.0), None, "background cell");
        assert_eq!(f.angle_at(3.0 * FIELD_CELL as f32, 0.0), None, "outside");
        assert_eq!(f.angle_at(-1.0, 0.0), None, "negative");
        let offset = |b: &[u8]| match RidgeField::from_bytes(b) {
            Err(Error::Template { offset, .. }) => offset,
            other => panic!("accepted {other:?}"),
        };
        assert_eq!(offset(&b[..8]), 0, "truncated header");
        assert_eq!(offset(b"SPFT\x01\x01\x00\x01\x00\x00"), 0, "magic");
        let mut v = b.clone();
        v[4] = 2;
        assert_eq!(offset(&v), 4, "version");
        assert_eq!(offset(&b[..b.len() - 1]), 9, "missing cell");
        let mut v = b.clone();
        v.push(0);
        assert_eq!(offset(&v), 9, "extra byte");
        let mut v = b.clone();
        v[9 + 4] = 181;
        assert_eq!(offset(&v), 13, "cell value");
        let mut v = b"SPRF\x01".to_vec();
        v.extend_from_slice(&u16::MAX.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        assert_eq!(offset(&v), 5, "oversized side");
    }
}
