//! `caisson serve` anchors its audit chain and fails closed; `caisson audit
//! verify` reports truncation and recomputed chains (issue 24 item 4, issue
//! 15 "Audit integrity"), end to end with the real binary.

mod serve_support;

use std::path::Path;
use std::process::Command;

use serve_support::{admin, pod_review, serve, PASSWORD};

const ADMIN: (&str, &str) = ("admin", PASSWORD);

fn verify(data: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["audit", "verify", "--data-dir"])
        .arg(data)
        .args(extra)
        .output()
        .expect("caisson audit verify");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn db(data: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(data.join("meta.sqlite")).expect("open db")
}

/// A stopped server's data directory with a few audited changes, anchored
/// by the checkpoint written at shutdown.
fn anchored(data: &Path) -> i64 {
    let mut s = serve(data, None, &[]);
    for user in ["bob", "carol", "dave"] {
        let (ok, _, err) = admin(
            &s,
            ADMIN,
            &["user", "add", user, "--new-password", "a-long-password"],
        );
        assert!(ok, "{err}");
    }
    let st = s.terminate();
    assert!(st.success(), "serve exits cleanly on SIGTERM: {st:?}");
    let last = std::fs::read_to_string(data.join("audit-checkpoints.jsonl"))
        .expect("checkpoints")
        .lines()
        .last()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("checkpoint JSON"))
        .expect("a checkpoint");
    let records: i64 = db(data)
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .expect("count");
    assert_eq!(
        last["seq"], records,
        "the shutdown checkpoint anchors the head"
    );
    records
}

#[test]
fn verify_reports_truncation_and_accepts_the_untouched_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path();
    let records = anchored(data);
    let (code, out) = verify(data, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("audit chain intact: {records} records")),
        "{out}"
    );
    assert!(out.contains("anchored:"), "{out}");
    let head = out
        .lines()
        .find_map(|l| l.strip_prefix("head: "))
        .expect("head line")
        .to_string();
    // Keep a copy of the public key and the checkpoints elsewhere.
    let key = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["audit", "public-key", "--data-dir"])
        .arg(data)
        .output()
        .expect("public-key");
    assert!(String::from_utf8_lossy(&key.stdout).starts_with("-----BEGIN PUBLIC KEY-----"));
    let copy = tempfile::tempdir().expect("tempdir");
    std::fs::write(copy.path().join("pub.pem"), &key.stdout).expect("write key");
    std::fs::copy(
        data.join("audit-checkpoints.jsonl"),
        copy.path().join("cp.jsonl"),
    )
    .expect("copy");

    db(data)
        .execute("DELETE FROM audit WHERE seq > ?1", [records - 2])
        .expect("truncate");
    let (code, out) = verify(data, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("truncation"), "{out}");
    assert!(
        out.contains(&format!("has {} records", records - 2)),
        "{out}"
    );

    // The attacker also empties the checkpoint file: the copy still shows it,
    // and so does the head the operator noted.
    std::fs::write(data.join("audit-checkpoints.jsonl"), "").expect("empty");
    let (code, out) = verify(data, &[]);
    assert_eq!(
        code,
        Some(0),
        "without any anchor the truncation is invisible: {out}"
    );
    let cp = copy.path().join("cp.jsonl");
    let key = copy.path().join("pub.pem");
    let (code, out) = verify(
        data,
        &[
            "--checkpoints",
            cp.to_str().expect("utf8"),
            "--audit-key",
            key.to_str().expect("utf8"),
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("truncation"), "{out}");
    let (code, out) = verify(data, &["--expect-head", &head]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("--expect-head"), "{out}");
}

#[test]
fn verify_reports_a_recomputed_chain_and_forged_checkpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path();
    anchored(data);
    // Delete the record of carol's creation and reseal every later record
    // (no secret is needed), keeping the chain's length.
    let conn = db(data);
    let mut recs: Vec<caisson_audit::AuditRecord> = Vec::new();
    {
        let mut stmt = conn
            .prepare("SELECT seq, time_ms, actor, source, action, target, outcome, detail, prev_hash, hash FROM audit ORDER BY seq")
            .expect("select");
        let rows = stmt
            .query_map([], |r| {
                Ok(caisson_audit::AuditRecord {
                    seq: r.get(0)?,
                    event: caisson_audit::AuditEvent {
                        time_ms: r.get(1)?,
                        actor: r.get(2)?,
                        source: r.get(3)?,
                        action: r.get(4)?,
                        target: r.get(5)?,
                        outcome: caisson_audit::Outcome::parse(&r.get::<_, String>(6)?)
                            .expect("outcome"),
                        detail: r.get(7)?,
                    },
                    prev_hash: r.get(8)?,
                    hash: r.get(9)?,
                })
            })
            .expect("query");
        for r in rows {
            recs.push(r.expect("row"));
        }
    }
    let mut forged: Vec<caisson_audit::AuditRecord> = Vec::new();
    for r in recs
        .iter()
        .filter(|r| !(r.event.action == "create-user" && r.event.target == "carol"))
    {
        let s = caisson_audit::seal(forged.last(), r.event.clone());
        forged.push(s);
    }
    let pad = caisson_audit::seal(forged.last(), recs[0].event.clone());
    forged.push(pad);
    conn.execute("DELETE FROM audit", []).expect("clear");
    for r in &forged {
        conn.execute(
            "INSERT INTO audit(seq, time_ms, actor, source, action, target, outcome, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            rusqlite::params![r.seq, r.event.time_ms, r.event.actor, r.event.source, r.event.action, r.event.target, r.event.outcome.as_str(), r.event.detail, r.prev_hash, r.hash],
        )
        .expect("insert");
    }
    drop(conn);
    let (code, out) = verify(data, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("rewritten"), "{out}");

    // A checkpoint edited to match the forged head is refused.
    let path = data.join("audit-checkpoints.jsonl");
    let text = std::fs::read_to_string(&path).expect("checkpoints");
    let mut cp: serde_json::Value =
        serde_json::from_str(text.lines().last().expect("checkpoint")).expect("json");
    cp["hash"] = forged.last().expect("head").hash.clone().into();
    std::fs::write(&path, format!("{text}{cp}\n")).expect("append forged");
    let (code, out) = verify(data, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("signature does not verify"), "{out}");
}

/// With `--admission`, a decision the audit log cannot take is a denial,
/// and other audited requests are refused 503 (fail closed), for real: the
/// SQLite database refuses audit inserts.
#[test]
fn admission_and_requests_fail_closed_when_the_audit_log_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path();
    let s = serve(data, None, &["--admission"]);
    let http = reqwest::blocking::Client::new();
    let decide = |uid: &str| -> serde_json::Value {
        let text = http
            .post(format!("{}/admission/validate", s.base))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&pod_review(uid, "nginx:1.27")).expect("json"))
            .send()
            .expect("review")
            .text()
            .expect("body");
        serde_json::from_str::<serde_json::Value>(&text).expect("json")["response"].clone()
    };
    let before = decide("before");
    db(data)
        .execute_batch(
            "CREATE TRIGGER audit_unavailable BEFORE INSERT ON audit
             BEGIN SELECT RAISE(ABORT, 'audit log unavailable (test)'); END;",
        )
        .expect("trigger");
    let after = decide("after");
    assert_eq!(after["allowed"], false, "{after}");
    assert!(
        after["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("could not be recorded")),
        "{after} (before: {before})"
    );
    let resp = http
        .get(format!("{}/api/v1/users", s.base))
        .basic_auth("nobody", Some("wrong-password"))
        .send()
        .expect("request");
    assert_eq!(resp.status(), 503, "an unrecordable auth failure is a 503");
    let body: serde_json::Value =
        serde_json::from_slice(&resp.bytes().expect("body")).expect("json");
    assert_eq!(body["errors"][0]["code"], "AUDIT_UNAVAILABLE", "{body}");
}
