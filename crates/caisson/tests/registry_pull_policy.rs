//! Pull policies end to end, with skopeo as the client against `caisson
//! serve`: a vulnerable image is refused to a restricted robot (and a
//! reader) with the policy and the findings named, audited and notified,
//! while a maintainer still pulls it; an allow-list lifts the block until its
//! entry expires; the fixed image passes; with signatures required, the
//! fixed image passes only once signed with a trusted key.

mod serve_support;

use std::path::Path;
use std::process::{Command, Output};

use caisson_testsupport::{have_tools, registry::free_port, write_auth_file};
use serde_json::Value as Json;
use serve_support::hooks::{receiver, wait_for};
use serve_support::scan::{import_db, push_python, wait_scanned};
use serve_support::{admin, serve_with, Serve, PASSWORD};

const SECRET: &str = "pull-policy-webhook-secret";
const ADMIN: (&str, &str) = ("admin", PASSWORD);

fn ok(s: &Serve, args: &[&str]) -> Json {
    let (success, out, err) = admin(s, ADMIN, args);
    assert!(success, "caisson admin {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or(Json::Null)
}

/// `skopeo copy` of `prod/app:<tag>` out of the registry as `user`.
fn pull(s: &Serve, creds: (&str, &str), tag: &str, dir: &Path) -> Output {
    Command::new("skopeo")
        .args(["copy", "-q", "--src-tls-verify=false"])
        .arg(format!("--src-creds={}:{}", creds.0, creds.1))
        .arg(format!("docker://{}/prod/app:{tag}", s.host))
        .arg(format!(
            "oci:{}:{tag}",
            dir.join(format!("out-{}", creds.0.replace('$', "_")))
                .display()
        ))
        .output()
        .expect("skopeo runs")
}

fn pulls(s: &Serve, creds: (&str, &str), tag: &str, dir: &Path) {
    let out = pull(s, creds, tag, dir);
    assert!(
        out.status.success(),
        "{} pulls prod/app:{tag}: {}",
        creds.0,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The pull fails; returns skopeo's error output.
fn refused(s: &Serve, creds: (&str, &str), tag: &str, dir: &Path) -> String {
    let out = pull(s, creds, tag, dir);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{} pulled prod/app:{tag}", creds.0);
    assert!(err.contains("denied"), "{err}");
    err
}

fn caisson(args: &[&str], auth: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(args)
        .env("COSIGN_PASSWORD", "key-password-1")
        .env("REGISTRY_AUTH_FILE", auth)
        .output()
        .expect("caisson runs")
}

fn audit_denials(s: &Serve) -> Vec<Json> {
    let r = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/audit", s.base))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .expect("audit");
    let v: Json = serde_json::from_slice(&r.bytes().expect("body")).expect("json");
    let records = v
        .as_array()
        .or_else(|| v["records"].as_array())
        .cloned()
        .unwrap_or_default();
    records
        .into_iter()
        .filter(|r| r["action"] == "pull" && r["outcome"] == "denied")
        .collect()
}

#[test]
fn pull_policies_with_skopeo() {
    if !have_tools(&["skopeo", "openssl"]) {
        assert!(
            std::env::var_os("CI").is_none(),
            "skopeo/openssl missing in CI"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    import_db(&db, &["osv/PyPI/all.zip"]);
    let (url, got) = receiver();
    let hooks = dir.path().join("webhooks.yaml");
    fs_err::write(
        &hooks,
        format!("webhooks:\n  - {{name: sec, url: '{url}', secret_env: TEST_WEBHOOK_SECRET, events: [policy.violation]}}\n"),
    )
    .expect("hooks");
    let s = serve_with(
        free_port(),
        &dir.path().join("data"),
        None,
        &[
            "--db",
            db.to_str().expect("utf-8"),
            "--webhooks",
            hooks.to_str().expect("utf-8"),
        ],
        &[("TEST_WEBHOOK_SECRET", SECRET)],
    );
    ok(&s, &["namespace", "set", "prod"]);
    for (user, role) in [("fixer", "maintainer"), ("dev", "reader")] {
        ok(
            &s,
            &["user", "add", user, "--new-password", "user-password-1"],
        );
        ok(&s, &["member", "set", "prod", user, role]);
    }
    let robot = ok(&s, &["robot", "create", "cluster", "--scope", "prod:pull"]);
    let secret = robot["secret"].as_str().expect("secret").to_string();
    let robot = ("robot$cluster", secret.as_str());
    let fixer = ("fixer", "user-password-1");
    let dev = ("dev", "user-password-1");

    // A vulnerable image: urllib3 1.26.4 has findings rated high and above.
    let vulnerable = push_python(&s.host, "prod/app", "1.0", "urllib3", "1.26.4");
    let h = wait_scanned(&s.host, "prod/app", &vulnerable, 120);
    assert_eq!(h["health"], "vulnerable", "{h}");
    pulls(&s, robot, "1.0", dir.path());

    ok(
        &s,
        &["pull-policy", "set", "prod", "--block-severity", "high"],
    );
    let err = refused(&s, robot, "1.0", dir.path());
    assert!(
        err.contains("denied by the pull policy of namespace prod: vulnerability-threshold"),
        "{err}"
    );
    assert!(err.contains("in urllib3 1.26.4 ("), "{err}");
    let note = wait_for(
        &got,
        "policy.violation",
        SECRET,
        |v| v["data"]["actor"] == "robot:robot$cluster",
        dir.path(),
    );
    let blocking: Vec<String> = note["data"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let sev = f["severity"].as_str().expect("severity");
            assert!(sev == "HIGH" || sev == "CRITICAL", "{f}");
            f["id"].as_str().expect("id").to_string()
        })
        .collect();
    assert!(!blocking.is_empty(), "{note}");
    assert!(
        err.contains(&blocking[0]),
        "the first finding is named: {err}"
    );
    assert_eq!(note["data"]["digest"], vulnerable.as_str());
    assert_eq!(
        note["data"]["violations"][0]["policy"],
        "vulnerability-threshold"
    );
    let denials = audit_denials(&s);
    assert!(
        denials
            .iter()
            .any(|r| r["actor"] == "robot:robot$cluster" && r["target"] == "prod/app:1.0"),
        "{denials:#?}"
    );
    // Readers get the rules too; a maintainer pulls to fix things.
    refused(&s, dev, "1.0", dir.path());
    pulls(&s, fixer, "1.0", dir.path());

    // Every blocking finding allow-listed until a future date: allowed. The
    // same list with a past date no longer counts, and the error says so.
    let allow = |until: &str| -> Vec<String> {
        blocking
            .iter()
            .flat_map(|id| ["--allow".to_string(), format!("{id}={until}")])
            .collect()
    };
    let with_allow = |until: &str| {
        let mut args: Vec<String> = ["pull-policy", "set", "prod", "--block-severity", "high"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        args.extend(allow(until));
        args
    };
    let args = with_allow("2999-12-31");
    ok(&s, &args.iter().map(String::as_str).collect::<Vec<_>>());
    pulls(&s, robot, "1.0", dir.path());
    let args = with_allow("2020-01-01");
    ok(&s, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let err = refused(&s, robot, "1.0", dir.path());
    assert!(err.contains("expired allow-list entries"), "{err}");
    let (success, _, err) = admin(
        &s,
        ADMIN,
        &["pull-policy", "set", "prod", "--allow", "CVE-1=soon"],
    );
    assert!(
        !success && err.contains("allow[0].expires \"soon\""),
        "{err}"
    );

    // The fixed image passes.
    let fixed = push_python(&s.host, "prod/app", "1.1", "urllib3", "2.2.2");
    let h = wait_scanned(&s.host, "prod/app", &fixed, 120);
    assert_eq!(h["health"], "healthy", "{h}");
    ok(
        &s,
        &["pull-policy", "set", "prod", "--block-severity", "high"],
    );
    pulls(&s, robot, "1.1", dir.path());

    // Signatures required: refused until signed with the trusted key; a
    // signature by another key does not count.
    let auth = write_auth_file(dir.path(), &s.host, "admin", PASSWORD);
    for prefix in ["trusted", "other"] {
        let pre = dir.path().join(prefix);
        let out = caisson(
            &[
                "key",
                "generate",
                "--output-key-prefix",
                pre.to_str().expect("utf-8"),
            ],
            &auth,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let key = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_string();
    ok(
        &s,
        &[
            "pull-policy",
            "set",
            "prod",
            "--block-severity",
            "high",
            "--require-signature",
            "--trusted-key",
            &key("trusted.pub"),
        ],
    );
    let err = refused(&s, robot, "1.1", dir.path());
    assert!(err.contains("signed-images"), "{err}");
    let image = format!("{}/prod/app:1.1", s.host);
    let sign = |k: &str| {
        let out = caisson(
            &[
                "sign",
                "--key",
                &key(k),
                &image,
                "--insecure-registry",
                &s.host,
            ],
            &auth,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sign("other.key");
    let err = refused(&s, robot, "1.1", dir.path());
    assert!(err.contains("signature not verified"), "{err}");
    sign("trusted.key");
    pulls(&s, robot, "1.1", dir.path());
    // The verifiers' own reads (the signature manifest) are never blocked.
    let out = caisson(
        &[
            "verify",
            "--key",
            &key("trusted.pub"),
            &image,
            "--insecure-registry",
            &s.host,
        ],
        &write_auth_file(dir.path(), &s.host, robot.0, robot.1),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Signing the vulnerable image does not lift the vulnerability rule.
    let image = format!("{}/prod/app:1.0", s.host);
    let out = caisson(
        &[
            "sign",
            "--key",
            &key("trusted.key"),
            &image,
            "--insecure-registry",
            &s.host,
        ],
        &auth,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = refused(&s, robot, "1.0", dir.path());
    assert!(
        err.contains("vulnerability-threshold") && !err.contains("signed-images"),
        "{err}"
    );
}
