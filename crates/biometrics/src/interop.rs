//! Conversions between native [`Template`]s and the interchange records of
//! `sallyport-biometrics-formats`: ISO/IEC 19794-2:2005 and ANSI/NIST-ITL Type-9.
//!
//! Conventions: native minutiae are in pixels at 500 ppi, origin top left, y down, direction
//! in units of 2π/256 turning from +x towards +y (clockwise on screen). ISO angles turn
//! counter-clockwise on screen (units of 360°/256), so `iso = (256 − native) mod 256`.
//! Type-9 standard minutiae (9.012) are in 0.01 mm from the bottom-left corner with degrees
//! counter-clockwise; EFS minutiae (9.331) are in 0.01 mm from the top-left corner.

use crate::Error;
use crate::template::{Minutia, MinutiaKind, Template};
use sallyport_biometrics_formats::{ansi_nist, iso19794_2};

/// Millimetres per pixel at 500 ppi.
const MM_PER_PX: f64 = 25.4 / 500.0;

/// Native template of one ISO finger view (rescaled to 500 ppi when the record's resolution
/// differs). Minutiae of type "other" become endings; a view with coordinates outside the
/// declared image is an error naming the minutia.
pub fn template_from_iso(r: &iso19794_2::Record, view: usize) -> Result<Template, Error> {
    let v = r.views.get(view).ok_or_else(|| Error::Template { offset: 0, what: format!("ISO record has {} finger views, no view {view}", r.views.len()) })?;
    let ppi = r.ppi().max(1);
    let s = 500.0 / ppi as f64;
    let (w, h) = (((r.width as f64) * s).round().max(1.0) as u16, ((r.height as f64) * s).round().max(1.0) as u16);
    let mut minutiae = Vec::with_capacity(v.minutiae.len());
    for (k, m) in v.minutiae.iter().enumerate() {
        let (x, y) = ((m.x as f64 * s).round() as u32, (m.y as f64 * s).round() as u32);
        if x >= w as u32 || y >= h as u32 {
            return Err(Error::Template { offset: 0, what: format!("ISO view {view} minutia {k} at ({}, {}) lies outside the {}x{} image", m.x, m.y, r.width, r.height) });
        }
        let kind = if m.kind == iso19794_2::MinutiaType::Bifurcation { MinutiaKind::Bifurcation } else { MinutiaKind::Ending };
        minutiae.push(Minutia { x: x as u16, y: y as u16, direction: 0u8.wrapping_sub(m.angle), kind, quality: if m.quality == 0 { 50 } else { m.quality } });
    }
    Ok(Template { width: w, height: h, ppi: 500, quality: v.quality.min(100), minutiae })
}

/// ISO 19794-2:2005 record with one finger view holding the template.
pub fn iso_from_template(t: &Template, position: u8) -> iso19794_2::Record {
    iso19794_2::Record {
        variant: iso19794_2::Variant::Iso2005,
        product_id: 0,
        capture_equipment: 0,
        width: t.width,
        height: t.height,
        x_resolution: iso19794_2::ppcm(t.ppi),
        y_resolution: iso19794_2::ppcm(t.ppi),
        reserved: 0,
        views: vec![iso19794_2::FingerView {
            position: position.min(15),
            view_number: 0,
            impression_type: 0,
            quality: t.quality.min(100),
            minutiae: t
                .minutiae
                .iter()
                .take(255)
                .map(|m| iso19794_2::Minutia {
                    kind: match m.kind {
                        MinutiaKind::Ending => iso19794_2::MinutiaType::Ending,
                        MinutiaKind::Bifurcation => iso19794_2::MinutiaType::Bifurcation,
                    },
                    x: m.x.min(0x3fff),
                    y: m.y.min(0x3fff),
                    y_reserved: 0,
                    angle: 0u8.wrapping_sub(m.direction),
                    quality: m.quality.clamp(1, 100),
                })
                .collect(),
            extended: Vec::new(),
        }],
    }
}

/// Type-9 standard minutiae (NIST fields 9.010–9.012) of a template.
pub fn type9_from_template(t: &Template, position: u8) -> ansi_nist::Type9Minutiae {
    let h = t.height as f64;
    ansi_nist::Type9Minutiae {
        record: 1,
        idc: 1,
        position,
        origin: ansi_nist::Origin::BottomLeft,
        minutiae: t
            .minutiae
            .iter()
            .map(|m| {
                let deg = ((256 - m.direction as u32) % 256) as f64 * 360.0 / 256.0;
                ansi_nist::Type9Minutia {
                    x: (m.x as f64 * MM_PER_PX * 100.0).round() as u32,
                    y: ((h - 1.0 - m.y as f64).max(0.0) * MM_PER_PX * 100.0).round() as u32,
                    theta: (deg.round() as u16) % 360,
                    quality: m.quality as u32,
                    kind: match m.kind {
                        MinutiaKind::Ending => ansi_nist::Type9Kind::Ending,
                        MinutiaKind::Bifurcation => ansi_nist::Type9Kind::Bifurcation,
                    },
                }
            })
            .collect(),
    }
}

/// Native template from Type-9 minutiae; `width`, `height` (pixels at 500 ppi) are those of
/// the image the minutiae were taken from (needed to turn the bottom-left origin around).
pub fn template_from_type9(set: &ansi_nist::Type9Minutiae, width: u16, height: u16) -> Result<Template, Error> {
    let mut minutiae = Vec::with_capacity(set.minutiae.len());
    for (k, m) in set.minutiae.iter().enumerate() {
        let x = (m.x as f64 / 100.0 / MM_PER_PX).round();
        let yy = (m.y as f64 / 100.0 / MM_PER_PX).round();
        let y = match set.origin {
            ansi_nist::Origin::BottomLeft => height as f64 - 1.0 - yy,
            ansi_nist::Origin::TopLeft => yy,
        };
        if x < 0.0 || y < 0.0 || x >= width as f64 || y >= height as f64 {
            return Err(Error::Template {
                offset: 0,
                what: format!("Type-9 record {} minutia {} at ({}, {}) in 0.01 mm lies outside the {width}x{height} image", set.record + 1, k + 1, m.x, m.y),
            });
        }
        let units = ((m.theta % 360) as f64 * 256.0 / 360.0).round() as u32 % 256;
        let kind = if m.kind == ansi_nist::Type9Kind::Bifurcation { MinutiaKind::Bifurcation } else { MinutiaKind::Ending };
        minutiae.push(Minutia { x: x as u16, y: y as u16, direction: ((256 - units) % 256) as u8, kind, quality: (m.quality.min(100) as u8).max(1) });
    }
    Ok(Template { width, height, ppi: 500, quality: 50, minutiae })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Template {
        Template {
            width: 388,
            height: 374,
            ppi: 500,
            quality: 70,
            minutiae: vec![
                Minutia { x: 10, y: 20, direction: 0, kind: MinutiaKind::Ending, quality: 80 },
                Minutia { x: 300, y: 350, direction: 64, kind: MinutiaKind::Bifurcation, quality: 40 },
                Minutia { x: 150, y: 5, direction: 200, kind: MinutiaKind::Ending, quality: 100 },
            ],
        }
    }

    #[test]
    fn iso_round_trip_keeps_minutiae() {
        let t = sample();
        let r = iso_from_template(&t, 2);
        let back = iso19794_2::Record::parse(&r.to_bytes()).unwrap();
        assert_eq!(back.ppi(), 500);
        let u = template_from_iso(&back, 0).unwrap();
        assert_eq!(u.minutiae, t.minutiae);
        // direction 64 (pointing down the screen) is 270° counter-clockwise in ISO units
        assert_eq!(back.views[0].minutiae[1].angle, 192);
    }

    #[test]
    fn type9_round_trip_is_within_a_pixel_and_two_degrees() {
        let t = sample();
        let set = type9_from_template(&t, 2);
        // bottom-left origin: a minutia near the top has a large y
        assert!(set.minutiae[2].y > set.minutiae[1].y);
        let b = ansi_nist::type9_transaction(&[set], "20261125").to_bytes();
        let parsed = ansi_nist::Transaction::parse(&b).unwrap().minutiae().unwrap();
        let u = template_from_type9(&parsed[0], t.width, t.height).unwrap();
        for (a, b) in t.minutiae.iter().zip(&u.minutiae) {
            assert!((a.x as i32 - b.x as i32).abs() <= 1 && (a.y as i32 - b.y as i32).abs() <= 1, "{a:?} {b:?}");
            let d = (a.direction as i32 - b.direction as i32).rem_euclid(256);
            assert!(d <= 2 || d >= 254, "{a:?} {b:?}");
            assert_eq!(a.kind, b.kind);
        }
        // a minutia outside the stated image is refused by name
        let e = template_from_type9(&parsed[0], 100, 100).unwrap_err();
        assert!(e.to_string().contains("outside"), "{e}");
    }
}
