//! The filesystem [`BlobStore`]: `blobs/<alg>/<xx>/<hex>`, uploads under
//! `uploads/<id>`, whole-blob writes through `tmp/`. Every blob is written to
//! a temporary file, fsync'd, renamed into place and its directory fsync'd,
//! so a crash leaves either the whole verified blob or nothing.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use caisson_oci::{Digest, DigestAlgorithm, Hasher};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::{BlobInfo, BlobRead, BlobStore, ByteRange, ByteStream, Result, StoreError};

/// Running sha256 of an upload, so committing does not re-read it.
struct Running {
    size: u64,
    hasher: Hasher,
}

#[derive(Clone)]
pub struct FsBlobStore {
    root: PathBuf,
    running: Arc<Mutex<HashMap<String, Running>>>,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.display().to_string(),
        source,
    }
}

fn join_err(op: &'static str) -> impl FnOnce(tokio::task::JoinError) -> StoreError {
    move |e| StoreError::Backend {
        op,
        source: Box::new(e),
    }
}

/// Upload ids come from URLs: only `[A-Za-z0-9-]`, 1..=64 characters.
fn valid_upload_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn fsync_dir(dir: &Path) -> Result<()> {
    let f = std::fs::File::open(dir).map_err(io("open directory for fsync", dir))?;
    f.sync_all().map_err(io("fsync directory", dir))
}

/// Marks an existing blob as freshly written, so a re-upload restarts its
/// garbage-collection grace period.
fn touch(path: &Path) {
    if let Ok(f) = std::fs::OpenOptions::new().write(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

fn hash_file(path: &Path, alg: DigestAlgorithm) -> Result<Digest> {
    let mut f = fs_err::File::open(path).map_err(io("open for hashing", path))?;
    let mut h = Hasher::new(alg);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(io("read for hashing", path))?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(h.finish())
}

impl FsBlobStore {
    /// Opens (creating) a store rooted at `root`; leftovers in `tmp/` are removed.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for sub in ["blobs", "uploads", "tmp"] {
            let d = root.join(sub);
            fs_err::create_dir_all(&d).map_err(io("create directory", &d))?;
        }
        let tmp = root.join("tmp");
        if let Ok(rd) = fs_err::read_dir(&tmp) {
            for e in rd.flatten() {
                let _ = fs_err::remove_file(e.path());
            }
        }
        Ok(FsBlobStore {
            root,
            running: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// Where a blob lives.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        let hex = d.hex();
        self.root
            .join("blobs")
            .join(d.algorithm().name())
            .join(hex.get(..2).unwrap_or("00"))
            .join(hex)
    }

    fn upload_path(&self, id: &str) -> Result<PathBuf> {
        if !valid_upload_id(id) {
            return Err(StoreError::UploadUnknown(id.to_string()));
        }
        Ok(self.root.join("uploads").join(id))
    }

    fn take_running(&self, id: &str) -> Option<Running> {
        self.running.lock().ok()?.remove(id)
    }

    fn set_running(&self, id: &str, r: Running) {
        if let Ok(mut m) = self.running.lock() {
            m.insert(id.to_string(), r);
        }
    }

    /// Moves a verified file into its content address durably.
    fn install(&self, from: &Path, d: &Digest) -> Result<()> {
        let f = fs_err::OpenOptions::new()
            .write(true)
            .open(from)
            .map_err(io("open for fsync", from))?;
        f.sync_all().map_err(io("fsync", from))?;
        drop(f);
        let dest = self.blob_path(d);
        let dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
        fs_err::create_dir_all(&dir).map_err(io("create directory", &dir))?;
        fs_err::rename(from, &dest).map_err(io("rename into place", &dest))?;
        fsync_dir(&dir)
    }
}

impl BlobStore for FsBlobStore {
    fn local_path(&self, digest: &Digest) -> Option<PathBuf> {
        let p = self.blob_path(digest);
        p.is_file().then_some(p)
    }

    async fn stat(&self, digest: &Digest) -> Result<Option<u64>> {
        let p = self.blob_path(digest);
        match tokio::fs::metadata(&p).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("stat blob", &p)(e)),
        }
    }

    async fn open(&self, digest: &Digest, range: Option<ByteRange>) -> Result<Option<BlobRead>> {
        let p = self.blob_path(digest);
        let mut f = match tokio::fs::File::open(&p).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("open blob", &p)(e)),
        };
        let size = f.metadata().await.map_err(io("stat blob", &p))?.len();
        let reader: crate::BlobReader = match range {
            None => Box::pin(f),
            Some(r) => {
                f.seek(std::io::SeekFrom::Start(r.start))
                    .await
                    .map_err(io("seek blob", &p))?;
                let len = r.end.saturating_sub(r.start).saturating_add(1);
                Box::pin(f.take(len))
            }
        };
        Ok(Some(BlobRead { size, reader }))
    }

    async fn read_small(&self, digest: &Digest, limit: u64) -> Result<Option<Bytes>> {
        let Some(read) = self.open(digest, None).await? else {
            return Ok(None);
        };
        if read.size > limit {
            return Err(StoreError::Corrupt(format!(
                "{digest} is {} bytes, over the {limit}-byte limit",
                read.size
            )));
        }
        let mut buf = Vec::with_capacity(usize::try_from(read.size).unwrap_or(0));
        let p = self.blob_path(digest);
        read.reader
            .take(limit)
            .read_to_end(&mut buf)
            .await
            .map_err(io("read blob", &p))?;
        Ok(Some(Bytes::from(buf)))
    }

    async fn put(&self, digest: &Digest, bytes: Bytes) -> Result<()> {
        let mut h = Hasher::new(digest.algorithm());
        h.update(&bytes);
        let actual = h.finish();
        if actual != *digest {
            return Err(StoreError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        if self.stat(digest).await?.is_some() {
            touch(&self.blob_path(digest));
            return Ok(());
        }
        let this = self.clone();
        let digest = digest.clone();
        tokio::task::spawn_blocking(move || {
            let tmp = this
                .root
                .join("tmp")
                .join(format!("put-{}", hex::encode(rand::random::<[u8; 12]>())));
            let mut f = fs_err::File::create(&tmp).map_err(io("create temp file", &tmp))?;
            f.write_all(&bytes).map_err(io("write temp file", &tmp))?;
            drop(f);
            let r = this.install(&tmp, &digest);
            if r.is_err() {
                let _ = fs_err::remove_file(&tmp);
            }
            r
        })
        .await
        .map_err(join_err("store blob"))?
    }

    async fn delete(&self, digest: &Digest) -> Result<bool> {
        let p = self.blob_path(digest);
        match tokio::fs::remove_file(&p).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io("delete blob", &p)(e)),
        }
    }

    async fn list(&self) -> Result<Vec<BlobInfo>> {
        let root = self.root.join("blobs");
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for alg in ["sha256", "sha512"] {
                let a = root.join(alg);
                let Ok(prefixes) = fs_err::read_dir(&a) else {
                    continue;
                };
                for p in prefixes.flatten() {
                    let Ok(files) = fs_err::read_dir(p.path()) else {
                        continue;
                    };
                    for f in files.flatten() {
                        let name = f.file_name().to_string_lossy().into_owned();
                        let Ok(digest) = format!("{alg}:{name}").parse::<Digest>() else {
                            continue;
                        };
                        let Ok(meta) = f.metadata() else { continue };
                        out.push(BlobInfo {
                            digest,
                            size: meta.len(),
                            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                        });
                    }
                }
            }
            Ok(out)
        })
        .await
        .map_err(join_err("list blobs"))?
    }

    async fn verify(&self, digest: &Digest) -> Result<Option<bool>> {
        let p = self.blob_path(digest);
        if !p.exists() {
            return Ok(None);
        }
        let alg = digest.algorithm();
        let actual = tokio::task::spawn_blocking(move || hash_file(&p, alg))
            .await
            .map_err(join_err("verify blob"))??;
        Ok(Some(actual == *digest))
    }

    async fn upload_start(&self, id: &str) -> Result<()> {
        let p = self.upload_path(id)?;
        tokio::fs::File::create(&p)
            .await
            .map_err(io("create upload", &p))?;
        self.set_running(
            id,
            Running {
                size: 0,
                hasher: Hasher::new(DigestAlgorithm::Sha256),
            },
        );
        Ok(())
    }

    async fn upload_append(&self, id: &str, mut body: ByteStream) -> Result<u64> {
        let p = self.upload_path(id)?;
        let mut f = match tokio::fs::OpenOptions::new().append(true).open(&p).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::UploadUnknown(id.to_string()))
            }
            Err(e) => return Err(io("open upload", &p)(e)),
        };
        let start = f.metadata().await.map_err(io("stat upload", &p))?.len();
        // The running hash is only trusted when it covers exactly the file.
        let mut running = self.take_running(id).filter(|r| r.size == start);
        let mut size = start;
        let mut failure = None;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(bytes) => {
                    if let Err(e) = f.write_all(&bytes).await {
                        failure = Some(io("write upload", &p)(e));
                        running = None;
                        break;
                    }
                    size = size.saturating_add(bytes.len() as u64);
                    if let Some(r) = running.as_mut() {
                        r.hasher.update(&bytes);
                        r.size = size;
                    }
                }
                Err(e) => {
                    failure = Some(io("receive upload body", &p)(e));
                    break;
                }
            }
        }
        if let Err(e) = f.flush().await {
            failure.get_or_insert(io("flush upload", &p)(e));
            running = None;
        }
        if let Some(r) = running {
            self.set_running(id, r);
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(size),
        }
    }

    async fn upload_size(&self, id: &str) -> Result<Option<u64>> {
        let p = self.upload_path(id)?;
        match tokio::fs::metadata(&p).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("stat upload", &p)(e)),
        }
    }

    async fn upload_commit(&self, id: &str, expected: &Digest) -> Result<u64> {
        let p = self.upload_path(id)?;
        let size = self
            .upload_size(id)
            .await?
            .ok_or_else(|| StoreError::UploadUnknown(id.to_string()))?;
        let running = self.take_running(id);
        let this = self.clone();
        let expected = expected.clone();
        tokio::task::spawn_blocking(move || {
            let actual = match running {
                Some(r) if r.size == size && expected.algorithm() == DigestAlgorithm::Sha256 => {
                    r.hasher.finish()
                }
                _ => hash_file(&p, expected.algorithm())?,
            };
            if actual != expected {
                let _ = fs_err::remove_file(&p);
                return Err(StoreError::DigestMismatch { expected, actual });
            }
            if this.blob_path(&expected).exists() {
                let _ = fs_err::remove_file(&p);
                touch(&this.blob_path(&expected));
                return Ok(size);
            }
            this.install(&p, &expected)?;
            Ok(size)
        })
        .await
        .map_err(join_err("commit upload"))?
    }

    async fn upload_abort(&self, id: &str) -> Result<()> {
        let p = self.upload_path(id)?;
        self.take_running(id);
        match tokio::fs::remove_file(&p).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("remove upload", &p)(e)),
        }
    }

    async fn upload_list(&self) -> Result<Vec<(String, SystemTime)>> {
        let dir = self.root.join("uploads");
        let mut rd = tokio::fs::read_dir(&dir)
            .await
            .map_err(io("list uploads", &dir))?;
        let mut out = Vec::new();
        while let Ok(Some(e)) = rd.next_entry().await {
            let name = e.file_name().to_string_lossy().into_owned();
            let modified = e
                .metadata()
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            out.push((name, modified));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chunks: &[&'static [u8]]) -> ByteStream {
        let items: Vec<std::io::Result<Bytes>> =
            chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        Box::pin(futures_util::stream::iter(items))
    }

    #[tokio::test]
    async fn chunked_upload_commits_only_with_the_right_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = FsBlobStore::open(dir.path()).expect("open");
        s.upload_start("u1").await.expect("start");
        assert_eq!(
            s.upload_append("u1", body(&[b"hello "])).await.expect("a"),
            6
        );
        assert_eq!(
            s.upload_append("u1", body(&[b"world"])).await.expect("b"),
            11
        );
        let wrong = Digest::sha256(b"other");
        assert!(matches!(
            s.upload_commit("u1", &wrong).await,
            Err(StoreError::DigestMismatch { .. })
        ));
        assert_eq!(s.stat(&wrong).await.expect("stat"), None);
        assert_eq!(
            s.upload_size("u1").await.expect("size"),
            None,
            "mismatch discards"
        );

        s.upload_start("u2").await.expect("start");
        s.upload_append("u2", body(&[b"hello ", b"world"]))
            .await
            .expect("a");
        let d = Digest::sha256(b"hello world");
        assert_eq!(s.upload_commit("u2", &d).await.expect("commit"), 11);
        assert_eq!(s.verify(&d).await.expect("verify"), Some(true));
        let r = s
            .open(&d, Some(ByteRange { start: 6, end: 10 }))
            .await
            .expect("open")
            .expect("present");
        let mut out = Vec::new();
        let mut reader = r.reader;
        reader.read_to_end(&mut out).await.expect("read");
        assert_eq!(out, b"world");
    }

    #[tokio::test]
    async fn sha512_uploads_are_verified_by_rehashing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = FsBlobStore::open(dir.path()).expect("open");
        s.upload_start("u").await.expect("start");
        s.upload_append("u", body(&[b"abc"])).await.expect("append");
        let mut h = Hasher::new(DigestAlgorithm::Sha512);
        h.update(b"abc");
        let d = h.finish();
        s.upload_commit("u", &d).await.expect("commit");
        assert_eq!(s.stat(&d).await.expect("stat"), Some(3));
    }

    #[tokio::test]
    async fn upload_ids_cannot_escape_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = FsBlobStore::open(dir.path()).expect("open");
        assert!(matches!(
            s.upload_start("../x").await,
            Err(StoreError::UploadUnknown(_))
        ));
    }
}
