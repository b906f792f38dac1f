//! Hostile input: truncated, corrupted, looping and oversized databases and
//! headers give errors (whole-file or per-record), never a panic, and finish
//! quickly. The corrupted inputs start from the real databases of
//! `common/mod.rs`.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use caisson_rpmdb::{
    detect, read_blobs, read_packages, read_sqlite_packages_with_wal, DbError, DbFormat,
    HeaderError, Limits, RpmPackage,
};
use common::{fixtures, ndb_writer, Rng};
use proptest::prelude::*;

const FORMATS: [DbFormat; 3] = [DbFormat::Sqlite, DbFormat::BerkeleyDb, DbFormat::Ndb];

/// Reads with every entry point; returns how many records parsed cleanly.
fn read_all(format: DbFormat, bytes: &[u8]) -> Option<usize> {
    let limits = Limits::default();
    let start = Instant::now();
    let blobs = read_blobs(format, bytes, &limits);
    let pkgs = read_packages(format, bytes, &limits);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{format} read took {:?}",
        start.elapsed()
    );
    match (blobs, pkgs) {
        (Ok(b), Ok(p)) => {
            assert_eq!(b.len(), p.len());
            Some(p.iter().filter(|r| r.is_ok()).count())
        }
        (Err(_), Err(_)) => None,
        (b, p) => panic!("entry points disagree: {:?} vs {:?}", b.is_ok(), p.is_ok()),
    }
}

fn ndb_from_sqlite(sqlite: &[u8]) -> Vec<u8> {
    let blobs: Vec<(u32, Vec<u8>)> = read_blobs(DbFormat::Sqlite, sqlite, &Limits::default())
        .unwrap()
        .into_iter()
        .map(|(r, b)| (r, b.unwrap()))
        .collect();
    ndb_writer::write(
        &blobs,
        &ndb_writer::Options {
            holes: true,
            min_slot_pages: 1,
        },
    )
}

type RealDbs = Vec<(DbFormat, Vec<u8>)>;

fn real_dbs() -> Option<RealDbs> {
    let fx = fixtures()?;
    let sqlite = fx.sqlite();
    Some(vec![
        (DbFormat::BerkeleyDb, fx.bdb("p512-le")),
        (DbFormat::BerkeleyDb, fx.bdb("p8192-be")),
        (DbFormat::BerkeleyDb, fx.bdb("p1024-chksum")),
        (DbFormat::Ndb, ndb_from_sqlite(&sqlite)),
        (DbFormat::Sqlite, sqlite),
    ])
}

#[test]
fn empty_and_tiny_inputs_are_errors() {
    assert_eq!(detect(&[]), None);
    for format in FORMATS {
        for len in [0usize, 1, 4, 15, 16, 31, 32, 99, 100, 511] {
            let bytes = vec![0u8; len];
            assert!(
                read_packages(format, &bytes, &Limits::default()).is_err(),
                "{format} {len}"
            );
        }
    }
    // Magic only.
    assert!(read_packages(DbFormat::Ndb, b"RpmP", &Limits::default()).is_err());
    assert!(read_packages(DbFormat::Sqlite, b"SQLite format 3\0", &Limits::default()).is_err());
    let mut bdb = vec![0u8; 16];
    bdb[12..16].copy_from_slice(&0x061561u32.to_le_bytes());
    assert_eq!(detect(&bdb), Some(DbFormat::BerkeleyDb));
    assert!(matches!(
        read_packages(DbFormat::BerkeleyDb, &bdb, &Limits::default()),
        Err(DbError::Truncated { .. })
    ));
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for round in 0..300 {
        let len = rng.below(20_000);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Give most rounds a valid magic so the readers get past the first check.
        match round % 4 {
            0 if len >= 16 => bytes[..16].copy_from_slice(b"SQLite format 3\0"),
            1 if len >= 4 => bytes[..4].copy_from_slice(b"RpmP"),
            2 if len >= 28 => {
                bytes[12..16].copy_from_slice(&0x061561u32.to_le_bytes());
                bytes[16..20].copy_from_slice(&9u32.to_le_bytes());
                bytes[20..24].copy_from_slice(&512u32.to_le_bytes());
                bytes[24] = 0;
                bytes[25] = 8;
            }
            _ => {}
        }
        for format in FORMATS {
            read_all(format, &bytes);
        }
        let _ = RpmPackage::from_blob(&bytes, &Limits::default());
    }
}

#[test]
fn truncated_real_databases_are_errors_or_partial() {
    let Some(dbs) = real_dbs() else { return };
    for (format, bytes) in &dbs {
        let full = read_all(*format, bytes).expect("intact database reads");
        assert!(full >= 5, "{format}: {full}");
        let mut cuts: Vec<usize> = vec![0, 1, 16, 100, 511, 512, 4095, 4096, 4097];
        cuts.extend((1..20).map(|i| bytes.len() * i / 20));
        cuts.push(bytes.len() - 1);
        for cut in cuts.into_iter().filter(|c| *c < bytes.len()) {
            if let Some(ok) = read_all(*format, &bytes[..cut]) {
                assert!(ok <= full, "{format} cut at {cut}: {ok} > {full}");
            }
        }
    }
}

#[test]
fn flipped_bytes_in_real_databases_never_panic() {
    let Some(dbs) = real_dbs() else { return };
    let mut rng = Rng(0x0bad_cafe_f00d_0002);
    for (format, bytes) in &dbs {
        let rounds = if *format == DbFormat::Sqlite {
            150
        } else {
            400
        };
        for _ in 0..rounds {
            let mut m = bytes.clone();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(m.len());
                m[at] ^= 1 << rng.below(8);
            }
            read_all(*format, &m);
        }
        // Whole zeroed and 0xff pages.
        for fill in [0u8, 0xff] {
            for start in (0..bytes.len()).step_by(bytes.len() / 10 + 1) {
                let mut m = bytes.clone();
                let end = (start + 512).min(m.len());
                m[start..end].fill(fill);
                read_all(*format, &m);
            }
        }
    }
}

/// Little-endian Berkeley DB helpers for the loop tests.
fn le16(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap()) as usize
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Finds (bucket page number, first overflow page of its first off-page item).
fn first_offpage(bytes: &[u8]) -> (usize, u32) {
    let psize = le32(bytes, 20) as usize;
    for pg in 1..bytes.len() / psize {
        let page = &bytes[pg * psize..(pg + 1) * psize];
        if page[25] != 13 || le16(page, 20) < 2 {
            continue;
        }
        let data_off = le16(page, 26 + 2);
        if page[data_off] == 3 {
            return (pg, le32(page, data_off + 4));
        }
    }
    panic!("no off-page item");
}

#[test]
fn overflow_chain_loop_is_a_record_error() {
    let Some(fx) = fixtures() else { return };
    let mut bytes = fx.bdb("p512-le");
    let psize = 512;
    let (_, ovfl) = first_offpage(&bytes);
    let at = ovfl as usize * psize + 16;
    // next_pgno of the first overflow page points back at itself.
    bytes[at..at + 4].copy_from_slice(&ovfl.to_le_bytes());
    let out = read_packages(DbFormat::BerkeleyDb, &bytes, &Limits::default()).unwrap();
    let errors: Vec<&caisson_rpmdb::EntryError> =
        out.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        matches!(&errors[0].error, HeaderError::Storage(m) if m.contains("overflow")),
        "{:?}",
        errors[0]
    );
    assert_eq!(out.len() - errors.len(), 4);
}

#[test]
fn overflow_chain_to_metadata_page_is_a_record_error() {
    let Some(fx) = fixtures() else { return };
    let mut bytes = fx.bdb("p4096-le");
    let (bucket_pg, _) = first_offpage(&bytes);
    let page = bucket_pg * 4096;
    let data_off = le16(&bytes[page..], 28);
    // Point the off-page item at page 0 (the metadata page) and at a page past EOF.
    for target in [0u32, 1_000_000] {
        let mut m = bytes.clone();
        m[page + data_off + 4..page + data_off + 8].copy_from_slice(&target.to_le_bytes());
        let out = read_packages(DbFormat::BerkeleyDb, &m, &Limits::default()).unwrap();
        assert_eq!(out.iter().filter(|r| r.is_err()).count(), 1);
    }
    // A huge tlen is refused before anything is copied.
    let at = page + data_off + 8;
    bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let out = read_packages(DbFormat::BerkeleyDb, &bytes, &Limits::default()).unwrap();
    let err = out.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert!(
        matches!(err.error, HeaderError::LimitExceeded { .. }),
        "{err:?}"
    );
}

#[test]
fn bucket_page_loop_is_a_database_error() {
    let Some(fx) = fixtures() else { return };
    let mut bytes = fx.bdb("p4096-le");
    let (pg, _) = first_offpage(&bytes);
    let at = pg * 4096 + 16;
    bytes[at..at + 4].copy_from_slice(&(pg as u32).to_le_bytes());
    let err = read_packages(DbFormat::BerkeleyDb, &bytes, &Limits::default()).unwrap_err();
    assert!(matches!(err, DbError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("loop"), "{err}");
}

#[test]
fn bdb_with_absurd_max_bucket_is_rejected_quickly() {
    let Some(fx) = fixtures() else { return };
    let mut bytes = fx.bdb("p4096-le");
    bytes[72..76].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = read_packages(DbFormat::BerkeleyDb, &bytes, &Limits::default()).unwrap_err();
    assert!(matches!(err, DbError::Corrupt { .. }), "{err}");
}

fn real_blob() -> Option<Vec<u8>> {
    let fx = fixtures()?;
    let blobs = read_blobs(DbFormat::Sqlite, &fx.sqlite(), &Limits::default()).unwrap();
    Some(blobs.into_iter().next().unwrap().1.unwrap())
}

fn set_be32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[test]
fn header_with_huge_counts_is_a_record_error() {
    let Some(blob) = real_blob() else { return };
    let limits = Limits::default();
    assert!(RpmPackage::from_blob(&blob, &limits).is_ok());
    let il = u32::from_be_bytes(blob[0..4].try_into().unwrap()) as usize;

    let mut m = blob.clone();
    set_be32(&mut m, 0, u32::MAX);
    assert!(matches!(
        RpmPackage::from_blob(&m, &limits),
        Err(HeaderError::LimitExceeded { .. })
    ));
    let mut m = blob.clone();
    set_be32(&mut m, 4, u32::MAX);
    assert!(matches!(
        RpmPackage::from_blob(&m, &limits),
        Err(HeaderError::LimitExceeded { .. })
    ));
    let mut m = blob.clone();
    set_be32(&mut m, 0, 0xffff);
    assert!(matches!(
        RpmPackage::from_blob(&m, &limits),
        Err(HeaderError::TooShort { .. })
    ));
    // Every index entry in turn gets a huge count, then a huge offset.
    for i in 0..il {
        let tag = u32::from_be_bytes(blob[8 + 16 * i..12 + 16 * i].try_into().unwrap());
        for (field, value) in [(12, u32::MAX), (8, u32::MAX), (8, 0x7fff_fff0), (4, 77)] {
            let mut m = blob.clone();
            set_be32(&mut m, 8 + 16 * i + field, value);
            let r = RpmPackage::from_blob(&m, &limits);
            if !(61..=64).contains(&tag) {
                assert!(r.is_err(), "tag {tag} field {field} = {value:#x} accepted");
            }
        }
    }
    // Trailing bytes and a short blob.
    let mut m = blob.clone();
    m.push(0);
    assert!(matches!(
        RpmPackage::from_blob(&m, &limits),
        Err(HeaderError::TrailingBytes { .. })
    ));
    assert!(RpmPackage::from_blob(&blob[..blob.len() - 1], &limits).is_err());
}

#[test]
fn header_errors_surface_per_record() {
    let Some(fx) = fixtures() else { return };
    let limits = Limits::default();
    let mut blobs: Vec<(u32, Vec<u8>)> = read_blobs(DbFormat::Sqlite, &fx.sqlite(), &limits)
        .unwrap()
        .into_iter()
        .map(|(r, b)| (r, b.unwrap()))
        .collect();
    set_be32(&mut blobs[1].1, 0, u32::MAX);
    let bad_record = blobs[1].0;
    let bytes = ndb_writer::write(
        &blobs,
        &ndb_writer::Options {
            holes: false,
            min_slot_pages: 1,
        },
    );
    let out = read_packages(DbFormat::Ndb, &bytes, &limits).unwrap();
    assert_eq!(out.len(), blobs.len());
    let errs: Vec<_> = out.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].record, bad_record);
    assert!(errs[0].to_string().contains(&bad_record.to_string()));
}

#[test]
fn dirindex_out_of_range_is_a_file_list_error() {
    let Some(blob) = real_blob() else { return };
    let limits = Limits::default();
    let header = caisson_rpmdb::Header::parse(&blob, &limits).unwrap();
    let e = header
        .entry(caisson_rpmdb::header::tag::DIRINDEXES)
        .unwrap();
    let il = header.entries().len();
    let at = 8 + 16 * il + e.offset as usize;
    let mut m = blob.clone();
    set_be32(&mut m, at, 0x00ff_ffff);
    assert!(matches!(
        RpmPackage::from_blob(&m, &limits),
        Err(HeaderError::BadFileList(_))
    ));
}

#[test]
fn limits_are_enforced() {
    let Some(fx) = fixtures() else { return };
    let sqlite = fx.sqlite();
    let bdb = fx.bdb("p512-le");
    let ndb = ndb_from_sqlite(&sqlite);
    for (format, bytes) in [
        (DbFormat::Sqlite, &sqlite),
        (DbFormat::BerkeleyDb, &bdb),
        (DbFormat::Ndb, &ndb),
    ] {
        let few = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        assert!(
            matches!(
                read_packages(format, bytes, &few),
                Err(DbError::LimitExceeded { .. })
            ),
            "{format} max_headers"
        );
        let small = Limits {
            max_header_bytes: 4096,
            ..Limits::default()
        };
        let out = read_packages(format, bytes, &small).unwrap();
        let too_big = out
            .iter()
            .filter(|r| matches!(r, Err(e) if matches!(e.error, HeaderError::LimitExceeded { .. })))
            .count();
        assert!(too_big >= 1, "{format} max_header_bytes");
        let total = Limits {
            max_total_blob_bytes: 10_000,
            ..Limits::default()
        };
        assert!(
            matches!(
                read_packages(format, bytes, &total),
                Err(DbError::LimitExceeded { .. })
            ),
            "{format} max_total_blob_bytes"
        );
        let files = Limits {
            max_files: 10,
            ..Limits::default()
        };
        let out = read_packages(format, bytes, &files).unwrap();
        assert!(out.iter().any(Result::is_err), "{format} max_files");
    }
}

#[test]
fn sqlite_without_packages_table_or_with_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.sqlite");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE Other(x); CREATE VIEW Packages AS SELECT 1 AS hnum, x'00' AS blob;",
        )
        .unwrap();
    }
    let bytes = fs_err::read(&path).unwrap();
    let err = read_packages(DbFormat::Sqlite, &bytes, &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("Packages"), "{err}");

    let path = dir.path().join("y.sqlite");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE Packages(hnum INTEGER PRIMARY KEY, blob);
             INSERT INTO Packages VALUES (1, 'text, not a blob'), (2, 42), (3, x'0000');",
        )
        .unwrap();
    }
    let bytes = fs_err::read(&path).unwrap();
    let out = read_packages(DbFormat::Sqlite, &bytes, &Limits::default()).unwrap();
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(Result::is_err));
}

#[test]
fn sqlite_step_limit_bounds_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.sqlite");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE Packages(hnum INTEGER PRIMARY KEY, blob BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)
             INSERT INTO Packages SELECT i, x'00000000' FROM n;",
        )
        .unwrap();
    }
    let bytes = fs_err::read(&path).unwrap();
    let tight = Limits {
        max_sqlite_steps: 100_000,
        ..Limits::default()
    };
    let err = read_packages(DbFormat::Sqlite, &bytes, &tight).unwrap_err();
    assert!(err.to_string().contains("SQLite steps"), "{err}");
    let out = read_packages(DbFormat::Sqlite, &bytes, &Limits::default()).unwrap();
    assert_eq!(out.len(), 50_000);
}

#[test]
fn sqlite_with_garbage_wal_is_not_a_panic() {
    let Some(fx) = fixtures() else { return };
    let db = fx.wal_db();
    let mut wal = fx.wal_log();
    let mut rng = Rng(7);
    for _ in 0..20 {
        let at = rng.below(wal.len());
        wal[at] ^= 0x55;
        let _ = read_sqlite_packages_with_wal(&db, &wal, &Limits::default());
    }
    let _ = read_sqlite_packages_with_wal(&db, b"not a wal", &Limits::default());
}

fn mutated(bytes: &[u8], edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    let mut m = bytes.to_vec();
    for (at, v) in edits {
        let i = at % m.len();
        m[i] = *v;
    }
    if let Some(c) = cut {
        m.truncate(c % (m.len() + 1));
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn proptest_mutated_real_databases(
        which in 0usize..5,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..24),
        cut in proptest::option::weighted(0.2, any::<usize>()),
    ) {
        static DBS: std::sync::OnceLock<Option<RealDbs>> = std::sync::OnceLock::new();
        let Some(dbs) = DBS.get_or_init(real_dbs) else { return Ok(()) };
        let (format, bytes) = &dbs[which % dbs.len()];
        let m = mutated(bytes, &edits, cut);
        read_all(*format, &m);
    }

    #[test]
    fn proptest_arbitrary_header_blobs(blob in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = RpmPackage::from_blob(&blob, &Limits::default());
    }

    #[test]
    fn proptest_mutated_real_header(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16),
    ) {
        static BLOB: std::sync::OnceLock<Option<Vec<u8>>> = std::sync::OnceLock::new();
        let Some(blob) = BLOB.get_or_init(real_blob) else { return Ok(()) };
        // Edits concentrated in the preamble and index, where the counts live.
        let il = u32::from_be_bytes(blob[0..4].try_into().unwrap()) as usize;
        let index_len = 8 + 16 * il;
        let mut m = blob.clone();
        for (at, v) in &edits {
            let i = if at % 2 == 0 { at % index_len } else { at % m.len() };
            m[i] = *v;
        }
        let _ = RpmPackage::from_blob(&m, &Limits::default());
    }
}
