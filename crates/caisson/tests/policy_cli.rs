//! `caisson policy check` / `list`: exit codes (0 allowed, 1 denied, 2 usage or
//! input error), stdin, JSON and SARIF output.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn caisson(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // The command may exit (e.g. on a usage error) before reading its input:
    // a broken pipe here is the child's business, its exit code is checked.
    match input.write_all(stdin.unwrap_or("").as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    drop(input);
    child.wait_with_output().unwrap()
}

const GOOD: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: ok}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: app
      image: nginx:1.27
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
"#;

const BAD: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  template:
    spec:
      hostNetwork: true
      containers: [{name: app, image: nginx:1.27}]
"#;

#[test]
fn exit_codes_and_formats() {
    let out = caisson(
        &["policy", "check", "-p", "pss-restricted", "-"],
        Some(GOOD),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ALLOW Pod/ok"));

    let both = format!("{GOOD}\n---\n{BAD}");
    let out = caisson(
        &[
            "policy",
            "check",
            "-p",
            "pss-baseline",
            "--format",
            "json",
            "-",
        ],
        Some(&both),
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["allowed"], false);
    assert_eq!(
        v["decisions"][1]["denials"][0]["path"],
        "spec.template.spec.hostNetwork"
    );
    assert_eq!(v["decisions"][1]["object"]["origin"], "<stdin>#1");

    let out = caisson(
        &[
            "policy",
            "check",
            "-p",
            "pss-baseline",
            "--format",
            "sarif",
            "-",
        ],
        Some(BAD),
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert_eq!(v["runs"][0]["results"][0]["ruleId"], "pss-baseline");
    assert_eq!(v["runs"][0]["results"][0]["level"], "error");

    // Warn mode: allowed, exit 0.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("policy.yaml");
    std::fs::write(&cfg, "policies:\n  pss-baseline: {mode: warn}\n").unwrap();
    let out = caisson(
        &[
            "policy",
            "check",
            "-p",
            "pss-baseline",
            "--config",
            cfg.to_str().unwrap(),
            "-",
        ],
        Some(BAD),
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("WARN "));
}

#[test]
fn usage_and_input_errors_exit_2() {
    let out = caisson(
        &["policy", "check", "-p", "no-such-policy", "-"],
        Some(GOOD),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown policy \"no-such-policy\""));
    let out = caisson(
        &["policy", "check", "-p", "pss-baseline", "-"],
        Some("a: [unclosed"),
    );
    assert_eq!(out.status.code(), Some(2));
    let out = caisson(&["policy", "check", "/nonexistent.yaml"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = caisson(&["policy", "check"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn list_shows_the_library() {
    let out = caisson(&["policy", "list"], None);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for id in [
        "pss-baseline",
        "pss-restricted",
        "image-digest",
        "signed-images",
    ] {
        assert!(text.contains(id), "{text}");
    }
}
