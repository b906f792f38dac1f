//! Reads an RPM database from bytes, without librpm: the sqlite backend
//! (`rpmdb.sqlite`, Fedora 33+ / RHEL 9), the Berkeley DB hash backend
//! (`Packages`, RHEL ≤ 8 / CentOS / Amazon Linux 2) and rpm's own ndb backend
//! (`Packages.db`, openSUSE / SLES 15), then parses each stored header blob
//! into an [`RpmPackage`].
//!
//! A file that cannot be read at all gives a [`DbError`]; one damaged record
//! gives an [`EntryError`] in its slot of the result while the other records
//! are still returned. Every size and count taken from the input is checked
//! against [`Limits`] before it is used; nothing here panics on bad input.
//!
//! ```no_run
//! # fn demo(bytes: &[u8]) -> Result<(), caisson_rpmdb::DbError> {
//! let limits = caisson_rpmdb::Limits::default();
//! let format = caisson_rpmdb::detect(bytes).ok_or(caisson_rpmdb::DbError::UnknownFormat)?;
//! for entry in caisson_rpmdb::read_packages(format, bytes, &limits)? {
//!     match entry {
//!         Ok(pkg) => println!("{}-{}-{}", pkg.name, pkg.version, pkg.release),
//!         Err(e) => eprintln!("warning: {e}"),
//!     }
//! }
//! # Ok(()) }
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

mod bdb;
mod error;
pub mod header;
mod ndb;
mod package;
mod sqlite;

use std::fmt;

pub use error::{DbError, EntryError, HeaderError};
pub use header::{Header, IndexEntry};
pub use package::RpmPackage;

/// The three rpmdb storage formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DbFormat {
    /// `rpmdb.sqlite`: table `Packages(hnum, blob)`.
    Sqlite,
    /// `Packages`: Berkeley DB hash database, key = header number.
    BerkeleyDb,
    /// `Packages.db`: rpm's ndb package blob store.
    Ndb,
}

impl fmt::Display for DbFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DbFormat::Sqlite => "sqlite",
            DbFormat::BerkeleyDb => "Berkeley DB",
            DbFormat::Ndb => "ndb",
        })
    }
}

/// Bounds on everything an untrusted database can make the reader do.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Maximum number of records (headers) read from one database.
    pub max_headers: usize,
    /// Maximum size of one header blob, in bytes.
    pub max_header_bytes: usize,
    /// Maximum number of index entries in one header (rpm itself allows 65535).
    pub max_index_entries: usize,
    /// Maximum number of files (and of dirnames) of one package.
    pub max_files: usize,
    /// Maximum total length of one package's file paths, in bytes.
    pub max_file_list_bytes: usize,
    /// Maximum bytes of header blobs copied out of one database in total.
    pub max_total_blob_bytes: u64,
    /// Maximum SQLite virtual-machine steps for reading one sqlite rpmdb.
    pub max_sqlite_steps: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_headers: 200_000,
            max_header_bytes: 64 << 20,
            max_index_entries: 0xffff,
            max_files: 1_000_000,
            max_file_list_bytes: 256 << 20,
            max_total_blob_bytes: 8 << 30,
            max_sqlite_steps: 2_000_000_000,
        }
    }
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Detects the format from the file's magic number.
pub fn detect(bytes: &[u8]) -> Option<DbFormat> {
    if bytes.starts_with(SQLITE_MAGIC) {
        Some(DbFormat::Sqlite)
    } else if ndb::has_magic(bytes) {
        Some(DbFormat::Ndb)
    } else if bdb::has_hash_magic(bytes) {
        Some(DbFormat::BerkeleyDb)
    } else {
        None
    }
}

/// Reads every record of the database and parses it into a package, in
/// ascending record-number order.
pub fn read_packages(
    format: DbFormat,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Vec<Result<RpmPackage, EntryError>>, DbError> {
    collect_packages(limits, |sink| visit(format, bytes, None, limits, sink))
}

/// Like [`read_packages`] for an `rpmdb.sqlite` whose `rpmdb.sqlite-wal`
/// holds committed transactions not yet checkpointed into the main file.
///
/// SQLite can only replay a WAL from real files, so this writes both to a
/// private temporary directory that is removed before returning; the input
/// bytes are never modified.
pub fn read_sqlite_packages_with_wal(
    db: &[u8],
    wal: &[u8],
    limits: &Limits,
) -> Result<Vec<Result<RpmPackage, EntryError>>, DbError> {
    collect_packages(limits, |sink| {
        visit(DbFormat::Sqlite, db, Some(wal), limits, sink)
    })
}

/// One raw record: its number and its header blob.
pub type RawRecord = (u32, Result<Vec<u8>, EntryError>);

/// Reads every record's raw header blob, in ascending record-number order.
pub fn read_blobs(
    format: DbFormat,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Vec<RawRecord>, DbError> {
    read_blobs_inner(format, bytes, None, limits)
}

/// Like [`read_blobs`] for an `rpmdb.sqlite` plus its WAL; see
/// [`read_sqlite_packages_with_wal`].
pub fn read_sqlite_blobs_with_wal(
    db: &[u8],
    wal: &[u8],
    limits: &Limits,
) -> Result<Vec<RawRecord>, DbError> {
    read_blobs_inner(DbFormat::Sqlite, db, Some(wal), limits)
}

fn read_blobs_inner(
    format: DbFormat,
    bytes: &[u8],
    wal: Option<&[u8]>,
    limits: &Limits,
) -> Result<Vec<RawRecord>, DbError> {
    let mut out: Vec<RawRecord> = Vec::new();
    let mut f = |record: u32, blob: Result<&[u8], HeaderError>| {
        let item = blob
            .map(<[u8]>::to_vec)
            .map_err(|error| EntryError { record, error });
        out.push((record, item));
    };
    let mut sink = Sink::new(format, limits, &mut f);
    visit(format, bytes, wal, limits, &mut sink)?;
    out.sort_by_key(|(record, _)| *record);
    Ok(out)
}

fn collect_packages(
    limits: &Limits,
    run: impl FnOnce(&mut Sink<'_>) -> Result<(), DbError>,
) -> Result<Vec<Result<RpmPackage, EntryError>>, DbError> {
    let mut out: Vec<(u32, Result<RpmPackage, EntryError>)> = Vec::new();
    let mut f = |record: u32, blob: Result<&[u8], HeaderError>| {
        let parsed = blob
            .and_then(|b| RpmPackage::from_blob(b, limits))
            .map_err(|error| EntryError { record, error });
        out.push((record, parsed));
    };
    // The format is only used in error messages raised by the sink itself;
    // the backends pass their own.
    let mut sink = Sink::new(DbFormat::Sqlite, limits, &mut f);
    run(&mut sink)?;
    out.sort_by_key(|(record, _)| *record);
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

fn visit(
    format: DbFormat,
    bytes: &[u8],
    wal: Option<&[u8]>,
    limits: &Limits,
    sink: &mut Sink<'_>,
) -> Result<(), DbError> {
    sink.format = format;
    match format {
        DbFormat::Sqlite => sqlite::read(bytes, wal, limits, sink),
        DbFormat::BerkeleyDb => bdb::read(bytes, limits, sink),
        DbFormat::Ndb => ndb::read(bytes, limits, sink),
    }
}

type BlobFn<'f> = dyn FnMut(u32, Result<&[u8], HeaderError>) + 'f;

/// Where backends deliver records; enforces the database-wide limits.
pub(crate) struct Sink<'f> {
    format: DbFormat,
    max_headers: usize,
    max_total: u64,
    count: usize,
    total: u64,
    f: &'f mut BlobFn<'f>,
}

impl<'f> Sink<'f> {
    fn new(format: DbFormat, limits: &Limits, f: &'f mut BlobFn<'f>) -> Self {
        Sink {
            format,
            max_headers: limits.max_headers,
            max_total: limits.max_total_blob_bytes,
            count: 0,
            total: 0,
            f,
        }
    }

    /// Hands one record over. Fails (stopping the read) once a database-wide limit is hit.
    pub(crate) fn record(
        &mut self,
        record: u32,
        blob: Result<&[u8], HeaderError>,
    ) -> Result<(), DbError> {
        self.count += 1;
        if self.count > self.max_headers {
            return Err(DbError::LimitExceeded {
                format: self.format,
                what: "number of headers",
                limit: u64::try_from(self.max_headers).unwrap_or(u64::MAX),
            });
        }
        self.charge(blob.as_ref().map_or(0, |b| b.len()))?;
        (self.f)(record, blob);
        Ok(())
    }

    /// Accounts for bytes copied out of the database (also for blobs later rejected).
    pub(crate) fn charge(&mut self, bytes: usize) -> Result<(), DbError> {
        self.total = self
            .total
            .saturating_add(u64::try_from(bytes).unwrap_or(u64::MAX));
        if self.total > self.max_total {
            return Err(DbError::LimitExceeded {
                format: self.format,
                what: "total bytes of header blobs",
                limit: self.max_total,
            });
        }
        Ok(())
    }
}
