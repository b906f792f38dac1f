//! Tamper-evident audit records.
//!
//! Each [`AuditRecord`] carries the hash of its predecessor (`prev_hash`) and
//! its own `hash`, a SHA-256 over a canonical, length-prefixed encoding of
//! every field (see [`canonical_bytes`]). Editing, deleting or reordering any
//! stored record breaks the chain at that record, which [`verify`] names.
//! Truncation and a chain rebuilt with recomputed hashes are shown only by
//! anchors: signed [`Checkpoint`]s of the chain head (see [`checkpoint`]).
//! Pure: storage lives behind the registry's `MetaStore`.

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

use std::io::Write;

pub mod checkpoint;

pub use checkpoint::{Anchor, AnchorCheck, AnchorError, Checkpoint, CheckpointError};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Outcome of the audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Success,
    Denied,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "success" => Some(Outcome::Success),
            "denied" => Some(Outcome::Denied),
            "failure" => Some(Outcome::Failure),
            _ => None,
        }
    }
}

/// What happened, before it is sealed into the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unix time in milliseconds.
    pub time_ms: i64,
    /// `user:<name>`, `robot:<name>`, `anonymous` or `system`.
    pub actor: String,
    /// Client address (`ip:port`), empty for local actions.
    pub source: String,
    /// Stable kebab-case action, e.g. `auth`, `push-manifest`, `delete-blob`, `gc`.
    pub action: String,
    /// What the action touched, e.g. `library/debian:bookworm`.
    pub target: String,
    pub outcome: Outcome,
    /// Free-form detail (error message, previous tag target…).
    pub detail: String,
}

/// A sealed record: the event, its position and the chain hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// 1-based position in the chain.
    pub seq: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
    pub prev_hash: String,
    pub hash: String,
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The canonical encoding hashed into `hash`: a version tag, then every
/// field as an 8-byte big-endian length followed by its bytes, in a fixed
/// order. Unambiguous whatever the field contents.
pub fn canonical_bytes(seq: i64, event: &AuditEvent, prev_hash: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    field(&mut out, b"caisson-audit-v1");
    field(&mut out, &seq.to_be_bytes());
    field(&mut out, &event.time_ms.to_be_bytes());
    field(&mut out, event.actor.as_bytes());
    field(&mut out, event.source.as_bytes());
    field(&mut out, event.action.as_bytes());
    field(&mut out, event.target.as_bytes());
    field(&mut out, event.outcome.as_str().as_bytes());
    field(&mut out, event.detail.as_bytes());
    field(&mut out, prev_hash.as_bytes());
    out
}

/// Hash of a record's canonical encoding, lowercase hex.
pub fn record_hash(seq: i64, event: &AuditEvent, prev_hash: &str) -> String {
    hex::encode(Sha256::digest(canonical_bytes(seq, event, prev_hash)))
}

/// Seals `event` after `prev` (the last record of the chain, `None` for the first).
pub fn seal(prev: Option<&AuditRecord>, event: AuditEvent) -> AuditRecord {
    let (seq, prev_hash) = match prev {
        Some(p) => (p.seq.saturating_add(1), p.hash.clone()),
        None => (1, GENESIS.to_string()),
    };
    let hash = record_hash(seq, &event, &prev_hash);
    AuditRecord {
        seq,
        event,
        prev_hash,
        hash,
    }
}

/// Why a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("audit record {seq}: stored hash does not match its contents (record edited)")]
    HashMismatch { seq: i64 },
    #[error("audit record {seq}: prev_hash does not match record {prev_seq}'s hash (record removed or reordered)")]
    Broken { seq: i64, prev_seq: i64 },
    #[error(
        "audit record {seq}: expected sequence number {expected} (record removed or inserted)"
    )]
    Sequence { seq: i64, expected: i64 },
}

impl ChainError {
    /// The first record that fails.
    pub fn seq(&self) -> i64 {
        match self {
            ChainError::HashMismatch { seq }
            | ChainError::Broken { seq, .. }
            | ChainError::Sequence { seq, .. } => *seq,
        }
    }
}

/// Incremental chain verifier: feed records in order.
#[derive(Debug, Default)]
pub struct Verifier {
    last: Option<(i64, String)>,
    count: u64,
}

impl Verifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks one record against its contents and its predecessor.
    pub fn push(&mut self, rec: &AuditRecord) -> Result<(), ChainError> {
        let (expected_seq, expected_prev) = match &self.last {
            Some((seq, hash)) => (seq.saturating_add(1), hash.as_str()),
            None => (1, GENESIS),
        };
        if rec.seq != expected_seq {
            return Err(ChainError::Sequence {
                seq: rec.seq,
                expected: expected_seq,
            });
        }
        if record_hash(rec.seq, &rec.event, &rec.prev_hash) != rec.hash {
            return Err(ChainError::HashMismatch { seq: rec.seq });
        }
        if rec.prev_hash != expected_prev {
            return Err(ChainError::Broken {
                seq: rec.seq,
                prev_seq: expected_seq.saturating_sub(1),
            });
        }
        self.last = Some((rec.seq, rec.hash.clone()));
        self.count = self.count.saturating_add(1);
        Ok(())
    }

    /// Records verified so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Verifies a whole chain, returning the number of records.
pub fn verify<'a>(records: impl IntoIterator<Item = &'a AuditRecord>) -> Result<u64, ChainError> {
    let mut v = Verifier::new();
    for r in records {
        v.push(r)?;
    }
    Ok(v.count())
}

/// Writes records as JSON lines (one object per line).
pub fn export_jsonl<'a, W: Write>(
    out: &mut W,
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> std::io::Result<()> {
    for r in records {
        serde_json::to_writer(&mut *out, r)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: i64) -> AuditEvent {
        AuditEvent {
            time_ms: 1_700_000_000_000 + n,
            actor: "user:alice".into(),
            source: "127.0.0.1:4000".into(),
            action: "push-manifest".into(),
            target: format!("team/app:v{n}"),
            outcome: Outcome::Success,
            detail: String::new(),
        }
    }

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for i in 0..n {
            let r = seal(out.last(), ev(i));
            out.push(r);
        }
        out
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
        assert_eq!(verify(&[]), Ok(0));
    }

    #[test]
    fn edited_record_is_named() {
        let mut c = chain(5);
        c[2].event.actor = "user:mallory".into();
        assert_eq!(verify(&c), Err(ChainError::HashMismatch { seq: 3 }));
    }

    #[test]
    fn rehashed_edit_breaks_the_next_link() {
        let mut c = chain(5);
        c[2].event.outcome = Outcome::Denied;
        c[2].hash = record_hash(c[2].seq, &c[2].event, &c[2].prev_hash);
        assert_eq!(
            verify(&c),
            Err(ChainError::Broken {
                seq: 4,
                prev_seq: 3
            })
        );
    }

    #[test]
    fn removed_record_is_detected() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(
            verify(&c),
            Err(ChainError::Sequence {
                seq: 3,
                expected: 2
            })
        );
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let mut a = ev(1);
        let mut b = ev(1);
        a.actor = "ab".into();
        a.source = "c".into();
        b.actor = "a".into();
        b.source = "bc".into();
        assert_ne!(record_hash(1, &a, GENESIS), record_hash(1, &b, GENESIS));
    }

    #[test]
    fn export_is_one_json_object_per_line() {
        let c = chain(3);
        let mut out = Vec::new();
        export_jsonl(&mut out, &c).expect("write to vec");
        let text = String::from_utf8(out).expect("utf8");
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let back: AuditRecord = serde_json::from_str(lines[1]).expect("parse line");
        assert_eq!(back, c[1]);
    }
}
