//! The advisory database: opened from `ScanConfig::db_dir`, kept open, and
//! re-opened when its file changes (`caisson db update` swaps in a new file,
//! which changes its modification time, length or inode).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use caisson_advisory::Database;

use crate::{DbInfo, ScanHost};

/// An opened advisory database and the file stamp it was opened at.
#[derive(Clone)]
pub(crate) struct OpenDb {
    pub(crate) db: Arc<Database>,
    pub(crate) stamp: DbStamp,
    pub(crate) info: DbInfo,
}

/// What identifies one database file: a swap changes at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DbStamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
    inode: u64,
}

fn db_file(dir: &Path) -> PathBuf {
    dir.join(caisson_advisory::DB_FILE_NAME)
}

fn stamp_of(path: &Path) -> Option<DbStamp> {
    let m = fs_err::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(DbStamp {
        modified: m.modified().ok(),
        len: m.len(),
        inode,
    })
}

/// The advisory database, (re)opened when its file changed. `None`
/// without a configured database or when it cannot be opened.
pub(crate) async fn advisory_db<H: ScanHost>(host: &H) -> Option<OpenDb> {
    let scanner = host.scanner();
    let dir = scanner.config.db_dir.clone()?;
    let path = db_file(&dir);
    let stamp = stamp_of(&path);
    if let Some(cur) = scanner.db.read().await.as_ref() {
        if Some(&cur.stamp) == stamp.as_ref() {
            return Some(cur.clone());
        }
    }
    let stamp = stamp?;
    let opened = tokio::task::spawn_blocking(move || {
        let db = Database::open(&dir)?;
        let built_at = db.status().ok().and_then(|s| s.built_at);
        Ok::<_, caisson_advisory::DbError>((db, built_at))
    })
    .await;
    match opened {
        Ok(Ok((db, built_at))) => {
            let now = caisson_registry_store::now_ms() / 1000;
            let open = OpenDb {
                db: Arc::new(db),
                stamp,
                info: DbInfo {
                    path: path.display().to_string(),
                    built_at,
                    age_seconds: built_at.map(|b| u64::try_from(now - b).unwrap_or(0)),
                },
            };
            *scanner.db.write().await = Some(open.clone());
            Some(open)
        }
        Ok(Err(e)) => {
            tracing::warn!("advisory database {} unusable: {e}", path.display());
            None
        }
        Err(e) => {
            tracing::error!("opening the advisory database panicked: {e}");
            None
        }
    }
}

/// The advisory database in use (`GET /api/v1/scanning`), `None` without one.
pub async fn db_info<H: ScanHost>(host: &H) -> Option<DbInfo> {
    advisory_db(host).await.map(|d| d.info)
}

/// Whether an advisory database is configured and opens (pull policies
/// treat every digest as unscanned without one).
pub async fn has_database<H: ScanHost>(host: &H) -> bool {
    advisory_db(host).await.is_some()
}

/// Whether the database file differs from the one the last re-scan used.
pub(crate) async fn db_changed<H: ScanHost>(host: &H) -> bool {
    let scanner = host.scanner();
    let Some(dir) = scanner.config.db_dir.as_ref() else {
        return false;
    };
    let Some(stamp) = stamp_of(&db_file(dir)) else {
        return false;
    };
    scanner.rescan_lock.lock().await.as_ref() != Some(&stamp)
}
