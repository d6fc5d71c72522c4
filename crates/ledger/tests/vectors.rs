//! Published test vectors: RFC 6962 / Certificate Transparency tree roots,
//! the Go sumdb/note (C2SP signed-note) known-answer test, and proof
//! round-trips for every (index, size) and (old, new) pair up to 64 leaves.

use sallyport_ledger::note;
use sallyport_ledger::tree::{MemTree, verify_consistency, verify_inclusion};

/// The leaves of the Certificate Transparency merkle_tree_test.cc vectors.
const CT_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];
/// Roots for tree sizes 1..=8.
const CT_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn rfc6962_roots_match_ct_vectors() {
    let mut t = MemTree::new();
    assert_eq!(
        hex::encode(t.root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    for (i, l) in CT_LEAVES.iter().enumerate() {
        t.push(&hex::decode(l).unwrap());
        assert_eq!(hex::encode(t.root()), CT_ROOTS[i], "root of size {}", i + 1);
    }
    // Domain separation: leaf hash is SHA-256(0x00 || data), not SHA-256(data).
    assert_eq!(hex::encode(sallyport_ledger::leaf_hash(b"")), CT_ROOTS[0]);
}

#[test]
fn ct_inclusion_and_consistency_vectors() {
    // From the CT vectors: inclusion path of leaf 0 in the tree of 8, and the
    // consistency proof from size 1 to size 8.
    let mut t = MemTree::new();
    for l in CT_LEAVES {
        t.push(&hex::decode(l).unwrap());
    }
    let p = t.inclusion(0, 8).unwrap();
    let want = [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ];
    assert_eq!(p.iter().map(hex::encode).collect::<Vec<_>>(), want);
    let c = t.consistency(1, 8).unwrap();
    assert_eq!(c.iter().map(hex::encode).collect::<Vec<_>>(), want);
}

#[test]
fn proofs_roundtrip_and_reject_for_all_small_trees() {
    let mut t = MemTree::new();
    let mut roots = vec![t.root()];
    let leaves: Vec<Vec<u8>> = (0..64u32).map(|i| i.to_be_bytes().to_vec()).collect();
    for l in &leaves {
        t.push(l);
        roots.push(t.root());
    }
    for size in 1..=64u64 {
        for i in 0..size {
            let lh = sallyport_ledger::leaf_hash(&leaves[i as usize]);
            let p = t.inclusion(i, size).unwrap();
            verify_inclusion(&lh, i, size, &p, &roots[size as usize]).unwrap();
            // wrong index, wrong root, truncated proof all fail
            if size > 1 {
                assert!(
                    verify_inclusion(&lh, (i + 1) % size, size, &p, &roots[size as usize]).is_err()
                );
                assert!(
                    verify_inclusion(&lh, i, size, &p[..p.len() - 1], &roots[size as usize])
                        .is_err()
                );
            }
            assert!(verify_inclusion(&lh, i, size, &p, &roots[size as usize - 1]).is_err());
        }
        for old in 1..=size {
            let p = t.consistency(old, size).unwrap();
            verify_consistency(old, &roots[old as usize], size, &roots[size as usize], &p).unwrap();
            if old < size {
                let mut bad = roots[old as usize];
                bad[0] ^= 1;
                assert!(verify_consistency(old, &bad, size, &roots[size as usize], &p).is_err());
            }
        }
    }
}

/// golang.org/x/mod/sumdb/note example (signed-note known answer).
#[test]
fn go_signed_note_known_answer() {
    let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    let msg = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    let text = note::verify_note(vkey, msg).unwrap();
    assert!(text.starts_with("If you think cryptography"));
    let tampered = msg.replace("answer", "answeR");
    assert!(note::verify_note(vkey, &tampered).is_err());
    // A mangled key id is rejected when parsing the key.
    assert!(
        note::parse_log_vkey("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
            .is_err()
    );
}

/// transparency-dev/formats cosignature/v1 verifier key (algorithm 0x04):
/// our key-id computation must accept it.
#[test]
fn cosignature_v1_key_id_matches_published_key() {
    let (name, _) = note::parse_witness_vkey(
        "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
    )
    .unwrap();
    assert_eq!(name, "remora.n621.de");
    assert!(
        note::parse_witness_vkey(
            "remora.n621.de+da77ade8+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
        )
        .is_err()
    );
}

#[test]
fn checkpoint_format_and_witness_policy() {
    use sallyport_ledger::{NamedKey, Witness, WitnessPolicy};
    let log = NamedKey::from_seed("sallyport.example/log", b"s");
    let mut t = MemTree::new();
    for i in 0..10u8 {
        t.push(&[i]);
    }
    let cp = note::sign_checkpoint(&log, 10, &t.root()).unwrap();
    let body: Vec<&str> = cp.lines().collect();
    assert_eq!(body[0], "sallyport.example/log");
    assert_eq!(body[1], "10");
    assert_eq!(body[3], "");
    assert!(body[4].starts_with("\u{2014} sallyport.example/log "));
    let mut w1 = Witness::new(NamedKey::from_seed("w1.example", b"s"));
    let mut w2 = Witness::new(NamedKey::from_seed("w2.example", b"s"));
    let c1 = w1
        .cosign(&note::log_vkey(&log), &cp, &[], 1_700_000_000)
        .unwrap();
    let c2 = w2
        .cosign(&note::log_vkey(&log), &cp, &[], 1_700_000_001)
        .unwrap();
    let merged = note::merge_cosignatures(&[c1.clone(), c2]).unwrap();
    let policy = |k| WitnessPolicy {
        log: note::log_vkey(&log),
        witnesses: vec![w1.vkey(), w2.vkey()],
        threshold: k,
    };
    let ok = policy(2).verify(&merged).unwrap();
    assert_eq!(
        ok.witnesses,
        vec!["w1.example".to_string(), "w2.example".to_string()]
    );
    assert_eq!(ok.size, 10);
    let e = policy(2).verify(&c1).unwrap_err().to_string();
    assert!(e.contains("1 valid witness cosignature"), "{e}");
    // The witness refuses a checkpoint that is not consistent with what it saw.
    let mut t2 = MemTree::new();
    for i in 0..12u8 {
        t2.push(&[i ^ 0x55]);
    }
    let forked = note::sign_checkpoint(&log, 12, &t2.root()).unwrap();
    let proof = t2.consistency(10, 12).unwrap();
    let e = w1
        .cosign(&note::log_vkey(&log), &forked, &proof, 1_700_000_100)
        .unwrap_err();
    assert!(
        matches!(e, sallyport_ledger::LedgerError::ServerFork(_)),
        "{e}"
    );
}
