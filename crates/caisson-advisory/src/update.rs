//! Building a new database from local files ([`import_paths`]) or the live
//! feeds ([`update`]), and swapping it in atomically.
//!
//! Both build `<dir>/.advisory.db.*.tmp` next to the live `advisory.db` and
//! rename it over the live file only when every source succeeded. Until
//! then, and whenever anything fails, the previous database stays in place
//! and readers that opened it keep their snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::writer::{SourceRow, Writer};
use crate::db::Database;
use crate::import::{detect_format, import_reader_with, Emit};
use crate::{DbError, Format, ImportError, ImportStats, Limits, Source, UpdateError, DB_FILE_NAME};

pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Options of [`update`] and [`import_paths`].
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// Extra PEM CA certificates trusted besides the system roots.
    pub ca_bundle: Option<PathBuf>,
    /// Whole-request timeout (headers and body).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Largest download accepted per source.
    pub max_download_bytes: u64,
    pub limits: Limits,
    /// Ignore recorded ETag / Last-Modified and download everything.
    pub force: bool,
    /// Allow `http://` source URLs (tests, local mirrors). Off by default.
    pub allow_http: bool,
    pub user_agent: String,
}

impl Default for UpdateOptions {
    fn default() -> UpdateOptions {
        UpdateOptions {
            ca_bundle: None,
            timeout: Duration::from_secs(1800),
            connect_timeout: Duration::from_secs(30),
            max_download_bytes: 4 << 30,
            limits: Limits::default(),
            force: false,
            allow_http: false,
            user_agent: concat!("caisson/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// What happened to one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum SourceOutcome {
    /// Downloaded (or read) and imported.
    Updated { stats: ImportStats, bytes: u64 },
    /// The server answered 304: the previous records were kept.
    NotModified { records: u64 },
    /// Failed; nothing was swapped.
    Failed { error: String },
    /// Not attempted because an earlier source failed.
    Skipped,
}

/// The result of [`update`] or [`import_paths`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateReport {
    /// The live database file.
    pub path: PathBuf,
    /// Whether the new database replaced the previous one. `false` when a
    /// source failed: the previous database (if any) is unchanged.
    pub swapped: bool,
    /// Per source, in the order given.
    pub sources: Vec<(String, SourceOutcome)>,
}

/// [`import_paths`] reports like [`update`].
pub type ImportReport = UpdateReport;

impl UpdateReport {
    /// Names of the sources that failed.
    pub fn failed(&self) -> Vec<&str> {
        self.sources
            .iter()
            .filter(|(_, o)| matches!(o, SourceOutcome::Failed { .. }))
            .map(|(n, _)| n.as_str())
            .collect()
    }
}

/// Progress events passed to the callback of [`update`] / [`import_paths`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress<'a> {
    Fetching {
        source: &'a str,
        url: &'a str,
    },
    Downloaded {
        source: &'a str,
        bytes: u64,
    },
    NotModified {
        source: &'a str,
    },
    Imported {
        source: &'a str,
        records: usize,
        warnings: usize,
    },
    Failed {
        source: &'a str,
        error: &'a str,
    },
    Swapped {
        path: &'a Path,
    },
}

fn validate(sources: &[Source], opts: &UpdateOptions, remote: bool) -> Result<(), UpdateError> {
    let mut names = BTreeSet::new();
    for s in sources {
        if s.name.trim().is_empty() {
            return Err(UpdateError::Config(format!(
                "a source has an empty name (url {})",
                s.url
            )));
        }
        if !names.insert(s.name.as_str()) {
            return Err(UpdateError::Config(format!(
                "source name {:?} is used twice",
                s.name
            )));
        }
        if remote {
            let ok =
                s.url.starts_with("https://") || (opts.allow_http && s.url.starts_with("http://"));
            if !ok {
                return Err(UpdateError::Config(format!(
                    "source {:?}: {:?} is not an https:// URL",
                    s.name, s.url
                )));
            }
        }
        if let Some(h) = &s.sha256 {
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(UpdateError::Config(format!(
                    "source {:?}: sha256 is not 64 hex digits",
                    s.name
                )));
            }
        }
    }
    Ok(())
}

/// The live database, if it exists and has this schema. Any other state
/// (missing, older schema, unreadable) means a full rebuild.
fn previous(dir: &Path) -> Option<(PathBuf, BTreeMap<String, crate::SourceInfo>)> {
    let db = Database::open(dir).ok()?;
    let sources = db.sources().ok()?;
    Some((db.path().to_path_buf(), sources))
}

fn build_client(opts: &UpdateOptions) -> Result<reqwest::blocking::Client, UpdateError> {
    let mut builder = reqwest::blocking::Client::builder()
        .timeout(opts.timeout)
        .connect_timeout(opts.connect_timeout)
        .user_agent(opts.user_agent.clone())
        .https_only(!opts.allow_http);
    if let Some(path) = &opts.ca_bundle {
        let pem = fs_err::read(path).map_err(|e| UpdateError::CaBundle {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| UpdateError::CaBundle {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if certs.is_empty() {
            return Err(UpdateError::CaBundle {
                path: path.clone(),
                reason: "no PEM certificates in the file".to_string(),
            });
        }
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    builder.build().map_err(UpdateError::Client)
}

/// A source failed: why, for the report.
struct Failure(String);

impl<E: std::error::Error> From<E> for Failure {
    fn from(e: E) -> Failure {
        let mut msg = e.to_string();
        let mut src = e.source();
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        Failure(msg)
    }
}

enum Fetched {
    NotModified,
    Body {
        file: std::fs::File,
        bytes: u64,
        etag: Option<String>,
        last_modified: Option<String>,
        sha256: String,
    },
}

fn fetch(
    client: &reqwest::blocking::Client,
    dir: &Path,
    url: &str,
    conditional: Option<&crate::SourceInfo>,
    opts: &UpdateOptions,
) -> Result<Fetched, Failure> {
    let mut req = client.get(url);
    if let Some(prev) = conditional {
        if let Some(e) = &prev.etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, e);
        }
        if let Some(m) = &prev.last_modified {
            req = req.header(reqwest::header::IF_MODIFIED_SINCE, m);
        }
    }
    let mut resp = req.send()?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        if conditional.is_some() {
            return Ok(Fetched::NotModified);
        }
        return Err(Failure("HTTP 304 to an unconditional request".to_string()));
    }
    if !status.is_success() {
        return Err(Failure(format!("HTTP {status} from {url}")));
    }
    if let Some(len) = resp.content_length() {
        if len > opts.max_download_bytes {
            return Err(Failure(format!(
                "{url} is {len} bytes, over the {} byte download limit",
                opts.max_download_bytes
            )));
        }
    }
    let header = |h: reqwest::header::HeaderName| {
        resp.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = header(reqwest::header::ETAG);
    let last_modified = header(reqwest::header::LAST_MODIFIED);
    let expected_len = resp.content_length();
    // Anonymous temp file next to the database: removed on any exit.
    let mut file = tempfile::tempfile_in(dir)?;
    let mut hasher = Sha256::new();
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = resp.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        total = total.saturating_add(n as u64);
        if total > opts.max_download_bytes {
            return Err(Failure(format!(
                "{url}: body exceeds the {} byte download limit",
                opts.max_download_bytes
            )));
        }
        hasher.update(chunk);
        file.write_all(chunk)?;
    }
    if let Some(len) = expected_len {
        if len != total {
            return Err(Failure(format!(
                "{url}: truncated body ({total} of {len} bytes)"
            )));
        }
    }
    file.rewind()?;
    Ok(Fetched::Body {
        file,
        bytes: total,
        etag,
        last_modified,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// Imports from `reader` into the writer under `source`.
fn import_into(
    writer: &mut Writer,
    row: &SourceRow,
    format: Format,
    reader: impl Read + Seek,
    limits: &Limits,
) -> Result<ImportStats, Failure> {
    writer.start_source(row)?;
    let mut sink_err: Option<DbError> = None;
    let stats = {
        let mut emit =
            |adv: caisson_model::Advisory| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
                writer.add(&row.name, &adv).map_err(|e| {
                    let msg = e.to_string();
                    sink_err = Some(e);
                    msg.into()
                })
            };
        let emit: &mut Emit<'_> = &mut emit;
        import_reader_with(format, reader, limits, emit)
    };
    let stats = match (stats, sink_err) {
        (_, Some(e)) => return Err(e.into()),
        (Err(e), None) => return Err(e.into()),
        (Ok(s), None) => s,
    };
    writer.finish_source(&row.name, &stats)?;
    Ok(stats)
}

/// Resolves Red Hat's `archive_latest.txt` (a file name, or a URL) against
/// the pointer's own URL.
fn resolve_pointer(pointer_url: &str, text: &str, opts: &UpdateOptions) -> Result<String, Failure> {
    let name = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if name.is_empty() || name.len() > 1024 {
        return Err(Failure("archive pointer is empty or too long".to_string()));
    }
    let url = if name.contains("://") {
        name.to_string()
    } else {
        let base = pointer_url
            .rsplit_once('/')
            .map(|(b, _)| b)
            .unwrap_or(pointer_url);
        format!("{base}/{}", name.trim_start_matches('/'))
    };
    if !(url.starts_with("https://") || (opts.allow_http && url.starts_with("http://"))) {
        return Err(Failure(format!(
            "archive pointer names a non-https URL {url:?}"
        )));
    }
    Ok(url)
}

/// Downloads every source and builds a new database in `dir`, then swaps it
/// in. Sources whose server answers 304 to `If-None-Match` /
/// `If-Modified-Since` keep their previous records (copied from the live
/// database). Sources not in `sources` are dropped from the new database.
///
/// All or nothing: if a download, integrity check (HTTP status, length,
/// `sha256`, zip CRCs, JSON) or import fails, the remaining sources are
/// skipped, the temporary database is deleted, and the previous database
/// stays in use; the report names the failing source.
pub fn update(
    dir: &Path,
    sources: &[Source],
    opts: &UpdateOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<UpdateReport, UpdateError> {
    validate(sources, opts, true)?;
    let client = build_client(opts)?;
    let old = previous(dir);
    let mut writer = Writer::create(dir)?;
    let mut report = UpdateReport {
        path: dir.join(DB_FILE_NAME),
        swapped: false,
        sources: Vec::new(),
    };
    let mut failed = false;
    for src in sources {
        if failed {
            report
                .sources
                .push((src.name.clone(), SourceOutcome::Skipped));
            continue;
        }
        let prev = old.as_ref().and_then(|(path, m)| {
            let p = m.get(&src.name)?;
            let same = p.url == src.url && p.format == src.format.as_str();
            (same && !opts.force).then(|| (path.clone(), p.clone()))
        });
        progress(Progress::Fetching {
            source: &src.name,
            url: &src.url,
        });
        let outcome = update_one(
            &client,
            dir,
            src,
            prev.as_ref(),
            &mut writer,
            opts,
            progress,
        );
        match outcome {
            Ok(o) => report.sources.push((src.name.clone(), o)),
            Err(Failure(error)) => {
                progress(Progress::Failed {
                    source: &src.name,
                    error: &error,
                });
                report
                    .sources
                    .push((src.name.clone(), SourceOutcome::Failed { error }));
                failed = true;
            }
        }
    }
    if failed {
        drop(writer);
        return Ok(report);
    }
    let path = writer.commit()?;
    progress(Progress::Swapped { path: &path });
    report.swapped = true;
    report.path = path;
    Ok(report)
}

fn update_one(
    client: &reqwest::blocking::Client,
    dir: &Path,
    src: &Source,
    prev: Option<&(PathBuf, crate::SourceInfo)>,
    writer: &mut Writer,
    opts: &UpdateOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<SourceOutcome, Failure> {
    let fetched = fetch(client, dir, &src.url, prev.map(|(_, p)| p), opts)?;
    let (file, bytes, etag, last_modified, sha256) = match fetched {
        Fetched::NotModified => {
            let Some((old_path, info)) = prev else {
                return Err(Failure("HTTP 304 without a previous copy".to_string()));
            };
            writer.copy_sources(old_path, std::slice::from_ref(&src.name))?;
            writer.touch_source(&src.name, now_unix())?;
            progress(Progress::NotModified { source: &src.name });
            return Ok(SourceOutcome::NotModified {
                records: info.record_count,
            });
        }
        Fetched::Body {
            file,
            bytes,
            etag,
            last_modified,
            sha256,
        } => (file, bytes, etag, last_modified, sha256),
    };
    progress(Progress::Downloaded {
        source: &src.name,
        bytes,
    });
    if let Some(want) = &src.sha256 {
        if !want.eq_ignore_ascii_case(&sha256) {
            return Err(Failure(format!(
                "sha256 mismatch: expected {want}, got {sha256}"
            )));
        }
    }
    let row = SourceRow {
        name: src.name.clone(),
        url: src.url.clone(),
        format: src.format.as_str().to_string(),
        etag,
        last_modified,
        sha256: Some(sha256),
        fetched_at: now_unix(),
    };
    let (format, file, bytes) = if src.format == Format::CsafVexLatest {
        let mut text = String::new();
        (&file).take(4096).read_to_string(&mut text)?;
        let archive_url = resolve_pointer(&src.url, &text, opts)?;
        progress(Progress::Fetching {
            source: &src.name,
            url: &archive_url,
        });
        match fetch(client, dir, &archive_url, None, opts)? {
            Fetched::Body { file, bytes, .. } => (Format::CsafVexArchive, file, bytes),
            Fetched::NotModified => {
                return Err(Failure("HTTP 304 to an unconditional request".into()))
            }
        }
    } else {
        (src.format, file, bytes)
    };
    let stats = import_into(writer, &row, format, file, &opts.limits)?;
    progress(Progress::Imported {
        source: &src.name,
        records: stats.records,
        warnings: stats.warning_count,
    });
    Ok(SourceOutcome::Updated { stats, bytes })
}

/// Imports local files or directories (air-gapped use) into the database in
/// `dir`. Each path is one source named `file:<absolute path>`; files are
/// recognised by [`detect_format`], directories are read recursively (files
/// in sorted order; unrecognised files are warnings). Other sources already
/// in the database are kept; a path imported before is replaced. All or
/// nothing, like [`update`].
pub fn import_paths(
    dir: &Path,
    paths: &[PathBuf],
    opts: &UpdateOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<ImportReport, UpdateError> {
    let sources: Vec<(String, PathBuf)> = paths
        .iter()
        .map(|p| {
            let abs = std::path::absolute(p).unwrap_or_else(|_| p.clone());
            (format!("file:{}", abs.display()), abs)
        })
        .collect();
    let names: Vec<Source> = sources
        .iter()
        .map(|(n, p)| Source::new(n.clone(), p.display().to_string(), Format::OsvJson))
        .collect();
    validate(&names, opts, false)?;
    let old = previous(dir);
    let mut writer = Writer::create(dir)?;
    if let Some((old_path, old_sources)) = &old {
        let keep: Vec<String> = old_sources
            .keys()
            .filter(|k| !sources.iter().any(|(n, _)| n == *k))
            .cloned()
            .collect();
        writer.copy_sources(old_path, &keep)?;
    }
    let mut report = UpdateReport {
        path: dir.join(DB_FILE_NAME),
        swapped: false,
        sources: Vec::new(),
    };
    let mut failed = false;
    for (name, path) in &sources {
        if failed {
            report.sources.push((name.clone(), SourceOutcome::Skipped));
            continue;
        }
        progress(Progress::Fetching {
            source: name,
            url: &path.display().to_string(),
        });
        match import_one(&mut writer, name, path, &opts.limits) {
            Ok((stats, bytes)) => {
                progress(Progress::Imported {
                    source: name,
                    records: stats.records,
                    warnings: stats.warning_count,
                });
                report
                    .sources
                    .push((name.clone(), SourceOutcome::Updated { stats, bytes }));
            }
            Err(Failure(error)) => {
                progress(Progress::Failed {
                    source: name,
                    error: &error,
                });
                report
                    .sources
                    .push((name.clone(), SourceOutcome::Failed { error }));
                failed = true;
            }
        }
    }
    if failed {
        return Ok(report);
    }
    let path = writer.commit()?;
    progress(Progress::Swapped { path: &path });
    report.swapped = true;
    report.path = path;
    Ok(report)
}

const MAX_DIR_DEPTH: usize = 16;

fn collect_files(
    path: &Path,
    depth: usize,
    out: &mut Vec<PathBuf>,
    limit: usize,
) -> Result<(), Failure> {
    let meta = fs_err::metadata(path)?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        if out.len() > limit {
            return Err(Failure(format!(
                "more than {limit} files under the import path"
            )));
        }
        return Ok(());
    }
    if !meta.is_dir() || depth > MAX_DIR_DEPTH {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = fs_err::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        collect_files(&e, depth + 1, out, limit)?;
    }
    Ok(())
}

fn import_one(
    writer: &mut Writer,
    name: &str,
    path: &Path,
    limits: &Limits,
) -> Result<(ImportStats, u64), Failure> {
    let mut files = Vec::new();
    collect_files(path, 0, &mut files, limits.max_entries)?;
    let is_dir = fs_err::metadata(path)?.is_dir();
    let row = SourceRow {
        name: name.to_string(),
        url: path.display().to_string(),
        format: String::new(),
        fetched_at: now_unix(),
        ..SourceRow::default()
    };
    let mut total = ImportStats::default();
    let mut bytes: u64 = 0;
    let mut formats = BTreeSet::new();
    let mut hasher = Sha256::new();
    writer.start_source(&row)?;
    for f in &files {
        let mut file = fs_err::File::open(f)?;
        let mut head = Vec::with_capacity(4096);
        (&mut file).take(1 << 16).read_to_end(&mut head)?;
        let fname = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(format) = detect_format(&fname, &head) else {
            if is_dir {
                total.warn(
                    limits,
                    &f.display().to_string(),
                    "not a recognised advisory feed, skipped",
                );
                continue;
            }
            return Err(Failure(format!(
                "{}: not a recognised advisory feed format",
                f.display()
            )));
        };
        formats.insert(format.as_str());
        file.rewind()?;
        bytes = bytes.saturating_add(file.metadata().map(|m| m.len()).unwrap_or(0));
        let stats = import_file(writer, name, format, file, limits, &mut hasher)
            .map_err(|Failure(e)| Failure(format!("{}: {e}", f.display())))?;
        total.merge(stats, limits);
    }
    let formats: Vec<&str> = formats.into_iter().collect();
    writer.start_source(&SourceRow {
        format: formats.join(","),
        sha256: (!is_dir).then(|| hex::encode(hasher.finalize())),
        ..row
    })?;
    writer.finish_source(name, &total)?;
    Ok((total, bytes))
}

fn import_file(
    writer: &mut Writer,
    name: &str,
    format: Format,
    file: fs_err::File,
    limits: &Limits,
    hasher: &mut Sha256,
) -> Result<ImportStats, Failure> {
    // Hash while reading for the single-file case.
    let mut file = file.into_parts().0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    file.rewind()?;
    let mut sink_err: Option<DbError> = None;
    let res: Result<ImportStats, ImportError> = {
        let mut emit =
            |adv: caisson_model::Advisory| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
                writer.add(name, &adv).map_err(|e| {
                    let msg = e.to_string();
                    sink_err = Some(e);
                    msg.into()
                })
            };
        import_reader_with(format, file, limits, &mut emit)
    };
    match (res, sink_err) {
        (_, Some(e)) => Err(e.into()),
        (Err(e), None) => Err(e.into()),
        (Ok(s), None) => Ok(s),
    }
}
