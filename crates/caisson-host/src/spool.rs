//! The bounded spool an image export streams into: a temporary file under a
//! chosen directory that never grows past its limit. Going past it stops
//! reading (the connection is dropped) and deletes what was written.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::error::HostError;

/// Default spool limit: 8 GiB, above any image a host normally runs.
pub const DEFAULT_SPOOL_LIMIT: u64 = 8 << 30;

/// Where exports are spooled and how large one may get.
#[derive(Debug, Clone)]
pub struct SpoolOptions {
    pub dir: PathBuf,
    pub limit: u64,
}

/// A spooled export; the file is deleted on drop.
#[derive(Debug)]
pub struct Spooled {
    file: tempfile::NamedTempFile,
    size: u64,
}

impl Spooled {
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Bytes written.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// Writes `stream` into a new spool file, refusing more than `opts.limit`
/// bytes.
pub async fn spool_stream<S, E>(
    stream: S,
    image: &str,
    endpoint: &str,
    opts: &SpoolOptions,
) -> Result<Spooled, HostError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<bollard::errors::Error>,
{
    let io_err = |path: &Path, source| HostError::Spool {
        image: image.to_string(),
        path: path.to_path_buf(),
        source,
    };
    fs_err::create_dir_all(&opts.dir).map_err(|e| io_err(&opts.dir, e))?;
    let mut file = tempfile::Builder::new()
        .prefix("export-")
        .suffix(".tar")
        .tempfile_in(&opts.dir)
        .map_err(|e| io_err(&opts.dir, e))?;
    let mut size: u64 = 0;
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| HostError::Export {
            image: image.to_string(),
            endpoint: endpoint.to_string(),
            source: e.into(),
        })?;
        let len = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        size = size.saturating_add(len);
        if size > opts.limit {
            // Dropping `file` deletes the partial spool.
            return Err(HostError::SpoolLimit {
                image: image.to_string(),
                limit: opts.limit,
            });
        }
        file.write_all(&chunk).map_err(|e| io_err(file.path(), e))?;
    }
    file.flush().map_err(|e| io_err(file.path(), e))?;
    Ok(Spooled { file, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(n: usize, each: usize) -> Vec<Result<Bytes, bollard::errors::Error>> {
        (0..n).map(|_| Ok(Bytes::from(vec![7u8; each]))).collect()
    }

    fn run(
        items: Vec<Result<Bytes, bollard::errors::Error>>,
        dir: &Path,
        limit: u64,
    ) -> Result<Spooled, HostError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(spool_stream(
            futures_util::stream::iter(items),
            "sha256:abc",
            "unix:///x.sock",
            &SpoolOptions {
                dir: dir.to_path_buf(),
                limit,
            },
        ))
    }

    fn files(dir: &Path) -> usize {
        std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
    }

    #[test]
    fn within_the_limit_is_kept_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = run(chunks(4, 1000), dir.path(), 4000).expect("spooled");
        assert_eq!(s.size(), 4000);
        assert_eq!(std::fs::metadata(s.path()).expect("file").len(), 4000);
        drop(s);
        assert_eq!(files(dir.path()), 0, "the spool is deleted on drop");
    }

    #[test]
    fn past_the_limit_stops_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = run(chunks(1000, 1000), dir.path(), 4500).expect_err("over the limit");
        let msg = e.to_string();
        assert!(msg.contains("sha256:abc") && msg.contains("4500"), "{msg}");
        assert!(matches!(e, HostError::SpoolLimit { .. }));
        assert_eq!(files(dir.path()), 0, "the partial spool is deleted");
    }

    #[test]
    fn a_broken_stream_names_the_image() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut items = chunks(2, 10);
        items.push(Err(bollard::errors::Error::RequestTimeoutError));
        let e = run(items, dir.path(), 1 << 20).expect_err("broken");
        assert!(e.to_string().contains("sha256:abc"), "{e}");
        assert_eq!(files(dir.path()), 0);
    }
}
