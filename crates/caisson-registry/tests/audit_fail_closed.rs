//! Issue 15, audit integrity: the audit log fails closed. A request whose
//! audit record cannot be made durable is answered 503 AUDIT_UNAVAILABLE
//! and changes nothing; concurrent requests sharing a failed group commit
//! all fail. The store fails for real: SQLite refusing audit inserts (a
//! trigger installed from a second connection), or a full filesystem.

mod common;

use std::path::Path;
use std::sync::Arc;

use reqwest::Method;

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("meta.sqlite")).expect("open db")
}

/// From now on SQLite refuses every insert into the audit table.
fn break_audit(dir: &Path) {
    db(dir)
        .execute_batch(
            "CREATE TRIGGER audit_unavailable BEFORE INSERT ON audit
             BEGIN SELECT RAISE(ABORT, 'audit log unavailable (test)'); END;",
        )
        .expect("create trigger");
}

fn repair_audit(dir: &Path) {
    db(dir)
        .execute_batch("DROP TRIGGER audit_unavailable")
        .expect("drop trigger");
}

fn audit_count(dir: &Path) -> i64 {
    db(dir)
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .expect("count")
}

fn json<T: serde::de::DeserializeOwned>(resp: reqwest::blocking::Response) -> T {
    serde_json::from_slice(&resp.bytes().expect("body")).expect("JSON body")
}

fn assert_unavailable(resp: reqwest::blocking::Response, what: &str) {
    assert_eq!(resp.status(), 503, "{what}");
    assert_eq!(common::error_code(resp), "AUDIT_UNAVAILABLE", "{what}");
}

#[test]
fn requests_whose_audit_record_fails_are_refused_and_change_nothing() {
    let s = common::start();
    let (manifest, digest) = s.push_image("team/app", "v1", b"layer one");
    // The admin's Basic login is on record (once a minute), so every
    // request below reaches its own audit record.
    let get = |reference: &str| {
        s.admin(Method::GET, &format!("/v2/team/app/manifests/{reference}"))
            .header("accept", MANIFEST)
            .send()
            .expect("get")
    };
    assert_eq!(get("v1").status(), 200);
    let dir = s.dir.path();
    let before = audit_count(dir);
    break_audit(dir);

    // A pull is audited: no record, no manifest.
    assert_unavailable(get("v1"), "pull");
    // Pushing a tag: refused, and the tag does not exist afterwards.
    let put = s
        .admin(Method::PUT, "/v2/team/app/manifests/v2")
        .header("content-type", MANIFEST)
        .body(manifest.clone())
        .send()
        .expect("push");
    assert_unavailable(put, "push");
    // Deleting a tag and a manifest: refused, both stay.
    let del = s
        .admin(Method::DELETE, "/v2/team/app/manifests/v1")
        .send()
        .expect("delete tag");
    assert_unavailable(del, "delete tag");
    let del = s
        .admin(Method::DELETE, &format!("/v2/team/app/manifests/{digest}"))
        .send()
        .expect("delete manifest");
    assert_unavailable(del, "delete manifest");
    // Administrative changes: refused, not applied.
    let user = s
        .admin(Method::POST, "/api/v1/users")
        .header("content-type", "application/json")
        .body(r#"{"name": "mallory", "password": "mallory-password"}"#)
        .send()
        .expect("create user");
    assert_unavailable(user, "create user");
    // No token is issued unaudited.
    let token = s
        .admin(
            Method::GET,
            "/token?service=caisson&scope=repository:team/app:pull",
        )
        .send()
        .expect("token");
    assert_unavailable(token, "token");

    repair_audit(dir);
    assert_eq!(audit_count(dir), before, "nothing was recorded");
    assert_eq!(get("v1").status(), 200, "v1 still there");
    assert_eq!(get("v2").status(), 404, "the refused push left no tag");
    assert_eq!(get(&digest).status(), 200, "the manifest is still there");
    let users: serde_json::Value =
        json(s.admin(Method::GET, "/api/v1/users").send().expect("users"));
    assert!(
        !users.to_string().contains("mallory"),
        "the refused user was created: {users}"
    );
    let recs: Vec<caisson_audit::AuditRecord> = json(
        s.admin(Method::GET, "/api/v1/audit?limit=10000")
            .send()
            .expect("audit"),
    );
    caisson_audit::verify(recs.iter()).expect("chain intact");
}

#[test]
fn every_request_of_a_failed_group_commit_is_refused() {
    const THREADS: usize = 8;
    const PULLS: usize = 10;
    let s = Arc::new(common::start());
    s.push_image("team/app", "v1", b"layer");
    let dir = s.dir.path().to_path_buf();
    break_audit(&dir);
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                (0..PULLS)
                    .map(|_| {
                        s.admin(Method::GET, "/v2/team/app/manifests/v1")
                            .header("accept", MANIFEST)
                            .send()
                            .expect("pull")
                            .status()
                            .as_u16()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let statuses: Vec<u16> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("puller"))
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 503),
        "a pull was served without its audit record: {statuses:?}"
    );
}

/// A full disk, for real: the data directory on a 4 MiB tmpfs, filled up.
/// Needs root (mount); skipped otherwise.
#[test]
fn a_full_disk_refuses_audited_requests_until_space_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(dir.path())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs (needs root)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }
    let _unmount = Unmount(dir.path().to_path_buf());
    let data = dir.path().to_path_buf();
    let s = common::start_in(dir, caisson_registry::Config::default());
    s.push_image("team/app", "v1", b"layer");
    let get = || {
        s.admin(Method::GET, "/v2/team/app/manifests/v1")
            .header("accept", MANIFEST)
            .send()
            .expect("get")
    };
    assert_eq!(get().status(), 200);
    // Fill the filesystem.
    let filler = data.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    let resp = get();
    assert_eq!(resp.status(), 503, "a pull was served with the disk full");
    let del = s
        .admin(Method::DELETE, "/v2/team/app/manifests/v1")
        .send()
        .expect("delete");
    assert!(del.status().is_server_error(), "{}", del.status());
    std::fs::remove_file(&filler).expect("free space");
    assert_eq!(get().status(), 200, "v1 survived the refused delete");
    let recs: Vec<caisson_audit::AuditRecord> = json(
        s.admin(Method::GET, "/api/v1/audit?limit=10000")
            .send()
            .expect("audit"),
    );
    caisson_audit::verify(recs.iter()).expect("chain intact");
    assert!(
        !recs.iter().any(|r| r.event.action == "delete-tag"),
        "the refused delete is not on record"
    );
    drop(s);
}
