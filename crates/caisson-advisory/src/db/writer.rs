//! Builds a new database file next to the live one and renames it into place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use caisson_model::{normalize_package_name, Advisory, Affected};
use rusqlite::{params, Connection};

use super::schema::{APPLICATION_ID, CREATE, DB_FILE_NAME, SCHEMA_VERSION};
use super::{ecosystem_key, encode_above, sql, sqlite_uri};
use crate::{DbError, ImportStats};

/// zstd level for records: fast, and ~5x on OSV JSON.
const ZSTD_LEVEL: i32 = 3;

/// What is recorded about a source in the `sources` table.
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceRow {
    pub name: String,
    pub url: String,
    pub format: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub sha256: Option<String>,
    pub fetched_at: i64,
}

/// A database under construction in `<dir>/.advisory.db.<pid>.<n>.tmp`.
/// Dropped without [`Writer::commit`], the file is removed and the live
/// database is untouched.
pub(crate) struct Writer {
    conn: Option<Connection>,
    tmp: PathBuf,
    dir: PathBuf,
    in_tx: bool,
    /// Per source: how the range versions of its records order.
    versions: BTreeMap<String, caisson_match::bounds::VersionCounts>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.conn.take());
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs_err::remove_file(&self.tmp);
            for ext in ["-journal", "-wal", "-shm"] {
                let mut p = self.tmp.clone().into_os_string();
                p.push(ext);
                let _ = fs_err::remove_file(PathBuf::from(p));
            }
        }
    }
}

impl Writer {
    pub fn create(dir: &Path) -> Result<Writer, DbError> {
        fs_err::create_dir_all(dir).map_err(|source| DbError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let tmp = tempfile::Builder::new()
            .prefix(".advisory.db.")
            .suffix(".tmp")
            .tempfile_in(dir)
            .and_then(|f| f.keep().map_err(|e| e.error))
            .map_err(|source| DbError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .1;
        let mut w = Writer {
            conn: None,
            tmp: tmp.clone(),
            dir: dir.to_path_buf(),
            in_tx: false,
            versions: BTreeMap::new(),
        };
        let conn = Connection::open(&tmp).map_err(sql(&tmp, "creating"))?;
        conn.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY; \
             PRAGMA cache_size = -65536;",
        )
        .map_err(sql(&tmp, "configuring"))?;
        conn.execute_batch(CREATE)
            .map_err(sql(&tmp, "creating the schema"))?;
        w.conn = Some(conn);
        Ok(w)
    }

    fn conn(&self) -> Result<&Connection, DbError> {
        self.conn.as_ref().ok_or_else(|| DbError::Sqlite {
            path: self.tmp.clone(),
            op: "using a closed writer",
            source: rusqlite::Error::InvalidQuery,
        })
    }

    /// Copies the named sources and their records from the live database
    /// `old` (which must have this schema). Can run at any point: copied
    /// rows get fresh rowids above the ones already written.
    pub fn copy_sources(&mut self, old: &Path, names: &[String]) -> Result<(), DbError> {
        if names.is_empty() {
            return Ok(());
        }
        let tmp = self.tmp.clone();
        if self.in_tx {
            // ATTACH is not allowed inside a transaction.
            self.conn()?
                .execute_batch("COMMIT")
                .map_err(sql(&tmp, "committing"))?;
            self.in_tx = false;
        }
        let c = self.conn()?;
        let list = serde_json::to_string(names).unwrap_or_else(|_| "[]".to_string());
        c.execute("ATTACH DATABASE ?1 AS old", [sqlite_uri(old, "mode=ro")])
            .map_err(sql(&tmp, "attaching the previous database"))?;
        let run = || -> rusqlite::Result<()> {
            c.execute_batch("BEGIN")?;
            let offset: i64 = c.query_row(
                "SELECT COALESCE(MAX(rowid), 0) FROM main.advisories",
                [],
                |r| r.get(0),
            )?;
            c.execute(
                "INSERT OR REPLACE INTO main.sources SELECT name, url, format, etag, last_modified, sha256, \
                 fetched_at, record_count, withdrawn_count, warning_count, fallback_versions, \
                 unorderable_versions FROM old.sources \
                 WHERE name IN (SELECT value FROM json_each(?1))",
                [&list],
            )?;
            c.execute(
                "CREATE TEMP TABLE copied AS SELECT rowid AS old_rowid FROM old.advisories \
                 WHERE source IN (SELECT value FROM json_each(?1))",
                [&list],
            )?;
            c.execute(
                "INSERT INTO main.advisories (rowid, id, source, modified, data) \
                 SELECT rowid + ?1, id, source, modified, data FROM old.advisories \
                 WHERE rowid IN (SELECT old_rowid FROM temp.copied)",
                [offset],
            )?;
            c.execute(
                "INSERT OR IGNORE INTO main.affected \
                 SELECT f.ecosystem_base, f.name, f.ecosystem_release, f.advisory + ?1, f.above \
                 FROM old.affected f WHERE f.advisory IN (SELECT old_rowid FROM temp.copied)",
                [offset],
            )?;
            c.execute(
                "INSERT OR IGNORE INTO main.aliases SELECT x.alias, x.advisory + ?1 FROM old.aliases x \
                 WHERE x.advisory IN (SELECT old_rowid FROM temp.copied)",
                [offset],
            )?;
            c.execute_batch("DROP TABLE temp.copied; COMMIT")?;
            Ok(())
        };
        let res = run();
        if res.is_err() {
            let _ = c.execute_batch("ROLLBACK");
        }
        let detach = c.execute("DETACH DATABASE old", []);
        res.map_err(sql(&tmp, "copying unchanged sources"))?;
        detach.map_err(sql(&tmp, "detaching the previous database"))?;
        Ok(())
    }

    fn begin(&mut self) -> Result<(), DbError> {
        if !self.in_tx {
            let tmp = self.tmp.clone();
            self.conn()?
                .execute_batch("BEGIN")
                .map_err(sql(&tmp, "beginning"))?;
            self.in_tx = true;
        }
        Ok(())
    }

    /// Records a source (with zero counts until [`Writer::finish_source`]).
    pub fn start_source(&mut self, row: &SourceRow) -> Result<(), DbError> {
        self.begin()?;
        let tmp = self.tmp.clone();
        self.conn()?
            .execute(
                "INSERT OR REPLACE INTO sources (name, url, format, etag, last_modified, sha256, fetched_at, \
                 record_count, withdrawn_count, warning_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, 0)",
                params![row.name, row.url, row.format, row.etag, row.last_modified, row.sha256, row.fetched_at],
            )
            .map_err(sql(&tmp, "recording a source"))?;
        Ok(())
    }

    /// Marks a source as confirmed current (a 304) at `when`.
    pub fn touch_source(&mut self, name: &str, when: i64) -> Result<(), DbError> {
        let tmp = self.tmp.clone();
        self.conn()?
            .execute(
                "UPDATE sources SET fetched_at = ?2 WHERE name = ?1",
                params![name, when],
            )
            .map_err(sql(&tmp, "recording a source check"))?;
        Ok(())
    }

    pub fn finish_source(&mut self, name: &str, stats: &ImportStats) -> Result<(), DbError> {
        let tmp = self.tmp.clone();
        let n = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
        let v = self.versions.get(name).copied().unwrap_or_default();
        let m = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
        self.conn()?
            .execute(
                "UPDATE sources SET record_count = ?2, withdrawn_count = ?3, warning_count = ?4, \
                 fallback_versions = ?5, unorderable_versions = ?6 WHERE name = ?1",
                params![
                    name,
                    n(stats.records),
                    n(stats.withdrawn),
                    n(stats.warning_count),
                    m(v.fallback),
                    m(v.unorderable)
                ],
            )
            .map_err(sql(&tmp, "recording source counts"))?;
        Ok(())
    }

    /// Stores one advisory of `source` and indexes it. Withdrawn records are
    /// skipped (the importers already drop them). Listed versions that the
    /// entry's own ranges already affect are not stored
    /// ([`caisson_match::bounds::prune_covered_versions`]): they change no
    /// match, and PyPI records list hundreds.
    pub fn add(&mut self, source: &str, adv: &Advisory) -> Result<(), DbError> {
        if adv.withdrawn.is_some() {
            return Ok(());
        }
        let counts = caisson_match::bounds::version_counts(adv);
        if counts != caisson_match::bounds::VersionCounts::default() {
            self.versions
                .entry(source.to_string())
                .or_default()
                .add(counts);
        }
        self.begin()?;
        let tmp = self.tmp.clone();
        let c = self.conn()?;
        let pruned;
        let adv = if adv.affected.iter().any(|a| !a.versions.is_empty()) {
            let mut copy = adv.clone();
            caisson_match::bounds::prune_covered_versions(&mut copy);
            pruned = copy;
            &pruned
        } else {
            adv
        };
        let json = serde_json::to_vec(adv).map_err(|e| DbError::Record {
            path: tmp.clone(),
            id: adv.id.clone(),
            source: e.into(),
        })?;
        let data = zstd::bulk::compress(&json, ZSTD_LEVEL).map_err(|e| DbError::Record {
            path: tmp.clone(),
            id: adv.id.clone(),
            source: e.into(),
        })?;
        let mut ins = c
            .prepare_cached(
                "INSERT INTO advisories (id, source, modified, data) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(sql(&tmp, "preparing"))?;
        ins.execute(params![adv.id, source, adv.modified, data])
            .map_err(sql(&tmp, "storing an advisory"))?;
        let rowid = c.last_insert_rowid();
        let mut idx = c
            .prepare_cached(
                "INSERT OR IGNORE INTO affected (ecosystem_base, name, ecosystem_release, advisory, above) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(sql(&tmp, "preparing"))?;
        let mut keys: BTreeMap<(String, String, String), Vec<&Affected>> = BTreeMap::new();
        for a in &adv.affected {
            let Some(p) = &a.package else { continue };
            let (base, release) = ecosystem_key(&p.ecosystem);
            let name = normalize_package_name(&p.ecosystem, &p.name);
            keys.entry((base, name, release)).or_default().push(a);
        }
        for ((base, name, release), entries) in keys {
            let above =
                caisson_match::bounds::bounds_above(adv, &entries).map(|b| encode_above(&b));
            idx.execute(params![base, name, release, rowid, above])
                .map_err(sql(&tmp, "indexing an advisory"))?;
        }
        let mut al = c
            .prepare_cached("INSERT OR IGNORE INTO aliases (alias, advisory) VALUES (?1, ?2)")
            .map_err(sql(&tmp, "preparing"))?;
        for id in std::iter::once(&adv.id)
            .chain(&adv.aliases)
            .chain(&adv.upstream)
        {
            let id = id.trim();
            if !id.is_empty() {
                al.execute(params![id, rowid])
                    .map_err(sql(&tmp, "indexing aliases"))?;
            }
        }
        Ok(())
    }

    /// Finishes the file and renames it to `<dir>/advisory.db`, replacing the
    /// live database atomically. Returns the final path.
    pub fn commit(mut self) -> Result<PathBuf, DbError> {
        let tmp = self.tmp.clone();
        {
            let c = self.conn()?;
            if self.in_tx {
                c.execute_batch("COMMIT").map_err(sql(&tmp, "committing"))?;
            }
            c.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('built_at', ?1), ('writer', ?2)",
                params![
                    crate::update::now_unix().to_string(),
                    concat!("caisson-advisory ", env!("CARGO_PKG_VERSION"))
                ],
            )
            .map_err(sql(&tmp, "writing meta"))?;
            c.execute_batch(&format!(
                "ANALYZE; PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
            ))
            .map_err(sql(&tmp, "finishing"))?;
        }
        self.in_tx = false;
        if let Some(conn) = self.conn.take() {
            conn.close().map_err(|(_, e)| sql(&tmp, "closing")(e))?;
        }
        let io = |source| DbError::Io {
            path: tmp.clone(),
            source,
        };
        fs_err::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io)?;
        let dest = self.dir.join(DB_FILE_NAME);
        fs_err::rename(&tmp, &dest).map_err(|source| DbError::Io {
            path: dest.clone(),
            source,
        })?;
        // The rename is done: nothing left to clean up.
        self.tmp = PathBuf::new();
        if let Ok(d) = fs_err::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(dest)
    }
}
