//! Inputs found by the coverage-guided fuzzers in `fuzz-bio/` (and by reviewing the code
//! paths they exercise): each once crashed, hung or allocated without bound, and must now
//! give a located error (or a bounded, correct result).
use sallyport_biometrics_formats::{ansi_nist, wsq};

/// A minimal WSQ stream: SOI, a COM segment of `pad` bytes, SOF (`width`×`height`), DTT
/// with `hisz`/`losz`-tap filters (all coefficients 1.0), DQT with every quantiser bin 0
/// (so no coefficient is coded), one one-code Huffman table, one empty SOB block, EOI.
/// The SOF segment's length field is at byte `8 + pad`, the DTT's at `24 + pad`.
fn wsq_stream(width: u16, height: u16, hisz: u8, losz: u8, pad: usize) -> Vec<u8> {
    let mut b = vec![0xFF, 0xA0];
    b.extend_from_slice(&[0xFF, 0xA8]);
    b.extend_from_slice(&((2 + pad) as u16).to_be_bytes());
    b.resize(b.len() + pad, b'.');
    // SOF: black, white, height, width, M (scale, raw) = 128, R (scale, raw) = 1
    b.extend_from_slice(&[0xFF, 0xA2, 0, 14, 0, 255]);
    b.extend_from_slice(&height.to_be_bytes());
    b.extend_from_slice(&width.to_be_bytes());
    b.extend_from_slice(&[0, 0, 128, 0, 0, 1]);
    // DTT
    let coefs = (hisz as usize / 2 + 1) + (losz as usize / 2 + 1);
    b.extend_from_slice(&[0xFF, 0xA4]);
    b.extend_from_slice(&((2 + 2 + 6 * coefs) as u16).to_be_bytes());
    b.extend_from_slice(&[hisz, losz]);
    for _ in 0..coefs {
        b.extend_from_slice(&[0, 0, 0, 0, 0, 1]);
    }
    // DQT: bin centre, then 64 × (Q, Z), all zero
    b.extend_from_slice(&[0xFF, 0xA5]);
    b.extend_from_slice(&((2 + 3 + 64 * 6) as u16).to_be_bytes());
    b.extend_from_slice(&[0; 3 + 64 * 6]);
    // DHT: table 0, one code of length 1 for symbol 107
    b.extend_from_slice(&[0xFF, 0xA6, 0, 20, 0, 1]);
    b.extend_from_slice(&[0; 15]);
    b.push(107);
    // SOB, table 0, no entropy-coded data, EOI
    b.extend_from_slice(&[0xFF, 0xA3, 0, 3, 0, 0xFF, 0xA1]);
    b
}

#[test]
fn the_minimal_stream_decodes_to_a_flat_image() {
    let img = wsq::decode(&wsq_stream(37, 41, 9, 7, 0)).unwrap();
    assert_eq!((img.width, img.height), (37, 41));
    // every coefficient is 0, so every pixel is the mean shift M = 128
    assert!(img.pixels.iter().all(|&p| p == 128), "{:?}", &img.pixels[..8]);
}

/// Review of the decoder while fuzzing: decoding costs pixels × filter taps, and the DTT
/// field allows 255 taps. A 66 KB stream declaring 4096×4096 with 255-tap filters and no
/// coded coefficient was accepted and meant about 10¹⁰ multiply-adds of synthesis (minutes,
/// estimated from the 9/7 timings); it is now refused at the DTT field.
#[test]
fn overlong_filters_are_refused_at_the_dtt_segment() {
    let pad = 65_000;
    let b = wsq_stream(4096, 4096, 255, 255, pad);
    let t = std::time::Instant::now();
    let e = wsq::decode(&b).unwrap_err();
    assert!(t.elapsed() < std::time::Duration::from_secs(1), "{:?}", t.elapsed());
    match &e {
        wsq::WsqError::Invalid { field, offset, reason } => {
            assert_eq!(*field, "DTT filter lengths", "{e}");
            assert_eq!(*offset, 24 + pad + 2, "{e}");
            assert!(reason.contains("255/255") && reason.contains("31"), "{e}");
        }
        other => panic!("expected a DTT error, got {other}"),
    }
    // 31 taps is still decoded (small image)
    let img = wsq::decode(&wsq_stream(40, 30, 31, 31, 0)).unwrap();
    assert_eq!(img.pixels.len(), 40 * 30);
}

/// A 500-byte stream may not declare 16 Mi pixels of flat image (seconds of synthesis
/// from nothing): refused at the SOF segment, naming the size and the stream length.
#[test]
fn a_tiny_stream_declaring_a_huge_image_is_refused_at_the_sof_segment() {
    let b = wsq_stream(4096, 4096, 9, 7, 0);
    let e = wsq::decode(&b).unwrap_err();
    match &e {
        wsq::WsqError::Invalid { field, offset, reason } => {
            assert_eq!((*field, *offset), ("SOF image size", 8), "{e}");
            assert!(reason.contains("4096x4096") && reason.contains(&format!("{}-byte", b.len())), "{e}");
        }
        other => panic!("expected a SOF error, got {other}"),
    }
    // the same image with enough bytes behind it (256 pixels per byte) is decoded
    let img = wsq::decode(&wsq_stream(1024, 256, 9, 7, 1100)).unwrap();
    assert_eq!((img.width, img.height), (1024, 256));
    assert!(img.pixels.iter().all(|&p| p == 128));
}

/// A tagged record `T.001:<len><rest>`, the length computed (`rest` starts with the
/// separator after the length field and ends with FS).
fn tagged(ty: u32, rest: &[u8]) -> Vec<u8> {
    let tag = format!("{ty}.001:");
    let mut digits = 1;
    while (tag.len() + digits + rest.len()).to_string().len() != digits {
        digits += 1;
    }
    let mut b = format!("{tag}{}", tag.len() + digits + rest.len()).into_bytes();
    b.extend_from_slice(rest);
    b
}

/// `roundtrip` fuzz target, 2026-12-01: a Type-9 record whose length field was followed
/// by FS instead of GS. The length (read up to the first separator) and the record end
/// agreed, so the transaction parsed, but the FS and the next field became part of the
/// 9.001 value and `to_bytes` wrote different bytes. Now refused at the stray FS.
#[test]
fn an_fs_inside_a_record_is_refused_where_it_stands() {
    let t1 = tagged(1, b"\x1d1.002:0300\x1d1.003:1\x1f1\x1e9\x1f01\x1c");
    let good9 = tagged(9, b"\x1d9.002:01\x1d9.004:S\x1c");
    let bad9 = tagged(9, b"\x1c9.002:01\x1d9.004:S\x1c");
    let good = [t1.clone(), good9].concat();
    let t = ansi_nist::Transaction::parse(&good).unwrap();
    assert_eq!(t.to_bytes(), good);
    let bad = [t1.clone(), bad9.clone()].concat();
    let e = ansi_nist::Transaction::parse(&bad).unwrap_err();
    let fs_at = t1.len() + bad9.iter().position(|&b| b == ansi_nist::FS).unwrap();
    assert_eq!(e.offset, fs_at, "{e}");
    assert_eq!(bad[e.offset], ansi_nist::FS);
    assert!(e.to_string().contains("field 9.001") && e.to_string().contains("FS separator"), "{e}");
}
