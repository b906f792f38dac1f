#![allow(clippy::unwrap_used)]
//! `update` against a local HTTPS server (self-signed CA trusted through the
//! CA-bundle option): success, 304, and every failure leaving the previous
//! database intact and usable.

mod support;

use std::path::Path;

use caisson_advisory::{
    update, Database, Format, Source, SourceOutcome, UpdateOptions, UpdateReport,
};
use caisson_model::{Advisory, AdvisorySource};
use support::https::{Behaviour, HttpsServer, Route};
use support::*;

fn opts(server: &HttpsServer) -> UpdateOptions {
    UpdateOptions {
        ca_bundle: Some(server.ca().to_path_buf()),
        timeout: std::time::Duration::from_secs(60),
        ..UpdateOptions::default()
    }
}

fn read(p: impl AsRef<Path>) -> Vec<u8> {
    fs_err::read(p).expect("read")
}

/// Serves npm and Maven OSV zips and Alpine v3.11 main.
fn feed_server() -> (HttpsServer, Vec<Source>) {
    let s = HttpsServer::start();
    s.set(
        "/npm/all.zip",
        Route::new(read(shared_data().join("osv/npm/all.zip")), "npm-1"),
    );
    s.set(
        "/Maven/all.zip",
        Route::new(read(shared_data().join("osv/Maven/all.zip")), "maven-1"),
    );
    s.set(
        "/v3.11/main.json",
        Route::new(
            read(shared_data().join("alpine-secdb/v3.11/main.json")),
            "alp-1",
        ),
    );
    let sources = vec![
        Source::new("osv-npm", s.url("/npm/all.zip"), Format::OsvZip),
        Source::new("osv-Maven", s.url("/Maven/all.zip"), Format::OsvZip),
        Source::new(
            "alpine-v3.11-main",
            s.url("/v3.11/main.json"),
            Format::AlpineSecdb,
        ),
    ];
    (s, sources)
}

fn run(dir: &Path, server: &HttpsServer, sources: &[Source]) -> UpdateReport {
    let mut events = Vec::new();
    let r = update(dir, sources, &opts(server), &mut |p| {
        events.push(format!("{p:?}"))
    })
    .expect("update runs");
    assert!(!events.is_empty());
    r
}

/// What the tests compare before and after a failed update.
fn snapshot(db: &Database) -> (Vec<Advisory>, Vec<Advisory>, Vec<Advisory>, u64) {
    (
        db.advisories("npm", "lodash").unwrap(),
        db.advisories("Maven", "org.apache.logging.log4j:log4j-core")
            .unwrap(),
        db.advisories("Alpine:v3.11", "openssl").unwrap(),
        db.status().unwrap().advisories,
    )
}

fn assert_no_temp_files(dir: &Path) {
    let names: Vec<String> = fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["advisory.db".to_string()],
        "left behind: {names:?}"
    );
}

/// After a failed update: the live file is the one from before, and both an
/// already-open handle and a fresh open read the old data.
fn assert_old_intact(
    dir: &Path,
    before_file: &[u8],
    open: &Database,
    before: &(Vec<Advisory>, Vec<Advisory>, Vec<Advisory>, u64),
) {
    assert_eq!(
        read(dir.join("advisory.db")),
        before_file,
        "live database file changed"
    );
    assert_eq!(&snapshot(open), before);
    assert_eq!(&snapshot(&Database::open(dir).unwrap()), before);
    assert_no_temp_files(dir);
}

fn first_update(dir: &Path, server: &HttpsServer, sources: &[Source]) {
    let r = run(dir, server, sources);
    assert!(r.swapped, "{r:?}");
    assert!(r.failed().is_empty());
}

#[test]
fn success_then_not_modified_then_changed() {
    let (server, sources) = feed_server();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let r = run(&dir, &server, &sources);
    assert!(r.swapped, "{r:?}");
    let counts: Vec<usize> = r
        .sources
        .iter()
        .map(|(_, o)| match o {
            SourceOutcome::Updated { stats, .. } => stats.records,
            o => panic!("{o:?}"),
        })
        .collect();
    assert_eq!(counts[..2], [15, 7]);
    let first_log = server.take_log();
    assert!(first_log
        .iter()
        .all(|l| l.status == 200 && l.if_none_match.is_none()));
    let db = Database::open(&dir).unwrap();
    let before = snapshot(&db);
    assert!(!before.0.is_empty() && !before.1.is_empty() && !before.2.is_empty());
    let st = db.status().unwrap();
    let npm = st.sources.iter().find(|s| s.name == "osv-npm").unwrap();
    assert_eq!(npm.etag.as_deref(), Some("\"npm-1\""));
    assert_eq!(npm.record_count, 15);
    assert_eq!(npm.sha256.as_deref().map(str::len), Some(64));

    // Nothing changed upstream: every request is conditional, every answer 304,
    // no body is downloaded, the data is the same.
    let r = run(&dir, &server, &sources);
    assert!(r.swapped);
    assert!(
        r.sources
            .iter()
            .all(|(_, o)| matches!(o, SourceOutcome::NotModified { .. })),
        "{r:?}"
    );
    let log = server.take_log();
    assert_eq!(log.len(), 3);
    for l in &log {
        assert_eq!(l.status, 304, "{l:?}");
        assert!(l.if_none_match.is_some());
        assert_eq!(l.body_bytes, 0);
    }
    let db2 = Database::open(&dir).unwrap();
    assert_eq!(snapshot(&db2), before);
    let strip = |v: Vec<caisson_advisory::SourceInfo>| -> Vec<_> {
        v.into_iter()
            .map(|s| caisson_advisory::SourceInfo { fetched_at: 0, ..s })
            .collect()
    };
    let st2 = db2.status().unwrap();
    assert_eq!(
        strip(st2.sources.clone()),
        strip(st.sources.clone()),
        "source rows (etag, counts) kept"
    );
    assert!(st2
        .sources
        .iter()
        .zip(&st.sources)
        .all(|(a, b)| a.fetched_at >= b.fetched_at));

    // One feed changes: only it is downloaded again.
    server.set(
        "/Maven/all.zip",
        Route::new(read(shared_data().join("osv/npm/all.zip")), "maven-2"),
    );
    let r = run(&dir, &server, &sources);
    assert!(r.swapped);
    assert!(matches!(r.sources[1].1, SourceOutcome::Updated { .. }));
    assert!(matches!(r.sources[0].1, SourceOutcome::NotModified { .. }));
    let db3 = Database::open(&dir).unwrap();
    assert!(db3
        .advisories("Maven", "org.apache.logging.log4j:log4j-core")
        .unwrap()
        .is_empty());
    assert_eq!(
        db3.advisories("npm", "lodash").unwrap().len(),
        2 * before.0.len(),
        "npm records now from two sources"
    );
    // The handle opened before the swaps still reads its snapshot.
    assert_eq!(snapshot(&db), before);
    assert_no_temp_files(&dir);
}

#[test]
fn interrupted_download_keeps_old_database() {
    let (server, sources) = feed_server();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    first_update(&dir, &server, &sources);
    let db = Database::open(&dir).unwrap();
    let before = snapshot(&db);
    let file = read(dir.join("advisory.db"));

    // New content upstream, but the transfer is cut halfway.
    let body = read(shared_data().join("osv/PyPI/all.zip"));
    let half = body.len() / 2;
    server.set(
        "/npm/all.zip",
        Route {
            behaviour: Behaviour::CutAfter(half),
            ..Route::new(body, "npm-2")
        },
    );
    let r = run(&dir, &server, &sources);
    assert!(!r.swapped);
    assert_eq!(r.failed(), vec!["osv-npm"]);
    let SourceOutcome::Failed { error } = &r.sources[0].1 else {
        panic!()
    };
    eprintln!("cut transfer: {error}");
    assert!(
        error.contains("body") || error.contains("EOF") || error.contains("truncated"),
        "{error}"
    );
    assert!(matches!(r.sources[1].1, SourceOutcome::Skipped));
    assert_old_intact(&dir, &file, &db, &before);
}

#[test]
fn corrupt_zip_keeps_old_database() {
    let (server, sources) = feed_server();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    first_update(&dir, &server, &sources);
    let db = Database::open(&dir).unwrap();
    let before = snapshot(&db);
    let file = read(dir.join("advisory.db"));

    // A zip with its end (central directory) chopped off.
    let mut body = read(shared_data().join("osv/Maven/all.zip"));
    body.truncate(body.len() - 100);
    server.set("/Maven/all.zip", Route::new(body, "maven-broken"));
    let r = run(&dir, &server, &sources);
    assert!(!r.swapped);
    assert_eq!(r.failed(), vec!["osv-Maven"]);
    let SourceOutcome::Failed { error } = &r.sources[1].1 else {
        panic!()
    };
    assert!(error.contains("zip"), "{error}");
    assert_old_intact(&dir, &file, &db, &before);

    // Not a zip at all.
    server.set(
        "/Maven/all.zip",
        Route::new(b"<html>captive portal</html>".to_vec(), "html"),
    );
    let r = run(&dir, &server, &sources);
    assert_eq!(r.failed(), vec!["osv-Maven"]);
    assert_old_intact(&dir, &file, &db, &before);

    // Invalid JSON for a JSON feed.
    server.set(
        "/Maven/all.zip",
        Route::new(read(shared_data().join("osv/Maven/all.zip")), "maven-1"),
    );
    server.set(
        "/v3.11/main.json",
        Route::new(
            b"{\"distroversion\": \"v3.11\", \"packages\": [".to_vec(),
            "alp-2",
        ),
    );
    let r = run(&dir, &server, &sources);
    assert_eq!(r.failed(), vec!["alpine-v3.11-main"]);
    assert_old_intact(&dir, &file, &db, &before);
}

#[test]
fn second_source_fails_after_first_succeeded() {
    let (server, sources) = feed_server();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    first_update(&dir, &server, &sources);
    let db = Database::open(&dir).unwrap();
    let before = snapshot(&db);
    let file = read(dir.join("advisory.db"));

    // The first source has new data and downloads fine; the second 500s.
    server.set(
        "/npm/all.zip",
        Route::new(read(shared_data().join("osv/Go/all.zip")), "npm-2"),
    );
    server.behave("/Maven/all.zip", Behaviour::Status(500));
    let r = run(&dir, &server, &sources);
    assert!(!r.swapped);
    assert!(
        matches!(r.sources[0].1, SourceOutcome::Updated { .. }),
        "{r:?}"
    );
    assert_eq!(r.failed(), vec!["osv-Maven"]);
    let SourceOutcome::Failed { error } = &r.sources[1].1 else {
        panic!()
    };
    assert!(error.contains("500"), "{error}");
    assert!(matches!(r.sources[2].1, SourceOutcome::Skipped));
    assert_old_intact(&dir, &file, &db, &before);
    // The Go data of the failed run is nowhere.
    assert!(db.advisories("Go", "golang.org/x/net").unwrap().is_empty());

    // Fixed upstream: the next update goes through.
    server.behave("/Maven/all.zip", Behaviour::Normal);
    let r = run(&dir, &server, &sources);
    assert!(r.swapped, "{r:?}");
    assert!(!Database::open(&dir)
        .unwrap()
        .advisories("Go", "golang.org/x/net")
        .unwrap()
        .is_empty());
}

#[test]
fn sha256_mismatch_and_missing_db_and_untrusted_ca() {
    let (server, mut sources) = feed_server();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    sources[0].sha256 = Some("00".repeat(32));
    let r = run(&dir, &server, &sources);
    assert!(!r.swapped);
    assert_eq!(r.failed(), vec!["osv-npm"]);
    assert!(matches!(
        Database::open(&dir),
        Err(caisson_advisory::DbError::Missing { .. })
    ));

    // The right digest passes.
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(read(
            shared_data().join("osv/npm/all.zip"),
        )))
    };
    sources[0].sha256 = Some(digest);
    assert!(run(&dir, &server, &sources).swapped);

    // Without the CA bundle the server is not trusted.
    let r = update(
        &dir,
        &sources,
        &UpdateOptions {
            force: true,
            ..UpdateOptions::default()
        },
        &mut |_| {},
    )
    .unwrap();
    assert!(!r.swapped);
    assert_eq!(r.failed(), vec!["osv-npm"]);

    // Plain http is refused unless allowed.
    let bad = vec![Source::new("x", "http://127.0.0.1:1/x.zip", Format::OsvZip)];
    assert!(update(&dir, &bad, &UpdateOptions::default(), &mut |_| {}).is_err());
}

#[test]
fn redhat_archive_pointer() {
    let server = HttpsServer::start();
    let mut tar = tar::Builder::new(Vec::new());
    let doc = read(fixtures().join("redhat-vex.json"));
    let mut h = tar::Header::new_gnu();
    h.set_size(doc.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, "2023/cve-2023-44487.json", doc.as_slice())
        .unwrap();
    let archive = zstd::encode_all(tar.into_inner().unwrap().as_slice(), 3).unwrap();
    server.set(
        "/vex/csaf_vex_2024-06-01.tar.zst",
        Route::new(archive, "a1"),
    );
    server.set(
        "/vex/archive_latest.txt",
        Route::new(b"csaf_vex_2024-06-01.tar.zst\n".to_vec(), "p1"),
    );
    let sources = vec![Source::new(
        "redhat-csaf-vex",
        server.url("/vex/archive_latest.txt"),
        Format::CsafVexLatest,
    )];
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let r = run(&dir, &server, &sources);
    assert!(r.swapped, "{r:?}");
    let db = Database::open(&dir).unwrap();
    assert_eq!(
        db.advisories("Red Hat", "nginx").unwrap()[0].id,
        "CVE-2023-44487"
    );
    // Unchanged pointer: 304, archive not fetched again.
    server.take_log();
    let r = run(&dir, &server, &sources);
    assert!(matches!(r.sources[0].1, SourceOutcome::NotModified { .. }));
    let log = server.take_log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, 304);
}
