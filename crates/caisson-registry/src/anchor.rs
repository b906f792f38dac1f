//! Anchoring the audit chain outside the database.
//!
//! The server signs the chain head with the audit key (`audit-key.pem`,
//! ECDSA P-256, mode 0600, never in `meta.sqlite`) at start, every
//! [`crate::Config::checkpoint_every`] records, every
//! [`crate::Config::checkpoint_interval`] when the head moved, and at
//! shutdown, and appends each [`Checkpoint`] to `audit-checkpoints.jsonl`
//! (one JSON object per line, fsync'd). [`verify`] checks a chain against
//! every checkpoint in that file and an optional operator-given head: what
//! `caisson audit verify` runs.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use caisson_audit::checkpoint::key_id;
use caisson_audit::{Anchor, AnchorCheck, AnchorError, ChainError, Checkpoint, CheckpointError};
use caisson_registry_store::{now_ms, BlobStore, MetaStore, StoreError};
use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};

use crate::Registry;

/// The default names inside the data directory.
pub const KEY_FILE: &str = "audit-key.pem";
pub const CHECKPOINT_FILE: &str = "audit-checkpoints.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum AnchorFileError {
    #[error("{op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("audit key {0} is not a PKCS#8 P-256 private key or an SPKI P-256 public key")]
    Key(PathBuf),
    #[error("{path} line {line}: not a checkpoint: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("reading the audit chain")]
    Store(#[source] StoreError),
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> AnchorFileError + 'a {
    move |source| AnchorFileError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The key that signs checkpoints.
pub struct AuditKey {
    signing: SigningKey,
}

impl AuditKey {
    /// Loads the key from `path`, generating it (mode 0600) on first use.
    pub fn load_or_create(path: &Path) -> Result<Self, AnchorFileError> {
        if path.exists() {
            let pem = fs_err::read_to_string(path).map_err(io("reading audit key", path))?;
            let signing = SigningKey::from_pkcs8_pem(&pem)
                .map_err(|_| AnchorFileError::Key(path.to_path_buf()))?;
            return Ok(AuditKey { signing });
        }
        let signing = SigningKey::random(&mut rand::rngs::OsRng);
        let pem = signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| AnchorFileError::Key(path.to_path_buf()))?;
        let tmp = path.with_extension("tmp");
        write_new(&tmp, pem.as_bytes(), 0o600).map_err(io("writing audit key", &tmp))?;
        fs_err::rename(&tmp, path).map_err(io("writing audit key", path))?;
        Ok(AuditKey { signing })
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        *self.signing.verifying_key()
    }

    /// The public key as SPKI PEM (`caisson audit public-key`), for
    /// verifying checkpoints away from the data directory.
    pub fn public_pem(&self) -> String {
        public_pem(&self.verifying_key())
    }

    pub fn sign(&self, seq: i64, hash: &str, time_ms: i64) -> Checkpoint {
        Checkpoint::sign(&self.signing, seq, hash, time_ms)
    }
}

pub fn public_pem(key: &VerifyingKey) -> String {
    key.to_public_key_pem(LineEnding::LF).unwrap_or_default()
}

/// The verifying key from a PEM file holding either the public key (SPKI)
/// or the private key itself (PKCS#8, the server's `audit-key.pem`).
pub fn load_verifying_key(path: &Path) -> Result<VerifyingKey, AnchorFileError> {
    let pem = fs_err::read_to_string(path).map_err(io("reading audit key", path))?;
    if let Ok(k) = VerifyingKey::from_public_key_pem(&pem) {
        return Ok(k);
    }
    SigningKey::from_pkcs8_pem(&pem)
        .map(|k| *k.verifying_key())
        .map_err(|_| AnchorFileError::Key(path.to_path_buf()))
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// The append-only checkpoint file.
pub struct CheckpointLog {
    path: PathBuf,
    file: std::sync::Mutex<std::fs::File>,
}

impl CheckpointLog {
    pub fn open(path: &Path) -> Result<Self, AnchorFileError> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(io("opening checkpoint file", path))?;
        Ok(CheckpointLog {
            path: path.to_path_buf(),
            file: std::sync::Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and fsyncs it before returning.
    pub fn append(&self, cp: &Checkpoint) -> Result<(), AnchorFileError> {
        let mut line = serde_json::to_vec(cp).map_err(|e| AnchorFileError::Io {
            op: "encoding checkpoint for",
            path: self.path.clone(),
            source: e.into(),
        })?;
        line.push(b'\n');
        let mut f = match self.file.lock() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        };
        // One write per line keeps lines whole with O_APPEND.
        f.write_all(&line)
            .and_then(|()| f.sync_data())
            .map_err(io("appending to checkpoint file", &self.path))
    }
}

/// Reads every checkpoint of `path`, in file order. A line that is not a
/// checkpoint is an error (a damaged or edited file), not skipped.
pub fn read_checkpoints(path: &Path) -> Result<Vec<Checkpoint>, AnchorFileError> {
    let f = fs_err::File::open(path).map_err(io("reading checkpoint file", path))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(io("reading checkpoint file", path))?;
        if line.trim().is_empty() {
            continue;
        }
        let cp = serde_json::from_str(&line).map_err(|e| AnchorFileError::Parse {
            path: path.to_path_buf(),
            line: i.saturating_add(1),
            message: e.to_string(),
        })?;
        out.push(cp);
    }
    Ok(out)
}

/// The server side: key, file, and when to sign next.
pub(crate) struct Anchoring {
    key: AuditKey,
    log: Arc<CheckpointLog>,
    /// Records appended since the last checkpoint.
    since: AtomicU64,
    every: u64,
    wake: tokio::sync::Notify,
    /// The head last signed; serialises checkpoints so the file is in order.
    last: tokio::sync::Mutex<Option<(i64, String)>>,
}

impl Anchoring {
    pub(crate) fn new(key: AuditKey, log: CheckpointLog, every: u64) -> Self {
        Anchoring {
            key,
            log: Arc::new(log),
            since: AtomicU64::new(0),
            every,
            wake: tokio::sync::Notify::new(),
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Counts appended records; wakes the checkpointer every `every`.
    pub(crate) fn note(&self, records: u64) {
        let before = self.since.fetch_add(records, Ordering::AcqRel);
        if self.every > 0 && before.saturating_add(records) >= self.every {
            self.wake.notify_one();
        }
    }
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    /// Signs the current chain head and appends it to the checkpoint file
    /// (and publishes [`crate::events::RegistryEvent::AuditCheckpoint`]).
    /// `None` when anchoring is off or the head did not move since the last
    /// checkpoint.
    pub async fn checkpoint_audit(&self) -> Result<Option<Checkpoint>, AnchorFileError> {
        let Some(a) = &self.anchor else {
            return Ok(None);
        };
        let mut last = a.last.lock().await;
        let before = a.since.load(Ordering::Acquire);
        let (seq, hash) = match self.meta.audit_head().await {
            Ok(Some(r)) => (r.seq, r.hash),
            Ok(None) => (0, caisson_audit::GENESIS.to_string()),
            Err(e) => return Err(AnchorFileError::Store(e)),
        };
        if last.as_ref() == Some(&(seq, hash.clone())) {
            return Ok(None);
        }
        let cp = a.key.sign(seq, &hash, now_ms());
        let (log, signed) = (Arc::clone(&a.log), cp.clone());
        match tokio::task::spawn_blocking(move || log.append(&signed)).await {
            Ok(r) => r?,
            Err(e) => {
                return Err(AnchorFileError::Io {
                    op: "appending to checkpoint file",
                    path: a.log.path.clone(),
                    source: std::io::Error::other(e),
                })
            }
        }
        a.since.fetch_sub(before, Ordering::AcqRel);
        *last = Some((seq, hash));
        self.publish(crate::events::RegistryEvent::AuditCheckpoint(cp.clone()));
        Ok(Some(cp))
    }

    /// Checks the chain against the last checkpoint in the file, as the
    /// server starts (before it signs a new one): a chain truncated or
    /// rewritten while the server was down is reported at once. Cheap: one
    /// record is read. `caisson audit verify` checks every checkpoint.
    pub async fn check_last_checkpoint(&self) -> Result<(), VerifyError> {
        let Some(a) = &self.anchor else {
            return Ok(());
        };
        let Some(cp) = read_checkpoints(&a.log.path)?.pop() else {
            return Ok(());
        };
        let key = a.key.verifying_key();
        cp.verify(&key).map_err(|source| VerifyError::Checkpoint {
            index: 0,
            seq: cp.seq,
            path: a.log.path.clone(),
            source,
        })?;
        let mut check = AnchorCheck::new([Anchor {
            seq: cp.seq,
            hash: cp.hash.clone(),
            origin: format!("the last signed checkpoint (time_ms {})", cp.time_ms),
        }]);
        let at = self
            .meta
            .audit_records(cp.seq.saturating_sub(1), 1)
            .await
            .map_err(AnchorFileError::Store)?;
        match at.first() {
            Some(r) => check.push(r),
            None => {
                if let Some(head) = self
                    .meta
                    .audit_head()
                    .await
                    .map_err(AnchorFileError::Store)?
                {
                    check.push(&head);
                }
            }
        }
        check.finish().map_err(VerifyError::Anchor)
    }

    /// The public key checkpoints are signed with (`None`: anchoring off).
    pub fn audit_public_key(&self) -> Option<VerifyingKey> {
        self.anchor.as_ref().map(|a| a.key.verifying_key())
    }

    /// Starts the checkpointer: one checkpoint now, then one whenever
    /// `every` records were appended or `interval` passed with a moved head.
    /// Failures are logged and retried at the next tick.
    pub fn start_anchoring(self: &Arc<Self>, interval: Duration) {
        if self.anchor.is_none() {
            return;
        }
        let reg = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval.max(Duration::from_secs(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                if let Err(e) = reg.checkpoint_audit().await {
                    tracing::error!("audit checkpoint failed: {e}");
                }
                let Some(a) = &reg.anchor else { return };
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = a.wake.notified() => {}
                }
            }
        });
    }
}

/// What `caisson audit verify` checks against.
#[derive(Debug, Default)]
pub struct VerifyOptions {
    /// Checkpoint file; `None`: the chain's links only.
    pub checkpoints: Option<PathBuf>,
    /// The key checkpoints must be signed with (required with `checkpoints`).
    pub key: Option<VerifyingKey>,
    /// A head the operator recorded (`--expect-head SEQ:HASH`).
    pub expect_head: Option<(i64, String)>,
}

/// A chain that verifies.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    /// The last record's hash (`GENESIS` when empty), to keep as `--expect-head`.
    pub head_hash: String,
    /// Signed checkpoints checked.
    pub checkpoints: usize,
    /// The highest anchored sequence number (0: none).
    pub anchored_upto: i64,
    pub key_id: Option<String>,
}

/// Why a chain is not trusted.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Chain(ChainError),
    #[error(transparent)]
    Anchor(AnchorError),
    #[error("checkpoint {index} (record {seq}) in {path}: {source}")]
    /// `index` is 1-based in file order (0: the last one).
    Checkpoint {
        index: usize,
        seq: i64,
        path: PathBuf,
        #[source]
        source: CheckpointError,
    },
    #[error(transparent)]
    File(#[from] AnchorFileError),
    #[error("checkpoints given without the audit public key")]
    NoKey,
}

const PAGE: u32 = 5000;

/// Checks every record's hash and link, then the chain against each signed
/// checkpoint and the expected head. Checkpoints are read before the chain,
/// so records a running server appends meanwhile are not mistaken for
/// tampering.
pub async fn verify<M: MetaStore>(meta: &M, opts: &VerifyOptions) -> Result<Verified, VerifyError> {
    let mut anchors = Vec::new();
    let mut checkpoints = 0;
    if let Some(path) = &opts.checkpoints {
        let key = opts.key.as_ref().ok_or(VerifyError::NoKey)?;
        for (i, cp) in read_checkpoints(path)?.into_iter().enumerate() {
            cp.verify(key).map_err(|source| VerifyError::Checkpoint {
                index: i.saturating_add(1),
                seq: cp.seq,
                path: path.clone(),
                source,
            })?;
            anchors.push(Anchor {
                seq: cp.seq,
                hash: cp.hash,
                origin: format!(
                    "signed checkpoint {} (time_ms {})",
                    i.saturating_add(1),
                    cp.time_ms
                ),
            });
            checkpoints += 1;
        }
    }
    if let Some((seq, hash)) = &opts.expect_head {
        anchors.push(Anchor {
            seq: *seq,
            hash: hash.clone(),
            origin: "--expect-head".into(),
        });
    }
    let mut check = AnchorCheck::new(anchors);
    let anchored_upto = check.highest();
    let mut links = caisson_audit::Verifier::new();
    let mut head_hash = caisson_audit::GENESIS.to_string();
    let mut after = 0;
    loop {
        let page = meta
            .audit_records(after, PAGE)
            .await
            .map_err(AnchorFileError::Store)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for r in &page {
            links.push(r).map_err(VerifyError::Chain)?;
            check.push(r);
            head_hash.clone_from(&r.hash);
        }
    }
    check.finish().map_err(VerifyError::Anchor)?;
    Ok(Verified {
        records: links.count(),
        head_hash,
        checkpoints,
        anchored_upto,
        key_id: opts.key.as_ref().map(key_id),
    })
}
