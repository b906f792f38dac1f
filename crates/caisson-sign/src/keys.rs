//! Keys: generation, PEM loading in every format cosign users meet, signing
//! and verification.
//!
//! Private keys load from cosign's encrypted envelope
//! (`ENCRYPTED SIGSTORE PRIVATE KEY`, `ENCRYPTED COSIGN PRIVATE KEY`),
//! unencrypted PKCS#8 (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) and PKCS#1
//! (`RSA PRIVATE KEY`); public keys from PKIX (`PUBLIC KEY`) and PKCS#1
//! (`RSA PUBLIC KEY`). ECDSA signs SHA-256 (P-256) or SHA-384 (P-384) of the
//! message, DER-encoded; RSA signs SHA-256 with PKCS#1 v1.5 or PSS.

use std::fmt;

use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rand_core::OsRng;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::traits::PublicKeyParts;
use sha2::{Digest as _, Sha256, Sha384};
use zeroize::Zeroizing;

use crate::envelope;
use crate::error::KeyError;

/// OIDs of the key algorithms and curves we accept.
mod oid {
    use pkcs8::ObjectIdentifier;
    pub const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    pub const RSA_ENCRYPTION: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    pub const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    pub const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
}

/// A password or other secret bytes, zeroized on drop.
pub type Password = Zeroizing<Vec<u8>>;

/// Largest PEM file read as a key (a 4096-bit RSA PKCS#1 key is ~3.3 KiB).
pub const MAX_KEY_FILE_BYTES: usize = 64 * 1024;
const MIN_RSA_BITS: usize = 2048;
const MAX_RSA_BITS: usize = 4096;

/// RSA signature padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RsaPadding {
    #[default]
    Pkcs1v15,
    /// PSS with MGF1-SHA-256 and a salt as long as the hash.
    Pss,
}

/// A private key. `Debug` shows the algorithm only.
pub enum SigningKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Rsa {
        key: Box<rsa::RsaPrivateKey>,
        padding: RsaPadding,
    },
}

/// A public key. `Debug` shows the algorithm and the key's SHA-256 fingerprint.
#[derive(Clone, PartialEq, Eq)]
pub enum PublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Rsa(Box<rsa::RsaPublicKey>),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, <redacted>)", self.algorithm())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}, {})", self.algorithm(), self.fingerprint())
    }
}

fn crypto(operation: &'static str) -> impl Fn(String) -> KeyError {
    move |reason| KeyError::Crypto { operation, reason }
}

impl SigningKey {
    /// A new ECDSA P-256 key (cosign's default).
    pub fn generate_p256() -> SigningKey {
        SigningKey::P256(p256::ecdsa::SigningKey::random(&mut OsRng))
    }

    pub fn algorithm(&self) -> &'static str {
        match self {
            SigningKey::P256(_) => "ECDSA P-256 SHA-256",
            SigningKey::P384(_) => "ECDSA P-384 SHA-384",
            SigningKey::Rsa {
                padding: RsaPadding::Pkcs1v15,
                ..
            } => "RSA PKCS#1 v1.5 SHA-256",
            SigningKey::Rsa {
                padding: RsaPadding::Pss,
                ..
            } => "RSA PSS SHA-256",
        }
    }

    /// The same key signing with another RSA padding (no effect on ECDSA keys).
    pub fn with_rsa_padding(self, padding: RsaPadding) -> SigningKey {
        match self {
            SigningKey::Rsa { key, .. } => SigningKey::Rsa { key, padding },
            other => other,
        }
    }

    pub fn public_key(&self) -> PublicKey {
        match self {
            SigningKey::P256(k) => PublicKey::P256(*k.verifying_key()),
            SigningKey::P384(k) => PublicKey::P384(*k.verifying_key()),
            SigningKey::Rsa { key, .. } => PublicKey::Rsa(Box::new(key.to_public_key())),
        }
    }

    /// Signs `message` (hashing it with the key's hash): DER for ECDSA, the
    /// raw modulus-sized value for RSA.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        use p256::ecdsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
        let fail = crypto("signing");
        match self {
            SigningKey::P256(k) => {
                let sig: p256::ecdsa::Signature =
                    k.try_sign(message).map_err(|e| fail(e.to_string()))?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            SigningKey::P384(k) => {
                let sig: p384::ecdsa::Signature =
                    k.try_sign(message).map_err(|e| fail(e.to_string()))?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            SigningKey::Rsa {
                key,
                padding: RsaPadding::Pkcs1v15,
            } => {
                let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new((**key).clone());
                let sig = signer
                    .try_sign_with_rng(&mut OsRng, message)
                    .map_err(|e| fail(e.to_string()))?;
                Ok(sig.to_vec())
            }
            SigningKey::Rsa {
                key,
                padding: RsaPadding::Pss,
            } => {
                let signer = rsa::pss::BlindedSigningKey::<Sha256>::new((**key).clone());
                let sig = signer
                    .try_sign_with_rng(&mut OsRng, message)
                    .map_err(|e| fail(e.to_string()))?;
                Ok(sig.to_vec())
            }
        }
    }

    /// Unencrypted PKCS#8 DER (zeroized on drop).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let fail = crypto("encoding the private key as PKCS#8");
        let doc = match self {
            SigningKey::P256(k) => p256::SecretKey::from(k)
                .to_pkcs8_der()
                .map_err(|e| fail(e.to_string()))?,
            SigningKey::P384(k) => p384::SecretKey::from(k)
                .to_pkcs8_der()
                .map_err(|e| fail(e.to_string()))?,
            SigningKey::Rsa { key, .. } => key.to_pkcs8_der().map_err(|e| fail(e.to_string()))?,
        };
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// Cosign's `ENCRYPTED SIGSTORE PRIVATE KEY` PEM, sealed with `password`.
    pub fn to_encrypted_pem(&self, password: &[u8]) -> Result<String, KeyError> {
        let der = self.to_pkcs8_der()?;
        let json = envelope::encrypt(&der, password, &envelope::ScryptParams::COSIGN)?;
        pem_encode(envelope::SIGSTORE_PEM_LABEL, &json)
    }

    /// Loads a private key from PEM text. `password` is asked for only when
    /// the key is encrypted. `name` (a path) appears in errors.
    pub fn from_pem(
        pem: &[u8],
        password: &mut dyn FnMut() -> Option<Password>,
        name: &str,
    ) -> Result<SigningKey, KeyError> {
        if pem.len() > MAX_KEY_FILE_BYTES {
            return Err(KeyError::BadPem {
                name: name.to_string(),
                label: String::new(),
                reason: format!("file is over {MAX_KEY_FILE_BYTES} bytes"),
            });
        }
        for (label, der) in pem_blocks(pem, name)? {
            let der = Zeroizing::new(der);
            match label.as_str() {
                envelope::SIGSTORE_PEM_LABEL | envelope::COSIGN_PEM_LABEL => {
                    let pass = password().ok_or_else(|| KeyError::NeedPassword {
                        name: name.to_string(),
                    })?;
                    let plain = envelope::decrypt(&der, &pass, name)?;
                    return signing_from_pkcs8(&plain, name);
                }
                "PRIVATE KEY" => return signing_from_pkcs8(&der, name),
                "EC PRIVATE KEY" => return signing_from_sec1(&der, name),
                "RSA PRIVATE KEY" => {
                    let key = rsa::RsaPrivateKey::from_pkcs1_der(&der)
                        .map_err(|e| malformed(name, "PKCS#1", e))?;
                    return signing_rsa(key, name);
                }
                "ENCRYPTED PRIVATE KEY" => {
                    return Err(KeyError::Pkcs8Encrypted {
                        name: name.to_string(),
                    })
                }
                "EC PARAMETERS" => continue,
                other => {
                    return Err(KeyError::UnsupportedPemType {
                        name: name.to_string(),
                        label: other.to_string(),
                        expected: "ENCRYPTED SIGSTORE PRIVATE KEY, ENCRYPTED COSIGN PRIVATE KEY, PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY",
                    })
                }
            }
        }
        Err(KeyError::NotPem {
            name: name.to_string(),
        })
    }
}

fn malformed(name: &str, format: &'static str, e: impl fmt::Display) -> KeyError {
    KeyError::Malformed {
        name: name.to_string(),
        format,
        reason: e.to_string(),
    }
}

fn unsupported(name: &str, what: impl Into<String>) -> KeyError {
    KeyError::UnsupportedAlgorithm {
        name: name.to_string(),
        what: what.into(),
    }
}

fn curve_name(oid: Option<pkcs8::ObjectIdentifier>) -> String {
    oid.map_or_else(
        || "EC key without a named curve".to_string(),
        |o| format!("EC curve {o}"),
    )
}

fn signing_from_pkcs8(der: &[u8], name: &str) -> Result<SigningKey, KeyError> {
    let info = pkcs8::PrivateKeyInfo::try_from(der).map_err(|e| malformed(name, "PKCS#8", e))?;
    let alg = info.algorithm.oid;
    if alg == oid::EC_PUBLIC_KEY {
        let curve = info.algorithm.parameters_oid().ok();
        match curve {
            Some(c) if c == oid::P256 => p256::SecretKey::from_pkcs8_der(der)
                .map(|k| SigningKey::P256(k.into()))
                .map_err(|e| malformed(name, "PKCS#8", e)),
            Some(c) if c == oid::P384 => p384::SecretKey::from_pkcs8_der(der)
                .map(|k| SigningKey::P384(k.into()))
                .map_err(|e| malformed(name, "PKCS#8", e)),
            other => Err(unsupported(name, curve_name(other))),
        }
    } else if alg == oid::RSA_ENCRYPTION {
        let key =
            rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|e| malformed(name, "PKCS#8", e))?;
        signing_rsa(key, name)
    } else {
        Err(unsupported(name, format!("algorithm {alg}")))
    }
}

fn signing_from_sec1(der: &[u8], name: &str) -> Result<SigningKey, KeyError> {
    let key = sec1::EcPrivateKey::try_from(der).map_err(|e| malformed(name, "SEC1", e))?;
    let curve = key.parameters.and_then(|p| p.named_curve());
    match curve {
        Some(c) if c == oid::P256 => p256::SecretKey::from_sec1_der(der)
            .map(|k| SigningKey::P256(k.into()))
            .map_err(|e| malformed(name, "SEC1", e)),
        Some(c) if c == oid::P384 => p384::SecretKey::from_sec1_der(der)
            .map(|k| SigningKey::P384(k.into()))
            .map_err(|e| malformed(name, "SEC1", e)),
        other => Err(unsupported(name, curve_name(other))),
    }
}

fn check_rsa_size(bits: usize, name: &str) -> Result<(), KeyError> {
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(unsupported(name, format!("RSA {bits}-bit")));
    }
    Ok(())
}

fn signing_rsa(key: rsa::RsaPrivateKey, name: &str) -> Result<SigningKey, KeyError> {
    check_rsa_size(key.n().bits(), name)?;
    Ok(SigningKey::Rsa {
        key: Box::new(key),
        padding: RsaPadding::Pkcs1v15,
    })
}

impl PublicKey {
    pub fn algorithm(&self) -> &'static str {
        match self {
            PublicKey::P256(_) => "ECDSA P-256",
            PublicKey::P384(_) => "ECDSA P-384",
            PublicKey::Rsa(_) => "RSA",
        }
    }

    /// PKIX (SubjectPublicKeyInfo) DER.
    pub fn to_spki_der(&self) -> Result<Vec<u8>, KeyError> {
        let fail = crypto("encoding the public key");
        let doc = match self {
            PublicKey::P256(k) => p256::PublicKey::from(k)
                .to_public_key_der()
                .map_err(|e| fail(e.to_string()))?,
            PublicKey::P384(k) => p384::PublicKey::from(k)
                .to_public_key_der()
                .map_err(|e| fail(e.to_string()))?,
            PublicKey::Rsa(k) => k.to_public_key_der().map_err(|e| fail(e.to_string()))?,
        };
        Ok(doc.as_bytes().to_vec())
    }

    /// PKIX PEM (`PUBLIC KEY`), as `cosign.pub`.
    pub fn to_pem(&self) -> Result<String, KeyError> {
        pem_encode("PUBLIC KEY", &self.to_spki_der()?)
    }

    /// `sha256:<hex>` of the PKIX DER; stable, safe to print.
    pub fn fingerprint(&self) -> String {
        match self.to_spki_der() {
            Ok(der) => format!("sha256:{:x}", Sha256::digest(&der)),
            Err(_) => "unencodable".to_string(),
        }
    }

    /// Loads a public key (`PUBLIC KEY` or `RSA PUBLIC KEY`) from PEM text.
    pub fn from_pem(pem: &[u8], name: &str) -> Result<PublicKey, KeyError> {
        if pem.len() > MAX_KEY_FILE_BYTES {
            return Err(KeyError::BadPem {
                name: name.to_string(),
                label: String::new(),
                reason: format!("file is over {MAX_KEY_FILE_BYTES} bytes"),
            });
        }
        let Some((label, der)) = pem_blocks(pem, name)?.into_iter().next() else {
            return Err(KeyError::NotPem {
                name: name.to_string(),
            });
        };
        match label.as_str() {
            "PUBLIC KEY" => PublicKey::from_spki_der(&der, name),
            "RSA PUBLIC KEY" => {
                let k = rsa::RsaPublicKey::from_pkcs1_der(&der)
                    .map_err(|e| malformed(name, "PKCS#1", e))?;
                check_rsa_size(k.n().bits(), name)?;
                Ok(PublicKey::Rsa(Box::new(k)))
            }
            other => Err(KeyError::UnsupportedPemType {
                name: name.to_string(),
                label: other.to_string(),
                expected: "PUBLIC KEY or RSA PUBLIC KEY",
            }),
        }
    }

    pub fn from_spki_der(der: &[u8], name: &str) -> Result<PublicKey, KeyError> {
        let info =
            spki::SubjectPublicKeyInfoRef::try_from(der).map_err(|e| malformed(name, "PKIX", e))?;
        let alg = info.algorithm.oid;
        if alg == oid::EC_PUBLIC_KEY {
            match info.algorithm.parameters_oid().ok() {
                Some(c) if c == oid::P256 => p256::PublicKey::from_public_key_der(der)
                    .map(|k| PublicKey::P256(k.into()))
                    .map_err(|e| malformed(name, "PKIX", e)),
                Some(c) if c == oid::P384 => p384::PublicKey::from_public_key_der(der)
                    .map(|k| PublicKey::P384(k.into()))
                    .map_err(|e| malformed(name, "PKIX", e)),
                other => Err(unsupported(name, curve_name(other))),
            }
        } else if alg == oid::RSA_ENCRYPTION {
            let k = rsa::RsaPublicKey::from_public_key_der(der)
                .map_err(|e| malformed(name, "PKIX", e))?;
            check_rsa_size(k.n().bits(), name)?;
            Ok(PublicKey::Rsa(Box::new(k)))
        } else {
            Err(unsupported(name, format!("algorithm {alg}")))
        }
    }

    /// Verifies `signature` over `message`. ECDSA signatures are DER; P-384
    /// accepts SHA-384 (its default) and SHA-256 (older cosign releases).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), String> {
        match self {
            PublicKey::P384(_) => self
                .verify_prehash(&Sha384::digest(message), signature)
                .or_else(|_| self.verify_prehash(&Sha256::digest(message), signature)),
            _ => self.verify_prehash(&Sha256::digest(message), signature),
        }
    }

    /// Verifies `signature` over a message whose hash is `prehash` (SHA-256
    /// for RSA and P-256; SHA-256 or SHA-384 for P-384).
    pub fn verify_prehash(&self, prehash: &[u8], signature: &[u8]) -> Result<(), String> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        match self {
            PublicKey::P256(k) => {
                let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| {
                    format!(
                        "{} bytes are not a DER-encoded ECDSA P-256 signature",
                        signature.len()
                    )
                })?;
                k.verify_prehash(prehash, &sig)
                    .map_err(|_| "ECDSA P-256 signature does not match".to_string())
            }
            PublicKey::P384(k) => {
                let sig = p384::ecdsa::Signature::from_der(signature).map_err(|_| {
                    format!(
                        "{} bytes are not a DER-encoded ECDSA P-384 signature",
                        signature.len()
                    )
                })?;
                k.verify_prehash(prehash, &sig)
                    .map_err(|_| "ECDSA P-384 signature does not match".to_string())
            }
            PublicKey::Rsa(k) => {
                if prehash.len() != 32 {
                    return Err("RSA signatures are over SHA-256 only".to_string());
                }
                if signature.len() != k.size() {
                    return Err(format!(
                        "RSA signature is {} bytes, the key needs {}",
                        signature.len(),
                        k.size()
                    ));
                }
                let pkcs1 = k.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), prehash, signature);
                if pkcs1.is_ok() {
                    return Ok(());
                }
                // PSS: salt as long as the hash (Go's PSSSaltLengthEqualsHash,
                // OpenSSL 3's digest length) or the maximum (OpenSSL's "max").
                let em_len = k.n().bits().saturating_sub(1).div_ceil(8);
                let max_salt = em_len.saturating_sub(32 + 2);
                for salt in [32, max_salt] {
                    if k.verify(rsa::Pss::new_with_salt::<Sha256>(salt), prehash, signature)
                        .is_ok()
                    {
                        return Ok(());
                    }
                }
                Err("RSA signature matches neither PKCS#1 v1.5 nor PSS".to_string())
            }
        }
    }
}

/// The PEM blocks of a file, in order, as (label, DER). Text around blocks is
/// ignored (openssl writes `EC PARAMETERS` blocks and comments).
fn pem_blocks(pem: &[u8], name: &str) -> Result<Vec<(String, Vec<u8>)>, KeyError> {
    let text = std::str::from_utf8(pem).map_err(|_| KeyError::NotPem {
        name: name.to_string(),
    })?;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = rest.get(start..).unwrap_or("");
        let label_end = block
            .get(11..)
            .and_then(|b| b.find("-----"))
            .map(|i| i + 11);
        let Some(label_end) = label_end else { break };
        let label = block.get(11..label_end).unwrap_or("");
        let end_marker = format!("-----END {label}-----");
        let Some(end) = block.find(&end_marker) else {
            return Err(KeyError::BadPem {
                name: name.to_string(),
                label: label.to_string(),
                reason: "no END line".to_string(),
            });
        };
        let whole = block.get(..end + end_marker.len()).unwrap_or("");
        let (l, der) = pem_rfc7468::decode_vec(whole.as_bytes()).map_err(|e| KeyError::BadPem {
            name: name.to_string(),
            label: label.to_string(),
            reason: e.to_string(),
        })?;
        out.push((l.to_string(), der));
        rest = block.get(end + end_marker.len()..).unwrap_or("");
    }
    if out.is_empty() {
        return Err(KeyError::NotPem {
            name: name.to_string(),
        });
    }
    Ok(out)
}

fn pem_encode(label: &str, der: &[u8]) -> Result<String, KeyError> {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der).map_err(|e| {
        KeyError::Crypto {
            operation: "PEM-encoding a key",
            reason: e.to_string(),
        }
    })
}
