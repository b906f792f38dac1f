//! Policy and permission changes made through `caisson admin` are in the
//! hash-chained audit log with actor, source, target and `old→new`, denied
//! attempts included; `caisson audit verify` accepts the chain.

mod serve_support;

use std::process::Command;

use serve_support::{admin, serve, PASSWORD};

const ADMIN: (&str, &str) = ("admin", PASSWORD);

fn ok(s: &serve_support::Serve, auth: (&str, &str), args: &[&str]) -> String {
    let (success, out, err) = admin(s, auth, args);
    assert!(success, "caisson admin {args:?}: {err}");
    out
}

fn export(data: &std::path::Path) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["audit", "export", "--data-dir"])
        .arg(data)
        .output()
        .expect("caisson audit export");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// The one record with this action and target and outcome; panics otherwise.
fn record<'a>(
    recs: &'a [serde_json::Value],
    action: &str,
    target: &str,
    detail: &str,
) -> &'a serde_json::Value {
    let found: Vec<_> = recs
        .iter()
        .filter(|r| r["action"] == action && r["target"] == target && r["detail"] == detail)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{action} {target} {detail:?} in:\n{}",
        recs.iter()
            .map(|r| format!(
                "{} {} {} {}",
                r["action"], r["target"], r["outcome"], r["detail"]
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
    found[0]
}

#[test]
fn namespace_policy_and_membership_changes_are_audited_old_to_new() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let s = serve(&data, None, &[]);

    ok(
        &s,
        ADMIN,
        &["user", "add", "alice", "--new-password", "alice-secret-1"],
    );
    ok(&s, ADMIN, &["namespace", "set", "team"]);
    ok(&s, ADMIN, &["namespace", "set", "team", "--immutable-tags"]);
    ok(
        &s,
        ADMIN,
        &[
            "namespace",
            "set",
            "team",
            "--immutable-tags",
            "--quota-bytes",
            "1000",
        ],
    );
    ok(
        &s,
        ADMIN,
        &[
            "namespace",
            "set",
            "team",
            "--public",
            "--immutable-tags",
            "--quota-bytes",
            "1000",
        ],
    );
    ok(&s, ADMIN, &["member", "set", "team", "alice", "writer"]);
    ok(&s, ADMIN, &["member", "set", "team", "alice", "maintainer"]);
    // A maintainer may toggle immutability but not the quota: denied, audited.
    let alice = ("alice", "alice-secret-1");
    ok(
        &s,
        alice,
        &[
            "namespace",
            "set",
            "team",
            "--public",
            "--quota-bytes",
            "1000",
        ],
    );
    let (success, _, err) = admin(
        &s,
        alice,
        &[
            "namespace",
            "set",
            "team",
            "--public",
            "--quota-bytes",
            "999999",
        ],
    );
    assert!(!success && err.contains("requires system-admin"), "{err}");
    ok(
        &s,
        ADMIN,
        &[
            "robot",
            "create",
            "ci",
            "--scope",
            "team:pull,push",
            "--expires-in",
            "600",
        ],
    );
    ok(&s, ADMIN, &["robot", "delete", "robot$ci"]);
    ok(&s, ADMIN, &["member", "remove", "team", "alice"]);
    ok(&s, ADMIN, &["member", "set", "team", "alice", "reader"]);
    ok(&s, ADMIN, &["namespace", "delete", "team"]);
    ok(&s, ADMIN, &["user", "delete", "alice"]);

    let recs = export(&data);
    let created = record(
        &recs,
        "create-namespace",
        "team",
        "public: none→false, immutable_tags: none→false, quota_bytes: none→none",
    );
    assert_eq!(created["actor"], "user:admin");
    assert_eq!(created["outcome"], "success");
    assert!(
        created["source"]
            .as_str()
            .expect("source")
            .starts_with("127.0.0.1:"),
        "{created}"
    );
    record(
        &recs,
        "update-namespace",
        "team",
        "immutable_tags: false→true",
    );
    record(&recs, "update-namespace", "team", "quota_bytes: none→1000");
    record(&recs, "update-namespace", "team", "public: false→true");
    let by_alice = record(
        &recs,
        "update-namespace",
        "team",
        "immutable_tags: true→false",
    );
    assert_eq!(by_alice["actor"], "user:alice");
    let denied: Vec<_> = recs
        .iter()
        .filter(|r| r["action"] == "set-quota" && r["outcome"] == "denied")
        .collect();
    assert_eq!(denied.len(), 1, "the refused quota change is audited");
    assert_eq!(denied[0]["actor"], "user:alice");
    assert_eq!(denied[0]["target"], "team");
    record(&recs, "set-member", "team/alice", "role: none→writer");
    record(&recs, "set-member", "team/alice", "role: writer→maintainer");
    record(
        &recs,
        "remove-member",
        "team/alice",
        "role: maintainer→none",
    );
    record(&recs, "set-member", "team/alice", "role: none→reader");
    let robot = recs
        .iter()
        .find(|r| r["action"] == "create-robot")
        .expect("create-robot");
    let detail = robot["detail"].as_str().expect("detail");
    assert!(
        detail.starts_with("scopes: team:pull,push; expires_ms: "),
        "{detail}"
    );
    record(
        &recs,
        "delete-robot",
        "robot$ci",
        "scopes: team:pull,push→none",
    );
    record(
        &recs,
        "delete-namespace",
        "team",
        "public: true→none, immutable_tags: false→none, quota_bytes: 1000→none, member alice: reader→none",
    );
    record(&recs, "delete-user", "alice", "");

    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["audit", "verify", "--data-dir"])
        .arg(&data)
        .output()
        .expect("caisson audit verify");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("audit chain intact"), "{stdout}");
}
