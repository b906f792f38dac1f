//! Differential tests: this crate's reading of real databases against rpm's
//! own queries of the same databases. See `common/mod.rs` for how the
//! databases and the oracle outputs are made.

#![allow(clippy::unwrap_used)]

mod common;

use caisson_rpmdb::{detect, read_blobs, read_packages, DbFormat, Limits, RpmPackage};
use common::{fixtures, ndb_writer, OraclePkg, BDB_VARIANTS, MODULARITY_LABEL};

fn ours(format: DbFormat, bytes: &[u8]) -> Vec<OraclePkg> {
    let limits = Limits::default();
    read_blobs(format, bytes, &limits)
        .unwrap()
        .into_iter()
        .map(|(record, blob)| {
            let blob = blob.unwrap_or_else(|e| panic!("record {record}: {e:?}"));
            let pkg = RpmPackage::from_blob(&blob, &limits)
                .unwrap_or_else(|e| panic!("record {record}: {e:?}"));
            OraclePkg::from_ours(record, &pkg)
        })
        .collect()
}

fn assert_same(ours: &[OraclePkg], oracle: &[OraclePkg]) {
    assert_eq!(
        ours.iter().map(|p| (p.record, &p.name)).collect::<Vec<_>>(),
        oracle
            .iter()
            .map(|p| (p.record, &p.name))
            .collect::<Vec<_>>(),
        "records differ"
    );
    for (a, b) in ours.iter().zip(oracle) {
        assert_eq!(a, b, "package {} differs from rpm's query", b.name);
    }
}

#[test]
fn sqlite_matches_rpm_query() {
    let Some(fx) = fixtures() else { return };
    let bytes = fx.sqlite();
    assert_eq!(detect(&bytes), Some(DbFormat::Sqlite));
    let oracle = fx.sqlite_oracle();
    assert_eq!(oracle.len(), 5, "fixture should hold 5 packages");
    assert_same(&ours(DbFormat::Sqlite, &bytes), &oracle);

    // read_packages gives the same, in record order.
    let pkgs: Vec<RpmPackage> = read_packages(DbFormat::Sqlite, &bytes, &Limits::default())
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let names: Vec<&str> = pkgs.iter().map(|p| p.name.as_str()).collect();
    let oracle_names: Vec<&str> = oracle.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, oracle_names);
}

#[test]
fn sqlite_fixture_covers_the_interesting_fields() {
    // Guards the fixture itself: the differential test above only means
    // something if the oracle shows these properties.
    let Some(fx) = fixtures() else { return };
    let oracle = fx.sqlite_oracle();
    let get = |n: &str| oracle.iter().find(|p| p.name == n).unwrap();
    let alpha = get("caisson-alpha");
    assert_eq!(alpha.epoch, Some(3));
    assert!(alpha.vendor.is_some() && alpha.packager.is_some());
    assert_eq!(get("caisson-delta").epoch, Some(0));
    assert_eq!(get("caisson-beta").epoch, None);
    assert_eq!(get("caisson-beta").arch.as_deref(), Some("noarch"));
    assert_eq!(
        get("caisson-beta-data").source_rpm.as_deref(),
        Some("caisson-beta-0.9-1.src.rpm")
    );
    assert_eq!(
        get("caisson-beta").modularity_label.as_deref(),
        Some(MODULARITY_LABEL)
    );
    assert!(get("caisson-delta").files.is_empty());
    let gamma = get("caisson-gamma");
    assert!(gamma.files.len() > 480, "{}", gamma.files.len());
    assert!(gamma.files.iter().any(|f| f.contains("naïve ünïcode")));
    let dirs: std::collections::BTreeSet<_> = alpha
        .files
        .iter()
        .filter_map(|f| f.rsplit_once('/').map(|(d, _)| d))
        .collect();
    assert!(dirs.len() >= 3, "{dirs:?}");
}

#[test]
fn sqlite_files_match_rpm_ql() {
    let Some(fx) = fixtures() else { return };
    let ql = fx.sqlite_ql();
    assert!(ql.len() >= 5);
    let pkgs = ours(DbFormat::Sqlite, &fx.sqlite());
    for (name, files) in ql {
        let p = pkgs.iter().find(|p| p.name == name).unwrap();
        assert_eq!(&p.files, &files, "rpm -ql {name}");
    }
}

#[test]
fn sqlite_wal_is_replayed() {
    let Some(fx) = fixtures() else { return };
    let limits = Limits::default();
    let db = fx.wal_db();
    let wal = fx.wal_log();
    let oracle = fx.wal_oracle();
    assert_eq!(oracle.len(), 4, "the WAL deletes caisson-alpha");
    let with_wal: Vec<OraclePkg> = caisson_rpmdb::read_sqlite_blobs_with_wal(&db, &wal, &limits)
        .unwrap()
        .into_iter()
        .map(|(r, b)| {
            OraclePkg::from_ours(r, &RpmPackage::from_blob(&b.unwrap(), &limits).unwrap())
        })
        .collect();
    assert_same(&with_wal, &oracle);
    let pkgs = caisson_rpmdb::read_sqlite_packages_with_wal(&db, &wal, &limits).unwrap();
    assert_eq!(pkgs.len(), 4);
    // Without the WAL the main file still holds all five.
    assert_eq!(ours(DbFormat::Sqlite, &db).len(), 5);
}

#[test]
fn bdb_variants_match_rpm_bdb_ro_query() {
    let Some(fx) = fixtures() else { return };
    for (variant, _) in BDB_VARIANTS {
        let bytes = fx.bdb(variant);
        assert_eq!(detect(&bytes), Some(DbFormat::BerkeleyDb), "{variant}");
        // rpm's bdb_ro backend cannot read page-checksummed files (it lists
        // nothing); the blobs there are the sqlite ones, so its query stands in.
        let oracle = if *variant == "p1024-chksum" {
            assert!(
                fx.bdb_oracle(variant).is_empty(),
                "bdb_ro now reads checksummed pages"
            );
            fx.sqlite_oracle()
        } else {
            fx.bdb_oracle(variant)
        };
        assert!(
            oracle.len() >= 5,
            "{variant}: rpm read {} packages",
            oracle.len()
        );
        assert_same(&ours(DbFormat::BerkeleyDb, &bytes), &oracle);
    }
}

#[test]
fn bdb_blobs_equal_sqlite_blobs() {
    let Some(fx) = fixtures() else { return };
    let limits = Limits::default();
    let sqlite = read_blobs(DbFormat::Sqlite, &fx.sqlite(), &limits).unwrap();
    for variant in [
        "p4096-le",
        "p512-le",
        "p65536-le",
        "p8192-be",
        "p1024-chksum",
    ] {
        let bdb = read_blobs(DbFormat::BerkeleyDb, &fx.bdb(variant), &limits).unwrap();
        assert_eq!(bdb.len(), sqlite.len(), "{variant}");
        for ((ra, a), (rb, b)) in bdb.iter().zip(&sqlite) {
            assert_eq!(ra, rb, "{variant}");
            assert_eq!(
                a.as_ref().unwrap(),
                b.as_ref().unwrap(),
                "{variant} record {ra}"
            );
        }
    }
}

#[test]
fn bdb_fixture_uses_overflow_chains_and_splits() {
    let Some(fx) = fixtures() else { return };
    // The largest header spans many 512-byte overflow pages and more than one
    // 64 KiB page: check the fixture really exercises long chains.
    let sqlite = read_blobs(DbFormat::Sqlite, &fx.sqlite(), &Limits::default()).unwrap();
    let largest = sqlite
        .iter()
        .map(|(_, b)| b.as_ref().unwrap().len())
        .max()
        .unwrap();
    assert!(largest > 3 * 65536, "largest header is {largest} bytes");
    // Bucket splits: 5 packages × 120 keys, every 7th deleted.
    let many = fx.bdb_oracle("p1024-many");
    let expected = (0..5 * 120).filter(|n| n % 7 != 0).count();
    assert_eq!(many.len(), expected);
    let meta = fx.bdb("p1024-many");
    let max_bucket = u32::from_le_bytes(meta[72..76].try_into().unwrap());
    // A new hash database starts with max_bucket 1.
    assert!(max_bucket > 8, "max_bucket {max_bucket}: no bucket splits");
}

#[test]
fn debian_rpm_has_no_ndb_backend() {
    // Documents why the ndb test uses an independent writer (README).
    let Some(_) = fixtures() else { return };
    let out = std::process::Command::new("rpm")
        .arg("--showrc")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("available backends"))
        .expect("rpm --showrc lists its backends");
    assert!(
        !line.contains("ndb"),
        "rpm now has ndb: {line}; use it as the oracle"
    );
}

#[test]
fn ndb_from_real_blobs_matches_rpm_query() {
    let Some(fx) = fixtures() else { return };
    let limits = Limits::default();
    let blobs: Vec<(u32, Vec<u8>)> = read_blobs(DbFormat::Sqlite, &fx.sqlite(), &limits)
        .unwrap()
        .into_iter()
        .map(|(r, b)| (r, b.unwrap()))
        .collect();
    let oracle = fx.sqlite_oracle();
    for (holes, pages) in [(false, 1), (true, 1), (true, 3)] {
        let opts = ndb_writer::Options {
            holes,
            min_slot_pages: pages,
        };
        let bytes = ndb_writer::write(&blobs, &opts);
        assert_eq!(detect(&bytes), Some(DbFormat::Ndb));
        assert_same(&ours(DbFormat::Ndb, &bytes), &oracle);
        let back = read_blobs(DbFormat::Ndb, &bytes, &limits).unwrap();
        for ((ra, a), (rb, b)) in back.iter().zip(&blobs) {
            assert_eq!((ra, a.as_ref().unwrap()), (rb, b));
        }
    }
}

#[test]
fn ndb_many_packages_need_several_slot_pages() {
    let Some(fx) = fixtures() else { return };
    let limits = Limits::default();
    let sqlite = read_blobs(DbFormat::Sqlite, &fx.sqlite(), &limits).unwrap();
    let small = sqlite
        .iter()
        .map(|(_, b)| b.as_ref().unwrap())
        .min_by_key(|b| b.len())
        .unwrap();
    // 600 records need 3 slot pages (254 + 256 + 256 slots).
    let blobs: Vec<(u32, Vec<u8>)> = (1..=600).map(|i| (i, small.clone())).collect();
    let bytes = ndb_writer::write(
        &blobs,
        &ndb_writer::Options {
            holes: false,
            min_slot_pages: 1,
        },
    );
    assert_eq!(u32::from_le_bytes(bytes[12..16].try_into().unwrap()), 3);
    let pkgs = read_packages(DbFormat::Ndb, &bytes, &limits).unwrap();
    assert_eq!(pkgs.len(), 600);
    assert!(pkgs.iter().all(Result::is_ok));
}

#[test]
fn ndb_format_constants_match_rpm_source() {
    // Hand-checked against rpm's lib/backend/ndb/rpmpkg.c:
    //   PKGDB_MAGIC ('R' | 'p' << 8 | 'm' << 16 | 'P' << 24), read with le2h
    //   SLOT_MAGIC  ('S' | 'l' << 8 | 'o' << 16 | 't' << 24)
    //   BLOBHEAD_MAGIC ('B' | 'l' << 8 | 'b' << 16 | 'S' << 24)
    //   BLOBTAIL_MAGIC ('B' | 'l' << 8 | 'b' << 16 | 'E' << 24)
    //   PKGDB_HEADER_SIZE 32, SLOT_SIZE 16, BLK_SIZE 16, PAGE_SIZE 4096,
    //   BLOBHEAD_SIZE 16, BLOBTAIL_SIZE 12, ADLER32_INIT 1.
    let le = |c: [u8; 4]| {
        u32::from(c[0]) | u32::from(c[1]) << 8 | u32::from(c[2]) << 16 | u32::from(c[3]) << 24
    };
    assert_eq!(le(*b"RpmP").to_le_bytes(), *b"RpmP");
    assert_eq!(le(*b"Slot").to_le_bytes(), *b"Slot");
    assert_eq!(le(*b"BlbS").to_le_bytes(), *b"BlbS");
    assert_eq!(le(*b"BlbE").to_le_bytes(), *b"BlbE");
    // A blob of n bytes takes ceil((16 + n + 12) / 16) blocks: 8 bytes -> 3 blocks.
    let blobs = vec![(7u32, vec![0, 0, 0, 0, 0, 0, 0, 0])];
    let bytes = ndb_writer::write(
        &blobs,
        &ndb_writer::Options {
            holes: false,
            min_slot_pages: 1,
        },
    );
    assert_eq!(bytes.len(), 4096 + 48);
    // The first slot is at byte 32 (slot 2), pointing at block 256.
    assert_eq!(&bytes[32..36], b"Slot");
    assert_eq!(u32::from_le_bytes(bytes[40..44].try_into().unwrap()), 256);
    // An empty header blob (il = dl = 0) is a valid record with no name.
    let r = read_packages(DbFormat::Ndb, &bytes, &Limits::default()).unwrap();
    assert_eq!(r.len(), 1);
    let err = r.into_iter().next().unwrap().unwrap_err();
    assert_eq!(err.record, 7);
    assert!(matches!(
        err.error,
        caisson_rpmdb::HeaderError::MissingTag { .. }
    ));
}
