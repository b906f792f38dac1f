//! Signature documents from a registry: the `.sig` manifest, simple-signing
//! payloads, Sigstore bundles, referrer manifests, and the verification
//! decision over them. Must never panic.
#![no_main]

use caisson_oci::Digest;
use caisson_sign::{bundle, cosign, payload, keys::SigningKey};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(SigningKey::generate_p256)
}

fuzz_target!(|data: &[u8]| {
    let digest = Digest::sha256(b"image");
    if let Ok(layers) = cosign::parse_signature_manifest(data) {
        for l in layers {
            let _ = l.signature();
        }
    }
    if let Ok(p) = payload::parse(data) {
        let _ = p.check(&digest, Some("r.example/app"), &Default::default());
    }
    if let Ok(b) = bundle::parse(data) {
        let _ = b.verify(b"image", &digest, &[key().public_key()]);
    }
    let _ = bundle::bundle_layers(data, &digest);
    let _ = key().public_key().verify(b"message", data);
});
