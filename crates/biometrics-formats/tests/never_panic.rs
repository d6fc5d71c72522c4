//! Property tests: the three decoders never panic on arbitrary or mutated input, and valid
//! records survive a write/read round trip.
mod common;
use proptest::prelude::*;
use sallyport_biometrics_formats::{ansi_nist, iso19794_2, wsq};

fn seeds() -> Vec<Vec<u8>> {
    let f = common::formats();
    let mut v = Vec::new();
    for p in [
        f.join("nist-libbiomeval/src/test/test_data/fmr.iso2005"),
        f.join("nist-libbiomeval/src/test/test_data/fmr.ansi2004"),
        f.join("nist-libbiomeval/src/test/test_data/type9.an2k"),
        f.join("nist-libbiomeval/src/test/test_data/type9-efs.an2k"),
        f.join("ansi-nist-itl-nbis/misc/an2kconvert/testdata/valid1.4.an2"),
        f.join("nist-libbiomeval/src/test/test_data/img.wsq"),
        common::shared().join("data/fingerprints/templates-iso19794-2/FVC2002/DB1_B/101_1.iso"),
        f.join("wsq-jnbis-sample/src/test/resources/samples/wsq/sample.wsq"),
    ] {
        v.push(std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())));
    }
    v
}

fn decode_all(b: &[u8]) {
    if let Ok(r) = iso19794_2::Record::parse(b) {
        // anything accepted is re-serialised to the same bytes
        assert_eq!(r.to_bytes(), b);
    }
    if let Ok(t) = ansi_nist::Transaction::parse(b) {
        assert_eq!(t.to_bytes(), b);
        let _ = t.finger_images();
        let _ = t.minutiae();
    }
    if let Ok(img) = wsq::decode(b) {
        assert_eq!(img.pixels.len(), img.width as usize * img.height as usize);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        decode_all(&b);
    }

    #[test]
    fn mutated_fixtures_never_panic(which in 0usize..8, edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>()) {
        let s = seeds();
        let mut b = s[which].clone();
        for (i, v) in edits {
            let i = i.index(b.len());
            b[i] = v;
        }
        decode_all(&b);
        let c = cut.index(b.len() + 1);
        decode_all(&b[..c]);
    }

    #[test]
    fn iso_records_round_trip(
        ansi in any::<bool>(),
        width in 1u16..2000, height in 1u16..2000, res in 1u16..400,
        views in proptest::collection::vec((0u8..16, 0u8..16, 0u8..16, 0u8..=100,
            proptest::collection::vec((0u8..4, 0u16..0x4000, 0u16..0x4000, any::<u8>(), 0u8..=100), 0..40),
            proptest::collection::vec(any::<u8>(), 0..20)), 0..4),
    ) {
        let r = iso19794_2::Record {
            variant: if ansi { iso19794_2::Variant::Ansi2004Short } else { iso19794_2::Variant::Iso2005 },
            product_id: if ansi { 0x0033_0001 } else { 0 },
            capture_equipment: 0,
            width, height, x_resolution: res, y_resolution: res, reserved: 0,
            views: views.into_iter().map(|(position, view_number, impression_type, quality, ms, ext)| iso19794_2::FingerView {
                position, view_number, impression_type, quality,
                minutiae: ms.into_iter().map(|(k, x, y, angle, quality)| iso19794_2::Minutia {
                    kind: [iso19794_2::MinutiaType::Other, iso19794_2::MinutiaType::Ending, iso19794_2::MinutiaType::Bifurcation, iso19794_2::MinutiaType::Reserved][k as usize],
                    x, y, y_reserved: 0, angle, quality,
                }).collect(),
                extended: ext,
            }).collect(),
        };
        let b = r.to_bytes();
        prop_assert_eq!(iso19794_2::Record::parse(&b).unwrap(), r);
    }

    #[test]
    fn type9_transactions_round_trip(sets in proptest::collection::vec((0u8..=10,
        proptest::collection::vec((0u32..10000, 0u32..10000, 0u16..360, 0u32..=100, 0usize..4), 0..60)), 1..4)) {
        let kinds = [ansi_nist::Type9Kind::Ending, ansi_nist::Type9Kind::Bifurcation, ansi_nist::Type9Kind::Compound, ansi_nist::Type9Kind::Other];
        let sets: Vec<ansi_nist::Type9Minutiae> = sets.into_iter().enumerate().map(|(k, (position, ms))| ansi_nist::Type9Minutiae {
            record: k + 1, idc: k as u32 + 1, position, origin: ansi_nist::Origin::BottomLeft,
            minutiae: ms.into_iter().map(|(x, y, theta, quality, kind)| ansi_nist::Type9Minutia { x, y, theta, quality, kind: kinds[kind] }).collect(),
        }).collect();
        let b = ansi_nist::type9_transaction(&sets, "20261125").to_bytes();
        let t = ansi_nist::Transaction::parse(&b).unwrap();
        prop_assert_eq!(t.to_bytes(), b);
        prop_assert_eq!(t.minutiae().unwrap(), sets);
    }
}
