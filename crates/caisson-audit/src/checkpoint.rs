//! Signed checkpoints: anchors of the chain kept outside the database.
//!
//! The hash chain alone shows an edited or removed *middle* record, but not
//! a chain cut short (`delete … where seq > N`) or one rebuilt from scratch
//! with every hash recomputed (no secret is needed to seal records). A
//! [`Checkpoint`] is the chain head (`seq`, `hash`) and a time, signed with
//! ECDSA P-256 (SHA-256) by a key that is not in the database. Checking a
//! chain against checkpoints ([`AnchorCheck`]) shows both: a chain shorter
//! than a checkpoint's `seq` was truncated; a chain whose record at that
//! `seq` has another hash was rewritten.
//!
//! Pure: the registry keeps the key and appends checkpoints to a file;
//! `caisson audit verify` reads them back.

use std::collections::BTreeMap;

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::{field, AuditRecord};

/// The version of the signed encoding ([`Checkpoint::signed_bytes`]).
pub const CHECKPOINT_VERSION: u32 = 1;

/// A signed statement "the chain had `seq` records, the last one hashing to
/// `hash`, at `time_ms`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    /// Number of records (the head's sequence number; 0 for an empty chain).
    pub seq: i64,
    /// The head record's hash ([`crate::GENESIS`] for an empty chain).
    pub hash: String,
    /// Unix milliseconds when the checkpoint was made.
    pub time_ms: i64,
    /// [`key_id`] of the signing key.
    pub key_id: String,
    /// ECDSA P-256 / SHA-256 signature over [`Checkpoint::signed_bytes`],
    /// fixed-size `r‖s`, lowercase hex.
    pub signature: String,
}

/// The first 16 hex digits of the SHA-256 of the compressed public key.
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = hex::encode(Sha256::digest(key.to_encoded_point(true).as_bytes()));
    digest.get(..16).unwrap_or_default().to_string()
}

impl Checkpoint {
    /// Signs the head `(seq, hash)` at `time_ms`.
    pub fn sign(key: &SigningKey, seq: i64, hash: &str, time_ms: i64) -> Checkpoint {
        let bytes = signed_bytes(CHECKPOINT_VERSION, seq, hash, time_ms);
        let sig: Signature = key.sign(&bytes);
        Checkpoint {
            version: CHECKPOINT_VERSION,
            seq,
            hash: hash.to_string(),
            time_ms,
            key_id: key_id(key.verifying_key()),
            signature: hex::encode(sig.to_bytes()),
        }
    }

    /// What the signature covers: a domain tag, then version, seq, hash and
    /// time, each length-prefixed like [`crate::canonical_bytes`].
    pub fn signed_bytes(&self) -> Vec<u8> {
        signed_bytes(self.version, self.seq, &self.hash, self.time_ms)
    }

    /// Checks the signature with `key`. A checkpoint from another key, or
    /// any field changed after signing, is refused.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), CheckpointError> {
        if self.version != CHECKPOINT_VERSION {
            return Err(CheckpointError::Version(self.version));
        }
        let expected = key_id(key);
        if self.key_id != expected {
            return Err(CheckpointError::OtherKey {
                found: self.key_id.clone(),
                expected,
            });
        }
        let sig = hex::decode(&self.signature)
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or(CheckpointError::Signature)?;
        key.verify(&self.signed_bytes(), &sig)
            .map_err(|_| CheckpointError::Signature)
    }
}

fn signed_bytes(version: u32, seq: i64, hash: &str, time_ms: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    field(&mut out, b"caisson-audit-checkpoint");
    field(&mut out, &version.to_be_bytes());
    field(&mut out, &seq.to_be_bytes());
    field(&mut out, hash.as_bytes());
    field(&mut out, &time_ms.to_be_bytes());
    out
}

/// Why a checkpoint is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("unknown checkpoint version {0}")]
    Version(u32),
    #[error("signed by key {found}, not by the audit key {expected}")]
    OtherKey { found: String, expected: String },
    #[error("signature does not verify (forged or edited checkpoint)")]
    Signature,
}

/// A head the chain must contain: from a signed checkpoint or given by the
/// operator (`--expect-head SEQ:HASH`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
    /// Where the anchor came from, for messages (`checkpoint of <time>`, `--expect-head`).
    pub origin: String,
}

/// Why a chain does not match its anchors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    #[error("audit chain has {records} records but {origin} anchors record {seq}: records after {records} were deleted (truncation)")]
    Truncated {
        records: i64,
        seq: i64,
        origin: String,
    },
    #[error("audit record {seq} hashes to {found}, but {origin} anchors {expected}: the chain was rewritten (hashes recomputed)")]
    Rewritten {
        seq: i64,
        found: String,
        expected: String,
        origin: String,
    },
}

/// Checks a chain, record by record, against anchors. Feed every record in
/// order ([`AnchorCheck::push`]), then call [`AnchorCheck::finish`].
/// Meant to run beside [`crate::Verifier`], which checks the links.
#[derive(Debug, Default)]
pub struct AnchorCheck {
    /// seq → (hash, origin); several anchors may name the same seq.
    anchors: BTreeMap<i64, Vec<Anchor>>,
    records: i64,
    first_error: Option<AnchorError>,
}

impl AnchorCheck {
    pub fn new(anchors: impl IntoIterator<Item = Anchor>) -> Self {
        let mut map: BTreeMap<i64, Vec<Anchor>> = BTreeMap::new();
        for a in anchors {
            map.entry(a.seq).or_default().push(a);
        }
        AnchorCheck {
            anchors: map,
            records: 0,
            first_error: None,
        }
    }

    /// The highest anchored sequence number (0 without anchors).
    pub fn highest(&self) -> i64 {
        self.anchors.keys().next_back().copied().unwrap_or(0)
    }

    pub fn push(&mut self, rec: &AuditRecord) {
        self.records = self.records.max(rec.seq);
        if self.first_error.is_some() {
            return;
        }
        if let Some(list) = self.anchors.get(&rec.seq) {
            if let Some(a) = list.iter().find(|a| a.hash != rec.hash) {
                self.first_error = Some(AnchorError::Rewritten {
                    seq: rec.seq,
                    found: rec.hash.clone(),
                    expected: a.hash.clone(),
                    origin: a.origin.clone(),
                });
            }
        }
    }

    /// The first anchor the chain contradicts, if any: a rewritten record
    /// first, else the highest anchor past the end of the chain.
    pub fn finish(self) -> Result<(), AnchorError> {
        if let Some(e) = self.first_error {
            return Err(e);
        }
        match self
            .anchors
            .range(self.records.saturating_add(1)..)
            .next_back()
        {
            Some((seq, list)) => Err(AnchorError::Truncated {
                records: self.records,
                seq: *seq,
                origin: list.first().map(|a| a.origin.clone()).unwrap_or_default(),
            }),
            None => Ok(()),
        }
    }
}

/// Parses `SEQ:HASH` (`--expect-head`).
pub fn parse_head(s: &str) -> Option<(i64, String)> {
    let (seq, hash) = s.split_once(':')?;
    let seq: i64 = seq.parse().ok().filter(|n| *n >= 0)?;
    let ok = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| (seq, hash.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{record_hash, seal, AuditEvent, Outcome};

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_slice(&[seed; 32]).expect("valid scalar")
    }

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for i in 0..n {
            let ev = AuditEvent {
                time_ms: 1_700_000_000_000 + i,
                actor: "user:alice".into(),
                source: String::new(),
                action: "push-manifest".into(),
                target: format!("team/app:v{i}"),
                outcome: Outcome::Success,
                detail: String::new(),
            };
            let r = seal(out.last(), ev);
            out.push(r);
        }
        out
    }

    fn check(records: &[AuditRecord], cp: &Checkpoint) -> Result<(), AnchorError> {
        let mut c = AnchorCheck::new([Anchor {
            seq: cp.seq,
            hash: cp.hash.clone(),
            origin: "checkpoint".into(),
        }]);
        for r in records {
            c.push(r);
        }
        c.finish()
    }

    fn head_checkpoint(records: &[AuditRecord], k: &SigningKey) -> Checkpoint {
        let last = records.last().expect("non-empty chain");
        Checkpoint::sign(k, last.seq, &last.hash, 1_700_000_100_000)
    }

    #[test]
    fn signed_checkpoint_verifies_and_untouched_chain_matches() {
        let k = key(7);
        let c = chain(6);
        let cp = head_checkpoint(&c, &k);
        assert_eq!(cp.verify(k.verifying_key()), Ok(()));
        assert_eq!(check(&c, &cp), Ok(()));
        // Records appended after the checkpoint are fine.
        assert_eq!(check(&chain(9), &cp), Ok(()));
    }

    #[test]
    fn truncation_is_detected() {
        let k = key(7);
        let mut c = chain(6);
        let cp = head_checkpoint(&c, &k);
        c.truncate(4);
        assert_eq!(crate::verify(&c), Ok(4), "the links alone still verify");
        assert!(matches!(
            check(&c, &cp),
            Err(AnchorError::Truncated {
                records: 4,
                seq: 6,
                ..
            })
        ));
    }

    #[test]
    fn recomputed_chain_is_detected() {
        let k = key(7);
        let c = chain(6);
        let cp = head_checkpoint(&c, &k);
        // Remove record 3 and reseal everything after it: a valid chain.
        let mut forged: Vec<AuditRecord> = Vec::new();
        for r in c.iter().filter(|r| r.seq != 3) {
            let s = seal(forged.last(), r.event.clone());
            forged.push(s);
        }
        // Pad back to the checkpoint's length so it is not truncation.
        let extra = seal(forged.last(), c[0].event.clone());
        forged.push(extra);
        assert_eq!(crate::verify(&forged), Ok(6));
        assert!(matches!(
            check(&forged, &cp),
            Err(AnchorError::Rewritten { seq: 6, .. })
        ));
    }

    #[test]
    fn forged_checkpoints_are_refused() {
        let k = key(7);
        let c = chain(3);
        let mut cp = head_checkpoint(&c, &k);
        cp.seq = 2;
        assert_eq!(
            cp.verify(k.verifying_key()),
            Err(CheckpointError::Signature)
        );
        // Signed by another key, claiming the audit key's id.
        let other = key(9);
        let mut cp = head_checkpoint(&c, &other);
        assert!(matches!(
            cp.verify(k.verifying_key()),
            Err(CheckpointError::OtherKey { .. })
        ));
        cp.key_id = key_id(k.verifying_key());
        assert_eq!(
            cp.verify(k.verifying_key()),
            Err(CheckpointError::Signature)
        );
        let mut cp = head_checkpoint(&c, &k);
        cp.signature = "zz".into();
        assert_eq!(
            cp.verify(k.verifying_key()),
            Err(CheckpointError::Signature)
        );
    }

    #[test]
    fn checkpoint_round_trips_as_json() {
        let k = key(3);
        let cp = Checkpoint::sign(&k, 0, crate::GENESIS, 5);
        let line = serde_json::to_string(&cp).expect("serialise");
        let back: Checkpoint = serde_json::from_str(&line).expect("parse");
        assert_eq!(back.verify(k.verifying_key()), Ok(()));
        assert_eq!(back, cp);
    }

    #[test]
    fn expect_head_parses() {
        let h = record_hash(1, &chain(1)[0].event, crate::GENESIS);
        assert_eq!(parse_head(&format!("1:{h}")), Some((1, h.clone())));
        assert_eq!(parse_head(&format!("-1:{h}")), None);
        assert_eq!(parse_head("1:abc"), None);
        assert_eq!(parse_head(&h), None);
    }
}
