//! The advisory database: one SQLite file, written once by [`writer`] and
//! then only read. Updates build a new file next to it and rename it over the
//! old one, so an open [`Database`] keeps reading a consistent snapshot and
//! can open it `immutable` (no locks, no journal, nothing written).

mod schema;
pub(crate) mod writer;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use caisson_model::{
    normalize_package_name, Advisory, AdvisorySource, Bound, BoundOrdering, Candidate,
    CandidateRecord,
};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};

pub(crate) use schema::APPLICATION_ID;
pub use schema::{DB_FILE_NAME, SCHEMA_VERSION};

use crate::DbError;

/// Bound on one decompressed record read back from the database.
const MAX_RECORD_BYTES: u64 = 256 << 20;
/// Bounds of the alias closure walk.
const MAX_ALIAS_IDS: usize = 512;

/// Splits an OSV ecosystem into the (base, release) key of the index:
/// `PyPI` → (`PyPI`, ``), `Debian:12` → (`Debian`, `12`). Releases are
/// normalised so the spellings of one release meet: Alpine `v3.20` and
/// `3.20` → `3.20`; Ubuntu `22.04:LTS` → `22.04` (`Pro:18.04:LTS` →
/// `Pro:18.04`); Debian `12.5` → `12`.
pub fn ecosystem_key(ecosystem: &str) -> (String, String) {
    let (base, release) = match ecosystem.split_once(':') {
        Some((b, r)) => (b.trim(), r.trim()),
        None => (ecosystem.trim(), ""),
    };
    let release = match base {
        "Alpine" => match release.strip_prefix('v') {
            Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => r.to_string(),
            _ => release.to_string(),
        },
        "Ubuntu" => release.strip_suffix(":LTS").unwrap_or(release).to_string(),
        "Debian" if release.chars().all(|c| c.is_ascii_digit() || c == '.') => {
            release.split('.').next().unwrap_or(release).to_string()
        }
        _ => release.to_string(),
    };
    (base.to_string(), release)
}

/// One source as recorded in the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub name: String,
    pub url: String,
    pub format: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub sha256: Option<String>,
    /// When the data was last downloaded, or confirmed current by a 304
    /// (or imported), unix seconds.
    pub fetched_at: i64,
    pub record_count: u64,
    pub withdrawn_count: u64,
    pub warning_count: u64,
    /// Range event versions the ecosystem's own rules reject, ordered by
    /// OSV's fallback rules (`caisson_version::Ecosystem::parse_lenient`).
    #[serde(default)]
    pub fallback_versions: u64,
    /// Range event versions nothing can order: those ranges are not
    /// evaluated (a scan that meets one warns `advisory-range-unusable`).
    #[serde(default)]
    pub unorderable_versions: u64,
}

impl SourceInfo {
    /// Seconds since `fetched_at` (0 if the clock is behind).
    pub fn age_seconds(&self) -> u64 {
        let now = crate::update::now_unix();
        u64::try_from(now.saturating_sub(self.fetched_at)).unwrap_or(0)
    }
}

/// Advisories indexed under one ecosystem release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcosystemCount {
    /// `Debian`, `PyPI`, …
    pub ecosystem: String,
    /// Normalised release (see [`ecosystem_key`]), empty for language ecosystems.
    pub release: String,
    pub advisories: u64,
}

/// What [`Database::status`] reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The database file.
    pub path: PathBuf,
    pub schema_version: i64,
    /// When this database file was built, unix seconds.
    pub built_at: Option<i64>,
    /// Advisory records in total.
    pub advisories: u64,
    pub sources: Vec<SourceInfo>,
    pub ecosystems: Vec<EcosystemCount>,
}

/// An opened advisory database (read-only). `Sync`: queries are serialised
/// on one connection.
pub struct Database {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// One zstd context reused for every record (creating one per record
    /// dominated lookups of packages with many advisories).
    dctx: Mutex<Option<zstd::bulk::Decompressor<'static>>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("path", &self.path)
            .finish()
    }
}

/// `file:` URI for SQLite, percent-encoding what URIs reserve.
pub(crate) fn sqlite_uri(path: &Path, query: &str) -> String {
    let mut out = String::from("file:");
    for b in path.to_string_lossy().bytes() {
        match b {
            b'?' | b'#' | b'%' | b' ' => out.push_str(&format!("%{b:02X}")),
            _ => out.push(char::from(b)),
        }
    }
    if !query.is_empty() {
        out.push('?');
        out.push_str(query);
    }
    out
}

fn sql<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(rusqlite::Error) -> DbError + 'a {
    move |source| DbError::Sqlite {
        path: path.to_path_buf(),
        op,
        source,
    }
}

impl Database {
    /// Opens the database in `dir` read-only. Nothing is migrated or written;
    /// a database of another schema version is an error (rebuild it with
    /// `update`).
    pub fn open(dir: impl AsRef<Path>) -> Result<Database, DbError> {
        Database::open_file(&dir.as_ref().join(DB_FILE_NAME))
    }

    pub(crate) fn open_file(path: &Path) -> Result<Database, DbError> {
        if !path.is_file() {
            return Err(DbError::Missing {
                path: path.to_path_buf(),
            });
        }
        let conn = Connection::open_with_flags(
            sqlite_uri(path, "mode=ro&immutable=1"),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql(path, "opening"))?;
        // The query planner stability guarantee: without it, SQLite (built
        // with STAT4) re-prepares a lookup each time its bound name changes,
        // which cost more than the lookup itself.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(sql(path, "configuring the connection"))?;
        let (app, version): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sql(path, "reading the schema version"))?;
        if app != APPLICATION_ID || version != SCHEMA_VERSION {
            return Err(DbError::Schema {
                path: path.to_path_buf(),
                found: if app == APPLICATION_ID { version } else { -1 },
                expected: SCHEMA_VERSION,
            });
        }
        Ok(Database {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            dctx: Mutex::new(None),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    fn decode(&self, id: &str, data: &[u8]) -> Result<Advisory, DbError> {
        let record = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Record {
            path: self.path.clone(),
            id: id.to_string(),
            source: e,
        };
        // Records are written with their size in the frame header; a frame
        // without one (or claiming more than the limit) is read as a bounded stream.
        let known = zstd::zstd_safe::get_frame_content_size(data)
            .ok()
            .flatten()
            .filter(|n| *n <= MAX_RECORD_BYTES);
        let json = match known {
            Some(n) => {
                let mut guard = self.dctx.lock().unwrap_or_else(|p| p.into_inner());
                if guard.is_none() {
                    *guard = Some(zstd::bulk::Decompressor::new().map_err(|e| record(e.into()))?);
                }
                match guard.as_mut() {
                    Some(d) => d
                        .decompress(data, usize::try_from(n).unwrap_or(usize::MAX))
                        .map_err(|e| record(e.into()))?,
                    None => Vec::new(),
                }
            }
            None => {
                let mut json = Vec::new();
                zstd::stream::read::Decoder::new(data)
                    .map_err(|e| record(e.into()))?
                    .take(MAX_RECORD_BYTES)
                    .read_to_end(&mut json)
                    .map_err(|e| record(e.into()))?;
                json
            }
        };
        serde_json::from_slice(&json).map_err(|e| record(e.into()))
    }

    fn rows(
        &self,
        sql_text: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Advisory>, DbError> {
        let raw: Vec<(String, Vec<u8>)> = self.with_conn(|c| {
            let mut stmt = c
                .prepare_cached(sql_text)
                .map_err(sql(&self.path, "preparing a query"))?;
            let rows = stmt
                .query_map(args, |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sql(&self.path, "querying"))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(sql(&self.path, "reading rows"))
        })?;
        raw.iter().map(|(id, data)| self.decode(id, data)).collect()
    }

    /// Every advisory with an `affected` entry for `name` in `ecosystem`
    /// (both compared as the index stores them: [`ecosystem_key`],
    /// [`normalize_package_name`]). An ecosystem without a release
    /// (`Debian`) matches every release; with one (`Debian:12`), only that one.
    pub fn advisories_for(&self, ecosystem: &str, name: &str) -> Result<Vec<Advisory>, DbError> {
        let (base, release) = ecosystem_key(ecosystem);
        let name = normalize_package_name(ecosystem, name);
        if release.is_empty() {
            self.rows(
                "SELECT a.id, a.data FROM advisories a WHERE a.rowid IN \
                 (SELECT advisory FROM affected WHERE ecosystem_base = ?1 AND name = ?2) ORDER BY a.rowid",
                &[&base, &name],
            )
        } else {
            self.rows(
                "SELECT a.id, a.data FROM advisories a WHERE a.rowid IN \
                 (SELECT advisory FROM affected WHERE ecosystem_base = ?1 AND ecosystem_release = ?2 AND name = ?3) \
                 ORDER BY a.rowid",
                &[&base, &release, &name],
            )
        }
    }

    /// Advisories whose id, or one of whose aliases / upstream ids, is `id`.
    /// The records indexed under a package, with their stored bounds, in
    /// storage order; [`Database::record`] loads one.
    pub fn candidates_for(&self, ecosystem: &str, name: &str) -> Result<Vec<Candidate>, DbError> {
        let (base, release) = ecosystem_key(ecosystem);
        let name = normalize_package_name(ecosystem, name);
        let rows: Vec<(i64, Option<String>)> = self.with_conn(|c| {
            // Two fixed statements: a parameter the plan could depend on
            // (`?3 = '' OR …`) makes SQLite re-prepare on every run.
            let mut stmt = if release.is_empty() {
                c.prepare_cached(
                    "SELECT advisory, above FROM affected WHERE ecosystem_base = ?1 AND name = ?2 \
                     ORDER BY advisory",
                )
            } else {
                c.prepare_cached(
                    "SELECT advisory, above FROM affected WHERE ecosystem_base = ?1 AND name = ?2 \
                     AND ecosystem_release = ?3 ORDER BY advisory",
                )
            }
            .map_err(sql(&self.path, "preparing a query"))?;
            fn pair(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Option<String>)> {
                Ok((r.get(0)?, r.get(1)?))
            }
            let rows = if release.is_empty() {
                stmt.query_map(params![base, name], pair)
            } else {
                stmt.query_map(params![base, name, release], pair)
            }
            .map_err(sql(&self.path, "querying"))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(sql(&self.path, "reading rows"))
        })?;
        // One record may be indexed under several releases of an ecosystem:
        // it can be passed over only when every row says so.
        let mut out: Vec<Candidate> = Vec::with_capacity(rows.len());
        for (rowid, above) in rows {
            let key = u64::try_from(rowid).unwrap_or_default();
            let above = above.as_deref().and_then(decode_above);
            match out.last_mut() {
                Some(c) if c.record == CandidateRecord::Stored(key) => {
                    c.above = match (c.above.take(), above) {
                        (Some(mut a), Some(b)) => {
                            a.extend(b);
                            Some(a)
                        }
                        _ => None,
                    };
                }
                _ => out.push(Candidate {
                    record: CandidateRecord::Stored(key),
                    above,
                }),
            }
        }
        Ok(out)
    }

    /// The record stored under `key` (a [`CandidateRecord::Stored`] key).
    pub fn record(&self, key: u64) -> Result<Advisory, DbError> {
        let rowid = i64::try_from(key).unwrap_or(-1);
        self.rows(
            "SELECT id, data FROM advisories WHERE rowid = ?1",
            &[&rowid],
        )?
        .pop()
        .ok_or_else(|| DbError::NoRecord {
            path: self.path.clone(),
            key,
        })
    }

    pub fn advisories_by_id(&self, id: &str) -> Result<Vec<Advisory>, DbError> {
        self.rows(
            "SELECT a.id, a.data FROM advisories a WHERE a.rowid IN \
             (SELECT advisory FROM aliases WHERE alias = ?1) ORDER BY a.rowid",
            &[&id],
        )
    }

    /// Every id connected to `id` through records' ids, `aliases` and
    /// `upstream` (a CVE, its GHSA, PYSEC, DSA…), `id` included, sorted.
    /// The walk is bounded (512 ids).
    pub fn related_ids(&self, id: &str) -> Result<BTreeSet<String>, DbError> {
        self.with_conn(|c| {
            let mut seen: BTreeSet<String> = BTreeSet::new();
            let mut queue = vec![id.to_string()];
            seen.insert(id.to_string());
            let mut stmt = c
                .prepare_cached(
                    "SELECT DISTINCT b.alias FROM aliases a JOIN aliases b ON b.advisory = a.advisory \
                     WHERE a.alias = ?1",
                )
                .map_err(sql(&self.path, "preparing the alias query"))?;
            while let Some(next) = queue.pop() {
                let found: Vec<String> = stmt
                    .query_map([&next], |r| r.get(0))
                    .map_err(sql(&self.path, "querying aliases"))?
                    .collect::<Result<_, _>>()
                    .map_err(sql(&self.path, "reading aliases"))?;
                for f in found {
                    if seen.len() >= MAX_ALIAS_IDS {
                        return Ok(seen);
                    }
                    if seen.insert(f.clone()) {
                        queue.push(f);
                    }
                }
            }
            Ok(seen)
        })
    }

    /// Sources, counts per ecosystem, schema version and path.
    pub fn status(&self) -> Result<Status, DbError> {
        self.with_conn(|c| {
            let p = &self.path;
            let built_at: Option<i64> = c
                .query_row("SELECT value FROM meta WHERE key = 'built_at'", [], |r| r.get::<_, String>(0))
                .optional()
                .map_err(sql(p, "reading meta"))?
                .and_then(|s| s.parse().ok());
            let advisories: i64 = c
                .query_row("SELECT COUNT(*) FROM advisories", [], |r| r.get(0))
                .map_err(sql(p, "counting advisories"))?;
            let sources = read_sources(c).map_err(sql(p, "reading sources"))?;
            let mut stmt = c
                .prepare(
                    "SELECT ecosystem_base, ecosystem_release, COUNT(DISTINCT advisory) FROM affected \
                     GROUP BY ecosystem_base, ecosystem_release ORDER BY 1, 2",
                )
                .map_err(sql(p, "preparing ecosystem counts"))?;
            let ecosystems = stmt
                .query_map([], |r| {
                    Ok(EcosystemCount {
                        ecosystem: r.get(0)?,
                        release: r.get(1)?,
                        advisories: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    })
                })
                .map_err(sql(p, "counting per ecosystem"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(sql(p, "counting per ecosystem"))?;
            Ok(Status {
                path: p.clone(),
                schema_version: SCHEMA_VERSION,
                built_at,
                advisories: u64::try_from(advisories).unwrap_or(0),
                sources,
                ecosystems,
            })
        })
    }

    /// The recorded sources, by name.
    pub fn sources(&self) -> Result<BTreeMap<String, SourceInfo>, DbError> {
        self.with_conn(|c| {
            let list = read_sources(c).map_err(sql(&self.path, "reading sources"))?;
            Ok(list.into_iter().map(|s| (s.name.clone(), s)).collect())
        })
    }
}

pub(crate) fn read_sources(c: &Connection) -> rusqlite::Result<Vec<SourceInfo>> {
    let mut stmt = c.prepare(
        "SELECT name, url, format, etag, last_modified, sha256, fetched_at, record_count, \
         withdrawn_count, warning_count, fallback_versions, unorderable_versions FROM sources ORDER BY name",
    )?;
    let rows = stmt.query_map(params![], |r| {
        let n = |i: usize| -> rusqlite::Result<u64> {
            Ok(u64::try_from(r.get::<_, i64>(i)?).unwrap_or(0))
        };
        Ok(SourceInfo {
            name: r.get(0)?,
            url: r.get(1)?,
            format: r.get(2)?,
            etag: r.get(3)?,
            last_modified: r.get(4)?,
            sha256: r.get(5)?,
            fetched_at: r.get(6)?,
            record_count: n(7)?,
            withdrawn_count: n(8)?,
            warning_count: n(9)?,
            fallback_versions: n(10)?,
            unorderable_versions: n(11)?,
        })
    })?;
    rows.collect()
}

impl AdvisorySource for Database {
    fn advisories(
        &self,
        ecosystem: &str,
        name: &str,
    ) -> Result<Vec<Advisory>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.advisories_for(ecosystem, name)?)
    }

    fn candidates(
        &self,
        ecosystem: &str,
        name: &str,
    ) -> Result<Vec<Candidate>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.candidates_for(ecosystem, name)?)
    }

    fn load(&self, key: u64) -> Result<Advisory, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.record(key)?)
    }
}

/// The `affected.above` column: one `E <version>` / `S <version>` per line.
pub(crate) fn encode_above(bounds: &[Bound]) -> String {
    let mut out = String::new();
    for b in bounds {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push(match b.ordering {
            BoundOrdering::Ecosystem => 'E',
            BoundOrdering::SemVer => 'S',
        });
        out.push(' ');
        out.push_str(&b.version);
    }
    out
}

/// Reads the `affected.above` column; `None` for anything malformed (the
/// record is then evaluated in full).
pub(crate) fn decode_above(text: &str) -> Option<Vec<Bound>> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (kind, version) = line.split_once(' ')?;
            let ordering = match kind {
                "E" => BoundOrdering::Ecosystem,
                "S" => BoundOrdering::SemVer,
                _ => return None,
            };
            Some(Bound {
                ordering,
                version: version.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecosystem_keys() {
        let k = |e: &str| ecosystem_key(e);
        assert_eq!(k("PyPI"), ("PyPI".into(), "".into()));
        assert_eq!(k("Alpine:v3.20"), ("Alpine".into(), "3.20".into()));
        assert_eq!(k("Alpine:3.20"), ("Alpine".into(), "3.20".into()));
        assert_eq!(k("Alpine:edge"), ("Alpine".into(), "edge".into()));
        assert_eq!(k("Ubuntu:22.04:LTS"), ("Ubuntu".into(), "22.04".into()));
        assert_eq!(
            k("Ubuntu:Pro:18.04:LTS"),
            ("Ubuntu".into(), "Pro:18.04".into())
        );
        assert_eq!(k("Debian:12"), ("Debian".into(), "12".into()));
        assert_eq!(k("Debian:12.5"), ("Debian".into(), "12".into()));
        assert_eq!(k("Debian:sid"), ("Debian".into(), "sid".into()));
        assert_eq!(k("Red Hat"), ("Red Hat".into(), "".into()));
    }

    #[test]
    fn database_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Database>();
    }

    #[test]
    fn uri_escapes() {
        assert_eq!(
            sqlite_uri(Path::new("/a b/c?#%.db"), "mode=ro"),
            "file:/a%20b/c%3F%23%25.db?mode=ro"
        );
    }
}
