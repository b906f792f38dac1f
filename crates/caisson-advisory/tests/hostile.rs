#![allow(clippy::unwrap_used)]
//! Hostile inputs: zip bombs, many tiny entries, malformed records, huge
//! `affected` lists, corrupt entries. Each gives a bounded result, never a
//! panic.

mod support;

use std::io::Write;

use caisson_advisory::import::{self, import_bytes};
use caisson_advisory::{Database, Format, ImportError, Limits};
use caisson_model::AdvisorySource;
use zip::write::SimpleFileOptions;

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn record(id: &str, pkg: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "id": id, "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "PyPI", "name": pkg},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]}]
    }))
    .unwrap()
}

#[test]
fn zip_bomb_entry_is_bounded() {
    // 256 MiB of zeros deflates to ~250 KiB.
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    w.start_file("BOMB-1.json", opts).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        w.write_all(&zeros).unwrap();
    }
    w.start_file("OK-1.json", opts).unwrap();
    w.write_all(&record("OK-1", "requests")).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    assert!(bytes.len() < 2 << 20);

    let limits = Limits {
        max_entry_bytes: 1 << 20,
        ..Limits::default()
    };
    let t = std::time::Instant::now();
    let out = import::osv_zip(&bytes, &limits).unwrap();
    assert!(t.elapsed().as_secs() < 10);
    assert_eq!(out.advisories.len(), 1);
    assert_eq!(out.stats.warning_count, 1);
    assert!(
        out.stats.warnings[0].starts_with("BOMB-1.json"),
        "{:?}",
        out.stats.warnings
    );

    // The same bomb against the total budget is an error for the archive.
    let limits = Limits {
        max_entry_bytes: 512 << 20,
        max_total_bytes: 8 << 20,
        ..Limits::default()
    };
    let err = import::osv_zip(&bytes, &limits).unwrap_err();
    assert!(matches!(err, ImportError::Limit { .. }), "{err}");
}

#[test]
fn lying_sizes_are_not_trusted() {
    // An entry whose header claims a small size but inflates to more: patch
    // the uncompressed size fields (local header and central directory).
    let big = vec![b' '; 4 << 20];
    let mut bytes = zip_of(&[("LIE-1.json", &big)]);
    let real = (4u32 << 20).to_le_bytes();
    let fake = 100u32.to_le_bytes();
    let mut i = 0;
    while i + 4 <= bytes.len() {
        if bytes[i..i + 4] == real {
            bytes[i..i + 4].copy_from_slice(&fake);
        }
        i += 1;
    }
    let limits = Limits {
        max_entry_bytes: 1 << 20,
        ..Limits::default()
    };
    let out = import::osv_zip(&bytes, &limits).unwrap();
    assert!(out.advisories.is_empty());
    assert_eq!(out.stats.warning_count, 1, "{:?}", out.stats.warnings);
}

#[test]
fn thousands_of_tiny_entries() {
    let recs: Vec<(String, Vec<u8>)> = (0..5000)
        .map(|i| {
            (
                format!("T-{i}.json"),
                record(&format!("T-{i}"), &format!("pkg{}", i % 50)),
            )
        })
        .collect();
    let entries: Vec<(&str, &[u8])> = recs
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let bytes = zip_of(&entries);
    let out = import::osv_zip(&bytes, &Limits::default()).unwrap();
    assert_eq!(out.advisories.len(), 5000);
    let limits = Limits {
        max_entries: 1000,
        ..Limits::default()
    };
    assert!(matches!(
        import::osv_zip(&bytes, &limits),
        Err(ImportError::Limit { .. })
    ));

    // And through the database.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("tiny.zip");
    fs_err::write(&file, &bytes).unwrap();
    let dir = tmp.path().join("db");
    support::import(&dir, &[file]);
    let db = Database::open(&dir).unwrap();
    assert_eq!(db.advisories("PyPI", "pkg7").unwrap().len(), 100);
}

#[test]
fn malformed_entries_are_warnings() {
    let good = record("GOOD-1", "flask");
    let entries: Vec<(&str, &[u8])> = vec![
        ("BAD-1.json", b"{not json"),
        ("BAD-2.json", b"{\"id\": 5}"),
        ("BAD-3.json", b"[]"),
        ("NOID-1.json", b"{\"id\": \"\", \"affected\": []}"),
        ("GOOD-1.json", &good),
        ("README.txt", b"hello"),
        ("dir/", b""),
    ];
    let out = import::osv_zip(&zip_of(&entries), &Limits::default()).unwrap();
    assert_eq!(out.advisories.len(), 1);
    assert_eq!(out.advisories[0].id, "GOOD-1");
    assert_eq!(out.stats.warning_count, 4, "{:?}", out.stats.warnings);
    assert!(out.stats.skipped >= 1);
}

#[test]
fn corrupt_entry_data_is_a_warning_corrupt_archive_an_error() {
    let a = record("A-1", "a");
    let b = record("B-1", "b");
    let mut bytes = zip_of(&[("A-1.json", &a), ("B-1.json", &b)]);
    // Flip bytes inside the first entry's compressed data (after its 30-byte
    // local header and 8-byte name): CRC or inflate error.
    for x in bytes.iter_mut().skip(30 + 8 + 5).take(6) {
        *x ^= 0x5a;
    }
    let out = import::osv_zip(&bytes, &Limits::default()).unwrap();
    assert_eq!(
        out.advisories
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        vec!["B-1"]
    );
    assert_eq!(out.stats.warning_count, 1, "{:?}", out.stats.warnings);

    assert!(matches!(
        import::osv_zip(b"PK\x03\x04garbage", &Limits::default()),
        Err(ImportError::Zip { .. })
    ));
    assert!(matches!(
        import::osv_zip(b"", &Limits::default()),
        Err(ImportError::Zip { .. })
    ));
}

#[test]
fn huge_affected_lists() {
    let affected: Vec<serde_json::Value> = (0..50_000)
        .map(|i| serde_json::json!({"package": {"ecosystem": "npm", "name": format!("p{i}")},
                                    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}))
        .collect();
    let rec =
        serde_json::to_vec(&serde_json::json!({"id": "HUGE-1", "affected": affected})).unwrap();
    let limits = Limits {
        max_affected: 10_000,
        ..Limits::default()
    };
    let out = import_bytes(Format::OsvJson, &rec, &limits).unwrap();
    assert_eq!(out.advisories[0].affected.len(), 10_000);
    assert_eq!(out.stats.warning_count, 1);

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("huge.json");
    fs_err::write(&file, &rec).unwrap();
    let dir = tmp.path().join("db");
    support::import(&dir, &[file]);
    let db = Database::open(&dir).unwrap();
    assert_eq!(db.advisories("npm", "p49999").unwrap().len(), 1);
    assert!(db.advisories("npm", "p50000").unwrap().is_empty());
}

#[test]
fn hostile_json_feeds() {
    let l = Limits::default();
    // Wrong shapes are errors or warnings, never panics.
    for bytes in [
        &b"[]"[..],
        b"{}",
        b"null",
        b"{\"distroversion\": 3}",
        b"{\"distroversion\": \"v3.1\", \"packages\": 7}",
    ] {
        let _ = import::alpine_secdb(bytes, &l);
        let _ = import::debian_tracker(bytes, &l);
        let _ = import::csaf_vex(bytes, &l);
        let _ = import::osv_json(bytes, &l);
    }
    let alpine = br#"{"distroversion":"v3.9","packages":[{"pkg":{"name":"x","secfixes":{"1-r0":[5, "", "CVE-2020-1234"],"2-r0":"no"}}},{"nopkg":1},{"pkg":{"secfixes":{}}}]}"#;
    let out = import::alpine_secdb(alpine, &l).unwrap();
    assert_eq!(out.advisories.len(), 1);
    assert_eq!(out.stats.warning_count, 5, "{:?}", out.stats.warnings);
    let deb = br#"{"p":{"CVE-1":{"releases":{"bookworm":{"status":"weird"},"bullseye":{"status":"resolved"}}},"CVE-2":{"releases":5}}}"#;
    let out = import::debian_tracker(deb, &l).unwrap();
    assert!(out.advisories.is_empty());
    assert_eq!(out.stats.warning_count, 3, "{:?}", out.stats.warnings);
    // Deeply nested CSAF branches.
    let mut branch = serde_json::json!({"name": "leaf"});
    for _ in 0..40 {
        branch = serde_json::json!({"branches": [branch]});
    }
    let doc = serde_json::json!({"document": {"category": "csaf_vex"}, "product_tree": {"branches": [branch]},
                                 "vulnerabilities": [{"cve": "CVE-1", "product_status": {"fixed": ["a:b-1-1.x86_64"]}}]});
    let out = import::csaf_vex(&serde_json::to_vec(&doc).unwrap(), &l).unwrap();
    assert_eq!(out.advisories.len(), 1);
    assert_eq!(
        out.advisories[0].affected[0].package.as_ref().unwrap().name,
        "b"
    );
    // Nesting past serde_json's recursion limit is a JSON error.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    for f in [
        Format::OsvJson,
        Format::AlpineSecdb,
        Format::DebianTracker,
        Format::CsafVex,
    ] {
        assert!(
            matches!(
                import_bytes(f, deep.as_bytes(), &l),
                Err(ImportError::Json { .. })
            ),
            "{f}"
        );
    }
}
