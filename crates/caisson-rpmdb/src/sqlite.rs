//! The sqlite backend (`rpmdb.sqlite`): `SELECT hnum, blob FROM Packages`.
//!
//! Without a WAL the bytes are deserialized into an in-memory, read-only
//! SQLite database (no file is written). rpm keeps the database in WAL mode,
//! which an in-memory database cannot open, so the private copy's header is
//! switched to rollback-journal mode (bytes 18 and 19 set to 1); nothing else
//! changes. With WAL bytes, both files are written to a private temporary
//! directory so SQLite itself replays the log, and the directory is removed
//! afterwards.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};

use crate::error::{DbError, HeaderError};
use crate::{DbFormat, Limits, Sink};

const HEADER_LEN: usize = 100;
/// Offsets of the file-format read/write version bytes (2 = WAL).
const WRITE_VERSION: usize = 18;
/// Progress handler granularity, in VM instructions.
const STEPS_PER_CALL: i32 = 10_000;

fn sql_err(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> DbError {
    move |source| DbError::Sqlite { operation, source }
}

fn corrupt(reason: impl Into<String>) -> DbError {
    DbError::Corrupt {
        format: DbFormat::Sqlite,
        reason: reason.into(),
    }
}

pub(crate) fn read(
    bytes: &[u8],
    wal: Option<&[u8]>,
    limits: &Limits,
    sink: &mut Sink<'_>,
) -> Result<(), DbError> {
    if !bytes.starts_with(crate::SQLITE_MAGIC) {
        return Err(corrupt("missing \"SQLite format 3\" magic"));
    }
    if bytes.len() < HEADER_LEN {
        return Err(DbError::Truncated {
            format: DbFormat::Sqlite,
            reason: format!("{} bytes, shorter than the 100-byte header", bytes.len()),
        });
    }
    match wal {
        Some(wal) if !wal.is_empty() => {
            let dir = tempfile::tempdir().map_err(|source| DbError::TempCopy { source })?;
            let db_path = dir.path().join("rpmdb.sqlite");
            fs_err::write(&db_path, bytes).map_err(|source| DbError::TempCopy { source })?;
            fs_err::write(dir.path().join("rpmdb.sqlite-wal"), wal)
                .map_err(|source| DbError::TempCopy { source })?;
            // Read-write only because SQLite must create the -shm index next to
            // the private copy; the queries below are read-only (query_only).
            let conn = Connection::open_with_flags(
                &db_path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(sql_err("opening the private copy"))?;
            let result = query(conn, limits, sink);
            drop(dir);
            result
        }
        _ => {
            let mut conn = Connection::open_in_memory_with_flags(
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(sql_err("creating an in-memory connection"))?;
            let (head, tail) = bytes
                .split_at_checked(WRITE_VERSION)
                .unwrap_or((bytes, &[]));
            let tail = tail.get(2..).unwrap_or_default();
            // Rollback-journal mode for the in-memory copy (see module docs).
            let reader = head.chain(&[1u8, 1u8][..]).chain(tail);
            conn.deserialize_read_exact(rusqlite::MAIN_DB, reader, bytes.len(), true)
                .map_err(sql_err("loading the database image"))?;
            query(conn, limits, sink)
        }
    }
}

fn query(conn: Connection, limits: &Limits, sink: &mut Sink<'_>) -> Result<(), DbError> {
    let max_calls = limits.max_sqlite_steps / u64::try_from(STEPS_PER_CALL).unwrap_or(1);
    let calls = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&calls);
    conn.progress_handler(
        STEPS_PER_CALL,
        Some(move || counter.fetch_add(1, Ordering::Relaxed) >= max_calls),
    );
    let max_len = i32::try_from(limits.max_header_bytes.saturating_add(1)).unwrap_or(i32::MAX);
    conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_LENGTH, max_len)
        .map_err(sql_err("setting the length limit"))?;
    conn.execute_batch("PRAGMA query_only = ON; PRAGMA trusted_schema = OFF;")
        .map_err(sql_err("setting read-only pragmas"))?;

    let kind: Option<String> = conn
        .query_row(
            "SELECT type FROM sqlite_master WHERE name = 'Packages'",
            [],
            |row| row.get(0),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            other => Err(other),
        })
        .map_err(sql_err("reading the schema"))?;
    if kind.as_deref() != Some("table") {
        return Err(corrupt("no table named Packages"));
    }

    // length() and typeof() do not load the value, so an oversized blob is
    // reported without being read into memory.
    let mut stmt = conn
        .prepare(
            "SELECT hnum, typeof(blob), length(blob), \
             CASE WHEN typeof(blob) = 'blob' AND length(blob) <= ?1 THEN blob END \
             FROM Packages ORDER BY hnum",
        )
        .map_err(sql_err("preparing SELECT hnum, blob FROM Packages"))?;
    let max_blob = i64::try_from(limits.max_header_bytes).unwrap_or(i64::MAX);
    let mut rows = stmt
        .query([max_blob])
        .map_err(sql_err("running SELECT hnum, blob FROM Packages"))?;
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => {
                if calls.load(Ordering::Relaxed) >= max_calls {
                    return Err(DbError::LimitExceeded {
                        format: DbFormat::Sqlite,
                        what: "SQLite steps",
                        limit: limits.max_sqlite_steps,
                    });
                }
                return Err(sql_err("reading Packages rows")(e));
            }
        };
        let hnum = row
            .get_ref(0)
            .map_err(sql_err("reading column hnum"))?
            .as_i64_or_null()
            .ok()
            .flatten();
        let Some(record) = hnum.and_then(|h| u32::try_from(h).ok()) else {
            sink.record(
                0,
                Err(HeaderError::Storage(format!(
                    "hnum {hnum:?} is not a 32-bit record number"
                ))),
            )?;
            continue;
        };
        let ty: String = row.get(1).map_err(sql_err("reading typeof(blob)"))?;
        let len: i64 = row.get(2).map_err(sql_err("reading length(blob)"))?;
        let blob = row.get_ref(3).map_err(sql_err("reading column blob"))?;
        match blob.as_blob_or_null() {
            Ok(Some(b)) => sink.record(record, Ok(b))?,
            _ if ty != "blob" => sink.record(
                record,
                Err(HeaderError::Storage(format!(
                    "column blob has type {ty}, not blob"
                ))),
            )?,
            _ => sink.record(
                record,
                Err(HeaderError::limit(
                    "header size",
                    len,
                    limits.max_header_bytes,
                )),
            )?,
        }
    }
    Ok(())
}
