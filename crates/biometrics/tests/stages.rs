//! Stage tests on synthetic images and bad input.

use proptest::prelude::*;
use sallyport_biometrics::Error;
use sallyport_biometrics::extract::{extract, orientation_field};
use sallyport_biometrics::image::{GrayImage, decode};
use sallyport_biometrics::template::{Minutia, MinutiaKind, Template};
use std::f32::consts::PI;

fn ridges(angle: f32, period: f32) -> GrayImage {
    let (w, h) = (160u32, 160u32);
    let (nx, ny) = (-angle.sin(), angle.cos()); // normal to the ridges
    let px = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            (128.0 + 100.0 * (2.0 * PI * (x * nx + y * ny) / period).cos()) as u8
        })
        .collect();
    GrayImage::new(w, h, 500, px).unwrap()
}

#[test]
fn orientation_matches_known_ridge_angle() {
    for deg in [0.0f32, 30.0, 45.0, 90.0, 120.0, 160.0] {
        let a = deg.to_radians();
        let o = orientation_field(&ridges(a, 9.0));
        let (bx, by) = (o.angle.w / 2, o.angle.h / 2);
        let got = o.angle.at(bx, by);
        let err = ((got - a).rem_euclid(PI)).min(PI - (got - a).rem_euclid(PI));
        assert!(err < 3f32.to_radians(), "{deg}°: got {}°", got.to_degrees());
        assert!(o.coherence.at(bx, by) > 0.9);
    }
}

#[test]
fn noise_image_is_not_a_fingerprint() {
    let mut state = 12345u32;
    let px = (0..200 * 200)
        .map(|_| {
            state = state.wrapping_mul(1664525).wrapping_add(1013904223);
            (state >> 24) as u8
        })
        .collect();
    let img = GrayImage::new(200, 200, 500, px).unwrap();
    assert!(matches!(extract(&img), Err(Error::NoFingerprint(_))));
    let blank = GrayImage::new(200, 200, 500, vec![255; 200 * 200]).unwrap();
    assert!(matches!(extract(&blank), Err(Error::NoFingerprint(_))));
}

#[test]
fn bad_images_give_clear_errors() {
    assert!(GrayImage::new(0, 0, 500, vec![]).is_err());
    let e = decode(b"", 500).unwrap_err().to_string();
    assert!(e.contains("empty"), "{e}");
    let e = decode(b"NOTANIMAGE", 500).unwrap_err().to_string();
    assert!(e.contains("unrecognised image format"), "{e}");
    let tif = std::fs::read(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/fingerprints/FVC2002/DB1_B/101_1.tif"),
    )
    .unwrap();
    let e = decode(&tif[..tif.len() / 2], 500).unwrap_err().to_string();
    assert!(e.contains("cannot decode"), "{e}");
    // a 1x1 PNG is decodable but too small
    let mut png = Vec::new();
    image::GrayImage::new(1, 1).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    assert!(matches!(decode(&png, 500), Err(Error::BadSize { width: 1, height: 1 })));
}

#[test]
fn template_errors_are_located() {
    let t = Template { width: 100, height: 100, ppi: 500, quality: 50, minutiae: vec![Minutia::new(10, 20, 1.0, MinutiaKind::Ending, 80)] };
    let b = t.to_bytes();
    assert!(Template::from_bytes(&b[..b.len() - 1]).unwrap_err().to_string().contains("1 minutiae need 21 bytes"));
    let mut bad = b.clone();
    bad[0] = b'X';
    assert!(Template::from_bytes(&bad).unwrap_err().to_string().contains("wrong magic"));
    let mut bad = b.clone();
    bad[14] = 200; // x = 200 > width
    assert!(Template::from_bytes(&bad).unwrap_err().to_string().contains("outside"));
}

fn arb_template() -> impl Strategy<Value = Template> {
    (64u16..2000, 64u16..2000, 0u8..=100).prop_flat_map(|(w, h, q)| {
        prop::collection::vec((0..w, 0..h, any::<u8>(), any::<bool>(), 0u8..=100), 0..120).prop_map(move |ms| Template {
            width: w,
            height: h,
            ppi: 500,
            quality: q,
            minutiae: ms
                .into_iter()
                .map(|(x, y, d, b, q)| Minutia { x, y, direction: d, kind: if b { MinutiaKind::Bifurcation } else { MinutiaKind::Ending }, quality: q })
                .collect(),
        })
    })
}

proptest! {
    #[test]
    fn template_round_trips(t in arb_template()) {
        prop_assert_eq!(Template::from_bytes(&t.to_bytes()).unwrap(), t);
    }

    #[test]
    fn garbage_templates_never_panic(b in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Template::from_bytes(&b);
        let mut with_magic = b"SPFT\x01".to_vec();
        with_magic.extend_from_slice(&b);
        let _ = Template::from_bytes(&with_magic);
    }

    #[test]
    fn garbage_images_never_panic(b in prop::collection::vec(any::<u8>(), 0..300), magic in 0usize..4) {
        let prefixes: [&[u8]; 4] = [b"\x89PNG\r\n\x1a\n", b"II*\x00", b"BM", b""];
        let mut bytes = prefixes[magic].to_vec();
        bytes.extend_from_slice(&b);
        prop_assert!(decode(&bytes, 500).is_err());
    }
}
