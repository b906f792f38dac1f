//! `caisson admin` against a running `caisson serve`: every command's effect
//! checked through the registry itself (pushes and pulls that the change
//! allows or refuses), and bad input answered with exit code 2 and a message
//! that names the problem.

mod serve_support;

use std::process::Command;
use std::time::Duration;

use caisson_testsupport::{fixture, have_tool, run};
use reqwest::blocking::Client;
use reqwest::Method;
use serve_support::{admin, serve, Serve, PASSWORD};
use sha2::Digest as _;

const ADMIN: (&str, &str) = ("admin", PASSWORD);

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

fn http() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// Monolithic blob push with Basic credentials; returns the status.
fn push_blob(s: &Serve, repo: &str, auth: Option<(&str, &str)>, bytes: &[u8]) -> u16 {
    let mut r = http()
        .post(format!(
            "{}/v2/{repo}/blobs/uploads/?digest={}",
            s.base,
            sha256(bytes)
        ))
        .body(bytes.to_vec());
    if let Some((u, p)) = auth {
        r = r.basic_auth(u, Some(p));
    }
    r.send().expect("push blob").status().as_u16()
}

/// Pushes a one-layer image under `tag`; returns (status of the manifest PUT, digest).
fn push_image(s: &Serve, repo: &str, tag: &str, auth: (&str, &str), layer: &[u8]) -> (u16, String) {
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","layer":"{}"}}"#,
        sha256(layer)
    );
    assert_eq!(push_blob(s, repo, Some(auth), config.as_bytes()), 201);
    assert_eq!(push_blob(s, repo, Some(auth), layer), 201);
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config.as_bytes()), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(layer), "size": layer.len()}]
    });
    let bytes = serde_json::to_vec(&m).expect("json");
    let st = http()
        .put(format!("{}/v2/{repo}/manifests/{tag}", s.base))
        .basic_auth(auth.0, Some(auth.1))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(bytes.clone())
        .send()
        .expect("push manifest")
        .status()
        .as_u16();
    (st, sha256(&bytes))
}

/// GET a manifest with Basic credentials (or none); returns the status.
fn pull(s: &Serve, repo: &str, tag: &str, auth: Option<(&str, &str)>) -> u16 {
    let mut r = http()
        .request(Method::GET, format!("{}/v2/{repo}/manifests/{tag}", s.base))
        .header("accept", "application/vnd.oci.image.manifest.v1+json");
    if let Some((u, p)) = auth {
        r = r.basic_auth(u, Some(p));
    }
    r.send().expect("pull").status().as_u16()
}

/// Anonymous pull through the token flow, as a client without credentials does.
fn anonymous_pull(s: &Serve, repo: &str, tag: &str) -> u16 {
    let t: serde_json::Value = serde_json::from_slice(
        &http()
            .get(format!(
                "{}/token?service=caisson&scope=repository:{repo}:pull",
                s.base
            ))
            .send()
            .expect("token")
            .bytes()
            .expect("body"),
    )
    .expect("token json");
    let token = t["token"].as_str().expect("token").to_string();
    http()
        .get(format!("{}/v2/{repo}/manifests/{tag}", s.base))
        .bearer_auth(token)
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .expect("pull")
        .status()
        .as_u16()
}

fn ok(s: &Serve, auth: (&str, &str), args: &[&str]) -> serde_json::Value {
    let (success, out, err) = admin(s, auth, args);
    assert!(success, "caisson admin {args:?} failed: {err}");
    if out.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }
}

/// Runs a command that must fail: exit code 2 and `needle` in the message.
fn fails(s: &Serve, auth: (&str, &str), args: &[&str], needle: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .arg("admin")
        .args(["--url", &s.base, "--user", auth.0])
        .args(args)
        .env("CAISSON_PASSWORD", auth.1)
        .env_remove("CAISSON_NEW_PASSWORD")
        .output()
        .expect("run caisson admin");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in: {err}"
    );
    assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
}

fn names(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x["name"].as_str().expect("name").to_string())
        .collect()
}

#[test]
fn users_and_memberships_govern_what_the_registry_allows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = serve(&dir.path().join("data"), None, &[]);
    let alice = ("alice", "alice-secret-1");

    let v = ok(
        &s,
        ADMIN,
        &["user", "add", "alice", "--new-password", alice.1],
    );
    assert_eq!(v["name"], "alice");
    assert!(names(&ok(&s, ADMIN, &["user", "list"])).contains(&"alice".to_string()));
    let users = ok(&s, ADMIN, &["user", "list"]);
    assert!(
        !users.to_string().contains("argon2"),
        "password hashes never leave the server"
    );
    ok(&s, ADMIN, &["namespace", "set", "team"]);
    assert_eq!(names(&ok(&s, ADMIN, &["namespace", "list"])), ["team"]);

    // No role yet: alice may not push.
    assert_eq!(push_blob(&s, "team/app", Some(alice), b"first"), 403);
    ok(&s, ADMIN, &["member", "set", "team", "alice", "writer"]);
    let members = ok(&s, ADMIN, &["member", "list", "team"]);
    assert_eq!(members[0]["user"], "alice");
    assert_eq!(members[0]["role"], "writer");
    let (st, _) = push_image(&s, "team/app", "v1", alice, b"layer one");
    assert_eq!(st, 201, "writer pushes");
    assert_eq!(pull(&s, "team/app", "v1", Some(alice)), 200);

    // Reader: pull yes, push no.
    ok(&s, ADMIN, &["member", "set", "team", "alice", "reader"]);
    assert_eq!(push_blob(&s, "team/app", Some(alice), b"second"), 403);
    assert_eq!(pull(&s, "team/app", "v1", Some(alice)), 200);
    // Removed: nothing.
    ok(&s, ADMIN, &["member", "remove", "team", "alice"]);
    assert_eq!(pull(&s, "team/app", "v1", Some(alice)), 403);

    // A new password replaces the old one at once.
    ok(&s, ADMIN, &["member", "set", "team", "alice", "reader"]);
    ok(
        &s,
        ADMIN,
        &[
            "user",
            "passwd",
            "alice",
            "--new-password",
            "alice-secret-2",
        ],
    );
    assert_eq!(pull(&s, "team/app", "v1", Some(alice)), 401);
    assert_eq!(
        pull(&s, "team/app", "v1", Some(("alice", "alice-secret-2"))),
        200
    );

    // Bad input: exit 2 and a message that names the problem.
    fails(
        &s,
        ADMIN,
        &["user", "add", "Alice!", "--new-password", "long-enough"],
        "must be 1-64 of [a-z0-9._-]",
    );
    fails(
        &s,
        ADMIN,
        &["user", "add", "bob", "--new-password", "short"],
        "at least 8 characters",
    );
    fails(
        &s,
        ADMIN,
        &["member", "set", "team", "alice", "superuser"],
        "role JSON",
    );
    fails(
        &s,
        ADMIN,
        &["member", "set", "team", "nobody", "reader"],
        "user nobody not found",
    );
    fails(
        &s,
        ADMIN,
        &["member", "set", "ghost", "alice", "reader"],
        "namespace ghost not found",
    );
    fails(
        &s,
        ADMIN,
        &["namespace", "set", "Bad..Name"],
        "not a valid repository name component",
    );
    fails(
        &s,
        ADMIN,
        &["user", "delete", "nobody"],
        "user nobody not found",
    );
    fails(
        &s,
        ("admin", "wrong-password"),
        &["user", "list"],
        "invalid username or password",
    );
    // A non-administrator may not manage users.
    fails(
        &s,
        ("alice", "alice-secret-2"),
        &["user", "add", "mallory", "--new-password", "long-enough"],
        "requires system-admin",
    );
    // Usage errors are clap's (exit 2 too), before any request.
    fails(&s, ADMIN, &["member", "set", "team"], "required");
    // An unreachable server is named.
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(["admin", "--url", "http://127.0.0.1:9", "user", "list"])
        .env("CAISSON_PASSWORD", PASSWORD)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("http://127.0.0.1:9/api/v1/users"));

    // Deleting the user ends its access.
    ok(&s, ADMIN, &["user", "delete", "alice"]);
    assert!(!names(&ok(&s, ADMIN, &["user", "list"])).contains(&"alice".to_string()));
    assert_eq!(
        pull(&s, "team/app", "v1", Some(("alice", "alice-secret-2"))),
        401
    );
}

#[test]
fn robots_have_a_secret_shown_once_scopes_and_an_expiry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = serve(&dir.path().join("data"), None, &[]);
    ok(&s, ADMIN, &["namespace", "set", "team"]);
    ok(&s, ADMIN, &["namespace", "set", "other"]);

    let (success, out, err) = admin(
        &s,
        ADMIN,
        &[
            "robot",
            "create",
            "ci",
            "--scope",
            "team:pull,push",
            "--expires-in",
            "3600",
        ],
    );
    assert!(success, "{err}");
    assert!(err.contains("shown once"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["name"], "robot$ci");
    let secret = v["secret"].as_str().expect("secret").to_string();
    assert!(secret.len() >= 32, "a long random secret");
    let expires = v["expires_ms"].as_i64().expect("expiry");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    assert!(
        (expires - now - 3_600_000).abs() < 60_000,
        "{expires} vs {now}"
    );
    // Listed without the secret (nor its hash).
    let list = ok(&s, ADMIN, &["robot", "list"]);
    assert_eq!(names(&list), ["robot$ci"]);
    assert!(!list.to_string().contains(&secret));
    assert!(list[0].get("secret_hash").is_none());
    assert_eq!(list[0]["scopes"][0]["namespace"], "team");

    let robot = ("robot$ci", secret.as_str());
    let (st, _) = push_image(&s, "team/app", "v1", robot, b"robot layer");
    assert_eq!(st, 201, "robot pushes inside its scope");
    assert_eq!(pull(&s, "team/app", "v1", Some(robot)), 200);
    assert_eq!(
        push_blob(&s, "other/app", Some(robot), b"outside"),
        403,
        "robot refused outside its scope"
    );
    // The robot secret works with a real client too.
    if have_tool("skopeo") {
        if let Some((root, entry)) = fixture("alpine") {
            let layout = root.join(entry["oci"].as_str().expect("oci"));
            let tag = entry["tag"].as_str().expect("tag");
            run(Command::new("skopeo")
                .args([
                    "--insecure-policy",
                    "copy",
                    "--dest-tls-verify=false",
                    "--dest-creds",
                    &format!("robot$ci:{secret}"),
                ])
                .arg(format!("oci:{}:{tag}", layout.display()))
                .arg(format!("docker://{}/team/alpine:{tag}", s.host)));
            assert_eq!(pull(&s, "team/alpine", tag, Some(ADMIN)), 200);
        }
    }

    // Bad scopes are refused before or by the server.
    fails(
        &s,
        ADMIN,
        &["robot", "create", "bad", "--scope", "team"],
        "is not <namespace>:<actions>",
    );
    fails(
        &s,
        ADMIN,
        &["robot", "create", "bad", "--scope", "team:pull,admin"],
        "actions are pull, push, delete",
    );
    fails(&s, ADMIN, &["robot", "create", "bad"], "--scope");
    fails(&s, ADMIN, &["robot", "delete", "robot$none"], "not found");

    // An expired robot is refused.
    let v = ok(
        &s,
        ADMIN,
        &[
            "robot",
            "create",
            "short",
            "--scope",
            "team:pull",
            "--expires-in",
            "1",
        ],
    );
    let short = v["secret"].as_str().expect("secret").to_string();
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(
        pull(&s, "team/app", "v1", Some(("robot$short", &short))),
        401,
        "expired robot"
    );

    // Deleting a robot revokes its secret.
    ok(&s, ADMIN, &["robot", "delete", "robot$ci"]);
    assert_eq!(pull(&s, "team/app", "v1", Some(robot)), 401);
}

#[test]
fn namespace_settings_take_effect_in_the_registry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = serve(&dir.path().join("data"), None, &[]);
    ok(&s, ADMIN, &["namespace", "set", "team"]);
    let (st, d1) = push_image(&s, "team/app", "v1", ADMIN, b"one");
    assert_eq!(st, 201);

    // Private: an anonymous client gets no pull.
    assert_eq!(anonymous_pull(&s, "team/app", "v1"), 401);
    let v = ok(&s, ADMIN, &["namespace", "set", "team", "--public"]);
    assert_eq!(v["public"], true);
    assert_eq!(anonymous_pull(&s, "team/app", "v1"), 200);

    // Immutable tags: v1 cannot move, new tags are fine.
    ok(
        &s,
        ADMIN,
        &["namespace", "set", "team", "--public", "--immutable-tags"],
    );
    let (st, _) = push_image(&s, "team/app", "v1", ADMIN, b"two");
    assert_eq!(st, 409, "moving an immutable tag");
    let r = http()
        .get(format!("{}/v2/team/app/manifests/v1", s.base))
        .basic_auth("admin", Some(PASSWORD))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .expect("get");
    assert_eq!(r.headers()["docker-content-digest"], d1.as_str());
    let (st, _) = push_image(&s, "team/app", "v2", ADMIN, b"three");
    assert_eq!(st, 201);

    // A quota below current usage refuses new blobs; raising it allows them.
    let v = ok(
        &s,
        ADMIN,
        &[
            "namespace",
            "set",
            "team",
            "--public",
            "--immutable-tags",
            "--quota-bytes",
            "100",
        ],
    );
    assert_eq!(v["quota_bytes"], 100);
    assert_eq!(push_blob(&s, "team/app", Some(ADMIN), &[7u8; 5000]), 403);
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
            "1000000",
        ],
    );
    assert_eq!(push_blob(&s, "team/app", Some(ADMIN), &[7u8; 5000]), 201);
    fails(
        &s,
        ADMIN,
        &["namespace", "set", "team", "--quota-bytes=-5"],
        "invalid value '-5' for '--quota-bytes",
    );

    // GC runs and reports.
    let report = ok(&s, ADMIN, &["gc"]);
    assert!(
        report["scanned"].as_u64().expect("scanned") >= 4,
        "{report}"
    );

    // Deleting the namespace drops its settings: private again.
    ok(&s, ADMIN, &["namespace", "delete", "team"]);
    assert!(names(&ok(&s, ADMIN, &["namespace", "list"])).is_empty());
    assert_eq!(anonymous_pull(&s, "team/app", "v1"), 401);
    fails(
        &s,
        ADMIN,
        &["namespace", "delete", "team"],
        "namespace team not found",
    );
}
