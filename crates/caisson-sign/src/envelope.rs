//! Cosign's encrypted private key: the go-securesystemslib "encrypted" JSON
//! envelope, PEM-armoured by the caller.
//!
//! ```json
//! {"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"<base64, 32 bytes>"},
//!  "cipher":{"name":"nacl/secretbox","nonce":"<base64, 24 bytes>"},
//!  "ciphertext":"<base64: 16-byte Poly1305 tag || XSalsa20 ciphertext>"}
//! ```
//!
//! The secretbox key is `scrypt(password, salt, N, r, p, 32)`; the plaintext
//! is the PKCS#8 DER of the private key. Parameters from a file are bounded
//! before any work is done.

use base64::Engine as _;
use crypto_secretbox::aead::{AeadInPlace, KeyInit};
use crypto_secretbox::XSalsa20Poly1305;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::KeyError;

/// PEM type cosign writes today.
pub const SIGSTORE_PEM_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM type of keys from cosign before 2.0.
pub const COSIGN_PEM_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

pub const KDF_NAME: &str = "scrypt";
pub const CIPHER_NAME: &str = "nacl/secretbox";
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Largest envelope accepted (a 4096-bit RSA PKCS#8 key is ~2.4 KiB).
pub const MAX_ENVELOPE_BYTES: usize = 32 * 1024;
/// Scrypt memory is 128·N·r bytes; refuse more than this.
const MAX_SCRYPT_MEMORY: u64 = 256 * 1024 * 1024;
const MAX_SCRYPT_P: u32 = 16;

/// Scrypt cost parameters (`N` is a power of two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScryptParams {
    #[serde(rename = "N")]
    pub n: u64,
    pub r: u32,
    pub p: u32,
}

impl ScryptParams {
    /// go-securesystemslib's defaults, which `cosign generate-key-pair` uses.
    pub const COSIGN: ScryptParams = ScryptParams {
        n: 32768,
        r: 8,
        p: 1,
    };

    /// Checks the bounds and converts to the scrypt crate's parameters.
    fn checked(&self) -> Result<scrypt::Params, String> {
        if self.n < 2 || !self.n.is_power_of_two() {
            return Err(format!("scrypt N={} is not a power of two ≥ 2", self.n));
        }
        if self.r == 0 || self.p == 0 || self.p > MAX_SCRYPT_P {
            return Err(format!(
                "scrypt r={} p={} out of range (r ≥ 1, 1 ≤ p ≤ {MAX_SCRYPT_P})",
                self.r, self.p
            ));
        }
        let memory = 128u64
            .saturating_mul(self.n)
            .saturating_mul(u64::from(self.r));
        if memory > MAX_SCRYPT_MEMORY {
            return Err(format!(
                "scrypt N={} r={} needs {memory} bytes of memory, over the {MAX_SCRYPT_MEMORY}-byte limit",
                self.n, self.r
            ));
        }
        let log_n = u8::try_from(self.n.trailing_zeros()).map_err(|e| e.to_string())?;
        scrypt::Params::new(log_n, self.r, self.p, 32).map_err(|e| e.to_string())
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: B64,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: B64,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: B64,
}

/// Bytes as standard padded base64, as Go's `encoding/json` writes `[]byte`.
struct B64(Vec<u8>);

impl Serialize for B64 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for B64 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map(B64)
            .map_err(serde::de::Error::custom)
    }
}

fn derive_key(
    password: &[u8],
    salt: &[u8],
    params: &ScryptParams,
) -> Result<Zeroizing<[u8; 32]>, String> {
    let p = params.checked()?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &p, key.as_mut()).map_err(|e| e.to_string())?;
    Ok(key)
}

/// Seals `plaintext` (PKCS#8 DER) under `password`; returns the JSON envelope.
pub fn encrypt(
    plaintext: &[u8],
    password: &[u8],
    params: &ScryptParams,
) -> Result<Vec<u8>, KeyError> {
    let fail = |reason: String| KeyError::Crypto {
        operation: "encrypting the private key",
        reason,
    };
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut salt);
    OsRng.fill_bytes(&mut nonce);
    let key = derive_key(password, &salt, params).map_err(fail)?;
    let cipher = XSalsa20Poly1305::new(crypto_secretbox::Key::from_slice(key.as_ref()));
    let mut buf = Zeroizing::new(plaintext.to_vec());
    let tag = cipher
        .encrypt_in_place_detached(
            crypto_secretbox::Nonce::from_slice(&nonce),
            b"",
            buf.as_mut(),
        )
        .map_err(|e| fail(e.to_string()))?;
    // NaCl's secretbox format: the tag first, then the ciphertext.
    let mut ciphertext = Vec::with_capacity(TAG_LEN + buf.len());
    ciphertext.extend_from_slice(&tag);
    ciphertext.extend_from_slice(&buf);
    let env = Envelope {
        kdf: Kdf {
            name: KDF_NAME.to_string(),
            params: *params,
            salt: B64(salt.to_vec()),
        },
        cipher: Cipher {
            name: CIPHER_NAME.to_string(),
            nonce: B64(nonce.to_vec()),
        },
        ciphertext: B64(ciphertext),
    };
    serde_json::to_vec(&env).map_err(|e| fail(e.to_string()))
}

/// Opens a JSON envelope with `password`; returns the PKCS#8 DER.
pub fn decrypt(
    envelope: &[u8],
    password: &[u8],
    name: &str,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let bad = |reason: String| KeyError::Envelope {
        name: name.to_string(),
        reason,
    };
    if envelope.len() > MAX_ENVELOPE_BYTES {
        return Err(bad(format!(
            "{} bytes, over the {MAX_ENVELOPE_BYTES}-byte limit",
            envelope.len()
        )));
    }
    let env: Envelope = serde_json::from_slice(envelope)
        .map_err(|e| bad(format!("not the expected JSON ({e})")))?;
    if env.kdf.name != KDF_NAME {
        return Err(bad(format!(
            "key derivation {:?} is not supported (only {KDF_NAME})",
            env.kdf.name
        )));
    }
    if env.cipher.name != CIPHER_NAME {
        return Err(bad(format!(
            "cipher {:?} is not supported (only {CIPHER_NAME})",
            env.cipher.name
        )));
    }
    if env.cipher.nonce.0.len() != NONCE_LEN {
        return Err(bad(format!(
            "nonce is {} bytes, expected {NONCE_LEN}",
            env.cipher.nonce.0.len()
        )));
    }
    let (tag, body) = env
        .ciphertext
        .0
        .split_at_checked(TAG_LEN)
        .ok_or_else(|| bad("ciphertext is shorter than the authentication tag".to_string()))?;
    let key = derive_key(password, &env.kdf.salt.0, &env.kdf.params).map_err(bad)?;
    let cipher = XSalsa20Poly1305::new(crypto_secretbox::Key::from_slice(key.as_ref()));
    let mut buf = Zeroizing::new(body.to_vec());
    cipher
        .decrypt_in_place_detached(
            crypto_secretbox::Nonce::from_slice(&env.cipher.nonce.0),
            b"",
            buf.as_mut(),
            crypto_secretbox::Tag::from_slice(tag),
        )
        .map_err(|_| KeyError::Decrypt {
            name: name.to_string(),
        })?;
    Ok(buf)
}
