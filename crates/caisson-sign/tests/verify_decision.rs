//! The pure verification decision: each way a signature can be wrong gives
//! its own rejection, without a registry.

use std::collections::BTreeMap;

use caisson_oci::{Descriptor, Digest};
use caisson_sign::verify::{verify, Candidate, Expected};
use caisson_sign::{bundle, cosign, payload, Rejection, SigningKey, VerifyError};

const MANIFEST: &[u8] = br#"{"schemaVersion":2,"layers":[]}"#;
const REF: &str = "r.example/app";

fn simple(key: &SigningKey, payload: &[u8], signed: &[u8]) -> Candidate {
    let sig = key.sign(signed).expect("sign");
    Candidate::SimpleSigning {
        source: "tag".to_string(),
        layer: Box::new(cosign::signature_layer(payload, &sig)),
        payload: Ok(payload.to_vec()),
    }
}

fn rejections(r: Result<Vec<caisson_sign::verify::Verified>, VerifyError>) -> Vec<Rejection> {
    match r {
        Err(VerifyError::NoValidSignature { rejections, .. }) => {
            rejections.into_iter().map(|(_, r)| r).collect()
        }
        other => panic!("expected rejections, got {other:?}"),
    }
}

#[test]
fn each_failure_has_its_reason() {
    let key = SigningKey::generate_p256();
    let keys = [key.public_key()];
    let digest = Digest::sha256(MANIFEST);
    let none = BTreeMap::new();
    let expected = Expected {
        digest: &digest,
        manifest: MANIFEST,
        reference: Some(REF),
        annotations: &none,
    };
    let good = payload::build(REF, &digest, &none).expect("payload");
    let ok = verify(&keys, &expected, vec![simple(&key, &good, &good)], "t").expect("valid");
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].kind, "simple-signing");
    assert_eq!(ok[0].key, keys[0].fingerprint());

    let other_digest = payload::build(REF, &Digest::sha256(b"other"), &none).expect("p");
    let other_ref = payload::build("r.example/else", &digest, &none).expect("p");
    let mut tampered = good.clone();
    tampered.push(b' ');
    let wrong_key = SigningKey::generate_p256();
    let mut truncated = simple(&key, &good, &good);
    if let Candidate::SimpleSigning { layer, .. } = &mut truncated {
        let sig = layer.signature().expect("b64");
        **layer = cosign::signature_layer(&good, &sig[..sig.len() / 2]);
    }
    let got = rejections(verify(
        &keys,
        &expected,
        vec![
            simple(&key, &other_digest, &other_digest),
            simple(&key, &other_ref, &other_ref),
            simple(&key, &tampered, &good),
            simple(&wrong_key, &good, &good),
            truncated,
            Candidate::SimpleSigning {
                source: "tag".into(),
                layer: Box::new(cosign::signature_layer(b"not json", b"")),
                payload: Ok(b"not json".to_vec()),
            },
        ],
        "t",
    ));
    assert!(
        matches!(got[0], Rejection::DigestMismatch { .. }),
        "{:?}",
        got[0]
    );
    assert!(
        matches!(got[1], Rejection::WrongReference { .. }),
        "{:?}",
        got[1]
    );
    assert!(matches!(got[2], Rejection::BadSignature(_)), "{:?}", got[2]);
    assert!(matches!(got[3], Rejection::BadSignature(_)), "{:?}", got[3]);
    assert!(
        matches!(&got[4], Rejection::BadSignature(m) if m.contains("not a DER-encoded")),
        "{:?}",
        got[4]
    );
    assert!(matches!(got[5], Rejection::BadSignature(_)), "{:?}", got[5]);

    // A signed payload that is not a simple-signing document is malformed.
    let junk = simple(&key, b"{\"critical\":{}}", b"{\"critical\":{}}");
    let got = rejections(verify(&keys, &expected, vec![junk], "t"));
    assert!(matches!(got[0], Rejection::Malformed(_)), "{:?}", got[0]);

    let err = verify(&keys, &expected, vec![], "tag x").expect_err("none");
    assert!(err.to_string().starts_with("no signatures found"), "{err}");
}

#[test]
fn bundles_sign_the_manifest() {
    let key = SigningKey::generate_p256();
    let keys = [key.public_key()];
    let digest = Digest::sha256(MANIFEST);
    let none = BTreeMap::new();
    let expected = Expected {
        digest: &digest,
        manifest: MANIFEST,
        reference: Some(REF),
        annotations: &none,
    };
    let b = bundle::sign_manifest(&key, MANIFEST).expect("bundle");
    let parsed = bundle::parse(&b).expect("parse");
    assert_eq!(parsed.media_type, bundle::BUNDLE_MEDIA_TYPE);
    assert_eq!(
        parsed
            .verification_material
            .public_key
            .as_ref()
            .map(|h| h.hint.clone()),
        Some(bundle::key_hint(&keys[0]).expect("hint"))
    );
    let ok = verify(
        &keys,
        &expected,
        vec![Candidate::Bundle {
            source: "referrer".into(),
            bytes: Ok(b.clone()),
        }],
        "t",
    )
    .expect("bundle verifies");
    assert_eq!(ok[0].kind, "sigstore-bundle");

    // The same bundle for another image: digest mismatch.
    let other = br#"{"schemaVersion":2}"#;
    let od = Digest::sha256(other);
    let exp2 = Expected {
        digest: &od,
        manifest: other,
        ..expected.clone()
    };
    let got = rejections(verify(
        &keys,
        &exp2,
        vec![Candidate::Bundle {
            source: "referrer".into(),
            bytes: Ok(b.clone()),
        }],
        "t",
    ));
    assert!(
        matches!(got[0], Rejection::DigestMismatch { .. }),
        "{:?}",
        got[0]
    );

    // Annotation constraints cannot be met by a bundle.
    let mut want = BTreeMap::new();
    want.insert("env".to_string(), "prod".to_string());
    let exp3 = Expected {
        annotations: &want,
        ..expected.clone()
    };
    let got = rejections(verify(
        &keys,
        &exp3,
        vec![Candidate::Bundle {
            source: "referrer".into(),
            bytes: Ok(b),
        }],
        "t",
    ));
    assert!(
        matches!(got[0], Rejection::Annotation { .. }),
        "{:?}",
        got[0]
    );

    // The referrer manifest names the image as subject and lists the bundle.
    let subject = Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: digest.clone(),
        size: MANIFEST.len() as u64,
        platform: None,
        annotations: BTreeMap::new(),
        artifact_type: None,
        urls: Vec::new(),
    };
    let m = bundle::referrer_manifest(&subject, b"{}").expect("referrer");
    assert_eq!(bundle::bundle_layers(&m, &digest).expect("layers").len(), 1);
    assert!(bundle::bundle_layers(&m, &od).is_err());
}
