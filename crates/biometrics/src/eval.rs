//! Verification evaluation on a folder laid out like FVC's (`<finger>_<impression>.<ext>`).
//!
//! FVC protocol: genuine = every pair of impressions of one finger, impostor = the first
//! impressions of every two fingers. All-pairs: genuine as FVC, impostor = every pair of
//! impressions of different fingers. A failure to enrol scores 0 in every pair it is in.

use crate::Error;
use crate::mcc::{Prepared, compare};
use crate::template::Template;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Fvc,
    AllPairs,
}

/// One image of a data set.
#[derive(Clone, Debug)]
pub struct Sample {
    pub finger: String,
    pub impression: u32,
    pub path: PathBuf,
}

/// Lists the images of an FVC-style folder, sorted by finger then impression. Files whose
/// names do not follow `<finger>_<impression>.<ext>` with a known image extension are
/// skipped; an empty result is an error.
pub fn scan(dir: &Path) -> Result<Vec<Sample>, Error> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::Dataset(format!("cannot read {}: {e}", dir.display())))?;
    let mut out = Vec::new();
    for entry in rd {
        let path = entry.map_err(|e| Error::Dataset(format!("{}: {e}", dir.display())))?.path();
        let (Some(stem), Some(ext)) = (path.file_stem().and_then(|s| s.to_str()), path.extension().and_then(|s| s.to_str())) else {
            continue;
        };
        if !matches!(ext.to_ascii_lowercase().as_str(), "tif" | "tiff" | "png" | "bmp" | "wsq" | "iso" | "spft") {
            continue;
        }
        let Some((f, i)) = stem.rsplit_once('_') else { continue };
        let Ok(impression) = i.parse::<u32>() else { continue };
        out.push(Sample { finger: f.to_string(), impression, path });
    }
    if out.is_empty() {
        return Err(Error::Dataset(format!("{}: no <finger>_<impression>.(tif|png|bmp|wsq|iso|spft) images or templates", dir.display())));
    }
    out.sort_by(|a, b| a.finger.cmp(&b.finger).then(a.impression.cmp(&b.impression)));
    Ok(out)
}

/// Outcome of one evaluation.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub dataset: String,
    pub protocol: Protocol,
    pub images: usize,
    pub fingers: usize,
    pub failures_to_enrol: usize,
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    /// Equal error rate, percent.
    pub eer: f64,
    /// Lowest FNMR (percent) with FMR ≤ 1%.
    pub fmr100: f64,
    /// Lowest FNMR (percent) with FMR ≤ 0.1%.
    pub fmr1000: f64,
    /// Lowest FNMR (percent) with FMR = 0.
    pub zero_fmr: f64,
    /// Extraction and cylinder preparation per sample (ms, all threads' time).
    pub extract_ms_per_image: f64,
    pub compare_us_per_pair: f64,
    #[serde(skip)]
    pub genuine: Vec<f32>,
    #[serde(skip)]
    pub impostor: Vec<f32>,
}

/// Template of one sample: an image is extracted; an ISO 19794-2 record (`FMR` magic,
/// first view, zero padding allowed) or a native template is read as it is.
pub fn enrol_one(path: &Path) -> Result<Template, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::Image(format!("cannot read {}: {e}", path.display())))?;
    let at = |e: &dyn std::fmt::Display| Error::Template { offset: 0, what: format!("{}: {e}", path.display()) };
    if bytes.starts_with(b"FMR\0") {
        let (r, _) = sallyport_biometrics_formats::iso19794_2::Record::parse_padded(&bytes).map_err(|e| at(&e))?;
        return crate::interop::template_from_iso(&r, 0);
    }
    if bytes.starts_with(b"SPFT") {
        return Template::from_bytes(&bytes);
    }
    let img = crate::image::decode(&bytes, crate::image::WORKING_PPI)?;
    crate::extract::extract(&img)
}

/// A sample prepared for matching: an image is extracted and keeps its ridge field (for
/// the matcher's orientation score) and its candidate minutiae (raw support); a template
/// file is read as [`enrol_one`] does.
pub fn prepare_one(path: &Path) -> Result<Prepared, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::Image(format!("cannot read {}: {e}", path.display())))?;
    if bytes.starts_with(b"FMR\0") || bytes.starts_with(b"SPFT") {
        return enrol_one(path).map(|t| Prepared::new(&t));
    }
    let img = crate::image::decode(&bytes, crate::image::WORKING_PPI)?;
    Ok(crate::sample::Sample::extract(&img)?.prepared())
}

/// Templates of every sample (in parallel); `None` marks a failure to enrol.
pub fn enrol_all(samples: &[Sample]) -> Vec<Option<Template>> {
    samples
        .par_iter()
        .map(|s| {
            let t = enrol_one(&s.path).ok()?;
            (t.minutiae.len() >= 3).then_some(t)
        })
        .collect()
}

/// Pairs of sample indices (genuine, impostor) under a protocol.
pub fn pairs(samples: &[Sample], protocol: Protocol) -> (Vec<(usize, usize)>, Vec<(usize, usize)>) {
    let mut by_finger: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in samples.iter().enumerate() {
        by_finger.entry(&s.finger).or_default().push(i);
    }
    let groups: Vec<&Vec<usize>> = by_finger.values().collect();
    let mut genuine = Vec::new();
    for g in &groups {
        for a in 0..g.len() {
            for b in a + 1..g.len() {
                genuine.push((g[a], g[b]));
            }
        }
    }
    let mut imp = Vec::new();
    for a in 0..groups.len() {
        for b in a + 1..groups.len() {
            match protocol {
                Protocol::Fvc => imp.push((groups[a][0], groups[b][0])),
                Protocol::AllPairs => {
                    for &i in groups[a] {
                        for &j in groups[b] {
                            imp.push((i, j));
                        }
                    }
                }
            }
        }
    }
    (genuine, imp)
}

/// Runs the protocol on a folder.
pub fn evaluate(dir: &Path, protocol: Protocol) -> Result<Report, Error> {
    let samples = scan(dir)?;
    let t0 = std::time::Instant::now();
    // a failure to enrol (None) as in `enrol_all`: an error or fewer than 3 minutiae
    let prepared: Vec<Option<Prepared>> = samples.par_iter().map(|s| prepare_one(&s.path).ok().filter(|p| p.x.len() >= 3)).collect();
    let extract_ms = t0.elapsed().as_secs_f64() * 1000.0 * rayon::current_num_threads() as f64 / samples.len() as f64;
    let (gen_pairs, imp_pairs) = pairs(&samples, protocol);
    let score = |&(i, j): &(usize, usize)| match (&prepared[i], &prepared[j]) {
        (Some(a), Some(b)) => compare(a, b),
        _ => 0.0,
    };
    let t1 = std::time::Instant::now();
    let genuine: Vec<f32> = gen_pairs.par_iter().map(score).collect();
    let impostor: Vec<f32> = imp_pairs.par_iter().map(score).collect();
    let cmp_us = t1.elapsed().as_secs_f64() * 1e6 * rayon::current_num_threads() as f64 / (gen_pairs.len() + imp_pairs.len()).max(1) as f64;
    let fingers = samples.iter().map(|s| &s.finger).collect::<std::collections::BTreeSet<_>>().len();
    if gen_pairs.is_empty() || imp_pairs.is_empty() {
        return Err(Error::Dataset(format!("{}: need at least 2 fingers with 2 impressions each", dir.display())));
    }
    let m = Metrics::new(&genuine, &impostor);
    Ok(Report {
        dataset: dir.display().to_string(),
        protocol,
        images: samples.len(),
        fingers,
        failures_to_enrol: prepared.iter().filter(|t| t.is_none()).count(),
        genuine_pairs: genuine.len(),
        impostor_pairs: impostor.len(),
        eer: m.eer,
        fmr100: m.fmr100,
        fmr1000: m.fmr1000,
        zero_fmr: m.zero_fmr,
        extract_ms_per_image: extract_ms,
        compare_us_per_pair: cmp_us,
        genuine,
        impostor,
    })
}

/// Reads a peer's score file: one `stem_a<TAB>stem_b<TAB>score` line per pair (file stems
/// as in the data set, e.g. `101_1`). A malformed line is an error naming its line number.
pub fn read_scores(path: &Path) -> Result<HashMap<(String, String), f32>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Dataset(format!("cannot read {}: {e}", path.display())))?;
    let mut out = HashMap::new();
    for (k, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |what: &str| Error::Dataset(format!("{}:{}: {what}", path.display(), k + 1));
        let mut f = line.split('\t');
        let (Some(a), Some(b), Some(s), None) = (f.next(), f.next(), f.next(), f.next()) else {
            return Err(bad("expected three tab-separated fields: stem_a, stem_b, score"));
        };
        let s: f32 = s.trim().parse().map_err(|_| bad(&format!("score {s:?} is not a number")))?;
        if !s.is_finite() {
            return Err(bad("score is not finite"));
        }
        out.insert((a.to_string(), b.to_string()), s);
    }
    Ok(out)
}

/// Runs a protocol on scores computed elsewhere (a peer system), over exactly the pairs
/// [`evaluate`] uses, so the figures are comparable. A pair may be given in either order;
/// a missing pair is an error.
pub fn evaluate_scores(dir: &Path, protocol: Protocol, scores: &HashMap<(String, String), f32>) -> Result<Report, Error> {
    let samples = scan(dir)?;
    let stem = |i: usize| samples[i].path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
    let (gen_pairs, imp_pairs) = pairs(&samples, protocol);
    if gen_pairs.is_empty() || imp_pairs.is_empty() {
        return Err(Error::Dataset(format!("{}: need at least 2 fingers with 2 impressions each", dir.display())));
    }
    let score = |&(i, j): &(usize, usize)| -> Result<f32, Error> {
        let (a, b) = (stem(i), stem(j));
        scores
            .get(&(a.clone(), b.clone()))
            .or_else(|| scores.get(&(b.clone(), a.clone())))
            .copied()
            .ok_or_else(|| Error::Dataset(format!("no score for the pair {a} {b}")))
    };
    let genuine = gen_pairs.iter().map(score).collect::<Result<Vec<f32>, Error>>()?;
    let impostor = imp_pairs.iter().map(score).collect::<Result<Vec<f32>, Error>>()?;
    let fingers = samples.iter().map(|s| &s.finger).collect::<std::collections::BTreeSet<_>>().len();
    let m = Metrics::new(&genuine, &impostor);
    Ok(Report {
        dataset: dir.display().to_string(),
        protocol,
        images: samples.len(),
        fingers,
        failures_to_enrol: 0,
        genuine_pairs: genuine.len(),
        impostor_pairs: impostor.len(),
        eer: m.eer,
        fmr100: m.fmr100,
        fmr1000: m.fmr1000,
        zero_fmr: m.zero_fmr,
        extract_ms_per_image: f64::NAN,
        compare_us_per_pair: f64::NAN,
        genuine,
        impostor,
    })
}

/// Error-rate figures, all in percent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    pub eer: f64,
    pub fmr100: f64,
    pub fmr1000: f64,
    pub zero_fmr: f64,
}

impl Metrics {
    /// Computes the figures from score lists (higher = more similar; accept when score ≥ t).
    pub fn new(genuine: &[f32], impostor: &[f32]) -> Self {
        let curve = det_curve(genuine, impostor);
        let (mut eer, mut gap) = (100.0, f64::MAX);
        for &(fmr, fnmr) in &curve {
            if (fmr - fnmr).abs() < gap {
                gap = (fmr - fnmr).abs();
                eer = (fmr + fnmr) / 2.0;
            }
        }
        let best = |limit: f64| curve.iter().filter(|p| p.0 <= limit + 1e-12).map(|p| p.1).fold(100.0, f64::min);
        Self { eer: eer * 100.0, fmr100: best(0.01) * 100.0, fmr1000: best(0.001) * 100.0, zero_fmr: best(0.0) * 100.0 }
    }
}

/// (FMR, FNMR) as fractions at every distinct threshold, from accept-all to reject-all.
pub fn det_curve(genuine: &[f32], impostor: &[f32]) -> Vec<(f64, f64)> {
    let mut th: Vec<f32> = genuine.iter().chain(impostor).copied().collect();
    th.sort_by(|a, b| a.total_cmp(b));
    th.dedup();
    th.push(f32::INFINITY);
    let (mut g, mut i) = (genuine.to_vec(), impostor.to_vec());
    g.sort_by(|a, b| a.total_cmp(b));
    i.sort_by(|a, b| a.total_cmp(b));
    let (ng, ni) = (g.len().max(1) as f64, i.len().max(1) as f64);
    th.iter()
        .map(|&t| {
            let fnmr = g.partition_point(|&s| s < t) as f64 / ng;
            let fmr = (i.len() - i.partition_point(|&s| s < t)) as f64 / ni;
            (fmr, fnmr)
        })
        .collect()
}

/// A DET curve (FNMR against FMR, both on log axes from 0.01% to 100%) as SVG.
pub fn det_svg(curves: &[(&str, &[f32], &[f32])]) -> String {
    let (w, h, m) = (520.0, 520.0, 60.0);
    let lo = -4.0f64;
    let pos = |v: f64| (v.max(1e-4).log10() - lo) / -lo;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let (pw, ph) = (w - 2.0 * m, h - 2.0 * m);
    for d in 0..=4 {
        let f = d as f64 / 4.0;
        let (x, y) = (m + f * pw, h - m - f * ph);
        let label = format!("{}%", 10f64.powi(d - 2));
        s += &format!("<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#ddd\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{label}</text>\n", m, h - m, h - m + 18.0);
        s += &format!("<line x1=\"{m}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{label}</text>\n", w - m, m - 6.0, y + 4.0);
    }
    s += &format!("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">FMR</text><text x=\"16\" y=\"{}\" transform=\"rotate(-90 16 {})\" text-anchor=\"middle\">FNMR</text>\n", w / 2.0, h - 16.0, h / 2.0, h / 2.0);
    let colours = ["#c0392b", "#2471a3", "#1e8449", "#7d3c98"];
    for (k, (name, g, i)) in curves.iter().enumerate() {
        let c = colours[k % colours.len()];
        let pts: Vec<String> = det_curve(g, i).iter().map(|&(fmr, fnmr)| format!("{:.1},{:.1}", m + pos(fmr) * pw, h - m - pos(fnmr) * ph)).collect();
        s += &format!("<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>\n", pts.join(" "));
        s += &format!("<text x=\"{}\" y=\"{}\" fill=\"{c}\">{}</text>\n", w - m - 4.0, m + 16.0 * (k as f64 + 1.0), xml_escape(name));
    }
    s + "</svg>\n"
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
