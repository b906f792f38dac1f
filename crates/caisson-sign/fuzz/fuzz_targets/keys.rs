//! Key parsing: PEM blocks of every accepted type, cosign's encrypted
//! envelope (JSON, scrypt parameter bounds, secretbox), PKCS#8, SEC1, PKCS#1
//! and PKIX DER. Must never panic or allocate without bound.
#![no_main]

use caisson_sign::keys::{PublicKey, SigningKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = PublicKey::from_pem(data, "fuzz");
    let _ = PublicKey::from_spki_der(data, "fuzz");
    let _ = SigningKey::from_pem(
        data,
        &mut || Some(zeroize_free(b"password")),
        "fuzz",
    );
    // The envelope on its own (skips the PEM layer).
    let _ = caisson_sign::envelope::decrypt(data, b"password", "fuzz");
});

fn zeroize_free(p: &[u8]) -> caisson_sign::keys::Password {
    caisson_sign::keys::Password::new(p.to_vec())
}
